//! `vmail-sendmail`: a sendmail-compatible front-end that queues into the
//! vmail spool, so that cron, mailx and scripts can send through vmail.
//! Installed as `/usr/sbin/sendmail` by the packaging.
//!
//! It is called once per message, so it does only what it must: no async
//! runtime, one read of the configuration, one job written with
//! [`vmail_spool::Spool::submit`] (the message file's fsync and the queue
//! folder's), one line appended to the job's log. Exit codes follow
//! sysexits(3).

use crate::local_submit::{self, Failure, Route};
use crate::sendmail_input::{self, InputError};
use crate::setup;
use clap::{ArgAction, Parser};
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use vmail_core::Envelope;
use vmail_message::envelope::{rewrite_local, rewrites_note};
use vmail_message::fields::{Sender, added_fields};
use vmail_message::header::{self, Parts};
use vmail_message::{LocalNames, Rewrite, Stamp, address};

pub const EX_USAGE: u8 = 64;
pub const EX_DATAERR: u8 = 65;
pub const EX_NOUSER: u8 = 67;
pub const EX_SOFTWARE: u8 = 70;
pub const EX_TEMPFAIL: u8 = 75;
pub const EX_NOPERM: u8 = 77;
pub const EX_CONFIG: u8 = 78;

/// The `-o` options accepted and ignored (by their first letters).
const HARMLESS_O: &[&str] = &["e", "d", "m", "L", "8", "7", "b", "c", "s"];

#[derive(Debug, Parser)]
#[command(
    name = "vmail-sendmail",
    version,
    about = "sendmail-compatible front-end: queues a message from standard input into the vmail spool",
    disable_help_flag = true,
    disable_version_flag = true,
    after_help = "\
Examples:
  printf 'Subject: hi\\n\\nhello\\n' | vmail-sendmail ann@example.com
  vmail-sendmail -t -i < message.eml          (recipients from To, Cc and Bcc)
  vmail-sendmail -bp                          (list the queue, like mailq)

Accepted and ignored: -oe*, -od*, -om, -oL*, -B TYPE, -v, -n, -U, -h N,
-L TAG, -O OPTION=VALUE, -bm, -bi.
-N, -R and -V are sent (NOTIFY=, RET=, ENVID=) only to a mail server that
offers DSN; without -N and -R, [VMAIL] dsn-notify and dsn-return apply.
Exit codes (sysexits): 64 usage, 65 bad message or address, 67 address
without a domain, 70 internal error, 75 spool not writable (try again),
77 not permitted, 78 configuration error.
A user who cannot write the spool submits through vmail-postdrop (setgid
vmail), which reads only /etc/vmail/vsisrv.ini."
)]
pub struct Cli {
    /// Take the recipients from the To, Cc and Bcc fields too (Bcc is removed)
    #[arg(short = 't')]
    pub extract: bool,

