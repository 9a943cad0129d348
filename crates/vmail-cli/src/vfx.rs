//! `vfx`: submit a job. Every check (addresses, files, sizes, the cover
//! page) is made before anything is queued; the job is then written with
//! [`vmail_spool::Spool::submit`] (atomic, fsynced) and its id printed. A
//! running vmaild sees it at once; without one it waits in the queue.

use crate::compose::{self, Document};
use crate::cover::{self, CoverFields};
use crate::local_submit;
use crate::setup;
use anyhow::{anyhow, bail};
use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
use vmail_core::Envelope;
use vmail_message::address::{self, Mailbox};
use vmail_message::envelope::{rewrite_local, rewrites_note};
use vmail_message::{Draft, MimeError, Stamp, fax, mime};

#[derive(Debug, Parser)]
#[command(
    name = "vfx",
    version,
    about = "Queue a job for vmail: files as attachments, with an optional cover page",
    after_help = after_help()
)]
pub struct Cli {
    /// A recipient; repeat -n or give a comma list
    #[arg(
        short = 'n',
        long = "to",
        value_name = "ADDRESS",
        required = true,
        value_delimiter = ','
    )]
    pub to: Vec<String>,

    /// The subject
    #[arg(short = 's', long = "subject")]
    pub subject: Option<String>,

    // The help names an ini section in brackets, which rustdoc would read
    // as a link: given as an attribute, not a doc comment.
    #[arg(
        short = 'f',
        long = "from",
        value_name = "ADDRESS",
        help = "The sender [default: [VMAIL] from]"
    )]
    pub from: Option<String>,

    /// A note: the text of the message (and of the cover page)
    #[arg(short = 'm', long = "note")]
    pub note: Option<String>,

    /// A cover page: a built-in template (classic) or a template file
    #[arg(short = 'C', long = "cover", value_name = "NAME")]
    pub cover: Option<String>,

    /// Send the cover page only, no files (classic unless -C names another)
    #[arg(short = 'O', long = "cover-only", conflicts_with = "files")]
    pub cover_only: bool,

    /// The configuration file [default: $VSIFAX/lib/vsisrv.ini, else /etc/vmail/vsisrv.ini]
    #[arg(short = 'c', long = "config", value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Send each TIFF file as one PDF (name.tif as name.pdf), losslessly;
    /// a TIFF that cannot be converted is sent as it is, with the reason
    /// in the text. The default when `[VMAIL] fax-attach-as = pdf`
    #[arg(long = "pdf")]
    pub pdf: bool,

    /// Files to attach (PDF, TIFF, PNG, JPEG, text, anything)
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

/// The examples, then the fields a cover page template may use (from
/// [`cover::FIELDS`], so the list cannot drift from what is filled in).
fn after_help() -> String {
    format!(
        "\
Examples:
  vfx -n ann@example.com invoice.pdf scan.tiff
  vfx -n ann@example.com --pdf fax000042.tif   (the fax as fax000042.pdf)
  vfx -n ann@example.com,bob@example.com -s 'Invoice 42' -m 'Please sign.' -C classic invoice.pdf
  vfx -n ann@example.com -O -C classic        (the cover page alone)

Cover page templates (-C classic, or -C ./my-cover.txt) are text with these fields:
{}
Any other {{name}} stays as written, and vfx warns about it.",
        cover::fields_help()
    )
}

/// Parses the process's arguments and runs them; errors print as
/// `vfx: what: why; nothing was queued` and exit 1.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(id) => {
            println!("{id}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("vfx: {e:#}; nothing was queued");
            ExitCode::FAILURE
        }
    }
}

