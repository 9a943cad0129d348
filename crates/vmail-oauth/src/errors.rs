//! One table from what the token endpoint said to what the administrator
//! reads: the [`TokenErrorKind`], a one-line summary with the server's
//! error code, and advice naming the `[VMAIL]` key to change. The job log,
//! the daemon log and `vfxadmin check` all render these same values.
//!
//! Nothing here ever holds a token, a secret or an assertion: the inputs are
//! the HTTP status, the OAuth `error` code and the first line of its
//! `error_description`, scrubbed of anything we sent.

use crate::http::HttpError;
use oauth2::{ErrorResponseType, RequestTokenError, StandardErrorResponse};
use std::fmt::Display;
use vmail_core::{OAuthGrant, TokenError, TokenErrorKind};

/// What went wrong with one request, before it is put into words.
#[derive(Debug)]
pub(crate) enum Failure {
    /// No HTTP response (DNS, connect, TLS, timeout).
    Unreachable(String),
    /// 5xx, or a non-JSON answer.
    Status(u16),
    /// A 200 that is not a token response, or an error that is not OAuth JSON.
    NotATokenResponse,
    /// An OAuth error response (`error`, `error_description`).
    OAuth {
        code: String,
        description: Option<String>,
    },
}

impl Failure {
    /// From `oauth2`'s error, whatever the grant's error type.
    pub(crate) fn from_request<T>(
        err: RequestTokenError<HttpError, StandardErrorResponse<T>>,
    ) -> Failure
    where
        T: ErrorResponseType + Display + 'static,
    {
        match err {
            RequestTokenError::ServerResponse(e) => Failure::OAuth {
                code: e.error().to_string(),
                description: e.error_description().cloned(),
            },
            RequestTokenError::Request(HttpError::Send(cause)) => Failure::Unreachable(cause),
            RequestTokenError::Request(HttpError::Status(code)) => Failure::Status(code),
            // The body of a parse error may hold a token: never shown.
            RequestTokenError::Parse(..) | RequestTokenError::Other(_) => {
                Failure::NotATokenResponse
            }
        }
    }
}

/// What the advice depends on besides the failure.
pub(crate) struct Context<'a> {
    pub token_url: &'a str,
    pub grant: OAuthGrant,
    /// Values we sent that must never be echoed back into a message.
    pub scrub: &'a [&'a str],
}

pub(crate) fn token_error(failure: Failure, cx: &Context<'_>) -> TokenError {
    let url = cx.token_url;
    match failure {
        Failure::Unreachable(cause) => {
            let advice = if cause.contains("certificate") {
                "the token endpoint's certificate is not trusted: put its CA in ca-file, or check oauth-token-url; the jobs wait and are retried"
            } else {
                "check the network and oauth-token-url; the jobs wait and are retried"
            };
            error(
                TokenErrorKind::Unreachable,
                format!("cannot reach the token endpoint {url}: {cause}"),
                Some(advice),
            )
        }
        Failure::Status(code) => error(
            TokenErrorKind::ServerError,
            format!("the token endpoint {url} answered HTTP {code}"),
            Some(if code >= 500 {
                "the provider has a problem; the jobs wait and are retried"
            } else {
                "check oauth-token-url (the provider's token endpoint); the jobs wait and are retried"
            }),
        ),
        Failure::NotATokenResponse => error(
            TokenErrorKind::ServerError,
            format!("the token endpoint {url} answered something that is not a token response"),
            Some(
                "check oauth-token-url (the provider's token endpoint); the jobs wait and are retried",
            ),
        ),
        Failure::OAuth { code, description } => oauth_error(&code, description.as_deref(), cx),
    }
}

fn error(kind: TokenErrorKind, summary: String, advice: Option<&str>) -> TokenError {
    TokenError {
        kind,
        summary,
        advice: advice.map(str::to_string),
    }
}