    // The help names an ini section in brackets, which rustdoc would read
    // as a link: given as an attribute, not a doc comment.
    #[arg(
        short = 'f',
        short_alias = 'r',
        value_name = "ADDRESS",
        help = "The envelope sender [default: [VMAIL] from]"
    )]
    pub from: Option<String>,

    /// The sender's full name, for the From field added when the message has none
    #[arg(short = 'F', value_name = "NAME")]
    pub full_name: Option<String>,

    /// A line with a single dot does not end the message (also -oi)
    #[arg(short = 'i')]
    pub ignore_dots: bool,

    /// sendmail option: i (as -i); e*, d*, m, L* ... are ignored
    #[arg(short = 'o', value_name = "OPTION", action = ArgAction::Append)]
    pub options: Vec<String>,

    /// Mode: m (deliver a message, the default), p (list the queue, as mailq), i (no-op)
    #[arg(short = 'b', value_name = "MODE", default_value = "m")]
    pub mode: String,

    /// The configuration file [default: $VSIFAX/lib/vsisrv.ini, else /etc/vmail/vsisrv.ini]
    #[arg(short = 'C', long = "config", value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Print help
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,

    /// Print the version
    #[arg(long = "version", action = ArgAction::Version)]
    pub version: Option<bool>,

    #[arg(short = 'B', hide = true)]
    pub body_type: Option<String>,
    /// Delivery status notifications wanted: never, or success, failure, delay (comma-separated)
    #[arg(short = 'N', value_name = "DSN")]
    pub dsn: Option<String>,
    /// What a failure report returns: full (the message) or hdrs (its header)
    #[arg(short = 'R', value_name = "RET")]
    pub dsn_return: Option<String>,
    /// The envelope id that delivery status notifications quote back [default: the job id]
    #[arg(short = 'V', value_name = "ID")]
    pub envelope_id: Option<String>,
    #[arg(short = 'h', hide = true)]
    pub hop_count: Option<String>,
    #[arg(short = 'L', hide = true)]
    pub log_tag: Option<String>,
    #[arg(short = 'O', hide = true, action = ArgAction::Append)]
    pub long_options: Vec<String>,
    #[arg(short = 'v', hide = true, action = ArgAction::Count)]
    pub verbose: u8,
    #[arg(short = 'n', hide = true)]
    pub no_alias: bool,
    #[arg(short = 'U', hide = true)]
    pub initial_submission: bool,

    /// Recipients
    #[arg(value_name = "ADDRESS")]
    pub recipients: Vec<String>,
}

/// A failure with its sysexits code.
#[derive(Debug)]
pub struct Exit {
    pub code: u8,
    pub message: String,
}

fn fail(code: u8, message: impl Into<String>) -> Exit {
    Exit {
        code,
        message: message.into(),
    }
}

/// Parses the arguments (EX_USAGE on an unknown option) and runs them.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) if !err.use_stderr() => {
            let _ = err.print();
            return ExitCode::SUCCESS;
        }
        Err(err) => {
            eprintln!("vmail-sendmail: {}", usage_error(&err));
            return ExitCode::from(EX_USAGE);
        }
    };
    match run(&cli, &mut io::stdin().lock()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(exit) => {
            eprintln!("vmail-sendmail: {}", exit.message);
            ExitCode::from(exit.code)
        }
    }
}

/// clap's error, first line only, with the hint that matters here.
fn usage_error(err: &clap::Error) -> String {
    let text = err.to_string();
    let first = text.lines().next().unwrap_or("bad arguments");
    let first = first.trim_start_matches("error: ");
    format!("{first}; this option is not supported (see vmail-sendmail --help)")
}

/// Runs a parsed command line with the message on `input`.
pub fn run(cli: &Cli, input: &mut impl io::BufRead) -> Result<(), Exit> {
    let ignore_dots = check_options(cli)?;
    let route = local_submit::route(cli.config.as_deref())
        .map_err(|e| fail(EX_CONFIG, format!("{e:#}")))?;
    match (cli.mode.as_str(), &route) {
        ("m", _) => {}
        ("p", Route::Direct(config)) => return list_queue(config),
        ("p", Route::Postdrop(_)) => {
            return Err(fail(
                EX_NOPERM,
                "-bp: only root and the vmail user may list the queue (vfxadmin queue list)",
            ));
        }
        ("i", _) => return Ok(()),
        ("s", _) => {
            return Err(fail(
                EX_USAGE,
                "-bs (SMTP on standard input) is not supported; give the message on standard input",
            ));
        }
        ("d", _) => {
            return Err(fail(
                EX_USAGE,
                "-bd: vmail-sendmail is not a daemon; vmaild is",
            ));
        }
        (other, _) => {
            return Err(fail(
                EX_USAGE,
                format!("-b{other} is not supported (only -bm, -bp, -bi)"),
            ));
        }
    }
    let message = sendmail_input::read_message(input, ignore_dots, route.max_message_size())
        .map_err(|e| match e {
            InputError::TooLarge { limit } => fail(EX_DATAERR, format!("the message is over [VMAIL] max-message-size ({limit} bytes); nothing was queued")),
            InputError::Io(why) => fail(EX_SOFTWARE, format!("cannot read the message: {why}")),
        })?;
    let parts = header::split(&message);
    let (mut envelope, rewrites) =
        envelope(cli, route.default_from(), &local_names(&route), &parts)?;
    envelope.dsn = dsn(cli)?;
    let sender = Sender {
        address: &envelope.from,
        full_name: cli.full_name.as_deref(),
    };
    let mut queued = added_fields(&parts.header, sender, &Stamp::now(), parts.eol);
    queued.extend_from_slice(&parts.kept);
    queued.extend_from_slice(&parts.body);
    submit(&route, &envelope, &rewrites, &queued)
}

