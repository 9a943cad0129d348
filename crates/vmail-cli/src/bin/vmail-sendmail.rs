//! `vmail-sendmail`: the sendmail-compatible shim (see `vmail-sendmail --help`).

fn main() -> std::process::ExitCode {
    vmail_cli::sendmail::main()
}
