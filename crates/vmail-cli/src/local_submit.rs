//! How `vfx` and `vmail-sendmail` queue a job: directly into the spool when
//! this user can write it (root, the `vmail` user), else through the setgid
//! helper `vmail-postdrop` ([`crate::postdrop`]), as Postfix's `sendmail`
//! hands mail to `postdrop`. The front end stays unprivileged: it reads the
//! user's files as the user and gives the helper bytes on a pipe.

use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use vmail_config::Config;
use vmail_core::{Envelope, JobId};

use crate::postdrop::SYSTEM_CONFIG;
use crate::setup;

/// Where the job goes.
#[derive(Debug)]
pub enum Route {
    /// This user can write the spool: queue as before.
    Direct(Box<Config>),
    /// Through `vmail-postdrop`, with the settings it reported.
    Postdrop(Helper),
}

/// The helper and what it says of the configuration this user cannot read.
#[derive(Debug, Clone)]
pub struct Helper {
    pub program: PathBuf,
    pub from: String,
    pub max_message_size: u64,
    /// `[VMAIL] admin-address` and `local-domain`, when set.
    pub admin_address: Option<String>,
    pub local_domain: Option<String>,
    /// `[VMAIL] fax-attach-as`: vfx sends TIFFs as PDF by default when `pdf`.
    pub fax_attach_as: vmail_core::AttachAs,
}

impl Route {
    /// `[VMAIL] from`, as the configuration or the helper gives it.
    pub fn default_from(&self) -> &str {
        match self {
            Route::Direct(config) => &config.from,
            Route::Postdrop(helper) => &helper.from,
        }
    }

    pub fn max_message_size(&self) -> u64 {
        match self {
            Route::Direct(config) => config.max_message_size,
            Route::Postdrop(helper) => helper.max_message_size,
        }
    }

    /// `[VMAIL] fax-attach-as`, as the configuration or the helper gives it.
    pub fn fax_attach_as(&self) -> vmail_core::AttachAs {
        match self {
            Route::Direct(config) => config.fax_attach_as,
            Route::Postdrop(helper) => helper.fax_attach_as,
        }
    }

    /// Queues the job; the id it has (or will keep once vmaild picks it up).
    pub fn submit(
        &self,
        envelope: &Envelope,
        note: &str,
        message: &[u8],
    ) -> Result<JobId, Failure> {
        match self {
            Route::Direct(config) => {
                let spool =
                    setup::open_spool(config).map_err(|e| Failure::Spool(format!("{e:#}")))?;
                spool
                    .submit_noted(envelope, Some(note), message, config.max_message_size)
                    .map_err(|e| match e {
                        vmail_spool::SpoolError::TooLarge { .. }
                        | vmail_spool::SpoolError::BadEnvelope(_)
                        | vmail_spool::SpoolError::EmptyMessage => Failure::Data(e.to_string()),
                        other => Failure::Spool(other.to_string()),
                    })
            }
            Route::Postdrop(helper) => helper.deposit(envelope, note, message),
        }
    }
}

/// Why a submission failed, for the front end's exit code.
#[derive(Debug)]
pub enum Failure {
    /// The message or envelope is refused (sysexits 65).
    Data(String),
    /// The spool or the helper failed (75: try again later).
    Spool(String),
    /// The helper refused with this sysexits code; it printed why.
    Helper(u8),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Data(why) | Failure::Spool(why) => f.write_str(why),
            Failure::Helper(code) => write!(f, "vmail-postdrop refused the job (exit {code})"),
        }
    }
}

/// Chooses the route. The configuration is read as this user; when this
/// user may not read the system's (`/etc/vmail/vsisrv.ini`, 0640
/// root:vmail) or may not write its spool, the helper takes over. A file
/// named by `--config` or `VSIFAX` that this user cannot read stays an
/// error: the helper never reads it for them.
pub fn route(cli_config: Option<&Path>) -> anyhow::Result<Route> {
    let path = vmail_config::config_path(cli_config);
    let system = path == Path::new(SYSTEM_CONFIG);
    match setup::load_config(cli_config) {
        Ok(config) if can_write_spool(&config.spool) => Ok(Route::Direct(Box::new(config))),
        Ok(_) if system => Ok(Route::Postdrop(Helper::find()?)),
        Ok(config) => Err(anyhow::anyhow!(
            "cannot write the spool {} of {}: only the system configuration {SYSTEM_CONFIG} \
             can be used through vmail-postdrop",
            config.spool.display(),
            path.display()
        )),
        // Unreadable to this user (or its key file is): not this user's to read.
        Err(_) if system && !is_root() => Ok(Route::Postdrop(Helper::find()?)),
        Err(err) => Err(err),
    }
}