/// `[VMAIL] admin-address` and `local-domain`: of the configuration this
/// user reads, or as `vmail-postdrop --settings` reports them to a user
/// who cannot read it (they are not secret), so that a user's cron mail
/// to `root` is placed the same way as root's.
pub(crate) fn local_names(route: &Route) -> LocalNames {
    match route {
        Route::Direct(config) => LocalNames::new(
            config.admin_address.as_deref(),
            config.local_domain.as_deref(),
        ),
        Route::Postdrop(helper) => LocalNames::new(
            helper.admin_address.as_deref(),
            helper.local_domain.as_deref(),
        ),
    }
}

/// Checks the `-o` options; returns whether dots are ignored (-i or -oi).
fn check_options(cli: &Cli) -> Result<bool, Exit> {
    let mut ignore_dots = cli.ignore_dots;
    for option in &cli.options {
        if option == "i" {
            ignore_dots = true;
        } else if !HARMLESS_O.iter().any(|p| option.starts_with(p)) {
            return Err(fail(
                EX_USAGE,
                format!("-o{option} is not supported (accepted: -oi, -oe*, -od*, -om, -oL*)"),
            ));
        }
    }
    Ok(ignore_dots)
}

/// The envelope: `-f` or `[VMAIL] from`; the arguments, and with `-t`
/// the header's To, Cc and Bcc; names without a domain rewritten as
/// `[VMAIL] admin-address` and `local-domain` say (the rewrites returned
/// for the job's log); then each address checked, duplicates dropped.
fn envelope(
    cli: &Cli,
    default_from: &str,
    names: &LocalNames,
    parts: &Parts,
) -> Result<(Envelope, Vec<Rewrite>), Exit> {
    let given_from = cli
        .from
        .as_deref()
        .map(|f| f.trim().trim_start_matches('<').trim_end_matches('>'));
    let mut wanted: Vec<String> = cli
        .recipients
        .iter()
        .flat_map(|r| r.split(','))
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty())
        .collect();
    if cli.extract {
        wanted.extend(vmail_message::envelope::header_recipients(&parts.header));
    }
    let mut raw = Envelope::new(given_from.unwrap_or(default_from), wanted);
    let rewrites = rewrite_local(&mut raw, names);
    let from = match given_from {
        Some("") => String::new(),
        Some(_) => checked(&raw.from, "-f")?,
        None => raw.from,
    };
    let mut recipients: Vec<String> = Vec::new();
    for rcpt in &raw.recipients {
        let address = checked(rcpt, "recipient")?;
        if !recipients
            .iter()
            .any(|known| known.eq_ignore_ascii_case(&address))
        {
            recipients.push(address);
        }
    }
    if recipients.is_empty() {
        let hint = if cli.extract {
            "the To, Cc and Bcc fields name no address"
        } else {
            "give addresses as arguments, or -t to read them from the header"
        };
        return Err(fail(
            EX_USAGE,
            format!("no recipients: {hint}; nothing was queued"),
        ));
    }
    Ok((Envelope::new(from, recipients), rewrites))
}

