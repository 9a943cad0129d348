//! vmaild's command line, public so that `vmail-docgen` writes its man
//! page (vmaild(8)) from the same definition as `vmaild --help`.

use clap::Parser;
use std::path::PathBuf;

/// The prose of the man page and of `vmaild --help`.
const LONG_ABOUT: &str = "\
vmaild watches the spool folder named by [VFXSCHED] spool (default \
/var/spool/vmail) and delivers every job dropped there to the mail server \
named by [VMAIL] mail-server in vsisrv.ini, retrying deferred jobs with a \
growing delay until max-lifetime. It runs in the foreground (systemd \
Type=notify). SIGHUP re-reads the configuration (a file with errors is \
reported and the running configuration kept); SIGTERM and SIGINT start no \
new session, wait for the busy ones and exit 0.";

const AFTER_LONG_HELP: &str = "\
Files:
  /etc/vmail/vsisrv.ini   the configuration (root:vmail, 0640)
  /etc/vmail/vmail.key    the key that seals auth-rsp, pop-rsp and
                          oauth-client-secret (vmail:vmail, 0600)
  /var/spool/vmail        the spool: in/ (drop folder), queue/, logs/ (one
                          log per job, and the daemon's log vmail), sent/,
                          failed/, quarantine/, oauth/ (sealed tokens)

Exit status: 0 after SIGTERM or an empty queue (--once); 75 when --once
leaves jobs queued; 78 when the configuration has errors.

See also: vfx(1), vfxadmin(1), vmail-sendmail(1),
/usr/share/doc/vmail/README.md";

#[derive(Debug, Parser)]
#[command(
    name = "vmaild",
    version,
    about = "vmail relay daemon: delivers spooled jobs over SMTP",
    long_about = LONG_ABOUT,
    after_long_help = AFTER_LONG_HELP
)]
pub struct Args {
    /// The vsisrv.ini to read (default: $VSIFAX/lib/vsisrv.ini, else /etc/vmail/vsisrv.ini).
    #[arg(
        short = 'c',
        long = "config",
        visible_short_alias = 'C',
        value_name = "PATH"
    )]
    pub config: Option<PathBuf>,
    /// Check the configuration, print every error and warning, and exit: 0 when it can be used, 78 when it has errors.
    #[arg(long)]
    pub check_config: bool,
    /// Deliver every job that is due, then exit: 0 when the queue is empty, 75 when jobs remain.
    #[arg(long)]
    pub once: bool,
}
