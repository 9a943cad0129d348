//! `[VMAIL] metrics-listen` and `metrics-allow-remote`: where vmaild serves
//! its Prometheus metrics. The endpoint has no authentication, so it stays
//! on this machine (a loopback address or a Unix socket) unless the
//! administrator says otherwise in so many words.

use super::{Ctx, Section};
use crate::MetricsListen;
use crate::values;
use std::net::{IpAddr, SocketAddr};

const V: &str = "VMAIL";
const ALLOWED: &str = "a loopback address and port such as 127.0.0.1:9325 or [::1]:9325, \
                       localhost:9325, or the absolute path of a Unix socket";

/// The validated address, or `None` (off, or an error recorded).
pub(super) fn listen(cx: &mut Ctx<'_>, vmail: &Section) -> Option<MetricsListen> {
    let remote = cx.get_or(vmail, "metrics-allow-remote", false, values::boolean);
    let entry = vmail.get("metrics-listen")?;
    let (line, value) = (entry.line, entry.value.trim());
    let Some(listen) = parse(value) else {
        let msg = format!("\"{value}\" is not an address to listen on ({ALLOWED})");
        cx.error(Some(line), V, "metrics-listen", msg);
        return None;
    };
    if let MetricsListen::Tcp(addr) = &listen
        && !addr.ip().is_loopback()
        && !remote
    {
        let msg = format!(
            "\"{value}\" is not a loopback address: the metrics endpoint has no password, so \
             it listens on this machine only ({ALLOWED}); set metrics-allow-remote = yes to \
             serve it to other machines"
        );
        cx.error(Some(line), V, "metrics-listen", msg);
        return None;
    }
    Some(listen)
}

/// `IP:PORT`, `[IPv6]:PORT`, `localhost:PORT` or `/path/to/socket`.
fn parse(value: &str) -> Option<MetricsListen> {
    if value.starts_with('/') {
        return Some(MetricsListen::Unix(value.into()));
    }
    if let Ok(addr) = value.parse::<SocketAddr>() {
        return (addr.port() != 0).then_some(MetricsListen::Tcp(addr));
    }
    let port = value.strip_prefix("localhost:")?.parse::<u16>().ok()?;
    let ip = IpAddr::from([127, 0, 0, 1]);
    (port != 0).then_some(MetricsListen::Tcp(SocketAddr::new(ip, port)))
}

#[cfg(test)]
mod tests {
    use crate::{ConfigErrors, MetricsListen, load_str};
    use std::path::Path;

    fn listen(lines: &str) -> Result<Option<MetricsListen>, ConfigErrors> {
        let text = format!("[VMAIL]\nmail-server = file:out\n{lines}\n");
        load_str(Path::new("/etc/vmail/vsisrv.ini"), &text)
            .map(|loaded| loaded.config.metrics_listen)
    }

    #[test]
    fn off_by_default_and_loopback_or_socket_when_set() {
        assert_eq!(listen("").ok(), Some(None));
        assert_eq!(
            listen("metrics-listen = 127.0.0.1:9325").ok(),
            Some(Some(MetricsListen::Tcp("127.0.0.1:9325".parse().unwrap())))
        );
        assert_eq!(
            listen("metrics-listen = [::1]:9325").ok(),
            Some(Some(MetricsListen::Tcp("[::1]:9325".parse().unwrap())))
        );
        assert_eq!(
            listen("metrics-listen = localhost:9325").ok(),
            Some(Some(MetricsListen::Tcp("127.0.0.1:9325".parse().unwrap())))
        );
        assert_eq!(
            listen("metrics-listen = /run/vmail/metrics.sock").ok(),
            Some(Some(MetricsListen::Unix("/run/vmail/metrics.sock".into())))
        );
    }

    #[test]
    fn a_remote_address_needs_metrics_allow_remote() {
        let err = listen("metrics-listen = 0.0.0.0:9325")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "/etc/vmail/vsisrv.ini:3: [VMAIL] metrics-listen: \"0.0.0.0:9325\" is not a loopback \
             address: the metrics endpoint has no password, so it listens on this machine only \
             (a loopback address and port such as 127.0.0.1:9325 or [::1]:9325, localhost:9325, \
             or the absolute path of a Unix socket); set metrics-allow-remote = yes to serve it \
             to other machines"
        );
        assert_eq!(
            listen("metrics-listen = 192.0.2.7:9325\nmetrics-allow-remote = yes").ok(),
            Some(Some(MetricsListen::Tcp("192.0.2.7:9325".parse().unwrap())))
        );
    }

    #[test]
    fn a_host_name_or_a_missing_port_is_refused() {
        for bad in [
            "fax.example.com:9325",
            "127.0.0.1",
            "9325",
            "127.0.0.1:0",
            "sock",
        ] {
            let err = listen(&format!("metrics-listen = {bad}"))
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with(&format!(
                    "/etc/vmail/vsisrv.ini:3: [VMAIL] metrics-listen: \"{bad}\" is not an address to listen on ("
                )),
                "{err}"
            );
        }
    }
}
