//! Parsers for the kinds of value a key can hold. Each returns an
//! [`Invalid`] whose text an administrator reads after `[SECTION] key: `
//! when the value is wrong.

use crate::invalid::Invalid;
use std::time::Duration;
use vmail_core::MailServer;

pub(crate) const BOOL_ALLOWED: &str = "On/Off, yes/no, true/false, 1/0";
pub(crate) const DURATION_ALLOWED: &str =
    "seconds, or a number with s, m, h or d: 30, 30s, 5m, 2h, 5d";
pub(crate) const SIZE_ALLOWED: &str = "bytes, or a number with k, M or G: 65536, 512k, 10M, 1G";

/// On/Off, yes/no, true/false, 1/0, in any case.
pub(crate) fn boolean(value: &str) -> Result<bool, Invalid> {
    match value.to_ascii_lowercase().as_str() {
        "on" | "yes" | "true" | "1" => Ok(true),
        "off" | "no" | "false" | "0" => Ok(false),
        _ => Err(Invalid::Boolean {
            value: value.to_string(),
        }),
    }
}

/// A TCP port, 1 to 65535.
pub(crate) fn port(value: &str) -> Result<u16, Invalid> {
    match value.parse::<u16>() {
        Ok(port) if port > 0 => Ok(port),
        _ => Err(Invalid::Port {
            value: value.to_string(),
        }),
    }
}

/// A number split from its unit suffix: `"5m"` -> `(5, "m")`.
fn number_and_unit(value: &str) -> Option<(u64, &str)> {
    let digits = value.len() - value.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    if digits == 0 {
        return None;
    }
    let (number, unit) = value.split_at(digits);
    Some((number.parse().ok()?, unit.trim()))
}

/// Seconds, or a number with `s`, `m`, `h` or `d`.
pub(crate) fn duration(value: &str) -> Result<Duration, Invalid> {
    let seconds = number_and_unit(value).and_then(|(n, unit)| {
        let scale: u64 = match unit.to_ascii_lowercase().as_str() {
            "" | "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            _ => return None,
        };
        n.checked_mul(scale)
    });
    seconds
        .map(Duration::from_secs)
        .ok_or_else(|| Invalid::Duration {
            value: value.to_string(),
        })
}

/// Milliseconds, or a number with `ms` or `s` (for `pop-delay`).
pub(crate) fn millis(value: &str) -> Result<Duration, Invalid> {
    let millis = number_and_unit(value).and_then(|(n, unit)| {
        let scale: u64 = match unit.to_ascii_lowercase().as_str() {
            "" | "ms" => 1,
            "s" => 1000,
            _ => return None,
        };
        n.checked_mul(scale)
    });
    millis
        .map(Duration::from_millis)
        .ok_or_else(|| Invalid::Delay {
            value: value.to_string(),
        })
}

/// Bytes, or a number with `k`, `M` or `G` (powers of 1024, any case, an
/// optional `B` after the unit).
pub(crate) fn size(value: &str) -> Result<u64, Invalid> {
    let bytes = number_and_unit(value).and_then(|(n, unit)| {
        let unit = unit.to_ascii_lowercase();
        let unit = unit.strip_suffix('b').unwrap_or(&unit);
        let scale: u64 = match unit {
            "" => 1,
            "k" => 1 << 10,
            "m" => 1 << 20,
            "g" => 1 << 30,
            _ => return None,
        };
        n.checked_mul(scale)
    });
    bytes.ok_or_else(|| Invalid::Size {
        value: value.to_string(),
    })
}

/// A whole number of at least `min`.
pub(crate) fn count(value: &str, min: usize) -> Result<usize, Invalid> {
    match value.parse::<usize>() {
        Ok(n) if n >= min => Ok(n),
        _ => Err(Invalid::Count {
            value: value.to_string(),
            min,
        }),
    }
}

/// Renders a duration the way the documentation writes them: `90s`, `5m`, `2h`, `7d`.
pub(crate) fn show_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0 => "0s".to_string(),
        _ if s.is_multiple_of(86_400) => format!("{}d", s / 86_400),
        _ if s.is_multiple_of(3600) => format!("{}h", s / 3600),
        _ if s.is_multiple_of(60) => format!("{}m", s / 60),
        _ => format!("{s}s"),
    }
}

