//! The metrics endpoint: `GET /metrics` over HTTP/1.1 on a loopback TCP
//! address or a Unix socket (`[VMAIL] metrics-listen`). hyper serves each
//! connection on the daemon's one runtime thread; a scrape is a few
//! microseconds of encoding plus, now and then, a census of the queue on a
//! blocking thread ([`Metrics::render`]).

use crate::metrics::Metrics;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{ACCEPT, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};
use tracing::{debug, info, warn};
use vmail_config::MetricsListen;
use vmail_spool::Spool;

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Why the endpoint cannot listen.
#[derive(Debug, thiserror::Error)]
#[error("cannot serve metrics on {listen} ([VMAIL] metrics-listen): {source}")]
pub struct ListenError {
    pub listen: MetricsListen,
    pub source: std::io::Error,
}

/// A bound endpoint. Dropping it stops accepting and removes the socket
/// file of a Unix socket.
pub struct Endpoint {
    task: tokio::task::JoinHandle<()>,
    socket: Option<PathBuf>,
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.task.abort();
        if let Some(path) = &self.socket {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Binds `listen` and serves the metrics from then on.
pub fn serve(
    listen: &MetricsListen,
    metrics: Metrics,
    spool: Arc<Spool>,
) -> Result<Endpoint, ListenError> {
    let failed = |source| ListenError {
        listen: listen.clone(),
        source,
    };
    match listen {
        MetricsListen::Tcp(addr) => {
            let std = std::net::TcpListener::bind(addr).map_err(failed)?;
            std.set_nonblocking(true).map_err(failed)?;
            let listener = TcpListener::from_std(std).map_err(failed)?;
            info!("metrics: http://{addr}/metrics");
            let task = tokio::spawn(async move {
                loop {
                    match listener.accept().await {
                        Ok((stream, _)) => connection(stream, &metrics, &spool),
                        Err(err) => pause_after(err).await,
                    }
                }
            });
            Ok(Endpoint { task, socket: None })
        }
        MetricsListen::Unix(path) => {
            remove_stale_socket(path);
            let listener = UnixListener::bind(path).map_err(failed)?;
            info!(
                "metrics: GET /metrics on the Unix socket {}",
                path.display()
            );
            let task = tokio::spawn(async move {
                loop {
                    match listener.accept().await {
                        Ok((stream, _)) => connection(stream, &metrics, &spool),
                        Err(err) => pause_after(err).await,
                    }
                }
            });
            Ok(Endpoint {
                task,
                socket: Some(path.clone()),
            })
        }
    }
}

/// A socket left by a daemon that was killed: only a socket is removed,
/// never a file someone put there.
fn remove_stale_socket(path: &Path) {
    use std::os::unix::fs::FileTypeExt;
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket()) {
        let _ = std::fs::remove_file(path);
    }
}

/// Out of file descriptors, say: wait a little instead of spinning.
async fn pause_after(err: std::io::Error) {
    warn!("metrics: cannot accept a connection: {err}");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
}

fn connection<S>(stream: S, metrics: &Metrics, spool: &Arc<Spool>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (metrics, spool) = (metrics.clone(), Arc::clone(spool));
    tokio::spawn(async move {
        let service = service_fn(move |request| {
            let (metrics, spool) = (metrics.clone(), Arc::clone(&spool));
            async move { Ok::<_, Infallible>(answer(request, &metrics, &spool).await) }
        });
        let served = http1::Builder::new()
            .serve_connection(TokioIo::new(stream), service)
            .await;
        if let Err(err) = served {
            debug!("metrics: connection ended: {err}");
        }
    });
}

async fn answer(
    request: Request<Incoming>,
    metrics: &Metrics,
    spool: &Arc<Spool>,
) -> Response<Full<Bytes>> {
    match (request.method(), request.uri().path()) {
        (&Method::GET | &Method::HEAD, "/metrics") => {
            let openmetrics = request
                .headers()
                .get(ACCEPT)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains("application/openmetrics-text"));
            let text = metrics.render(spool, openmetrics).await;
            let kind = if openmetrics {
                OPENMETRICS
            } else {
                prometheus_client::encoding::prometheus_text::CONTENT_TYPE
            };
            reply(StatusCode::OK, kind, text)
        }
        (&Method::GET | &Method::HEAD, "/") => reply(
            StatusCode::OK,
            "text/plain; charset=utf-8",
            "vmaild: the metrics are at /metrics\n".to_string(),
        ),
        _ => reply(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "not found: vmaild serves GET /metrics\n".to_string(),
        ),
    }
}

fn reply(status: StatusCode, kind: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, hyper::header::HeaderValue::from_static(kind));
    response
}
