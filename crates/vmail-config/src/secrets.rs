//! Secrets at rest: `auth-rsp` and `pop-rsp` sealed with AES-256-GCM.
//!
//! A sealed value is `enc:v1:` followed by the standard base64 (with padding)
//! of a fresh random 12-byte nonce and the ciphertext with its 16-byte tag.
//!
//! The key file holds the 32-byte key as 64 hexadecimal digits on one line
//! (a final line break is optional), so that
//! `(umask 077; openssl rand -hex 32 > vmail.key)` makes one too. vmail
//! creates it with mode 0600 the first time a secret is stored, never
//! overwrites it, and refuses one that group or others may read or write.

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use vmail_core::Secret;
use zeroize::{Zeroize, Zeroizing};

/// The prefix of every sealed value, whatever its version.
pub const SEALED_PREFIX: &str = "enc:";
const V1_PREFIX: &str = "enc:v1:";
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// What can go wrong with the key file or a sealed value. No variant holds a
/// plaintext.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("{}: {error}", path.display())]
    KeyIo { path: PathBuf, error: io::Error },
    #[error(
        "{} may be read or written by group or others (mode {mode:04o}), so vmail refuses it (run `chmod 600 {}`)",
        path.display(),
        path.display()
    )]
    KeyPermissions { path: PathBuf, mode: u32 },
    #[error("{} is not a vmail key (64 hexadecimal digits: 32 bytes)", path.display())]
    KeyFormat { path: PathBuf },
    #[error("{} is not a regular file", path.display())]
    KeyNotAFile { path: PathBuf },
    #[error("is not a sealed value (enc:v1: and base64)")]
    Malformed,
    #[error("is sealed with an unknown version (this vmail reads enc:v1:)")]
    UnknownVersion,
    #[error(
        "cannot be decrypted: the value was changed or the key is not the one it was sealed with"
    )]
    Rejected,
    #[error("decrypts to something that is not UTF-8 text")]
    NotText,
    #[error("cannot be encrypted")]
    Seal,
}

/// The 32-byte key. `Debug` does not show it; it is zeroed on drop.
pub struct Key([u8; 32]);

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(<redacted>)")
    }
}

impl Drop for Key {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl Key {
    /// A fresh random key.
    pub fn generate() -> Key {
        let key = Aes256Gcm::generate_key(OsRng);
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(&key);
        Key(bytes)
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(&self.0.into())
    }

    fn to_hex(&self) -> Zeroizing<String> {
        let mut hex = Zeroizing::new(String::with_capacity(65));
        for byte in self.0 {
            hex.push_str(&format!("{byte:02x}"));
        }
        hex.push('\n');
        hex
    }