/// `-N`, `-R` and `-V`: the job's own DSN request (EX_USAGE when a word
/// is not one).
fn dsn(cli: &Cli) -> Result<vmail_core::Dsn, Exit> {
    let usage = |flag: &str, err: vmail_core::DsnError| {
        fail(EX_USAGE, format!("-{flag}: {err}; nothing was queued"))
    };
    let notify = cli
        .dsn
        .as_deref()
        .map(vmail_core::DsnNotify::parse)
        .transpose()
        .map_err(|e| usage("N", e))?;
    let ret = cli
        .dsn_return
        .as_deref()
        .map(vmail_core::DsnReturn::parse)
        .transpose()
        .map_err(|e| usage("R", e))?;
    let envid = cli
        .envelope_id
        .as_deref()
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .map(str::to_string);
    Ok(vmail_core::Dsn { notify, ret, envid })
}

/// A bare address (`Name <a@b>` gives `a@b`), or the error that says why
/// not, with its sysexits code: 67 without a domain, 65 otherwise.
fn checked(text: &str, what: &str) -> Result<String, Exit> {
    address::check(text).map_err(|err| {
        let code = if err.is_no_domain() {
            EX_NOUSER
        } else {
            EX_DATAERR
        };
        fail(code, format!("{what} {err}; nothing was queued"))
    })
}

/// Queues the job (directly or through `vmail-postdrop`, see
/// [`local_submit`]); the log's first line travels in the queue entry
/// (vmaild writes it at the first attempt): one file per submission.
fn submit(
    route: &Route,
    envelope: &Envelope,
    rewrites: &[Rewrite],
    message: &[u8],
) -> Result<(), Exit> {
    let uid = setup::uid().map_or("?".to_string(), |u| u.to_string());
    let note = format!(
        "submitted by vmail-sendmail (uid {uid}) to {}{}",
        envelope.recipients.join(", "),
        rewrites_note(rewrites)
    );
    route
        .submit(envelope, &note, message)
        .map_err(|e| match e {
            Failure::Data(why) => fail(EX_DATAERR, why),
            Failure::Spool(why) => fail(EX_TEMPFAIL, why),
            Failure::Helper(code) => fail(code, e.to_string()),
        })?;
    Ok(())
}

/// `-bp`: the queue, in the manner of `mailq`, printed as it is read so
/// that a queue of a million jobs neither waits for its first line nor
/// holds the listing in memory.
fn list_queue(config: &vmail_config::Config) -> Result<(), Exit> {
    let spool = vmail_spool::Spool::open(&config.spool).map_err(|e| {
        fail(
            EX_TEMPFAIL,
            format!("cannot open the spool {}: {e}", config.spool.display()),
        )
    })?;
    let mut out = io::BufWriter::new(io::stdout().lock());
    let (mut count, mut bytes) = (0u64, 0u64);
    crate::queue_cmd::for_each_block(&spool, "vmail-sendmail", |jobs| {
        for job in &jobs {
            if count == 0 {
                out.write_all(MAILQ_HEADER.as_bytes())?;
            }
            count += 1;
            bytes += job.size;
            out.write_all(crate::queue_cmd::mailq_entry(job).as_bytes())?;
        }
        Ok(true)
    })
    .map_err(|e| fail(EX_TEMPFAIL, format!("{e:#}")))?;
    let summary = match count {
        0 => "Mail queue is empty\n".to_string(),
        n => format!(
            "-- {} Kbytes in {n} Request{}.\n",
            bytes.div_ceil(1024),
            if n == 1 { "" } else { "s" }
        ),
    };
    out.write_all(summary.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| fail(EX_SOFTWARE, e.to_string()))
}

