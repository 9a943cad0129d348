//! The validated layer: `[VMAIL]` and `[VFXSCHED]` entries -> [`Config`],
//! every problem collected with its line.

mod metrics;
mod oauth;
mod smtp;
mod tls;

use crate::diag::{ConfigErrors, Diagnostic};
use crate::invalid::Invalid;
use crate::raw::{self, LineKind};
use crate::schema::{self, canonical_section};
use crate::secrets::{self, Key};
use crate::values;
use crate::{Config, Delivery, Loaded};
use std::path::{Path, PathBuf};
use std::time::Duration;
use vmail_core::{DebugLevel, RetryPolicy};

/// One `key = value` of a known section.
pub(super) struct Entry {
    pub line: usize,
    pub key: &'static str,
    pub value: String,
}

/// The entries of one known section (all its headers merged).
#[derive(Default)]
pub(super) struct Section {
    pub name: &'static str,
    pub header: Option<usize>,
    pub entries: Vec<Entry>,
}

impl Section {
    /// The entry for `key` when it has a value; an empty value means "use the default".
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.entries
            .iter()
            .find(|e| e.key == key && !e.value.is_empty())
    }
}

/// A value that was set, with the line it was set on.
pub(super) struct Set<T> {
    pub value: T,
    pub line: usize,
}

pub(super) struct Ctx<'a> {
    pub path: &'a Path,
    /// The directory relative paths are resolved against.
    pub base: PathBuf,
    pub errors: Vec<Diagnostic>,
    pub warnings: Vec<Diagnostic>,
}

impl Ctx<'_> {
    fn new(path: &Path) -> Ctx<'_> {
        Ctx {
            path,
            base: path
                .parent()
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf),
            errors: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// The verdict, every problem in file order: an administrator fixes
    /// them top to bottom. Problems without a line (a missing section)
    /// come first.
    fn finish(mut self, config: Config) -> Result<Loaded, ConfigErrors> {
        self.errors.sort_by_key(|d| d.line);
        self.warnings.sort_by_key(|d| d.line);
        if self.errors.is_empty() {
            Ok(Loaded {
                config,
                warnings: self.warnings,
            })
        } else {
            Err(ConfigErrors {
                errors: self.errors,
                warnings: self.warnings,
            })
        }
    }

    pub fn error(&mut self, line: Option<usize>, section: &str, key: &str, msg: impl Into<String>) {
        let d = Diagnostic::at(self.path, line, Some(section), Some(key), msg);
        self.errors.push(d);
    }

    pub fn warn(&mut self, line: usize, section: &str, key: &str, msg: impl Into<String>) {
        let d = Diagnostic::at(self.path, Some(line), Some(section), Some(key), msg);
        self.warnings.push(d);
    }

    /// Parses `key` of `section` when set; a bad value is recorded as an
    /// error and gives `None`, like an unset one.
    pub fn get<T>(
        &mut self,
        section: &Section,
        key: &str,
        parse: impl FnOnce(&str) -> Result<T, Invalid>,
    ) -> Option<Set<T>> {
        let entry = section.get(key)?;
        match parse(&entry.value) {
            Ok(value) => Some(Set {
                value,
                line: entry.line,
            }),
            Err(invalid) => {
                self.error(Some(entry.line), section.name, key, invalid.to_string());
                None
            }
        }
    }

    /// Like [`Ctx::get`], with a default for an unset or bad value.
    pub fn get_or<T>(
        &mut self,
        section: &Section,
        key: &str,
        default: T,
        parse: impl FnOnce(&str) -> Result<T, Invalid>,
    ) -> T {
        self.get(section, key, parse).map_or(default, |s| s.value)
    }

    /// A path, resolved against the ini's directory.
    pub fn path_value(&self, value: &str) -> PathBuf {
        self.base.join(value)
    }
}

/// The key file, read at most once, and only when a sealed value needs it.
pub(super) struct KeyRing {
    pub path: PathBuf,
    state: Option<Result<Key, secrets::SecretError>>,
}

