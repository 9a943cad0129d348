//! The HTTP side: the accept loop (which can refuse connections for a
//! while), one hyper HTTP/1.1 connection per client over rustls, and the
//! routes, which parse, call the [`Registry`] and render JSON.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{
    AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, HeaderMap, PRAGMA, WWW_AUTHENTICATE,
};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use serde_json::json;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use super::error::ServiceError;
use super::registry::{Answer, Registry, TokenRequest};
use super::types::{ClientSpec, Fault, FaultAnswer};

/// Largest request body read (forms and control JSON are small).
const MAX_BODY: usize = 64 * 1024;
/// A TLS handshake that takes longer is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// What the server task and the in-process handle share.
pub(crate) struct Shared {
    registry: Mutex<Registry>,
    pub base_url: String,
    /// Until when the listener stays closed (connections refused).
    pub refuse_until: watch::Sender<Option<Instant>>,
    /// One line per request on stderr (the binary's log, which
    /// `TestServers::log_tails` shows): never a token, secret or assertion.
    pub log_requests: bool,
}

impl Shared {
    pub fn new(base_url: String, log_requests: bool) -> Shared {
        Shared {
            registry: Mutex::new(Registry::default()),
            base_url,
            refuse_until: watch::Sender::new(None),
            log_requests,
        }
    }

