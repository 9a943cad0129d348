//! `vfxadmin`: administer vmail (see `vfxadmin --help`).

fn main() -> std::process::ExitCode {
    vmail_cli::vfxadmin::main()
}