/// An envelope address: one `@` with something on both sides, no spaces or
/// angle brackets.
pub(crate) fn address(value: &str) -> Result<String, Invalid> {
    let ok = match value.rsplit_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !value
                    .contains(|c: char| c.is_whitespace() || c.is_control() || "<>,".contains(c))
        }
        None => false,
    };
    if ok {
        Ok(value.to_string())
    } else {
        Err(Invalid::Address {
            value: value.to_string(),
        })
    }
}

/// A domain name for `local-domain`: letters, digits, `-` and dots, no
/// `@` (a full address there is the usual slip: say so).
pub(crate) fn domain(value: &str) -> Result<String, Invalid> {
    let labels_ok = value.split('.').all(|label| {
        !label.is_empty()
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    });
    if labels_ok {
        Ok(value.to_ascii_lowercase())
    } else {
        Err(Invalid::Domain {
            value: value.to_string(),
        })
    }
}

/// A host name or an IP address, without a port.
pub(crate) fn host(value: &str) -> Result<String, Invalid> {
    if value.parse::<std::net::IpAddr>().is_ok() {
        return Ok(value.to_string());
    }
    let name_ok = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_');
    if name_ok && !value.starts_with(['.', '-']) {
        Ok(value.to_string())
    } else if value.contains(':') {
        Err(Invalid::HostWithPort {
            value: value.to_string(),
        })
    } else {
        Err(Invalid::Host {
            value: value.to_string(),
        })
    }
}

/// One entry of `[VMAIL] mail-server`: `host`, `host:port`, an IP address,
/// or `[IPv6]:port`; without a port, `default_port` (`mail-port`). A bare
/// IPv6 address is taken whole as the host: its port needs the brackets.
pub(crate) fn mail_server(item: &str, default_port: u16) -> Result<MailServer, Invalid> {
    let item = item.trim();
    if let Some(rest) = item.strip_prefix('[') {
        let Some((inside, after)) = rest.split_once(']') else {
            return Err(Invalid::UnclosedBracket {
                value: item.to_string(),
            });
        };
        let port = match after {
            "" => Some(default_port),
            _ => after
                .strip_prefix(':')
                .map(|p| server_port(item, p))
                .transpose()?,
        };
        return match (inside.parse::<std::net::Ipv6Addr>(), port) {
            (Ok(_), Some(port)) => Ok(MailServer::new(inside, port)),
            _ => Err(Invalid::NotIpv6InBrackets {
                value: item.to_string(),
            }),
        };
    }
    if item.contains(']') {
        return Err(Invalid::UnopenedBracket {
            value: item.to_string(),
        });
    }
    if item.parse::<std::net::IpAddr>().is_ok() {
        return Ok(MailServer::new(item, default_port));
    }
    match item.split_once(':') {
        Some((name, port)) if !port.contains(':') => {
            let port = server_port(item, port)?;
            let name = host(name).map_err(|_| Invalid::Host {
                value: item.to_string(),
            })?;
            Ok(MailServer::new(name, port))
        }
        _ => Ok(MailServer::new(host(item)?, default_port)),
    }
}