fn oauth_error(code: &str, description: Option<&str>, cx: &Context<'_>) -> TokenError {
    let aad = description.and_then(aadsts);
    let known = aad.and_then(|n| AADSTS.iter().find(|a| a.code == n));
    let mut kind = kind_of(code);
    let detail = match (aad, known) {
        (Some(_), Some(entry)) => {
            if kind == TokenErrorKind::Other {
                kind = entry.kind;
            }
            Some(format!("AADSTS{}: {}", entry.code, entry.meaning))
        }
        _ => description.map(|d| first_line(d, cx.scrub)),
    };
    let summary = match detail {
        Some(detail) if !detail.is_empty() => {
            format!("the token endpoint refused the request: {code} ({detail})")
        }
        _ => format!("the token endpoint refused the request: {code}"),
    };
    let advice = match known {
        Some(entry) => Some(entry.advice.to_string()),
        None => advice_for(kind, cx.grant).map(str::to_string),
    };
    TokenError {
        kind,
        summary,
        advice,
    }
}

fn kind_of(code: &str) -> TokenErrorKind {
    match code {
        "invalid_client" => TokenErrorKind::InvalidClient,
        "invalid_grant" => TokenErrorKind::InvalidGrant,
        "unauthorized_client" => TokenErrorKind::UnauthorizedClient,
        "invalid_scope" => TokenErrorKind::InvalidScope,
        "temporarily_unavailable" | "server_error" => TokenErrorKind::ServerError,
        _ => TokenErrorKind::Other,
    }
}

fn advice_for(kind: TokenErrorKind, grant: OAuthGrant) -> Option<&'static str> {
    use OAuthGrant::{ClientCredentials, RefreshToken, ServiceAccount};
    use TokenErrorKind as K;
    Some(match (kind, grant) {
        (K::InvalidClient, ServiceAccount) => {
            "check oauth-key-file: the service account's key may have been deleted or disabled; download a new JSON key"
        }
        (K::InvalidClient, ClientCredentials | RefreshToken) => {
            "check oauth-client-id and oauth-client-secret (set the secret with `vfxadmin config -a -p -e VMAIL oauth-client-secret`)"
        }
        (K::InvalidGrant, RefreshToken) => {
            "the stored refresh token was revoked or has expired: run `vfxadmin oauth login` again"
        }
        (K::InvalidGrant, ServiceAccount) => {
            "the assertion was refused: check oauth-user (a mailbox of the Workspace domain), oauth-key-file, and this machine's clock"
        }
        (K::InvalidGrant, ClientCredentials) => {
            "check oauth-client-id, oauth-client-secret and oauth-tenant"
        }
        (K::UnauthorizedClient, ServiceAccount) => {
            "domain-wide delegation is missing: in the Google Admin console (Security > API controls > Domain-wide delegation) add the service account's client ID with the scope in oauth-scope"
        }
        (K::UnauthorizedClient, ClientCredentials | RefreshToken) => {
            "the app may not use this grant: check oauth-grant, oauth-client-id and the app registration"
        }
        (K::InvalidScope, _) => {
            "check oauth-scope (Microsoft: https://outlook.office365.com/.default for client-credentials, https://outlook.office.com/SMTP.Send offline_access for refresh-token; Google: https://mail.google.com/)"
        }
        (K::Unreachable | K::ServerError, _) => {
            "the provider has a problem; the jobs wait and are retried"
        }
        (K::NotConfigured | K::Other, _) => return None,
    })
}

/// A Microsoft Entra error number, what it means, and what to change.
struct Aadsts {
    code: u32,
    meaning: &'static str,
    kind: TokenErrorKind,
    advice: &'static str,
}

