//! `vfxadmin template`: the notification templates of `.job` drops, in
//! `templates/` beside the ini. `check` renders one with sample fields
//! (the template's own `{# sample KEY = VALUE #}` lines, then each
//! `--field`) and shows the message pickup would queue, or the error that
//! would quarantine such a job; `list` names the templates and the fields
//! each reads. The rendering is `vmail_message::template`'s, the same code
//! pickup runs.

use anyhow::anyhow;
use clap::{Args, Subcommand};
use std::path::Path;
use std::process::ExitCode;
use vmail_message::template::{Fields, Templates};

#[derive(Debug, Args)]
pub struct TemplateArgs {
    #[command(subcommand)]
    pub action: TemplateAction,
}

#[derive(Debug, Subcommand)]
pub enum TemplateAction {
    /// Render a template with sample fields and show the message, or the
    /// error (template, line, field) that would quarantine a job using it
    Check {
        /// The template's name: templates/NAME.j2 beside the ini
        name: String,
        /// A field for this render, as a job's `[fields]` gives it
        /// (`remote-id=+1 555 0100`); wins over the template's sample
        #[arg(long = "field", short = 'f', value_name = "KEY=VALUE", value_parser = parse_field)]
        fields: Vec<(String, String)>,
        /// Leave out the template's `{# sample KEY = VALUE #}` fields
        #[arg(long)]
        no_samples: bool,
    },
    /// List the templates beside the ini, with the fields each reads
    List,
}

/// Why a `--field` is refused; clap prints it after the flag.
#[derive(Debug, thiserror::Error)]
enum BadField {
    #[error("`{0}` is not KEY=VALUE")]
    NoEquals(String),
    #[error("`{0}` has no key before `=`")]
    NoKey(String),
}

/// `KEY=VALUE` as a field: the key in lower case, as pickup takes it.
fn parse_field(text: &str) -> Result<(String, String), BadField> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| BadField::NoEquals(text.to_string()))?;
    let key = key.trim().to_ascii_lowercase();
    if key.is_empty() {
        return Err(BadField::NoKey(text.to_string()));
    }
    Ok((key, value.trim().to_string()))
}

pub fn run(config_path: &Path, args: &TemplateArgs) -> anyhow::Result<ExitCode> {
    let templates = Templates::beside(config_path);
    match &args.action {
        TemplateAction::Check {
            name,
            fields,
            no_samples,
        } => check(&templates, name, fields, *no_samples),
        TemplateAction::List => list(&templates),
    }
}

fn check(
    templates: &Templates,
    name: &str,
    extra: &[(String, String)],
    no_samples: bool,
) -> anyhow::Result<ExitCode> {
    let template = templates.load(name).map_err(|e| anyhow!("{e}"))?;
    let mut fields = if no_samples {
        Fields::new()
    } else {
        template.samples().map_err(|e| anyhow!("{e}"))?
    };
    fields.extend(extra.iter().cloned());
    let used = template.fields().map_err(|e| anyhow!("{e}"))?;
    let rendered = template.render(&fields).map_err(|e| anyhow!("{e}"))?;
    println!("{name}: {}", template.path.display());
    println!("reads: {}", list_or_none(&used));
    let given: Vec<String> = fields.iter().map(|(k, v)| format!("{k} = {v}")).collect();
    println!("fields: {}", list_or_none(&given));
    println!("---");
    println!("Subject: {}", rendered.subject);
    println!();
    print!("{}", rendered.body);
    if !rendered.body.is_empty() && !rendered.body.ends_with('\n') {
        println!();
    }
    Ok(ExitCode::SUCCESS)
}

fn list(templates: &Templates) -> anyhow::Result<ExitCode> {
    let names = templates.list().map_err(|e| anyhow!("{e}"))?;
    if names.is_empty() {
        println!("no templates in {}", templates.dir().display());
        return Ok(ExitCode::SUCCESS);
    }
    let width = names.iter().map(String::len).max().unwrap_or(0);
    let mut broken = false;
    for name in &names {
        let reads = templates.load(name).and_then(|t| t.fields());
        match reads {
            Ok(used) => println!("{name:<width$}  reads {}", list_or_none(&used)),
            Err(err) => {
                broken = true;
                println!("{name:<width$}  error: {err}");
            }
        }
    }
    Ok(if broken {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "(none)".to_string()
    } else {
        items.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_is_key_equals_value() {
        assert_eq!(
            parse_field("Remote-ID = +1 555").unwrap(),
            ("remote-id".to_string(), "+1 555".to_string())
        );
        assert_eq!(parse_field("a=b=c").unwrap().1, "b=c");
        assert!(parse_field("novalue").is_err());
        assert!(parse_field("=x").is_err());
    }
}