fn server_port(server: &str, value: &str) -> Result<u16, Invalid> {
    port(value).map_err(|_| Invalid::ServerPort {
        server: server.to_string(),
        port: value.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text an administrator reads when `parsed` is refused, for
    /// comparing with expectations.
    fn said<T: std::fmt::Debug>(parsed: Result<T, Invalid>) -> String {
        match parsed {
            Ok(value) => panic!("accepted as {value:?}"),
            Err(invalid) => invalid.to_string(),
        }
    }

    #[test]
    fn booleans_in_every_spelling() {
        for yes in ["On", "ON", "yes", "Yes", "TRUE", "1"] {
            assert_eq!(boolean(yes).ok(), Some(true), "{yes}");
        }
        for no in ["Off", "off", "NO", "false", "0"] {
            assert_eq!(boolean(no).ok(), Some(false), "{no}");
        }
        assert_eq!(
            said(boolean("maybe")),
            "\"maybe\" is not a boolean (On/Off, yes/no, true/false, 1/0)"
        );
    }

    #[test]
    fn ports_are_1_to_65535() {
        assert_eq!(port("25").ok(), Some(25));
        assert_eq!(port("65535").ok(), Some(65535));
        for bad in ["0", "65536", "99999", "smtp", "-1", ""] {
            assert_eq!(
                said(port(bad)),
                format!("\"{bad}\" is not a port (1-65535)")
            );
        }
    }

    #[test]
    fn durations_with_and_without_units() {
        assert_eq!(duration("45").ok(), Some(Duration::from_secs(45)));
        assert_eq!(duration("30s").ok(), Some(Duration::from_secs(30)));
        assert_eq!(duration("5m").ok(), Some(Duration::from_secs(300)));
        assert_eq!(duration("2H").ok(), Some(Duration::from_secs(7200)));
        assert_eq!(duration("5d").ok(), Some(Duration::from_secs(432_000)));
        assert!(duration("5 minutes").is_err());
        assert!(duration("m").is_err());
        assert!(duration("99999999999999999999d").is_err());
        assert_eq!(
            said(duration("1w")),
            "\"1w\" is not a duration (seconds, or a number with s, m, h or d: 30, 30s, 5m, 2h, 5d)"
        );
        assert_eq!(millis("300").ok(), Some(Duration::from_millis(300)));
        assert_eq!(millis("2s").ok(), Some(Duration::from_millis(2000)));
        assert!(millis("2m").is_err());
    }

    #[test]
    fn sizes_in_binary_units() {
        assert_eq!(size("100").ok(), Some(100));
        assert_eq!(size("512k").ok(), Some(512 * 1024));
        assert_eq!(size("10M").ok(), Some(10 * 1024 * 1024));
        assert_eq!(size("25MB").ok(), Some(25 * 1024 * 1024));
        assert_eq!(size("1g").ok(), Some(1 << 30));
        assert!(size("10T").is_err());
        assert!(size("").is_err());
    }

    #[test]
    fn durations_render_in_their_largest_whole_unit() {
        assert_eq!(show_duration(Duration::from_secs(3600)), "1h");
        assert_eq!(show_duration(Duration::from_secs(90)), "90s");
        assert_eq!(show_duration(Duration::from_secs(7 * 86_400)), "7d");
    }

    #[test]
    fn addresses_and_hosts() {
        assert!(address("vmail@example.com").is_ok());
        assert!(address("vmail").is_err());
        assert!(address("a b@c").is_err());
        assert!(address("<a@b>").is_err());
        assert!(host("smtp.example.com").is_ok());
        assert!(host("192.0.2.1").is_ok());
        assert!(host("::1").is_ok());
        assert!(said(host("smtp.example.com:587")).contains("mail-port"));
        assert!(host("smtp example").is_err());
        assert_eq!(domain("Host.Example.com").unwrap(), "host.example.com");
        for bad in [
            "root@example.com",
            "example..com",
            ".example.com",
            "ex ample.com",
        ] {
            assert!(domain(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn mail_server_entries_with_and_without_ports() {
        let server = |item: &str| mail_server(item, 25).ok().map(|s| s.to_string());
        let refused = |item: &str| said(mail_server(item, 25));
        assert_eq!(
            server("smtp1.example.com"),
            Some("smtp1.example.com:25".into())
        );
        assert_eq!(
            server(" smtp2.example.com:2525 "),
            Some("smtp2.example.com:2525".into())
        );
        assert_eq!(
            server("[2001:db8::25]:587"),
            Some("[2001:db8::25]:587".into())
        );
        assert_eq!(server("[2001:db8::25]"), Some("[2001:db8::25]:25".into()));
        assert_eq!(server("2001:db8::25"), Some("[2001:db8::25]:25".into()));
        assert_eq!(server("192.0.2.7:465"), Some("192.0.2.7:465".into()));
        assert_eq!(
            refused("smtp2.example.com:99999"),
            "\"smtp2.example.com:99999\": \"99999\" is not a port (1-65535)"
        );
        assert_eq!(
            refused("smtp2.example.com:"),
            "\"smtp2.example.com:\": \"\" is not a port (1-65535)"
        );
        assert_eq!(
            refused("[2001:db8::25:587"),
            "\"[2001:db8::25:587\" has a \"[\" without its \"]\" (an IPv6 address with a port is written [2001:db8::25]:587)"
        );
        assert_eq!(
            refused("2001:db8::25]:587"),
            "\"2001:db8::25]:587\" has a \"]\" without its \"[\" (an IPv6 address with a port is written [2001:db8::25]:587)"
        );
        assert_eq!(
            refused("[smtp.example.com]:25"),
            "\"[smtp.example.com]:25\": only an IPv6 address goes in brackets, then nothing or :port ([2001:db8::25]:587)"
        );
        assert_eq!(
            refused("[2001:db8::25]587"),
            "\"[2001:db8::25]587\": only an IPv6 address goes in brackets, then nothing or :port ([2001:db8::25]:587)"
        );
        assert!(server("smtp one:25").is_none());
        assert!(server("a:b:c").is_none());
    }
}
