//! `vfxadmin oauth login | status [--json] | forget`: the OAuth2 tokens
//! that vmaild uses for XOAUTH2 and OAUTHBEARER, in the spool's `oauth/`
//! directory (the same one the daemon uses, found from `[VFXSCHED] spool`
//! of the same vsisrv.ini), sealed with `[VMAIL] key-file`.
//!
//! `login` is the device authorization grant (RFC 8628) for
//! `oauth-grant = refresh-token`: the user approves in a browser elsewhere,
//! vmail keeps the refresh token. `status` never prints a token. Run as
//! root, what is written is handed to the spool's owner, so a vmaild
//! running as `vmail` can read it.

use crate::setup;
use anyhow::{Context, anyhow, bail};
use clap::{Args, Subcommand};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};
use vmail_config::Config;
use vmail_core::{OAuthGrant, OAuthSettings, TokenError};
use vmail_oauth::{LastRefresh, Status, device_login};
use vmail_spool::format_time;

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  vfxadmin oauth login      (oauth-grant = refresh-token: approve in a browser)
  vfxadmin oauth status
  vfxadmin oauth status --json
  vfxadmin oauth forget

The tokens live sealed in the spool's oauth/ directory; docs/oauth.md shows
the setup for Microsoft 365 and Google Workspace.")]
pub struct OAuthArgs {
    #[command(subcommand)]
    pub action: OAuthAction,
}

#[derive(Debug, Subcommand)]
pub enum OAuthAction {
    /// Log in the mailbox with a code entered in a browser (oauth-grant =
    /// refresh-token) and store its refresh token, sealed
    Login,
    /// Show provider, grant, mailbox, token expiry and the last refresh
    /// (never a token)
    Status {
        /// Print JSON instead of text
        #[arg(long)]
        json: bool,
    },
    /// Remove the cached access token, the stored refresh token and the
    /// status
    Forget,
}

pub fn run(config_path: &Path, args: &OAuthArgs) -> anyhow::Result<ExitCode> {
    let config = setup::load_config(Some(config_path))?;
    let cache_dir = cache_dir(&config);
    match &args.action {
        OAuthAction::Login => login(&config, settings(&config)?, &cache_dir),
        OAuthAction::Status { json } => status(&config, &cache_dir, *json),
        OAuthAction::Forget => forget(&config, &cache_dir),
    }
}

/// Where vmaild keeps its tokens ([`vmail_oauth::cache_dir`]).
pub fn cache_dir(config: &Config) -> PathBuf {
    vmail_oauth::cache_dir(&config.spool)
}

/// The configured OAuth settings, or what to set.
pub fn settings(config: &Config) -> anyhow::Result<&OAuthSettings> {
    config.smtp().and_then(|s| s.oauth.as_ref()).ok_or_else(|| {
        anyhow!(
            "{} sets no OAuth2 login: set [VMAIL] oauth-provider, oauth-client-id, oauth-user \
             and the keys docs/oauth.md lists for your provider",
            config.path.display()
        )
    })
}

/// A token error as the administrator reads it: what happened, then the
/// key to change.
pub fn describe(error: &TokenError) -> String {
    match &error.advice {
        Some(advice) => format!("{}; {advice}", error.summary),
        None => error.summary.clone(),
    }
}

