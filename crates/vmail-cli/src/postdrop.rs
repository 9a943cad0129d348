//! `vmail-postdrop`: the one privileged step of a local user's submission,
//! as small as Postfix's `postdrop`. Installed mode 2755 `root:vmail`, it
//! runs with the caller's uid and group `vmail`, and only:
//!
//! 1. checks that it runs as installed (below) and moves to `/`;
//! 2. reads the settings a submission needs from [`SYSTEM_CONFIG`] (never
//!    another file): `[VFXSCHED] spool`, `[VMAIL] max-message-size`, `from`,
//!    `admin-address` and `local-domain`; sealed secrets are not opened (the
//!    key file is never read);
//! 3. with `--settings`, prints `from`, `max-message-size`, `admin-address`
//!    and `local-domain` (none of them secret) for the front end; otherwise copies a submission (the queue entry's envelope and the
//!    message, at most `max-message-size` bytes) from standard input into
//!    `maildrop/`, with a first line naming the real uid, and prints its job id.
//!
//! It takes no path and no option but `--settings`, reads no environment
//! variable, and opens nothing a caller names: the front ends (`vfx`,
//! `vmail-sendmail`) read the user's files as the user and pass bytes. See
//! `docs/security.md`.

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use vmail_config::IniDocument;
use vmail_spool::{Ids, MaildropError};

/// The only configuration the helper reads, whatever `VSIFAX` or
/// `--config` say: a caller must not choose the file read with group `vmail`.
pub const SYSTEM_CONFIG: &str = "/etc/vmail/vsisrv.ini";

const EX_USAGE: u8 = 64;
const EX_DATAERR: u8 = 65;
const EX_SOFTWARE: u8 = 70;
const EX_TEMPFAIL: u8 = 75;
const EX_NOPERM: u8 = 77;
const EX_CONFIG: u8 = 78;

/// A refusal, with its sysexits code.
#[derive(Debug)]
pub struct Refusal {
    pub code: u8,
    pub message: String,
}

fn refuse(code: u8, message: impl Into<String>) -> Refusal {
    Refusal {
        code,
        message: message.into(),
    }
}

/// What a user's submission needs from the configuration, and nothing more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub spool: PathBuf,
    pub max_message_size: u64,
    pub from: String,
    /// `[VMAIL] admin-address`, `local-domain`: for the front end's
    /// rewriting of names without a domain (issue 17 §2).
    pub admin_address: Option<String>,
    pub local_domain: Option<String>,
    /// `[VMAIL] fax-attach-as`: whether vfx sends TIFFs as PDF by default.
    pub fax_attach_as: vmail_core::AttachAs,
}

pub fn main() -> ExitCode {
    match run(std::env::args_os().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(refusal) => {
            eprintln!("vmail-postdrop: {}", refusal.message);
            ExitCode::from(refusal.code)
        }
    }
}

fn run(args: Vec<std::ffi::OsString>) -> Result<(), Refusal> {
    let settings_only = match args.as_slice() {
        [] => false,
        [one] if one == "--settings" => true,
        _ => {
            return Err(refuse(
                EX_USAGE,
                "takes no arguments but --settings; the message comes on standard input \
                 (run by vfx and vmail-sendmail, not by hand)",
            ));
        }
    };
    // The caller's folder is nobody's business here.
    std::env::set_current_dir("/")
        .map_err(|e| refuse(EX_SOFTWARE, format!("cannot change to /: {e}")))?;
    let ids = Ids::current()
        .map_err(|e| refuse(EX_SOFTWARE, format!("cannot read /proc/self/status: {e}")))?;
    let (config, group) = open_config(&ids)?;
    let settings = read_settings(config)?;
    if settings_only {
        let mut text = format!(
            "from={}\nmax-message-size={}\nfax-attach-as={}\n",
            settings.from, settings.max_message_size, settings.fax_attach_as
        );
        for (key, value) in [
            ("admin-address", &settings.admin_address),
            ("local-domain", &settings.local_domain),
        ] {
            if let Some(value) = value {
                text.push_str(&format!("{key}={value}\n"));
            }
        }
        return io::stdout()
            .write_all(text.as_bytes())
            .map_err(|e| refuse(EX_SOFTWARE, e.to_string()));
    }
    let (dir, dir_path) = open_maildrop(&settings.spool, group)?;
    let mut input = io::stdin().lock();
    let id = vmail_spool::deposit(
        &dir,
        &dir_path,
        ids.ruid,
        &mut input,
        settings.max_message_size,
    )
    .map_err(|e| match e {
        MaildropError::Envelope(_) | MaildropError::TooLarge { .. } | MaildropError::Empty => {
            refuse(EX_DATAERR, e.to_string())
        }
        MaildropError::Io { .. } => refuse(EX_TEMPFAIL, e.to_string()),
    })?;
    println!("{id}");
    Ok(())
}