impl KeyRing {
    /// The key, or why it cannot be used (the same error for every sealed
    /// value that needs it).
    pub fn key(&mut self) -> Result<&Key, &secrets::SecretError> {
        let path = &self.path;
        self.state
            .get_or_insert_with(|| secrets::load_key(path))
            .as_ref()
    }
}

pub(crate) fn validate(path: &Path, text: &str) -> Result<Loaded, ConfigErrors> {
    let mut cx = Ctx::new(path);
    let (vmail, sched) = index(&mut cx, text);
    let key_file = secrets::key_file_path(path, vmail.get("key-file").map(|e| e.value.as_str()));
    let mut keys = KeyRing {
        path: key_file.clone(),
        state: None,
    };
    let delivery = smtp::delivery(&mut cx, &vmail, &mut keys);
    let config = config(&mut cx, &vmail, &sched, delivery, key_file);
    cx.finish(config)
}

/// The settings beyond where mail goes: each is checked even when others
/// are bad, so that every problem shows at once.
fn config(
    cx: &mut Ctx<'_>,
    vmail: &Section,
    sched: &Section,
    delivery: Delivery,
    key_file: PathBuf,
) -> Config {
    Config {
        path: cx.path.to_path_buf(),
        delivery,
        from: cx.get_or(
            vmail,
            "from",
            format!("vmail@{}", hostname()),
            values::address,
        ),
        admin_address: cx
            .get(vmail, "admin-address", values::address)
            .map(|s| s.value),
        local_domain: cx
            .get(vmail, "local-domain", values::domain)
            .map(|s| s.value),
        max_connections: cx.get_or(vmail, "max-connections", 4, |v| values::count(v, 1)),
        retry: retry_policy(cx, vmail),
        debug: cx.get_or(vmail, "debug", DebugLevel::Replies, debug_level),
        max_debug_log: cx.get_or(vmail, "max-debug-log", 10 << 20, positive_size),
        max_message_size: cx.get_or(vmail, "max-message-size", 25 << 20, positive_size),
        fax_attach_as: cx.get_or(vmail, "fax-attach-as", Default::default(), attach_as),
        spool: cx.get(sched, "spool", |v| Ok(v.to_string())).map_or_else(
            || PathBuf::from("/var/spool/vmail"),
            |s| cx.path_value(&s.value),
        ),
        sched_debug: cx.get_or(sched, "debug", false, values::boolean),
        sent_retention: cx.get_or(
            sched,
            "keep-sent",
            Duration::from_secs(7 * 86_400),
            values::duration,
        ),
        key_file,
        metrics_listen: metrics::listen(cx, vmail),
    }
}

/// Sorts the lines into the two known sections, reporting malformed lines,
/// unknown sections and keys, keys outside any section and keys set twice.
fn index(cx: &mut Ctx<'_>, text: &str) -> (Section, Section) {
    let mut vmail = Section {
        name: "VMAIL",
        ..Section::default()
    };
    let mut sched = Section {
        name: "VFXSCHED",
        ..Section::default()
    };
    // None before the first header; Some(None) in an unknown section.
    let mut current: Option<Option<&'static str>> = None;
    for (i, line) in raw::lines(text).into_iter().enumerate() {
        let number = i + 1;
        match raw::classify(line) {
            LineKind::Blank | LineKind::Comment => {}
            LineKind::Malformed(why) => cx.errors.push(Diagnostic::at(
                cx.path,
                Some(number),
                None,
                None,
                why.message(),
            )),
            LineKind::Section { name } => {
                let known = canonical_section(&name);
                match known {
                    Some("VMAIL") => vmail.header = vmail.header.or(Some(number)),
                    Some(_) => sched.header = sched.header.or(Some(number)),
                    None => cx.warnings.push(Diagnostic::at(
                        cx.path,
                        Some(number),
                        Some(&name),
                        None,
                        "unknown section, ignored (vmail reads [VMAIL] and [VFXSCHED])",
                    )),
                }
                current = Some(known);
            }
            LineKind::Entry { key, value } => {
                let section = match current {
                    Some(Some("VMAIL")) => &mut vmail,
                    Some(Some(_)) => &mut sched,
                    Some(None) => continue,
                    None => {
                        cx.warnings.push(Diagnostic::at(
                            cx.path,
                            Some(number),
                            None,
                            Some(&key),
                            "is outside any section, ignored (put it under [VMAIL] or [VFXSCHED])",
                        ));
                        continue;
                    }
                };
                add_entry(cx, section, number, &key, value);
            }
        }
    }
    (vmail, sched)
}

