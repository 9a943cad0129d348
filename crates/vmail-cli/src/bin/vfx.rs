//! `vfx`: queue a job for vmail (see `vfx --help`).

fn main() -> std::process::ExitCode {
    vmail_cli::vfx::main()
}