/// Checks everything, queues the job, returns its id.
pub fn run(cli: &Cli) -> anyhow::Result<vmail_core::JobId> {
    let route = local_submit::route(cli.config.as_deref())?;
    // Names without a domain (`-n root`) placed as `[VMAIL] admin-address`
    // and `local-domain` say, before they are parsed as mailboxes.
    let from_text = cli.from.as_deref().unwrap_or(route.default_from());
    let mut named = Envelope::new(from_text, cli.to.clone());
    let rewrites = rewrite_local(&mut named, &crate::sendmail::local_names(&route));
    let to = recipients(&named.recipients)?;
    let from = address::mailbox(&named.from).map_err(|e| anyhow!("{e} (the sender)"))?;
    let documents = compose::read_documents(&cli.files, route.max_message_size())?;
    let subject = cli
        .subject
        .clone()
        .unwrap_or_else(|| default_subject(&documents));
    let text = body_text(cli, &from, &to, &subject, &documents)?;
    if documents.is_empty() && text.trim().is_empty() {
        bail!("nothing to send: name files, or give a note (-m) or a cover page (-C, -O)");
    }
    let mut attachments: Vec<_> = documents.iter().map(|d| d.attachment.clone()).collect();
    let as_pdf = cli.pdf || route.fax_attach_as() == vmail_core::AttachAs::Pdf;
    let faxes = match as_pdf {
        true => fax::attach_faxes_as_pdf(&mut attachments),
        false => Vec::new(),
    };
    for kept in faxes.iter().filter(|f| f.body_line().is_some()) {
        eprintln!("vfx: warning: {}", kept.log_line());
    }
    let text = fax::with_body_lines(text, &faxes);
    let draft = Draft {
        from,
        to,
        cc: Vec::new(),
        subject: Some(subject),
        text,
        attachments,
        stamp: Stamp::now(),
    };
    let message = mime::build(&draft).map_err(|e| match e {
        MimeError::BadType { .. } => anyhow!("{e}"),
        MimeError::Build(_) => anyhow!("cannot build the message: {e}"),
    })?;
    let envelope = Envelope::new(
        draft.from.email.to_string(),
        draft.to.iter().map(|m| m.email.to_string()).collect(),
    );
    let faxes: String = faxes
        .iter()
        .map(|f| format!("; {}", f.log_line()))
        .collect();
    let note =
        submission_note(&envelope, &documents, message.len()) + &rewrites_note(&rewrites) + &faxes;
    // The user's files were read above, as the user; only bytes go on.
    let id = route
        .submit(&envelope, &note, message.as_slice())
        .map_err(|e| anyhow!("{e}"))?;
    Ok(id)
}

/// `-n` values (already split on commas), each a valid address.
fn recipients(values: &[String]) -> anyhow::Result<Vec<Mailbox>> {
    let mut out = Vec::new();
    for value in values.iter().map(|v| v.trim()).filter(|v| !v.is_empty()) {
        let mbox = address::mailbox(value).map_err(|e| anyhow!("{e} (-n)"))?;
        out.push(mbox);
    }
    if out.is_empty() {
        bail!("no recipient: give -n ADDRESS");
    }
    Ok(out)
}

fn default_subject(documents: &[Document]) -> String {
    if documents.is_empty() {
        return "Fax".to_string();
    }
    let names: Vec<&str> = documents
        .iter()
        .map(|d| d.attachment.name.as_str())
        .collect();
    format!("Fax: {}", names.join(", "))
}

/// The cover page (when asked for), then the note, or the note alone.
fn body_text(
    cli: &Cli,
    from: &Mailbox,
    to: &[Mailbox],
    subject: &str,
    documents: &[Document],
) -> anyhow::Result<String> {
    let note = cli.note.clone().unwrap_or_default();
    let name = match (&cli.cover, cli.cover_only) {
        (Some(name), _) => name.as_str(),
        (None, true) => "classic",
        (None, false) => return Ok(note),
    };
    let template = cover::template(name)?;
    for unknown in cover::unknown_fields(&template) {
        let known: Vec<String> = cover::FIELDS
            .iter()
            .map(|(f, _)| format!("{{{f}}}"))
            .collect();
        eprintln!(
            "vfx: warning: the cover page {name} uses {{{unknown}}}, which is not a field: it stays as written (fields: {})",
            known.join(", ")
        );
    }
    let fields = CoverFields {
        date: chrono::Local::now()
            .format("%a %d %b %Y %H:%M %:z")
            .to_string(),
        sender: from.to_string(),
        recipients: to.iter().map(|m| m.to_string()).collect(),
        subject: subject.to_string(),
        files: documents
            .iter()
            .map(|d| (d.attachment.name.clone(), d.attachment.bytes.len() as u64))
            .collect(),
        note,
    };
    Ok(cover::render(&template, &fields))
}

/// The first line of the job's log, kept in the queue entry until vmaild
/// writes the log at the first attempt (one file created per job, not two).
fn submission_note(envelope: &Envelope, documents: &[Document], size: usize) -> String {
    let uid = setup::uid().map_or("?".to_string(), |u| u.to_string());
    format!(
        "submitted by vfx (uid {uid}) to {}: {} file(s), {size} bytes",
        envelope.recipients.join(", "),
        documents.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn n_repeats_and_splits_on_commas() {
        let cli = Cli::try_parse_from(["vfx", "-n", "a@x,b@x", "-n", "c@x", "f.pdf"]).unwrap();
        assert_eq!(cli.to, ["a@x", "b@x", "c@x"]);
        assert!(Cli::try_parse_from(["vfx", "-n", "a@x", "-O", "f.pdf"]).is_err());
        let cli = Cli::try_parse_from(["vfx", "-n", "a@x", "-O", "-C", "classic"]).unwrap();
        assert!(cli.cover_only);
    }
}
