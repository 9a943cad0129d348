//! Notification templates: the subject and body of a `.job` drop that
//! names `template = NAME`, rendered from the job's `[fields]` with
//! minijinja (Jinja syntax) when the drop is picked up, so that what is
//! queued is the finished message.
//!
//! A template is the file `NAME.j2` in the templates folder, `templates/`
//! beside `vsisrv.ini`. It renders to a `Subject:` line, an empty line, and
//! the body:
//!
//! ```text
//! {# sample pages = 3 #}
//! {# sample remote-id = +49 30 1234567 #}
//! Subject: Fax from {{ remote_id }}, {{ pages }} page(s)
//!
//! A fax of {{ pages }} page(s) came in from {{ remote_id }}.
//! {% if duration is defined %}It took {{ duration }}.{% endif %}
//! ```
//!
//! - Fields are the job's `[fields]` keys; a `-` in a key is `_` in the
//!   template (`remote-id` is `remote_id`), since Jinja names cannot hold
//!   `-`. A value that is a plain integer (`3`, not `03` or `+3`) is a
//!   number, so `{% if pages > 1 %}` works; everything else is text.
//! - Undefined is strict: a field the job does not give is an error that
//!   names the template, the line and the field, never an empty hole in
//!   a message. An optional field is tested with `is defined`.
//! - Block tags take their line with them (`trim_blocks`,
//!   `lstrip_blocks`), as is usual for plain text: a `{% ... %}` at the
//!   end of a line takes the line break too (`+%}` keeps it), so an
//!   inline choice is better written `{{ "page" if pages == 1 else
//!   "pages" }}`.
//! - `{# sample KEY = VALUE #}` comments, one per line, are the fields
//!   `vfxadmin template check` renders with; pickup ignores them.
//! - A name is letters, digits, `-` and `_` (no `/`, no `.`): it cannot
//!   name a file outside the folder. Templates include no other files.
//!
//! The files are read at each render: an edited template is in force for
//! the next drop, without a reload.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use minijinja::syntax::SyntaxConfig;
use minijinja::{Environment, ErrorKind, UndefinedBehavior, Value};
use thiserror::Error;

/// The suffix of a template file: `fax-received.j2`.
pub const SUFFIX: &str = ".j2";

/// The folder of templates beside an ini file: `/etc/vmail/templates` for
/// `/etc/vmail/vsisrv.ini`.
pub const FOLDER: &str = "templates";

/// The templates folder; every template is read from here and nowhere else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Templates {
    dir: PathBuf,
}

/// A job's fields as it gave them (`remote-id = ...`), in key order.
pub type Fields = BTreeMap<String, String>;

/// What a template renders to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The text of the `Subject:` line, trimmed.
    pub subject: String,
    /// Everything after the empty line that follows it.
    pub body: String,
}

/// One template, read from its file.
#[derive(Debug, Clone)]
pub struct Template {
    pub name: String,
    pub path: PathBuf,
    pub source: String,
}

/// Where in a template something went wrong: the template, its file and
/// the line (when the engine knows it). Shown as `template `NAME`
/// (PATH) line N`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct At {
    pub name: String,
    pub path: PathBuf,
    pub line: Option<usize>,
}

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "template `{}` ({})", self.name, self.path.display())?;
        match self.line {
            Some(line) => write!(f, " line {line}"),
            None => Ok(()),
        }
    }
}

/// Why a template did not give a subject and a body. Every text names the
/// template; the ones about its content name the line too.
#[derive(Debug, Error)]
pub enum TemplateError {
    #[error(
        "template name `{name}` is not a plain name (letters, digits, `-` and `_`; it names {FOLDER}/NAME{SUFFIX})"
    )]
    BadName { name: String },
    #[error("template `{name}`: there is no {} (templates are NAME{SUFFIX} files in {})", path.display(), dir.display())]
    NotFound {
        name: String,
        path: PathBuf,
        dir: PathBuf,
    },
    #[error("template `{name}`: cannot read {}: {source}", path.display())]
    Unreadable {
        name: String,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("template `{name}`: {} is not UTF-8 text", path.display())]
    NotUtf8 { name: String, path: PathBuf },
    #[error("{at}: field `{field}` is missing ({})", given_list(given))]
    MissingField {
        at: At,
        field: String,
        /// The fields that were given, as the template names them.
        given: Vec<String>,
    },
    #[error("{at}: syntax error: {detail}")]
    Syntax { at: At, detail: String },
    #[error("{at}: {detail}")]
    Render { at: At, detail: String },
    #[error(
        "{at}: renders no `Subject:` line first (a template renders `Subject: ...`, an empty line, then the body)"
    )]
    NoSubject { at: At },
    #[error(
        "{at}: the line after `Subject:` must be empty (it separates the subject from the body)"
    )]
    NoBlankLine { at: At },
    #[error("{at}: `{line}` is not a sample (`{{# sample KEY = VALUE #}}`)")]
    BadSample { at: At, line: String },
    #[error("cannot list {}: {source}", dir.display())]
    Unlistable {
        dir: PathBuf,
        #[source]
        source: io::Error,
    },
}