fn add_entry(cx: &mut Ctx<'_>, section: &mut Section, line: usize, key: &str, value: String) {
    let known = schema::keys_of(section.name)
        .iter()
        .copied()
        .find(|k| k.eq_ignore_ascii_case(key));
    let Some(known) = known else {
        let msg = match schema::closest_key(section.name, key) {
            Some(guess) => format!("unknown key, ignored (did you mean {guess}?)"),
            None => {
                let allowed = schema::keys_of(section.name).join(", ");
                format!("unknown key, ignored (known keys: {allowed})")
            }
        };
        cx.warnings.push(Diagnostic::at(
            cx.path,
            Some(line),
            Some(section.name),
            Some(key),
            msg,
        ));
        return;
    };
    if let Some(first) = section.entries.iter().find(|e| e.key == known) {
        let msg = format!(
            "is set twice, first on line {} (set each key once)",
            first.line
        );
        cx.error(Some(line), section.name, known, msg);
        return;
    }
    section.entries.push(Entry {
        line,
        key: known,
        value,
    });
}

fn retry_policy(cx: &mut Ctx<'_>, vmail: &Section) -> RetryPolicy {
    let default = RetryPolicy::default();
    let min = cx.get(vmail, "retry-min", positive_duration);
    let max = cx.get(vmail, "retry-max", positive_duration);
    let lifetime = cx.get_or(
        vmail,
        "max-lifetime",
        default.max_lifetime,
        positive_duration,
    );
    let policy = RetryPolicy {
        min: min.as_ref().map_or(default.min, |s| s.value),
        max: max.as_ref().map_or(default.max, |s| s.value),
        max_lifetime: lifetime,
    };
    if policy.min > policy.max {
        let line = min.as_ref().or(max.as_ref()).map(|s| s.line);
        let msg = format!(
            "{} is longer than retry-max {} (retry-min must not exceed retry-max)",
            values::show_duration(policy.min),
            values::show_duration(policy.max)
        );
        cx.error(line, "VMAIL", "retry-min", msg);
    }
    policy
}

fn positive_duration(value: &str) -> Result<Duration, Invalid> {
    match values::duration(value)? {
        d if d.is_zero() => Err(Invalid::ZeroDuration {
            value: value.to_string(),
        }),
        d => Ok(d),
    }
}

fn positive_size(value: &str) -> Result<u64, Invalid> {
    match values::size(value)? {
        0 => Err(Invalid::ZeroSize {
            value: value.to_string(),
        }),
        n => Ok(n),
    }
}

fn attach_as(value: &str) -> Result<vmail_core::AttachAs, Invalid> {
    vmail_core::AttachAs::parse(value).ok_or_else(|| Invalid::AttachAs {
        value: value.to_string(),
    })
}

fn debug_level(value: &str) -> Result<DebugLevel, Invalid> {
    match value {
        "0" => Ok(DebugLevel::Quiet),
        "1" => Ok(DebugLevel::Replies),
        "2" => Ok(DebugLevel::Transcript),
        _ => Err(Invalid::DebugLevel {
            value: value.to_string(),
        }),
    }
}

/// This machine's name, from the kernel (uname(2): vmaild.service's
/// `ProcSubset=pid` hides /proc/sys), else `localhost`.
pub(super) fn hostname() -> String {
    let name = rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .trim()
        .to_string();
    if name.is_empty() || name == "(none)" {
        "localhost".to_string()
    } else {
        name
    }
}