    fn from_hex(text: &str) -> Option<Key> {
        let text = text.trim();
        if text.len() != 64 || !text.is_ascii() {
            return None;
        }
        let mut bytes = [0u8; 32];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(Key(bytes))
    }
}

/// The key file for an ini: `key-file` as configured (relative to the ini's
/// directory), else `vmail.key` beside the ini.
pub fn key_file_path(ini: &Path, configured: Option<&str>) -> PathBuf {
    let base = ini.parent().unwrap_or(Path::new("."));
    match configured.map(str::trim).filter(|v| !v.is_empty()) {
        Some(value) => base.join(value),
        None => base.join("vmail.key"),
    }
}

/// Reads the key file, refusing one that group or others may use.
pub fn load_key(path: &Path) -> Result<Key, SecretError> {
    let io_err = |error| SecretError::KeyIo {
        path: path.to_path_buf(),
        error,
    };
    let meta = fs::metadata(path).map_err(io_err)?;
    if !meta.is_file() {
        return Err(SecretError::KeyNotAFile {
            path: path.to_path_buf(),
        });
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(SecretError::KeyPermissions {
            path: path.to_path_buf(),
            mode,
        });
    }
    let text = Zeroizing::new(fs::read_to_string(path).map_err(io_err)?);
    Key::from_hex(&text).ok_or_else(|| SecretError::KeyFormat {
        path: path.to_path_buf(),
    })
}

/// Reads the key file, or creates it (mode 0600, never over an existing
/// file) when there is none. The flag tells whether it was created.
pub fn load_or_create_key(path: &Path) -> Result<(Key, bool), SecretError> {
    match fs::symlink_metadata(path) {
        Ok(_) => return load_key(path).map(|key| (key, false)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(error) => {
            return Err(SecretError::KeyIo {
                path: path.to_path_buf(),
                error,
            });
        }
    }
    let key = Key::generate();
    match write_new_key(path, &key) {
        Ok(()) => Ok((key, true)),
        // Someone else created it in the meantime: use theirs.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => load_key(path).map(|k| (k, false)),
        Err(error) => Err(SecretError::KeyIo {
            path: path.to_path_buf(),
            error,
        }),
    }
}

fn write_new_key(path: &Path, key: &Key) -> io::Result<()> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(key.to_hex().as_bytes())?;
    file.sync_all()?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Whether a value from the ini is sealed (starts with `enc:`).
pub fn is_sealed(value: &str) -> bool {
    value.starts_with(SEALED_PREFIX)
}

/// Seals a plaintext: `enc:v1:<base64 of nonce + ciphertext>`, a new random
/// nonce each time.
pub fn seal(key: &Key, plaintext: &str) -> Result<String, SecretError> {
    let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
    let ciphertext = key
        .cipher()
        .encrypt(&nonce, plaintext.as_bytes())
        .map_err(|_| SecretError::Seal)?;
    let mut blob = Vec::with_capacity(NONCE_LEN + ciphertext.len());
    blob.extend_from_slice(&nonce);
    blob.extend_from_slice(&ciphertext);
    Ok(format!("{V1_PREFIX}{}", STANDARD.encode(blob)))
}

/// Opens a sealed value.
pub fn open(key: &Key, sealed: &str) -> Result<Secret, SecretError> {
    let Some(encoded) = sealed.strip_prefix(V1_PREFIX) else {
        return Err(match sealed.strip_prefix(SEALED_PREFIX) {
            Some(rest) if rest.starts_with('v') && rest.contains(':') => {
                SecretError::UnknownVersion
            }
            _ => SecretError::Malformed,
        });
    };
    let blob = STANDARD
        .decode(encoded.trim())
        .map_err(|_| SecretError::Malformed)?;
    if blob.len() < NONCE_LEN + TAG_LEN {
        return Err(SecretError::Malformed);
    }
    let (nonce, ciphertext) = blob.split_at(NONCE_LEN);
    let plain = key
        .cipher()
        .decrypt(Nonce::from_slice(nonce), ciphertext)
        .map_err(|_| SecretError::Rejected)?;
    let text = String::from_utf8(plain).map_err(|e| {
        e.into_bytes().zeroize();
        SecretError::NotText
    })?;
    Ok(Secret::new(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_then_open_gives_the_plaintext_back_with_a_new_nonce_each_time() {
        let key = Key::generate();
        let a = seal(&key, "user:pa55").unwrap();
        let b = seal(&key, "user:pa55").unwrap();
        assert!(a.starts_with("enc:v1:"), "{a}");
        assert_ne!(a, b);
        assert_eq!(open(&key, &a).unwrap().expose(), "user:pa55");
    }

    #[test]
    fn a_flipped_bit_or_another_key_is_rejected() {
        let key = Key::generate();
        let sealed = seal(&key, "secret").unwrap();
        let mut blob = STANDARD.decode(&sealed[V1_PREFIX.len()..]).unwrap();
        let last = blob.len() - 1;
        blob[last] ^= 1;
        let tampered = format!("{V1_PREFIX}{}", STANDARD.encode(blob));
        assert!(matches!(open(&key, &tampered), Err(SecretError::Rejected)));
        assert!(matches!(
            open(&Key::generate(), &sealed),
            Err(SecretError::Rejected)
        ));
        assert!(matches!(
            open(&key, "enc:v1:!!"),
            Err(SecretError::Malformed)
        ));
        assert!(matches!(
            open(&key, "enc:v1:AAAA"),
            Err(SecretError::Malformed)
        ));
        assert!(matches!(
            open(&key, "enc:v9:AAAA"),
            Err(SecretError::UnknownVersion)
        ));
    }

    #[test]
    fn the_key_survives_its_hex_form_and_is_not_debug_printed() {
        let key = Key::generate();
        let hex = key.to_hex();
        assert_eq!(hex.len(), 65);
        let again = Key::from_hex(&hex).unwrap();
        assert_eq!(again.0, key.0);
        assert_eq!(format!("{key:?}"), "Key(<redacted>)");
        assert!(Key::from_hex("abcd").is_none());
        assert!(Key::from_hex(&"zz".repeat(32)).is_none());
    }

    #[test]
    fn key_file_is_beside_the_ini_unless_configured() {
        let ini = Path::new("/etc/vmail/vsisrv.ini");
        assert_eq!(key_file_path(ini, None), Path::new("/etc/vmail/vmail.key"));
        assert_eq!(
            key_file_path(ini, Some(" ")),
            Path::new("/etc/vmail/vmail.key")
        );
        assert_eq!(
            key_file_path(ini, Some("k/x.key")),
            Path::new("/etc/vmail/k/x.key")
        );
        assert_eq!(
            key_file_path(ini, Some("/srv/x.key")),
            Path::new("/srv/x.key")
        );
    }
}