fn login(config: &Config, settings: &OAuthSettings, cache_dir: &Path) -> anyhow::Result<ExitCode> {
    if settings.grant != OAuthGrant::RefreshToken {
        bail!(
            "[VMAIL] oauth-grant is {} in {}: vmail fetches its tokens itself, no login is \
             needed; `vfxadmin oauth login` is for oauth-grant = refresh-token (a delegated \
             mailbox)",
            settings.grant,
            config.path.display()
        );
    }
    let (key, _) = vmail_config::secrets::load_or_create_key(&config.key_file).map_err(|e| {
        anyhow!(
            "cannot load the key file {}: {e}",
            config.key_file.display()
        )
    })?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let outcome = runtime.block_on(async {
        let started = device_login::start(settings)
            .await
            .map_err(|e| anyhow!("cannot start the login: {}", describe(&e)))?;
        println!(
            "To let vmail send as {}, open\n\n    {}\n\nand enter the code\n\n    {}\n",
            settings.user,
            started.verification_uri(),
            started.user_code()
        );
        if let Some(complete) = started.verification_uri_complete() {
            println!("(or open {complete}, which carries the code)\n");
        }
        println!(
            "Waiting for the approval; the code expires at {}. Ctrl-C cancels and stores nothing.",
            format_time(started.expires_at())
        );
        tokio::select! {
            polled = started.poll(cache_dir, &key) => Ok(Some(polled)),
            _ = interrupted() => Ok::<_, anyhow::Error>(None),
        }
    })?;
    match outcome {
        None => {
            eprintln!("vfxadmin: login cancelled; nothing was stored");
            Ok(ExitCode::from(130))
        }
        Some(Err(error)) => Err(anyhow!("the login did not complete: {}", describe(&error))),
        Some(Ok(())) => {
            give_to_spool_owner(&config.spool, cache_dir);
            println!(
                "Logged in: the refresh token for {} is stored, sealed, in {}. vmaild uses it \
                 from its next token request; `vfxadmin check` tries it now.",
                settings.user,
                cache_dir.display()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Ctrl-C or SIGTERM: the poll is dropped with it, so nothing is written.
async fn interrupted() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(mut int), Ok(mut term)) => {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
        }
        // Without signal handling the default action (exit, nothing
        // written) still holds.
        _ => std::future::pending::<()>().await,
    }
}

fn status(config: &Config, cache_dir: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let settings = settings(config)?;
    let found = vmail_oauth::status(cache_dir).map_err(|e| anyhow!("{e}"))?;
    if json {
        println!("{}", status_json(settings, cache_dir, &found));
    } else {
        print!(
            "{}",
            status_text(settings, cache_dir, &found, SystemTime::now())
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn status_json(settings: &OAuthSettings, cache_dir: &Path, found: &Status) -> serde_json::Value {
    json!({
        "provider": settings.provider.to_string(),
        "grant": settings.grant.to_string(),
        "mailbox": settings.user,
        "token_url": settings.token_url,
        "cache_dir": cache_dir.display().to_string(),
        "access_token_cached": found.access_token_cached,
        "refresh_token_stored": found.refresh_token_stored,
        "token_expires_at": found.last_refresh.as_ref().and_then(|l| l.expires_at_time()).map(format_time),
        "last_refresh": found.last_refresh.as_ref().map(|l| json!({
            "at": format_time(l.at_time()),
            "grant": l.grant,
            "result": l.result,
            "summary": l.summary,
            "advice": l.advice,
        })),
    })
}

/// The status as an administrator reads it.
pub fn status_text(
    settings: &OAuthSettings,
    cache_dir: &Path,
    found: &Status,
    now: SystemTime,
) -> String {
    let mut out = format!(
        "provider:       {}\ngrant:          {}\nmailbox:        {}\ntoken endpoint: {}\ncache:          {}\n",
        settings.provider,
        settings.grant,
        settings.user,
        settings.token_url,
        cache_dir.display()
    );
    out.push_str(&format!("access token:   {}\n", access_line(found, now)));
    if settings.grant == OAuthGrant::RefreshToken {
        let refresh = if found.refresh_token_stored {
            "stored"
        } else {
            "not stored: run `vfxadmin oauth login`"
        };
        out.push_str(&format!("refresh token:  {refresh}\n"));
    }
    out.push_str(&format!(
        "last refresh:   {}\n",
        found
            .last_refresh
            .as_ref()
            .map_or_else(|| "none yet".to_string(), last_refresh_line)
    ));
    out
}

fn access_line(found: &Status, now: SystemTime) -> String {
    let expiry = found
        .last_refresh
        .as_ref()
        .and_then(LastRefresh::expires_at_time);
    match (found.access_token_cached, expiry) {
        (false, _) => "none cached (fetched when vmaild next needs one)".to_string(),
        (true, None) => "cached".to_string(),
        (true, Some(at)) => match at.duration_since(now) {
            Ok(left) => format!(
                "cached, valid until {} ({})",
                format_time(at),
                minutes(left)
            ),
            Err(_) => format!(
                "cached, expired at {} (a new one is fetched when needed)",
                format_time(at)
            ),
        },
    }
}

fn minutes(left: Duration) -> String {
    let mins = left.as_secs() / 60;
    if mins == 0 {
        format!("{} s left", left.as_secs())
    } else {
        format!("{mins} min left")
    }
}

fn last_refresh_line(last: &LastRefresh) -> String {
    let head = format!("{} ({})", format_time(last.at_time()), last.grant);
    if last.is_ok() {
        return format!("{head}: ok");
    }
    let mut line = format!("{head}: FAILED, {}", last.result);
    if let Some(summary) = &last.summary {
        line.push_str(&format!(": {summary}"));
    }
    if let Some(advice) = &last.advice {
        line.push_str(&format!("; {advice}"));
    }
    line
}

fn forget(config: &Config, cache_dir: &Path) -> anyhow::Result<ExitCode> {
    let removed = vmail_oauth::forget(cache_dir).map_err(|e| anyhow!("{e}"))?;
    if removed.is_empty() {
        println!(
            "nothing to forget: no OAuth2 token in {}",
            cache_dir.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    for path in &removed {
        println!("removed {}", path.display());
    }
    let again = match config
        .smtp()
        .and_then(|s| s.oauth.as_ref())
        .map(|o| o.grant)
    {
        Some(OAuthGrant::RefreshToken) => "run `vfxadmin oauth login` to log in again",
        _ => "vmail fetches a new token when it next needs one",
    };
    println!(
        "A running vmaild keeps the token it holds in memory until it expires or the server \
         refuses it; {again}."
    );
    Ok(ExitCode::SUCCESS)
}

/// Run as root, the files just written belong to root and a vmaild running
/// as the spool's owner could not read them: hand the cache directory and
/// its files to the owner of the spool. Best effort: a failure is said,
/// the tokens stay.
pub fn give_to_spool_owner(spool: &Path, cache_dir: &Path) {
    use std::os::unix::fs::MetadataExt;
    let Ok(owner) = std::fs::metadata(spool) else {
        return;
    };
    if setup::uid() != Some(0) || owner.uid() == 0 {
        return;
    }
    let mut paths = vec![cache_dir.to_path_buf()];
    if let Ok(entries) = std::fs::read_dir(cache_dir) {
        paths.extend(entries.flatten().map(|e| e.path()));
    }
    for path in paths {
        if let Err(e) = std::os::unix::fs::chown(&path, Some(owner.uid()), Some(owner.gid())) {
            eprintln!(
                "vfxadmin: warning: cannot give {} to the spool's owner (uid {}): {e}; vmaild \
                 may not read it",
                path.display(),
                owner.uid()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vmail_core::OAuthProvider;

    fn settings(grant: OAuthGrant) -> OAuthSettings {
        OAuthSettings {
            provider: OAuthProvider::Microsoft,
            grant,
            tenant: Some("contoso.onmicrosoft.com".into()),
            client_id: "app".into(),
            client_secret: None,
            key_file: None,
            user: "fax@contoso.com".into(),
            scope: "https://outlook.office365.com/.default".into(),
            token_url: "https://login.example/token".into(),
            device_url: None,
            ca_file: None,
        }
    }

    #[test]
    fn status_shows_expiry_and_a_failed_refresh_with_its_advice() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let found = Status {
            last_refresh: Some(LastRefresh {
                at: 1_800_000_000 - 60,
                grant: "refresh-token".into(),
                result: "invalid_grant".into(),
                expires_at: None,
                summary: Some("the token endpoint refused the request: invalid_grant".into()),
                advice: Some("run `vfxadmin oauth login` again".into()),
            }),
            access_token_cached: false,
            refresh_token_stored: true,
        };
        let text = status_text(
            &settings(OAuthGrant::RefreshToken),
            Path::new("/var/spool/vmail/oauth"),
            &found,
            now,
        );
        assert!(text.contains("grant:          refresh-token\n"), "{text}");
        assert!(text.contains("refresh token:  stored\n"), "{text}");
        assert!(
            text.contains(
                "last refresh:   2027-01-15T07:59:00Z (refresh-token): FAILED, invalid_grant: \
                 the token endpoint refused the request: invalid_grant; run `vfxadmin oauth \
                 login` again\n"
            ),
            "{text}"
        );
        let ok = Status {
            last_refresh: Some(LastRefresh {
                at: 1_800_000_000 - 60,
                grant: "client-credentials".into(),
                result: "ok".into(),
                expires_at: Some(1_800_000_000 + 3540),
                summary: None,
                advice: None,
            }),
            access_token_cached: true,
            refresh_token_stored: false,
        };
        let text = status_text(
            &settings(OAuthGrant::ClientCredentials),
            Path::new("/s/oauth"),
            &ok,
            now,
        );
        assert!(
            text.contains(
                "access token:   cached, valid until 2027-01-15T08:59:00Z (59 min left)\n"
            ),
            "{text}"
        );
        assert!(!text.contains("refresh token:"), "{text}");
    }
}