fn given_list(given: &[String]) -> String {
    if given.is_empty() {
        "the job gives no fields".to_string()
    } else {
        format!("the job gives {}", given.join(", "))
    }
}

impl Templates {
    pub fn new(dir: impl Into<PathBuf>) -> Templates {
        Templates { dir: dir.into() }
    }

    /// The folder `templates/` beside the ini file at `ini`.
    pub fn beside(ini: &Path) -> Templates {
        let parent = ini.parent().unwrap_or(Path::new("."));
        let parent = if parent.as_os_str().is_empty() {
            Path::new(".")
        } else {
            parent
        };
        Templates::new(parent.join(FOLDER))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of template `name`, once the name is known to be plain:
    /// the one check that keeps `../x` and `/etc/x` out.
    pub fn path_of(&self, name: &str) -> Result<PathBuf, TemplateError> {
        let plain = !name.is_empty()
            && name.len() <= 100
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !plain {
            return Err(TemplateError::BadName {
                name: name.to_string(),
            });
        }
        Ok(self.dir.join(format!("{name}{SUFFIX}")))
    }

    /// Reads template `name`.
    pub fn load(&self, name: &str) -> Result<Template, TemplateError> {
        let path = self.path_of(name)?;
        let bytes = std::fs::read(&path).map_err(|source| {
            if source.kind() == io::ErrorKind::NotFound {
                TemplateError::NotFound {
                    name: name.to_string(),
                    path: path.clone(),
                    dir: self.dir.clone(),
                }
            } else {
                TemplateError::Unreadable {
                    name: name.to_string(),
                    path: path.clone(),
                    source,
                }
            }
        })?;
        let source = String::from_utf8(bytes).map_err(|_| TemplateError::NotUtf8 {
            name: name.to_string(),
            path: path.clone(),
        })?;
        Ok(Template {
            name: name.to_string(),
            path,
            source,
        })
    }

    /// Reads and renders template `name` with `fields`.
    pub fn render(&self, name: &str, fields: &Fields) -> Result<Rendered, TemplateError> {
        self.load(name)?.render(fields)
    }

    /// The names of the templates in the folder (files `NAME.j2` with a
    /// plain name), sorted. A folder that does not exist has none.
    pub fn list(&self) -> Result<Vec<String>, TemplateError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(TemplateError::Unlistable {
                    dir: self.dir.clone(),
                    source,
                });
            }
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| TemplateError::Unlistable {
                dir: self.dir.clone(),
                source,
            })?;
            let file = entry.file_name().to_string_lossy().into_owned();
            if let Some(name) = file.strip_suffix(SUFFIX)
                && self.path_of(name).is_ok()
            {
                names.push(name.to_string());
            }
        }
        names.sort();
        Ok(names)
    }
}

impl Template {
    fn at(&self, line: Option<usize>) -> At {
        At {
            name: self.name.clone(),
            path: self.path.clone(),
            line,
        }
    }

    /// Renders with `fields` (keys as the job gives them: `remote-id`).
    pub fn render(&self, fields: &Fields) -> Result<Rendered, TemplateError> {
        let env = environment();
        let template = env
            .template_from_named_str(&self.name, &self.source)
            .map_err(|err| self.engine_error(&err, &[]))?;
        let context: BTreeMap<String, Value> = fields
            .iter()
            .map(|(key, value)| (variable(key), field_value(value)))
            .collect();
        let given: Vec<String> = context.keys().cloned().collect();
        let text = template
            .render(Value::from(context))
            .map_err(|err| self.engine_error(&err, &given))?;
        self.split(&text)
    }

    /// The variables the template reads that it does not set itself: the
    /// fields it uses (optional ones too), sorted, as the template names them.
    pub fn fields(&self) -> Result<Vec<String>, TemplateError> {
        let env = environment();
        let template = env
            .template_from_named_str(&self.name, &self.source)
            .map_err(|err| self.engine_error(&err, &[]))?;
        let used: BTreeSet<String> = template.undeclared_variables(false).into_iter().collect();
        Ok(used.into_iter().collect())
    }

