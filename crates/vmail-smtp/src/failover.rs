//! Several mail servers (`[VMAIL] mail-server = a, b:2525, [2001:db8::25]`):
//! the order they are tried in, every address of each, and which of them
//! are down. A server that failed is skipped, for `retry-min` doubling up to
//! `retry-max`, while a later one works; then it is tried first again. The
//! one owner of that state is the [`Health`] a submitter keeps, shared by
//! every session it opens.

use crate::error::{ServerFailure, SmtpError, Step};
use crate::session::{Session, SessionFailure};
use crate::tls::TlsContext;
use crate::transcript::Transcript;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;
use tracing::{info, warn};
use vmail_core::{MailServer, RetryPolicy, SmtpSettings, TokenSource};

/// A server that failed: since when it is skipped, and for how long.
#[derive(Debug, Clone)]
struct Down {
    /// Failures in a row; the skip is `retry-min` doubled per failure.
    failures: u32,
    /// Tried only after the others until then.
    until: Instant,
}

/// Which servers of `mail-server` are down, for every session of one
/// submitter.
#[derive(Debug)]
pub(crate) struct Health {
    down: Mutex<HashMap<MailServer, Down>>,
    backoff: RetryPolicy,
}

impl Health {
    /// `min` and `max` are `retry-min` and `retry-max`: how long a server
    /// that failed is skipped, the first time and at most.
    pub fn new(min: Duration, max: Duration) -> Health {
        Health {
            down: Mutex::new(HashMap::new()),
            backoff: RetryPolicy {
                min,
                max,
                max_lifetime: Duration::MAX,
            },
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<MailServer, Down>> {
        match self.down.lock() {
            Ok(down) => down,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// `servers` in the order to try them now: those not skipped in their
    /// configured order, then the skipped ones (better a server that failed
    /// a minute ago than none).
    pub fn order(&self, servers: Vec<MailServer>) -> Vec<MailServer> {
        let now = Instant::now();
        let down = self.lock();
        let skipped = |s: &MailServer| down.get(s).is_some_and(|d| d.until > now);
        let (later, first): (Vec<MailServer>, Vec<MailServer>) =
            servers.into_iter().partition(skipped);
        first.into_iter().chain(later).collect()
    }

    /// `server` failed with `error`: skip it for longer, and say so in the
    /// daemon log when it was up until now.
    pub fn failed(&self, server: &MailServer, error: &str) {
        let mut down = self.lock();
        let failures = down.get(server).map_or(0, |d| d.failures) + 1;
        let skip = self.backoff.delay_for(failures);
        down.insert(
            server.clone(),
            Down {
                failures,
                until: Instant::now() + skip,
            },
        );
        if failures == 1 {
            warn!(
                "mail server {server} is down ({error}); the next servers of mail-server go first \
                 for {}s",
                skip.as_secs()
            );
        } else {
            info!(
                "mail server {server} is still down ({error}; {failures} failures in a row); \
                 skipped for {}s",
                skip.as_secs()
            );
        }
    }

    /// `server` took a session: it is up (again).
    pub fn worked(&self, server: &MailServer) {
        if let Some(was) = self.lock().remove(server) {
            info!(
                "mail server {server} works again after {} failure(s); it is tried in its place \
                 again",
                was.failures
            );
        }
    }
}

/// What [`open`] needs besides the settings.
pub(crate) struct Opener<'a> {
    pub settings: &'a SmtpSettings,
    pub tls: Option<&'a TlsContext>,
    pub tokens: Option<&'a dyn TokenSource>,
    pub health: &'a Health,
}

/// Opens a session with the first server of `mail-server` that takes it,
/// trying every address of each in turn. An error about one server (see
/// [`SmtpError::fails_over`]) moves on to the next; any other ends the
/// opening at once. With a single server its error is returned as it is;
/// with several, when all failed, [`SmtpError::AllServersFailed`] holds
/// each one's last error.
pub(crate) async fn open(
    opener: &Opener<'_>,
    mut transcript: Transcript,
    mut failed: Vec<ServerFailure>,
) -> Result<Session, SessionFailure> {
    let servers = opener.settings.servers();
    let several = servers.len() > 1;
    let mut order = if several {
        opener.health.order(servers)
    } else {
        servers
    };
    // Those already tried in this round (before a 4xx to MAIL FROM) are not
    // tried again.
    order.retain(|server| !failed.iter().any(|f| f.server == *server));
    let mut last_tls = None;
    for server in order {
        let settings = opener.settings.for_server(&server);
        match open_server(opener, &settings, transcript).await {
            Ok(mut session) => {
                if several {
                    opener.health.worked(&server);
                }
                session.failed_over = failed;
                return Ok(session);
            }
            Err((mut failure, address)) => {
                if !failure.error.fails_over() {
                    failure.failed_over = failed;
                    return Err(failure);
                }
                if several {
                    opener.health.failed(&server, &failure.error.to_string());
                    failure.transcript.note(format!(
                        "{server} failed: trying the next server of mail-server"
                    ));
                }
                transcript = failure.transcript;
                last_tls = failure.tls;
                failed.push(ServerFailure {
                    server,
                    address,
                    error: Arc::new(failure.error),
                });
            }
        }
    }
    let error = match failed.len() {
        1 => failed.pop().map(|f| Arc::try_unwrap(f.error)),
        _ => None,
    };
    let error = match error {
        Some(Ok(error)) => error,
        Some(Err(shared)) => SmtpError::AllServersFailed {
            failures: vec![ServerFailure {
                server: MailServer::new(opener.settings.host.clone(), opener.settings.port),
                address: None,
                error: shared,
            }],
        },
        None => SmtpError::AllServersFailed { failures: failed },
    };
    Err(SessionFailure {
        error,
        transcript,
        tls: last_tls,
        failed_over: Vec::new(),
    })
}

/// Whether a server of `mail-server` is left to try after `tried` (the
/// one a session is with, and those it failed over from).
pub(crate) fn any_left(settings: &SmtpSettings, tried: &[&MailServer]) -> bool {
    settings.servers().iter().any(|s| !tried.contains(&s))
}

/// Every address `settings.host` resolves to, in turn, until one takes the
/// session or gives an error that is not about that address. The failure
/// comes with the address it happened at.
async fn open_server(
    opener: &Opener<'_>,
    settings: &SmtpSettings,
    transcript: Transcript,
) -> Result<Session, (SessionFailure, Option<SocketAddr>)> {
    match resolve(settings).await {
        Ok(addresses) => open_addresses(opener, settings, addresses, transcript).await,
        Err(error) => {
            let failure = SessionFailure {
                error,
                transcript,
                tls: None,
                failed_over: Vec::new(),
            };
            Err((failure, None))
        }
    }
}

/// [`open_server`] once the name is resolved: `addresses` in turn.
async fn open_addresses(
    opener: &Opener<'_>,
    settings: &SmtpSettings,
    addresses: Vec<SocketAddr>,
    mut transcript: Transcript,
) -> Result<Session, (SessionFailure, Option<SocketAddr>)> {
    let count = addresses.len();
    for (n, address) in addresses.into_iter().enumerate() {
        match Session::open(settings, address, opener.tls, opener.tokens, transcript).await {
            Ok(session) => return Ok(session),
            Err(mut failure) => {
                if n + 1 == count || !failure.error.fails_over() {
                    return Err((failure, Some(address)));
                }
                failure.transcript.note(format!(
                    "{} failed: trying the next address of {}",
                    address.ip(),
                    settings.host
                ));
                transcript = failure.transcript;
            }
        }
    }
    // Only reached with no address at all, which resolve() rules out.
    let failure = SessionFailure {
        error: no_address(settings),
        transcript,
        tls: None,
        failed_over: Vec::new(),
    };
    Err((failure, None))
}

/// The A and AAAA addresses of the server, in the resolver's order (an IP
/// address is its own), within the step timeout.
async fn resolve(settings: &SmtpSettings) -> Result<Vec<SocketAddr>, SmtpError> {
    let lookup = tokio::net::lookup_host((settings.host.as_str(), settings.port));
    match tokio::time::timeout(settings.timeout, lookup).await {
        Err(_) => Err(SmtpError::Timeout {
            step: Step::Connect,
            seconds: settings.timeout.as_secs_f64(),
        }),
        Ok(Err(source)) => Err(SmtpError::Connect {
            host: settings.host.clone(),
            port: settings.port,
            source,
        }),
        Ok(Ok(found)) => {
            let mut addresses: Vec<SocketAddr> = Vec::new();
            for address in found {
                if !addresses.contains(&address) {
                    addresses.push(address);
                }
            }
            if addresses.is_empty() {
                Err(no_address(settings))
            } else {
                Ok(addresses)
            }
        }
    }
}

fn no_address(settings: &SmtpSettings) -> SmtpError {
    SmtpError::Connect {
        host: settings.host.clone(),
        port: settings.port,
        source: std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "the name resolves to no address",
        ),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn servers() -> Vec<MailServer> {
        vec![
            MailServer::new("a.test", 25),
            MailServer::new("b.test", 25),
            MailServer::new("c.test", 25),
        ]
    }

    fn names(order: Vec<MailServer>) -> Vec<String> {
        order.into_iter().map(|s| s.host).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_server_goes_last_for_min_doubling_to_max_then_first_again() {
        let health = Health::new(Duration::from_secs(60), Duration::from_secs(150));
        let a = MailServer::new("a.test", 25);
        assert_eq!(
            names(health.order(servers())),
            ["a.test", "b.test", "c.test"]
        );
        health.failed(&a, "refused");
        assert_eq!(
            names(health.order(servers())),
            ["b.test", "c.test", "a.test"]
        );
        tokio::time::advance(Duration::from_secs(59)).await;
        assert_eq!(names(health.order(servers()))[0], "b.test");
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(
            names(health.order(servers()))[0],
            "a.test",
            "after retry-min"
        );
        // It fails again: 120 s now, then the 150 s cap.
        health.failed(&a, "refused");
        tokio::time::advance(Duration::from_secs(119)).await;
        assert_eq!(names(health.order(servers()))[0], "b.test");
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(names(health.order(servers()))[0], "a.test");
        health.failed(&a, "refused");
        tokio::time::advance(Duration::from_secs(149)).await;
        assert_eq!(names(health.order(servers()))[0], "b.test");
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(
            names(health.order(servers()))[0],
            "a.test",
            "retry-max caps it"
        );
        health.worked(&a);
        health.failed(&a, "refused");
        tokio::time::advance(Duration::from_secs(60)).await;
        assert_eq!(
            names(health.order(servers()))[0],
            "a.test",
            "a success starts the skip from retry-min again"
        );
    }

    /// A name with two addresses: the first refuses (nothing listens on
    /// 127.0.0.2), the second takes the session; both are in the transcript.
    #[tokio::test]
    async fn every_address_of_a_name_is_tried_in_turn() {
        use vmail_testkit::fault::{FaultServer, Script};
        let server = FaultServer::start(Script::new()).await.unwrap();
        let mut settings = SmtpSettings::plain("mx.test", server.port());
        settings.timeout = Duration::from_secs(5);
        let health = Health::new(Duration::from_secs(60), Duration::from_secs(3600));
        let opener = Opener {
            settings: &settings,
            tls: None,
            tokens: None,
            health: &health,
        };
        let addresses: Vec<SocketAddr> = ["127.0.0.2", "127.0.0.1"]
            .iter()
            .map(|ip| SocketAddr::new(ip.parse().unwrap(), server.port()))
            .collect();
        let opened = open_addresses(&opener, &settings, addresses, Transcript::new()).await;
        let Ok(session) = opened else {
            panic!("did not open");
        };
        assert_eq!(session.address().ip().to_string(), "127.0.0.1");
        let transcript = session.quit().await.to_string();
        for line in [
            "connecting to mx.test:",
            " at 127.0.0.2 (tls=none)",
            "127.0.0.2 failed: trying the next address of mx.test",
            " at 127.0.0.1 (tls=none)",
        ] {
            assert!(transcript.contains(line), "{line} not in\n{transcript}");
        }
    }

    #[tokio::test]
    async fn when_every_address_fails_the_last_ones_error_is_the_servers() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        let settings = SmtpSettings::plain("mx.test", port);
        let health = Health::new(Duration::from_secs(60), Duration::from_secs(3600));
        let opener = Opener {
            settings: &settings,
            tls: None,
            tokens: None,
            health: &health,
        };
        let addresses: Vec<SocketAddr> = ["127.0.0.2", "127.0.0.1"]
            .iter()
            .map(|ip| SocketAddr::new(ip.parse().unwrap(), port))
            .collect();
        let Err((failure, address)) =
            open_addresses(&opener, &settings, addresses, Transcript::new()).await
        else {
            panic!("opened");
        };
        assert_eq!(
            address.map(|a| a.ip().to_string()).as_deref(),
            Some("127.0.0.1")
        );
        assert!(
            matches!(failure.error, SmtpError::Connect { .. }),
            "{:?}",
            failure.error
        );
    }

    #[tokio::test(start_paused = true)]
    async fn skipped_servers_keep_their_order_after_the_others() {
        let health = Health::new(Duration::from_secs(60), Duration::from_secs(3600));
        health.failed(&MailServer::new("a.test", 25), "x");
        health.failed(&MailServer::new("b.test", 25), "x");
        assert_eq!(
            names(health.order(servers())),
            ["c.test", "a.test", "b.test"]
        );
    }
}
