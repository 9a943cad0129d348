//! The deliverer a configuration asks for, and the OAuth2 token source that
//! its SMTP sessions share.

use crate::capture::CaptureDeliverer;
use crate::deliver::{Attempt, Deliver, ReportSink};
use crate::smtp::SmtpDeliverer;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tracing::{info, warn};
use vmail_config::{Config, Delivery};
use vmail_core::{OAuthSettings, TokenError, TokenFuture, TokenSource};
use vmail_oauth::OAuthClient;

/// Either a real mail server or the capture folder, chosen by
/// `[VMAIL] mail-server`.
pub enum Relay {
    Capture(CaptureDeliverer),
    Smtp(Box<SmtpDeliverer>),
}

impl Relay {
    /// The deliverer for `config`. With `[VMAIL] oauth-*` keys set, its
    /// sessions share the one token source `tokens` keeps: many sessions
    /// cause one token request, and a reload that leaves the OAuth settings
    /// alone keeps the token in memory.
    pub fn for_config(
        config: &Config,
        tokens: &mut TokenSources,
    ) -> Result<Relay, TokenSetupError> {
        match &config.delivery {
            Delivery::Capture { dir } => Ok(Relay::Capture(CaptureDeliverer::new(dir.clone()))),
            Delivery::Smtp(settings) => {
                let transcripts = config.debug >= vmail_core::DebugLevel::Transcript;
                let source = match &settings.oauth {
                    Some(oauth) => Some(tokens.for_settings(oauth, config)?),
                    None => {
                        tokens.current = None;
                        None
                    }
                };
                Ok(Relay::Smtp(Box::new(SmtpDeliverer::new(
                    settings.clone(),
                    source,
                    transcripts,
                    config.retry,
                ))))
            }
        }
    }
}

impl Deliver for Relay {
    async fn deliver(&self, batch: Vec<Attempt>, sink: ReportSink) {
        match self {
            Relay::Capture(capture) => capture.deliver(batch, sink).await,
            Relay::Smtp(smtp) => smtp.deliver(batch, sink).await,
        }
    }

    fn destination(&self) -> String {
        match self {
            Relay::Capture(capture) => capture.destination(),
            Relay::Smtp(smtp) => smtp.destination(),
        }
    }
}

/// The cache directory of the daemon's OAuth2 tokens
/// ([`vmail_oauth::cache_dir`], which `vfxadmin oauth` uses too).
pub fn oauth_cache_dir(spool: &Path) -> PathBuf {
    vmail_oauth::cache_dir(spool)
}

/// What an [`OAuthClient`] was built from: when a reload changes none of
/// it, the running client (its token, its single flight) stays.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TokenKey {
    settings: OAuthSettings,
    cache_dir: PathBuf,
    key_file: PathBuf,
}

/// The token source of the running configuration, kept from one
/// [`Relay::for_config`] to the next (start, then every SIGHUP).
#[derive(Debug, Default)]
pub struct TokenSources {
    current: Option<(TokenKey, Arc<LoggedTokens>)>,
}

impl TokenSources {
    /// The running OAuth2 client, for the metrics to count its requests.
    pub fn client(&self) -> Option<OAuthClient> {
        self.current
            .as_ref()
            .map(|(_, source)| source.client.clone())
    }

    /// The running source when its settings are unchanged, else a new one.
    fn for_settings(
        &mut self,
        oauth: &OAuthSettings,
        config: &Config,
    ) -> Result<Arc<dyn TokenSource>, TokenSetupError> {
        let wanted = TokenKey {
            settings: oauth.clone(),
            cache_dir: oauth_cache_dir(&config.spool),
            key_file: config.key_file.clone(),
        };
        if let Some((key, source)) = &self.current
            && *key == wanted
        {
            return Ok(Arc::clone(source) as Arc<dyn TokenSource>);
        }
        let source = Arc::new(LoggedTokens::new(build_client(&wanted)?));
        info!(
            "OAuth2: {} tokens ({}) for {} from {}, cached in {}",
            oauth.provider,
            oauth.grant,
            oauth.user,
            oauth.token_url,
            wanted.cache_dir.display()
        );
        self.current = Some((wanted, Arc::clone(&source)));
        Ok(source)
    }
}

/// Why the daemon's OAuth2 token source cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum TokenSetupError {
    #[error(
        "cannot load the key file {} that seals the OAuth2 token cache: {source}",
        key_file.display()
    )]
    KeyFile {
        key_file: PathBuf,
        #[source]
        source: vmail_config::secrets::SecretError,
    },
    #[error(transparent)]
    Client(#[from] vmail_oauth::SetupError),
}

fn build_client(wanted: &TokenKey) -> Result<OAuthClient, TokenSetupError> {
    let (key, _) =
        vmail_config::secrets::load_or_create_key(&wanted.key_file).map_err(|source| {
            TokenSetupError::KeyFile {
                key_file: wanted.key_file.clone(),
                source,
            }
        })?;
    Ok(OAuthClient::new(
        wanted.settings.clone(),
        &wanted.cache_dir,
        key,
    )?)
}

/// The daemon's token source: the [`OAuthClient`], with every change
/// between "tokens come" and "no token" written to the daemon log with the
/// key to fix (the job logs get the same text from the deferral). A failure
/// that repeats is logged once, not once per session.
pub struct LoggedTokens {
    client: OAuthClient,
    last_failure: Mutex<Option<String>>,
}

impl fmt::Debug for LoggedTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoggedTokens")
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

impl LoggedTokens {
    fn new(client: OAuthClient) -> LoggedTokens {
        LoggedTokens {
            client,
            last_failure: Mutex::new(None),
        }
    }

    async fn logged(&self, force_refresh: bool) -> Result<vmail_core::AccessToken, TokenError> {
        let result = self.client.access_token(force_refresh).await;
        let mut last = match self.last_failure.lock() {
            Ok(last) => last,
            Err(poisoned) => poisoned.into_inner(),
        };
        match &result {
            Ok(_) => {
                if last.take().is_some() {
                    info!("OAuth2 tokens are obtained again; deferred jobs go at their next retry");
                }
            }
            Err(error) => {
                let text = describe(error);
                if last.as_deref() != Some(text.as_str()) {
                    warn!("no OAuth2 token, jobs are deferred: {text}");
                    *last = Some(text);
                }
            }
        }
        result
    }
}

/// A token error as an administrator reads it: what happened, then the key
/// to change.
fn describe(error: &TokenError) -> String {
    match &error.advice {
        Some(advice) => format!("{}; {advice}", error.summary),
        None => error.summary.clone(),
    }
}

impl TokenSource for LoggedTokens {
    fn token(&self, force_refresh: bool) -> TokenFuture<'_> {
        Box::pin(self.logged(force_refresh))
    }
}
