//! `[VMAIL] tls-cert-file`, `tls-key-file`, `tls-fingerprint` and
//! `tls-min-version`: the client certificate, the pins and the oldest TLS
//! version. The files are looked at here, so that `vmaild` refuses to start
//! (and `vfxadmin config -a` to write) rather than every session failing.

use super::{Ctx, Section, Set};
use crate::invalid::{Invalid, PemKind};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use vmail_core::{ClientCertificate, Fingerprint, TlsMode, TlsVersion};

const V: &str = "VMAIL";

/// What the four keys give the SMTP settings.
pub(super) struct ClientTls {
    pub client_certificate: Option<ClientCertificate>,
    pub fingerprints: Vec<Fingerprint>,
    pub min_version: TlsVersion,
}

/// `tls` and `tls-verify` as configured, for the checks across keys.
pub(super) fn client_tls(
    cx: &mut Ctx<'_>,
    vmail: &Section,
    tls: TlsMode,
    tls_verify: Option<&Set<bool>>,
) -> ClientTls {
    let min_version = cx.get_or(vmail, "tls-min-version", TlsVersion::V1_2, |v| {
        TlsVersion::parse(v).ok_or_else(|| Invalid::TlsVersion {
            value: v.to_string(),
        })
    });
    let fingerprints = cx
        .get(vmail, "tls-fingerprint", fingerprints)
        .map(|set| {
            if let Some(Set { value: false, .. }) = tls_verify {
                let msg = "is set, and so is tls-verify = no: a pin is a check of the server's \
                           certificate, which tls-verify = no turns off (remove tls-verify = no; \
                           with tls-fingerprint set the pin replaces the CA check)";
                cx.error(Some(set.line), V, "tls-fingerprint", msg);
            }
            set.value
        })
        .unwrap_or_default();
    let client_certificate = client_certificate(cx, vmail);
    if tls == TlsMode::None {
        for key in [
            "tls-cert-file",
            "tls-key-file",
            "tls-fingerprint",
            "tls-min-version",
        ] {
            if let Some(entry) = vmail.get(key) {
                cx.warn(entry.line, V, key, "is ignored because tls = none");
            }
        }
    }
    ClientTls {
        client_certificate,
        fingerprints,
        min_version,
    }
}

/// A comma-separated list of `sha256:<hex>`.
fn fingerprints(value: &str) -> Result<Vec<Fingerprint>, Invalid> {
    value
        .split(',')
        .map(|one| {
            let one = one.trim();
            if one.is_empty() {
                return Err(Invalid::EmptyFingerprint {
                    list: value.to_string(),
                });
            }
            Fingerprint::parse(one).ok_or_else(|| Invalid::Fingerprint {
                value: one.to_string(),
            })
        })
        .collect()
}

/// Both files or neither; each readable and PEM of its kind; the key
/// private to its owner.
fn client_certificate(cx: &mut Ctx<'_>, vmail: &Section) -> Option<ClientCertificate> {
    let cert = vmail.get("tls-cert-file");
    let key = vmail.get("tls-key-file");
    match (cert, key) {
        (None, None) => None,
        (Some(cert), None) => {
            let msg = "is set without tls-key-file, the certificate's private key (PEM)";
            cx.error(Some(cert.line), V, "tls-cert-file", msg);
            None
        }
        (None, Some(key)) => {
            let msg = "is set without tls-cert-file, the client certificate (PEM)";
            cx.error(Some(key.line), V, "tls-key-file", msg);
            None
        }
        (Some(cert), Some(key)) => {
            let cert_file = cx.path_value(&cert.value);
            let key_file = cx.path_value(&key.value);
            let cert_ok = match check_pem(&cert_file, PemKind::Certificate) {
                Ok(()) => true,
                Err(why) => {
                    cx.error(Some(cert.line), V, "tls-cert-file", why.to_string());
                    false
                }
            };
            let key_ok = match check_pem(&key_file, PemKind::PrivateKey) {
                Ok(()) => true,
                Err(why) => {
                    cx.error(Some(key.line), V, "tls-key-file", why.to_string());
                    false
                }
            };
            (cert_ok && key_ok).then_some(ClientCertificate {
                cert_file,
                key_file,
            })
        }
    }
}

/// Why `path` cannot serve as `kind`, in words that name the file and the
/// fix. The private key is refused when its mode lets group or others read
/// or write it, before it is read (like ssh does). Never quotes the file.
fn check_pem(path: &Path, kind: PemKind) -> Result<(), Invalid> {
    let unreadable = |source| Invalid::PemUnreadable {
        path: PathBuf::from(path),
        kind,
        source,
    };
    let meta = std::fs::metadata(path).map_err(unreadable)?;
    if !meta.is_file() {
        return Err(Invalid::PemNotAFile {
            path: PathBuf::from(path),
            kind,
        });
    }
    let mode = meta.permissions().mode() & 0o777;
    if kind == PemKind::PrivateKey && mode & 0o077 != 0 {
        return Err(Invalid::KeyFileShared {
            path: PathBuf::from(path),
            mode,
        });
    }
    let text = zeroize::Zeroizing::new(std::fs::read(path).map_err(unreadable)?);
    let label = kind.label().as_bytes();
    if !text.windows(label.len()).any(|w| w == label) {
        return Err(Invalid::PemWithoutLabel {
            path: PathBuf::from(path),
            kind,
        });
    }
    Ok(())
}