/// The identity checks, then the configuration, opened once. Returns the
/// open file and the group the helper must run as (the file's group).
///
/// * effective uid = real uid: the helper is setgid only, never setuid;
/// * the configuration belongs to root and nobody but root may change it,
///   so its group is the administrator's word for "the vmail group";
/// * effective gid = that group: installed setgid to it (or run by a member);
///   a helper made setgid to any other group refuses rather than acting
///   with a group nobody meant it to have.
pub fn open_config(ids: &Ids) -> Result<(File, u32), Refusal> {
    if ids.euid != ids.ruid || ids.suid != ids.ruid {
        return Err(refuse(
            EX_NOPERM,
            format!(
                "refusing to run setuid (real uid {}, effective {}): install it mode 2755 root:vmail",
                ids.ruid, ids.euid
            ),
        ));
    }
    let path = Path::new(SYSTEM_CONFIG);
    let file = vmail_spool::open_no_follow(path).map_err(|e| {
        if e.kind() == io::ErrorKind::PermissionDenied {
            refuse(
                EX_CONFIG,
                format!(
                    "cannot read {SYSTEM_CONFIG}: {e}; vmail-postdrop must be installed mode 2755 \
                     root:vmail (setgid to the configuration's group)"
                ),
            )
        } else {
            refuse(EX_CONFIG, format!("cannot read {SYSTEM_CONFIG}: {e}"))
        }
    })?;
    let meta = file
        .metadata()
        .map_err(|e| refuse(EX_CONFIG, format!("cannot inspect {SYSTEM_CONFIG}: {e}")))?;
    if !meta.is_file() || meta.uid() != 0 || meta.mode() & 0o022 != 0 {
        return Err(refuse(
            EX_CONFIG,
            format!(
                "{SYSTEM_CONFIG} must be a file of root that only root may change \
                 (it is uid {} mode {:04o}): chown root:vmail and chmod 0640 it",
                meta.uid(),
                meta.mode() & 0o7777
            ),
        ));
    }
    let group = meta.gid();
    if ids.egid != group || ids.sgid != group || group == 0 && ids.ruid != 0 {
        return Err(refuse(
            EX_NOPERM,
            format!(
                "runs with group {} but {SYSTEM_CONFIG} belongs to group {group}: \
                 install vmail-postdrop mode 2755 root:<that group>",
                ids.egid
            ),
        ));
    }
    Ok((file, group))
}