/// The first line of a `mailq` listing, as Postfix prints it.
const MAILQ_HEADER: &str =
    "-Queue ID-                  --Size-- ----Arrival Time---- -Sender/Recipient-------\n";

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn sendmail_style_options_parse() {
        let cli = Cli::try_parse_from([
            "sendmail",
            "-ti",
            "-oem",
            "-odi",
            "-B8BITMIME",
            "-ffax@x.test",
            "-F",
            "Fax Server",
            "a@x.test",
        ])
        .unwrap();
        assert!(cli.extract && cli.ignore_dots);
        assert_eq!(cli.options, ["em", "di"]);
        assert_eq!(cli.from.as_deref(), Some("fax@x.test"));
        assert_eq!(cli.recipients, ["a@x.test"]);
        assert!(check_options(&cli).unwrap());
        let cli = Cli::try_parse_from(["sendmail", "-oi", "-bp"]).unwrap();
        assert!(check_options(&cli).unwrap());
        assert_eq!(cli.mode, "p");
        let cli = Cli::try_parse_from(["sendmail", "-oQ/tmp", "a@x"]).unwrap();
        assert_eq!(check_options(&cli).unwrap_err().code, EX_USAGE);
        assert!(Cli::try_parse_from(["sendmail", "-X", "/tmp/log", "a@x"]).is_err());
    }

    #[test]
    fn local_names_come_from_the_helper_for_a_user_who_cannot_read_the_ini() {
        let helper = crate::local_submit::Helper {
            program: PathBuf::from("/usr/sbin/vmail-postdrop"),
            from: "vmail@example.com".into(),
            max_message_size: 1 << 20,
            admin_address: Some("admin@example.com".into()),
            local_domain: None,
            fax_attach_as: vmail_core::AttachAs::Tiff,
        };
        let names = local_names(&Route::Postdrop(helper));
        assert_eq!(
            names.recipient("root").unwrap().to_string(),
            "recipient root rewritten to admin@example.com ([VMAIL] admin-address)"
        );
        assert_eq!(names.sender("cron"), None);
    }

    #[test]
    fn dsn_flags_become_the_job_s_request_and_bad_words_are_usage_errors() {
        let cli = Cli::try_parse_from([
            "sendmail",
            "-N",
            "success,failure",
            "-RHDRS",
            "-V",
            "order-17",
            "jörg@example.de",
        ])
        .unwrap();
        let asked = dsn(&cli).unwrap();
        assert_eq!(asked.notify.unwrap().to_string(), "SUCCESS,FAILURE");
        assert_eq!(asked.ret, Some(vmail_core::DsnReturn::Headers));
        assert_eq!(asked.envid.as_deref(), Some("order-17"));
        let none = Cli::try_parse_from(["sendmail", "a@x.test"]).unwrap();
        assert!(dsn(&none).unwrap().is_empty());
        let never = Cli::try_parse_from(["sendmail", "-Nnever", "a@x.test"]).unwrap();
        assert!(dsn(&never).unwrap().notify.unwrap().is_never());
        let bad = Cli::try_parse_from(["sendmail", "-N", "always", "a@x.test"]).unwrap();
        let exit = dsn(&bad).unwrap_err();
        assert_eq!(exit.code, EX_USAGE);
        assert_eq!(
            exit.message,
            "-N: \"always\" is not a DSN notify list: give `never`, or one or more of \
             `success`, `failure`, `delay` separated by commas; nothing was queued"
        );
        let bad = Cli::try_parse_from(["sendmail", "-R", "body", "a@x.test"]).unwrap();
        assert_eq!(dsn(&bad).unwrap_err().code, EX_USAGE);
    }

    #[test]
    fn addresses_are_checked() {
        assert_eq!(
            checked("jörg@example.de", "recipient").unwrap(),
            "jörg@example.de"
        );
        assert_eq!(
            checked("用户@例子.广告", "recipient").unwrap(),
            "用户@例子.广告"
        );
        assert_eq!(
            checked("Ann <ann@x.test>", "recipient").unwrap(),
            "ann@x.test"
        );
        assert_eq!(checked("root", "recipient").unwrap_err().code, EX_NOUSER);
        assert_eq!(checked("a@@x", "recipient").unwrap_err().code, EX_DATAERR);
    }
}
