//! `vmail-postdrop`: the setgid-`vmail` submission helper (see `docs/security.md`).
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    vmail_cli::postdrop::main()
}
