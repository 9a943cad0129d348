//! `vmail-docgen OUT_DIR`: man pages and shell completions for packaging.

fn main() -> std::process::ExitCode {
    vmail_cli::docgen::main()
}