/// The AADSTS numbers an SMTP relay meets, from Microsoft's list of Entra
/// authentication error codes.
const AADSTS: &[Aadsts] = &[
    Aadsts {
        code: 7000215,
        meaning: "the client secret is wrong",
        kind: TokenErrorKind::InvalidClient,
        advice: "oauth-client-secret is wrong: copy the secret's Value (not its Secret ID) from the app registration's Certificates & secrets and set it with `vfxadmin config -a -p -e VMAIL oauth-client-secret`",
    },
    Aadsts {
        code: 7000222,
        meaning: "the client secret has expired",
        kind: TokenErrorKind::InvalidClient,
        advice: "create a new client secret under the app registration's Certificates & secrets and set oauth-client-secret with `vfxadmin config -a -p -e VMAIL oauth-client-secret`",
    },
    Aadsts {
        code: 700016,
        meaning: "no application with this client ID in the tenant",
        kind: TokenErrorKind::UnauthorizedClient,
        advice: "check oauth-client-id (the Application (client) ID) and oauth-tenant (the Directory (tenant) ID the app is registered in)",
    },
    Aadsts {
        code: 90002,
        meaning: "the tenant does not exist",
        kind: TokenErrorKind::InvalidClient,
        advice: "check oauth-tenant (the Directory (tenant) ID, or a verified domain of the tenant)",
    },
    Aadsts {
        code: 65001,
        meaning: "the app has not been granted consent",
        kind: TokenErrorKind::InvalidGrant,
        advice: "grant admin consent to the app's API permissions (Entra ID > App registrations > API permissions); with oauth-grant = refresh-token run `vfxadmin oauth login` again",
    },
    Aadsts {
        code: 700082,
        meaning: "the refresh token expired after a long inactivity",
        kind: TokenErrorKind::InvalidGrant,
        advice: "run `vfxadmin oauth login` again",
    },
    Aadsts {
        code: 7000218,
        meaning: "the request needs a client secret (public client flows are off)",
        kind: TokenErrorKind::InvalidClient,
        advice: "set oauth-client-secret with `vfxadmin config -a -p -e VMAIL oauth-client-secret`, or allow public client flows in the app registration (Authentication)",
    },
    Aadsts {
        code: 500011,
        meaning: "the resource in the scope was not found in the tenant",
        kind: TokenErrorKind::InvalidScope,
        advice: "check oauth-scope (https://outlook.office365.com/.default for client-credentials) and that the tenant has Exchange Online",
    },
    Aadsts {
        code: 70011,
        meaning: "the scope is not valid",
        kind: TokenErrorKind::InvalidScope,
        advice: "check oauth-scope (https://outlook.office365.com/.default for client-credentials, https://outlook.office.com/SMTP.Send offline_access for refresh-token)",
    },
];

/// The number of the first `AADSTSnnnn` in a description.
fn aadsts(description: &str) -> Option<u32> {
    let at = description.find("AADSTS")?;
    let digits: String = description[at + 6..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// The description's first line, at most 200 characters, with anything we
/// sent replaced.
fn first_line(description: &str, scrub: &[&str]) -> String {
    let mut line: String = description
        .lines()
        .next()
        .unwrap_or("")
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    for secret in scrub.iter().filter(|s| s.len() >= 4) {
        line = line.replace(secret, "<redacted>");
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cx(grant: OAuthGrant) -> Context<'static> {
        Context {
            token_url: "https://login.example/token",
            grant,
            scrub: &["hunter2-secret"],
        }
    }

    #[test]
    fn aadsts_numbers_are_found_in_descriptions() {
        assert_eq!(
            aadsts("AADSTS7000215: Invalid client secret provided."),
            Some(7000215)
        );
        assert_eq!(
            aadsts("x\r\nAADSTS90002: Tenant 't' not found."),
            Some(90002)
        );
        assert_eq!(aadsts("no code"), None);
    }

    #[test]
    fn an_echoed_secret_is_scrubbed_from_the_description() {
        let e = token_error(
            Failure::OAuth {
                code: "invalid_request".into(),
                description: Some("bad value hunter2-secret\nsecond line".into()),
            },
            &cx(OAuthGrant::ClientCredentials),
        );
        assert_eq!(
            e.summary,
            "the token endpoint refused the request: invalid_request (bad value <redacted>)"
        );
        assert_eq!(e.kind, TokenErrorKind::Other);
        assert_eq!(e.advice, None);
    }
}