/// `spool`, `max-message-size` and `from`, read without validating (or
/// unsealing) the rest: a broken file is the daemon's to report. The size
/// and the default sender follow `vmail-config`'s rules (`25M`,
/// `vmail@<host name>`).
pub fn read_settings(mut config: File) -> Result<Settings, Refusal> {
    use std::io::Read;
    let mut text = String::new();
    (&mut config)
        .take(1 << 20)
        .read_to_string(&mut text)
        .map_err(|e| refuse(EX_CONFIG, format!("cannot read {SYSTEM_CONFIG}: {e}")))?;
    let doc = IniDocument::parse(Path::new(SYSTEM_CONFIG), &text);
    let spool = match doc.get("VFXSCHED", "spool").map(str::trim) {
        Some(spool) if !spool.is_empty() => Path::new("/etc/vmail").join(spool),
        _ => PathBuf::from("/var/spool/vmail"),
    };
    let max_message_size = match doc.get("VMAIL", "max-message-size").map(str::trim) {
        Some(text) => parse_size(text).ok_or_else(|| {
            refuse(
                EX_CONFIG,
                format!("{SYSTEM_CONFIG}: [VMAIL] max-message-size: {text:?} is not a size"),
            )
        })?,
        None => 25 << 20,
    };
    let from = match doc.get("VMAIL", "from").map(str::trim) {
        Some(from) if !from.is_empty() => from.to_string(),
        _ => format!("vmail@{}", host_name()),
    };
    let optional = |key: &str| {
        doc.get("VMAIL", key)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let fax_attach_as = match optional("fax-attach-as") {
        None => vmail_core::AttachAs::default(),
        Some(text) => vmail_core::AttachAs::parse(&text).ok_or_else(|| {
            refuse(
                EX_CONFIG,
                format!(
                    "{SYSTEM_CONFIG}: [VMAIL] fax-attach-as: {text:?} is not one of {}",
                    vmail_core::AttachAs::ALLOWED
                ),
            )
        })?,
    };
    Ok(Settings {
        spool,
        max_message_size,
        from,
        admin_address: optional("admin-address"),
        local_domain: optional("local-domain"),
        fax_attach_as,
    })
}

/// `100`, `512k`, `10M`, `25MB`, `1g` (binary units), as `vmail-config` reads them.
fn parse_size(text: &str) -> Option<u64> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    let unit = unit.trim().to_ascii_lowercase();
    let scale: u64 = match unit.strip_suffix('b').unwrap_or(&unit) {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        _ => return None,
    };
    number.checked_mul(scale).filter(|n| *n > 0)
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

/// Opens `<spool>/maildrop` without following a link and checks it is what
/// the package makes: a folder of `group` that others cannot enter (1730).
fn open_maildrop(spool: &Path, group: u32) -> Result<(File, PathBuf), Refusal> {
    let path = spool.join("maildrop");
    let dir = vmail_spool::open_dir_no_follow(&path).map_err(|e| {
        refuse(
            EX_TEMPFAIL,
            format!(
                "cannot open {}: {}; create it mode 1730 vmail:vmail",
                path.display(),
                e
            ),
        )
    })?;
    let meta = dir.metadata().map_err(|e| {
        refuse(
            EX_TEMPFAIL,
            format!("cannot inspect {}: {e}", path.display()),
        )
    })?;
    if meta.gid() != group || meta.mode() & 0o007 != 0 {
        return Err(refuse(
            EX_CONFIG,
            format!(
                "{} must be mode 1730 of the configuration's group {group} (it is group {} mode {:04o})",
                path.display(),
                meta.gid(),
                meta.mode() & 0o7777
            ),
        ));
    }
    Ok((dir, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_vmail_config_reads_them() {
        assert_eq!(parse_size("100"), Some(100));
        assert_eq!(parse_size("512k"), Some(512 << 10));
        assert_eq!(parse_size("25MB"), Some(25 << 20));
        assert_eq!(parse_size("1g"), Some(1 << 30));
        assert_eq!(parse_size("10T"), None);
        assert_eq!(parse_size("0"), None);
        assert_eq!(parse_size(""), None);
    }

    #[test]
    fn settings_are_read_without_opening_the_sealed_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let ini = dir.path().join("vsisrv.ini");
        std::fs::write(
            &ini,
            "[VMAIL]\nauth-rsp = enc:not-even-valid\nkey-file = /nonexistent/vmail.key\n\
             from = fax@x.test\nmax-message-size = 2M\nadmin-address = ops@x.test\n\
             fax-attach-as = PDF\n\
             [VFXSCHED]\nspool = spool\n",
        )
        .unwrap();
        let settings = read_settings(File::open(&ini).unwrap()).unwrap();
        assert_eq!(
            settings,
            Settings {
                spool: PathBuf::from("/etc/vmail/spool"),
                max_message_size: 2 << 20,
                from: "fax@x.test".to_string(),
                admin_address: Some("ops@x.test".to_string()),
                local_domain: None,
                fax_attach_as: vmail_core::AttachAs::Pdf,
            }
        );
    }

    #[test]
    fn a_setuid_helper_refuses() {
        let ids = Ids {
            ruid: 1000,
            euid: 0,
            suid: 0,
            rgid: 1000,
            egid: 1000,
            sgid: 1000,
        };
        let err = open_config(&ids).unwrap_err();
        assert_eq!(err.code, EX_NOPERM);
        assert!(
            err.message.contains("refusing to run setuid"),
            "{}",
            err.message
        );
    }

    #[test]
    fn arguments_are_refused() {
        for args in [
            vec!["--config", "/tmp/x"],
            vec!["/etc/shadow"],
            vec!["--settings", "x"],
        ] {
            let err = run(args.into_iter().map(Into::into).collect()).unwrap_err();
            assert_eq!(err.code, EX_USAGE);
        }
    }
}