    /// The `{# sample KEY = VALUE #}` fields, for `vfxadmin template check`.
    pub fn samples(&self) -> Result<Fields, TemplateError> {
        let mut samples = Fields::new();
        for (number, raw) in self.source.lines().enumerate() {
            let line = raw.trim();
            let Some(inner) = line
                .strip_prefix("{#")
                .and_then(|rest| rest.strip_suffix("#}"))
            else {
                continue;
            };
            let inner = inner.trim_matches(|c: char| c == '-' || c.is_whitespace());
            let Some(sample) = inner.strip_prefix("sample") else {
                continue;
            };
            if !sample.starts_with(char::is_whitespace) {
                continue;
            }
            let (key, value) = sample
                .split_once('=')
                .ok_or_else(|| TemplateError::BadSample {
                    at: self.at(Some(number + 1)),
                    line: line.to_string(),
                })?;
            samples.insert(key.trim().to_string(), value.trim().to_string());
        }
        Ok(samples)
    }

    /// The rendered text as a subject and a body.
    fn split(&self, text: &str) -> Result<Rendered, TemplateError> {
        let text = text.trim_start_matches(['\n', '\r', ' ', '\t']);
        let (first, rest) = text.split_once('\n').unwrap_or((text, ""));
        let subject = first
            .get(..8)
            .filter(|head| head.eq_ignore_ascii_case("subject:"))
            .map(|_| first[8..].trim().to_string())
            .ok_or_else(|| TemplateError::NoSubject { at: self.at(None) })?;
        let body = match rest.split_once('\n') {
            Some((blank, body)) if blank.trim().is_empty() => body,
            None if rest.trim().is_empty() => "",
            _ => return Err(TemplateError::NoBlankLine { at: self.at(None) }),
        };
        Ok(Rendered {
            subject,
            body: body.to_string(),
        })
    }

    /// The engine's error as ours. A missing field is named from the
    /// engine's detail (`` `remote_id` is undefined ``) when it is one of
    /// the names the template reads, so a typo in the template shows as
    /// such.
    fn engine_error(&self, err: &minijinja::Error, given: &[String]) -> TemplateError {
        let name = err.name().unwrap_or(&self.name);
        let at = At {
            name: name.to_string(),
            path: self.path.clone(),
            line: err.line(),
        };
        let detail = err.detail().unwrap_or("").to_string();
        match err.kind() {
            ErrorKind::SyntaxError => TemplateError::Syntax { at, detail },
            ErrorKind::UndefinedError => match undefined_name(&detail) {
                Some(field) => TemplateError::MissingField {
                    at,
                    field,
                    given: given.to_vec(),
                },
                None => TemplateError::Render {
                    at,
                    detail: format!("undefined value: {detail}"),
                },
            },
            _ => TemplateError::Render {
                at,
                detail: err.to_string_without_location(),
            },
        }
    }
}

/// `remote_id` from the engine's `` `remote_id` is undefined ``.
fn undefined_name(detail: &str) -> Option<String> {
    let rest = detail.strip_prefix('`')?;
    let (name, tail) = rest.split_once('`')?;
    (tail.trim() == "is undefined").then(|| name.to_string())
}

/// The engine's message without its `(in NAME:LINE)` tail, which
/// [`At`] says in our words.
trait WithoutLocation {
    fn to_string_without_location(&self) -> String;
}

impl WithoutLocation for minijinja::Error {
    fn to_string_without_location(&self) -> String {
        match self.detail() {
            Some(detail) => format!("{}: {detail}", self.kind()),
            None => self.kind().to_string(),
        }
    }
}

/// The name a field has in a template: `remote-id` is `remote_id`.
pub fn variable(key: &str) -> String {
    key.replace('-', "_")
}