fn is_root() -> bool {
    setup::uid() == Some(0)
}

/// Whether this user can write `queue/` and `tmp/`: root, or their owner.
fn can_write_spool(spool: &Path) -> bool {
    let Some(uid) = setup::uid() else {
        return false;
    };
    uid == 0
        || ["queue", "tmp"]
            .iter()
            .all(|dir| std::fs::metadata(spool.join(dir)).is_ok_and(|meta| meta.uid() == uid))
        || !spool.join("queue").exists() && std::fs::metadata(spool).is_ok_and(|m| m.uid() == uid)
}

impl Helper {
    /// `VMAIL_POSTDROP` (the user's own choice: it runs as them), else
    /// `vmail-postdrop` beside this program, else `/usr/sbin/vmail-postdrop`;
    /// then asks it for the settings.
    pub fn find() -> anyhow::Result<Helper> {
        let program = std::env::var_os("VMAIL_POSTDROP")
            .map(PathBuf::from)
            .or_else(|| {
                let exe = std::env::current_exe().ok()?;
                let sibling = exe.parent()?.join("vmail-postdrop");
                sibling.exists().then_some(sibling)
            })
            .unwrap_or_else(|| PathBuf::from("/usr/sbin/vmail-postdrop"));
        let output = Command::new(&program)
            .arg("--settings")
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| {
                anyhow::anyhow!(
                    "this user cannot read {SYSTEM_CONFIG}, and the submission helper {} cannot be run: {e}",
                    program.display()
                )
            })?;
        if !output.status.success() {
            anyhow::bail!(
                "the submission helper {} failed ({})",
                program.display(),
                output.status
            );
        }
        let text = String::from_utf8_lossy(&output.stdout);
        let value = |key: &str| {
            text.lines()
                .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
                .map(str::to_string)
        };
        let from = value("from").unwrap_or_default();
        let max_message_size = value("max-message-size")
            .and_then(|v| v.parse().ok())
            .unwrap_or(25 << 20);
        Ok(Helper {
            program,
            from,
            max_message_size,
            admin_address: value("admin-address"),
            local_domain: value("local-domain"),
            fax_attach_as: value("fax-attach-as")
                .and_then(|v| vmail_core::AttachAs::parse(&v))
                .unwrap_or_default(),
        })
    }

    /// Pipes the submission to the helper; its standard error is the
    /// user's, so its refusal reads as it wrote it.
    fn deposit(&self, envelope: &Envelope, note: &str, message: &[u8]) -> Result<JobId, Failure> {
        let mut child = Command::new(&self.program)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| Failure::Spool(format!("cannot run {}: {e}", self.program.display())))?;
        let written = child.stdin.take().map(|mut stdin| {
            vmail_spool::write_submission(&mut stdin, envelope, Some(note), message)
                .and_then(|()| stdin.flush())
        });
        let mut out = String::new();
        if let Some(mut stdout) = child.stdout.take() {
            let _ = stdout.read_to_string(&mut out);
        }
        let status = child
            .wait()
            .map_err(|e| Failure::Spool(format!("{}: {e}", self.program.display())))?;
        if !status.success() {
            return Err(Failure::Helper(
                status
                    .code()
                    .and_then(|c| u8::try_from(c).ok())
                    .unwrap_or(75),
            ));
        }
        if let Some(Err(err)) = written {
            return Err(Failure::Spool(format!(
                "cannot hand the message over: {err}"
            )));
        }
        JobId::parse(out.trim()).map_err(|_| {
            Failure::Spool(format!(
                "{} answered {:?}, not a job id",
                self.program.display(),
                out.trim()
            ))
        })
    }
}