    /// The registry; a panic in another request does not lock tests out.
    pub fn registry(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Accepts connections until `shutdown` resolves. While `refuse_until` is
/// in the future the listening socket is closed, so connecting fails with
/// ECONNREFUSED exactly like a stopped endpoint; then it is bound again.
pub(crate) async fn run(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    shared: Arc<Shared>,
    shutdown: impl Future<Output = ()>,
) {
    let addr = match listener.local_addr() {
        Ok(addr) => addr,
        Err(e) => return eprintln!("token service: no local address: {e}"),
    };
    let mut listener = Some(listener);
    let mut refuse = shared.refuse_until.subscribe();
    tokio::pin!(shutdown);
    loop {
        let until = *refuse.borrow_and_update();
        if let Some(until) = until.filter(|u| *u > Instant::now()) {
            listener = None;
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep_until(until.into()) => {}
                _ = refuse.changed() => {}
            }
            continue;
        }
        let current = match &listener {
            Some(current) => current,
            None => match rebind(addr, &mut shutdown).await {
                Some(bound) => listener.insert(bound),
                None => return,
            },
        };
        tokio::select! {
            () = &mut shutdown => return,
            _ = refuse.changed() => {}
            accepted = current.accept() => match accepted {
                Ok((stream, _)) => {
                    let (tls, shared) = (tls.clone(), Arc::clone(&shared));
                    tokio::spawn(async move {
                        match tls {
                            None => serve_connection(stream, shared).await,
                            Some(acceptor) => {
                                if let Ok(Ok(stream)) =
                                    tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await
                                {
                                    serve_connection(stream, shared).await;
                                }
                            }
                        }
                    });
                }
                Err(e) => {
                    eprintln!("token service: accept: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
    }
}

/// Binds `addr` again after a refusal period, retrying for 5 s at most.
async fn rebind(
    addr: SocketAddr,
    shutdown: &mut (impl Future<Output = ()> + Unpin),
) -> Option<TcpListener> {
    for _ in 0..100 {
        match TcpListener::bind(addr).await {
            Ok(listener) => return Some(listener),
            Err(e) => eprintln!("token service: bind {addr} again: {e}"),
        }
        tokio::select! {
            () = &mut *shutdown => return None,
            () = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
    }
    eprintln!("token service: {addr} could not be bound again; stopping");
    None
}

/// The connection is closed without an answer (an injected fault).
#[derive(Debug)]
struct Dropped;
impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped on purpose")
    }
}
impl std::error::Error for Dropped {}

async fn serve_connection<S>(io: S, shared: Arc<Shared>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut refusal = shared.refuse_until.subscribe();
    refusal.mark_unchanged();
    let service = service_fn(move |request| {
        let shared = Arc::clone(&shared);
        async move { handle(request, &shared).await }
    });
    let connection =
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(io), service);
    tokio::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => {}
        () = refusal_starts(&mut refusal) => {
            // A stopped endpoint does not keep its keep-alive connections
            // either; the request in flight (the one asking for this) ends.
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    }
}

/// Resolves when a refusal period starts (never, once the sender is gone).
async fn refusal_starts(refusal: &mut watch::Receiver<Option<Instant>>) {
    while refusal.changed().await.is_ok() {
        if refusal
            .borrow_and_update()
            .is_some_and(|until| until > Instant::now())
        {
            return;
        }
    }
    std::future::pending::<()>().await;
}

type Reply = Result<Response<Full<Bytes>>, Dropped>;

async fn handle(request: Request<Incoming>, shared: &Shared) -> Reply {
    let (parts, body) = request.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return Ok(text(413, "request body too large or unreadable")),
    };
    let mut reply = route(&parts, &body, shared);
    if shared.log_requests {
        log_request(&parts, &body, &reply);
    }
    hold_back(&mut reply).await;
    reply
}

/// `POST /token client_id=x grant_type=y -> 400`: the form fields that
/// are not secret, and the status (`dropped` for an injected drop).
fn log_request(parts: &hyper::http::request::Parts, body: &[u8], reply: &Reply) {
    let form = parse_form(body);
    let mut line = format!("{} {}", parts.method, parts.uri.path());
    for key in ["client_id", "grant_type", "scope"] {
        if let Some(value) = form.get(key) {
            line.push_str(&format!(" {key}={value}"));
        }
    }
    if let Some((id, _)) = basic_credentials(&parts.headers) {
        line.push_str(&format!(" basic={id}"));
    }
    match reply {
        Ok(response) => line.push_str(&format!(" -> {}", response.status().as_u16())),
        Err(_) => line.push_str(" -> dropped"),
    }
    eprintln!("{} {line}", chrono::Utc::now().format("%H:%M:%S%.3f"));
}

fn route(parts: &hyper::http::request::Parts, body: &Bytes, shared: &Shared) -> Reply {
    let body = body.clone();
    let path = parts.uri.path().to_owned();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (&parts.method, segments.as_slice()) {
        (&Method::GET, ["health"]) => Ok(text(200, "ok")),
        (&Method::POST, ["token"]) => token(shared, &parts.headers, &body, &path, None),
        (&Method::POST, [tenant, "oauth2", "v2.0", "token"]) => {
            token(shared, &parts.headers, &body, &path, Some(tenant))
        }
        (&Method::POST, ["device"]) => device(shared, &parts.headers, &body, None),
        (&Method::POST, [tenant, "oauth2", "v2.0", "devicecode"]) => {
            device(shared, &parts.headers, &body, Some(tenant))
        }
        (&Method::POST, ["introspect"]) => {
            let form = parse_form(&body);
            let token = form.get("token").map(String::as_str).unwrap_or("");
            let answer = shared.registry().introspect(token, Instant::now());
            Ok(json_reply(200, &answer))
        }
        (&Method::GET, ["verify"]) => Ok(text(
            200,
            "vmail test token service: device codes are approved by the tests (control API)",
        )),
        (method, ["admin", rest @ ..]) => Ok(admin(shared, method, rest, &body)),
        _ => Ok(text(404, "no such endpoint")),
    }
}

/// The form and the Basic credentials of a token or device request.
fn token_request(
    headers: &HeaderMap,
    body: &[u8],
    token_url: String,
    tenant: Option<&str>,
) -> TokenRequest {
    TokenRequest {
        params: parse_form(body),
        basic: basic_credentials(headers),
        token_url,
        tenant: tenant.map(str::to_owned),
    }
}

fn token(
    shared: &Shared,
    headers: &HeaderMap,
    body: &[u8],
    path: &str,
    tenant: Option<&str>,
) -> Reply {
    let request = token_request(headers, body, format!("{}{path}", shared.base_url), tenant);
    let (answer, hold) = {
        let mut registry = shared.registry();
        let answer = registry.token(&request, Instant::now());
        (answer, registry.hold_answer_millis.take())
    };
    held(render(answer, tenant.is_some()), hold)
}

/// The internal header that tells [`handle`] to hold the answer back (a
/// [`FaultAnswer::Delay`]); removed before the answer leaves.
const HOLD_HEADER: &str = "x-vmail-test-hold-ms";

fn held(mut reply: Reply, hold: Option<u64>) -> Reply {
    if let (Ok(response), Some(millis)) = (&mut reply, hold)
        && let Ok(value) = millis.to_string().parse()
    {
        response.headers_mut().insert(HOLD_HEADER, value);
    }
    reply
}

/// Waits out a hold the answer carries, and removes its header.
async fn hold_back(reply: &mut Reply) {
    let Ok(response) = reply else {
        return;
    };
    let Some(value) = response.headers_mut().remove(HOLD_HEADER) else {
        return;
    };
    if let Some(millis) = value.to_str().ok().and_then(|v| v.parse().ok()) {
        tokio::time::sleep(std::time::Duration::from_millis(millis)).await;
    }
}

fn device(shared: &Shared, headers: &HeaderMap, body: &[u8], tenant: Option<&str>) -> Reply {
    let token_url = match tenant {
        Some(t) => format!("{}/{t}/oauth2/v2.0/token", shared.base_url),
        None => format!("{}/token", shared.base_url),
    };
    let request = token_request(headers, body, token_url, tenant);
    let verification = format!("{}/verify", shared.base_url);
    let (answer, hold) = {
        let mut registry = shared.registry();
        let answer = registry.device_authorization(&request, &verification, Instant::now());
        (answer, registry.hold_answer_millis.take())
    };
    held(render(answer, tenant.is_some()), hold)
}

fn render<T: serde::Serialize>(answer: Answer<T>, microsoft: bool) -> Reply {
    match answer {
        Answer::Ok(value) => Ok(json_reply(200, &value)),
        Answer::Error(error) => {
            let (status, body) = error.render(microsoft);
            let mut reply = json_reply(status, &body);
            if status == 401
                && let Ok(value) = "Basic realm=\"vmail-test-token-service\"".parse()
            {
                reply.headers_mut().insert(WWW_AUTHENTICATE, value);
            }
            Ok(reply)
        }
        Answer::Fault(FaultAnswer::Drop) => Err(Dropped),
        Answer::Fault(FaultAnswer::Status {
            status,
            error: Some(error),
            error_description,
        }) => Ok(json_reply(
            status,
            &json!({ "error": error, "error_description": error_description.unwrap_or_default() }),
        )),
        Answer::Fault(FaultAnswer::Status { status, .. }) => Ok(text(
            status,
            "the token endpoint is unavailable (injected fault)",
        )),
        // The registry turns a delay into a held answer; never an answer.
        Answer::Fault(FaultAnswer::Delay { .. }) => Ok(text(500, "misapplied delay fault")),
    }
}

/// `application/x-www-form-urlencoded`; a repeated key keeps its first value.
fn parse_form(body: &[u8]) -> HashMap<String, String> {
    let mut params = HashMap::new();
    for (key, value) in form_urlencoded::parse(body) {
        params
            .entry(key.into_owned())
            .or_insert_with(|| value.into_owned());
    }
    params
}

/// `Authorization: Basic`, each half form-decoded (RFC 6749 §2.3.1).
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |s: &str| -> String {
        form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Some((unescape(id), unescape(secret)))
}

#[derive(Deserialize, Default)]
struct UserCode {
    #[serde(default)]
    user_code: Option<String>,
}
#[derive(Deserialize)]
struct Deny {
    deny: bool,
}
#[derive(Deserialize)]
struct ForSecs {
    for_secs: u64,
}

/// The control endpoints under `/admin/`.
fn admin(shared: &Shared, method: &Method, path: &[&str], body: &[u8]) -> Response<Full<Bytes>> {
    let now = Instant::now();
    let result: Result<serde_json::Value, ServiceError> = match (method, path) {
        (&Method::POST, ["clients"]) => match serde_json::from_slice::<ClientSpec>(body) {
            Ok(spec) => {
                let id = spec.client_id.clone();
                shared
                    .registry()
                    .register(spec)
                    .map(|()| json!({ "client_id": id }))
            }
            Err(e) => {
                return json_reply(
                    400,
                    &json!({ "error": "bad_request", "message": e.to_string() }),
                );
            }
        },
        (&Method::POST, ["refuse_connections"]) => match serde_json::from_slice::<ForSecs>(body) {
            Ok(f) => {
                shared
                    .refuse_until
                    .send_replace(Some(now + Duration::from_secs(f.for_secs)));
                Ok(json!({}))
            }
            Err(e) => {
                return json_reply(
                    400,
                    &json!({ "error": "bad_request", "message": e.to_string() }),
                );
            }
        },
        (&Method::GET, ["stats"]) => Ok(json!({
            "unknown_introspections": shared.registry().unknown_introspections
        })),
        (method, ["clients", id, rest @ ..]) => {
            match client_admin(shared, method, id, rest, body, now) {
                Some(result) => result,
                None => {
                    return json_reply(404, &json!({ "error": "no_such_endpoint", "message": "" }));
                }
            }
        }
        _ => return json_reply(404, &json!({ "error": "no_such_endpoint", "message": "" })),
    };
    match result {
        Ok(value) => json_reply(200, &value),
        Err(error) => {
            let id = path.get(1).copied().unwrap_or("");
            json_reply(
                error.status(),
                &json!({ "error": error.kind(), "id": id, "message": error.to_string() }),
            )
        }
    }
}

/// `/admin/clients/{id}/...`; `None` for an unknown route.
fn client_admin(
    shared: &Shared,
    method: &Method,
    id: &str,
    rest: &[&str],
    body: &[u8],
    now: Instant,
) -> Option<Result<serde_json::Value, ServiceError>> {
    let bad = |e: serde_json::Error| Some(Err(ServiceError::BadRequest(format!("bad JSON: {e}"))));
    let mut registry = shared.registry();
    let done = |r: Result<(), ServiceError>| Some(r.map(|()| json!({})));
    match (method, rest) {
        (&Method::POST, ["revoke"]) => done(registry.revoke_client(id)),
        (&Method::POST, ["reinstate"]) => done(registry.reinstate(id)),
        (&Method::POST, ["revoke_tokens"]) => done(registry.revoke_tokens(id)),
        (&Method::POST, ["expire_tokens"]) => done(registry.expire_tokens(id, now)),
        (&Method::POST, ["refresh_token"]) => Some(
            registry
                .issue_refresh_token(id)
                .map(|t| json!({ "refresh_token": t })),
        ),
        (&Method::POST, ["device", decision @ ("approve" | "deny")]) => {
            let code: UserCode = if body.is_empty() {
                UserCode::default()
            } else {
                match serde_json::from_slice(body) {
                    Ok(code) => code,
                    Err(e) => return bad(e),
                }
            };
            let approve = *decision == "approve";
            Some(
                registry
                    .decide_device(id, code.user_code.as_deref(), approve)
                    .map(|n| json!({ "decided": n })),
            )
        }
        (&Method::POST, ["device", "slow_down"]) => done(registry.slow_down_next_poll(id)),
        (&Method::GET, ["device"]) => Some(
            registry
                .pending_user_codes(id)
                .map(|c| json!({ "pending": c })),
        ),
        (&Method::PUT, ["fault"]) => match serde_json::from_slice::<Fault>(body) {
            Ok(fault) => done(registry.set_fault(id, Some(fault), now)),
            Err(e) => bad(e),
        },
        (&Method::DELETE, ["fault"]) => done(registry.set_fault(id, None, now)),
        (&Method::PUT, ["introspection"]) => match serde_json::from_slice::<Deny>(body) {
            Ok(d) => done(registry.deny_introspection(id, d.deny)),
            Err(e) => bad(e),
        },
        (&Method::GET, ["counters"]) => Some(registry.counters(id).and_then(|c| {
            serde_json::to_value(c).map_err(|e| ServiceError::BadRequest(e.to_string()))
        })),
        _ => None,
    }
}

fn json_reply(status: u16, value: &impl serde::Serialize) -> Response<Full<Bytes>> {
    let body = serde_json::to_vec(value).unwrap_or_default();
    let mut reply = Response::new(Full::new(Bytes::from(body)));
    *reply.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = reply.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    // RFC 6749 §5.1: token answers must not be cached.
    headers.insert(
        CACHE_CONTROL,
        hyper::header::HeaderValue::from_static("no-store"),
    );
    headers.insert(PRAGMA, hyper::header::HeaderValue::from_static("no-cache"));
    reply
}

fn text(status: u16, body: &'static str) -> Response<Full<Bytes>> {
    let mut reply = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *reply.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    reply.headers_mut().insert(
        CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    reply
}