/// A plain integer is a number, anything else (`03`, `+49...`) stays text.
fn field_value(value: &str) -> Value {
    match value.parse::<i64>() {
        Ok(number) if number.to_string() == value => Value::from(number),
        _ => Value::from(value),
    }
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_debug(true);
    // A notification is text, not HTML: nothing is escaped.
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    // Block tags on lines of their own leave no empty lines behind. The
    // builder fails only for clashing delimiters, which these are not.
    if let Ok(syntax) = SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .keep_trailing_newline(true)
        .build()
    {
        env.set_syntax(syntax);
    }
    env
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn folder(files: &[(&str, &str)]) -> (tempfile::TempDir, Templates) {
        let dir = tempfile::tempdir().unwrap();
        let templates = Templates::new(dir.path().join("templates"));
        std::fs::create_dir(templates.dir()).unwrap();
        for (name, text) in files {
            std::fs::write(templates.dir().join(name), text).unwrap();
        }
        (dir, templates)
    }

    const RECEIVED: &str = "{# sample pages = 3 #}\n{# sample remote-id = +49 30 1234567 #}\nSubject: Fax from {{ remote_id }}, {{ pages }} {{ \"page\" if pages == 1 else \"pages\" }}\n\nA fax came in from {{ remote_id }}.\n{% if duration is defined %}\nIt took {{ duration }}.\n{% endif %}\nvmail\n";

    #[test]
    fn a_template_renders_a_subject_and_a_body_from_the_fields() {
        let (_dir, templates) = folder(&[("fax-received.j2", RECEIVED)]);
        let out = templates
            .render(
                "fax-received",
                &fields(&[
                    ("pages", "1"),
                    ("remote-id", "+1 555 0100"),
                    ("duration", "0:42"),
                ]),
            )
            .unwrap();
        assert_eq!(out.subject, "Fax from +1 555 0100, 1 page");
        assert_eq!(
            out.body,
            "A fax came in from +1 555 0100.\nIt took 0:42.\nvmail\n"
        );
        let out = templates
            .render(
                "fax-received",
                &fields(&[("pages", "12"), ("remote-id", "0301234")]),
            )
            .unwrap();
        assert_eq!(out.subject, "Fax from 0301234, 12 pages");
        assert_eq!(out.body, "A fax came in from 0301234.\nvmail\n");
    }

    #[test]
    fn a_missing_field_names_the_template_the_line_and_the_field() {
        let (dir, templates) = folder(&[("fax-received.j2", RECEIVED)]);
        let err = templates
            .render("fax-received", &fields(&[("pages", "2")]))
            .unwrap_err();
        let path = dir.path().join("templates/fax-received.j2");
        assert_eq!(
            err.to_string(),
            format!(
                "template `fax-received` ({}) line 3: field `remote_id` is missing (the job gives pages)",
                path.display()
            )
        );
    }

    #[test]
    fn a_syntax_error_names_the_line() {
        let (dir, templates) = folder(&[("bad.j2", "Subject: x\n\n{{ pages }\n")]);
        let err = templates.render("bad", &Fields::new()).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "template `bad` ({}) line 3: syntax error: unexpected `}}`, expected end of variable block",
                dir.path().join("templates/bad.j2").display()
            )
        );
    }

    #[test]
    fn names_cannot_leave_the_folder() {
        let (_dir, templates) = folder(&[]);
        for name in ["../x", "/etc/passwd", "a/b", "x.j2", "", ".."] {
            let err = templates.render(name, &Fields::new()).unwrap_err();
            assert!(
                matches!(err, TemplateError::BadName { .. }),
                "{name}: {err}"
            );
        }
        assert_eq!(
            templates.path_of("../x").unwrap_err().to_string(),
            "template name `../x` is not a plain name (letters, digits, `-` and `_`; it names templates/NAME.j2)"
        );
    }

    #[test]
    fn the_shape_is_a_subject_a_blank_line_and_a_body() {
        let (_dir, templates) = folder(&[
            ("nosubj.j2", "Hello\n"),
            ("noblank.j2", "Subject: s\nbody\n"),
            ("only.j2", "subject: just this"),
        ]);
        let err = |name: &str| templates.render(name, &Fields::new()).unwrap_err();
        assert!(matches!(err("nosubj"), TemplateError::NoSubject { .. }));
        assert!(matches!(err("noblank"), TemplateError::NoBlankLine { .. }));
        let only = templates.render("only", &Fields::new()).unwrap();
        assert_eq!(
            (only.subject.as_str(), only.body.as_str()),
            ("just this", "")
        );
        assert!(matches!(
            templates.render("absent", &Fields::new()).unwrap_err(),
            TemplateError::NotFound { .. }
        ));
    }

    #[test]
    fn nothing_is_escaped_and_numbers_stay_text_unless_plain() {
        let (_dir, templates) = folder(&[(
            "t.j2",
            "Subject: <{{ a }}> & {{ b }}\n\n{{ c + 1 }} {{ d }}\n",
        )]);
        let out = templates
            .render(
                "t",
                &fields(&[("a", "x@y"), ("b", "\"q\""), ("c", "41"), ("d", "007")]),
            )
            .unwrap();
        assert_eq!(out.subject, "<x@y> & \"q\"");
        assert_eq!(out.body, "42 007\n");
    }

    #[test]
    fn samples_and_used_fields_are_read_from_the_template() {
        let (_dir, templates) = folder(&[("fax-received.j2", RECEIVED)]);
        let template = templates.load("fax-received").unwrap();
        assert_eq!(
            template.samples().unwrap(),
            fields(&[("pages", "3"), ("remote-id", "+49 30 1234567")])
        );
        assert_eq!(
            template.fields().unwrap(),
            vec!["duration", "pages", "remote_id"]
        );
        assert_eq!(templates.list().unwrap(), vec!["fax-received"]);
    }
}
