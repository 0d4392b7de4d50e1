//! App source from models and tables, in each language: what `moose init --from-clickhouse`
//! writes for the tables of an existing database.
//!
//! Each generator lowers the model types into its SDK's spelling ([`TypeLowering`]) and
//! declares every table with its engine, sort key and storage options, externally managed.

mod python;
mod rust;
mod typescript;

use moose_model::app::Language;
use moose_model::types::{Model, TableDef, TableOptions};

/// The models (nested ones first) and tables an app declares.
#[derive(Debug, Clone, Copy)]
pub struct Declarations<'a> {
    pub models: &'a [Model],
    pub tables: &'a [TableDef],
    /// Where they were read from, for the file's header.
    pub origin: &'a str,
}

/// The app's source file in `language`: its path in the app and its text. Fails naming a
/// column the language cannot express.
pub fn app_source(
    language: Language,
    declarations: Declarations<'_>,
) -> Result<(&'static str, String), String> {
    match language {
        Language::Rust => rust::source(declarations).map(|s| ("src/lib.rs", s)),
        Language::TypeScript => Ok(("app.ts", typescript::source(declarations))),
        Language::Python => Ok(("app.py", python::source(declarations))),
    }
}

/// A type name for model `name`: `user_events` → `UserEvents`, never empty, never starting
/// with a digit.
fn type_name(name: &str) -> String {
    let pascal = moose_olap::introspect::pascal_case(name);
    match pascal.chars().next() {
        Some(c) if c.is_ascii_alphabetic() => pascal,
        _ => format!("M{pascal}"),
    }
}

/// A snake_case identifier for column `name` (`User Id` → `user_id`), never starting with
/// a digit.
fn snake_identifier(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 && !out.ends_with('_') {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let out = out.trim_matches('_').to_string();
    match out.chars().next() {
        Some(c) if c.is_ascii_alphabetic() => out,
        _ => format!("f_{out}"),
    }
}

/// `text` as a double-quoted string literal (JSON's escapes are valid in all three
/// languages).
fn quoted(text: &str) -> String {
    serde_json::Value::String(text.to_string()).to_string()
}

/// `["a", "b"]`: a list of strings, in the syntax of all three languages.
fn strings(values: &[String]) -> String {
    let values: Vec<String> = values.iter().map(|v| quoted(v)).collect();
    format!("[{}]", values.join(", "))
}

/// A setting's value as the SDKs take it: numbers as numbers, strings unquoted (the SDKs
/// quote them again).
fn setting_value(value: &str) -> String {
    if value.parse::<f64>().is_ok() {
        value.to_string()
    } else {
        match value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
            Some(text) => quoted(&text.replace("\\'", "'").replace("\\\\", "\\")),
            None => quoted(value),
        }
    }
}

/// The table options TypeScript and Python write alike, as `(option, literal)`: the
/// option's snake_case name (TypeScript renames it) and a literal in the syntax both share.
fn plain_options(options: &TableOptions) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if let Some(partition) = &options.partition_by {
        out.push(("partition_by", quoted(partition)));
    }
    if !options.primary_key.is_empty() {
        out.push(("primary_key", strings(&options.primary_key)));
    }
    if let Some(sample) = &options.sample_by {
        out.push(("sample_by", quoted(sample)));
    }
    if let Some(ttl) = &options.ttl {
        out.push(("ttl", quoted(ttl)));
    }
    if !options.settings.is_empty() {
        let settings: Vec<String> = options
            .settings
            .iter()
            .map(|(name, value)| format!("{}: {}", quoted(name), setting_value(value)))
            .collect();
        out.push(("settings", format!("{{ {} }}", settings.join(", "))));
    }
    out
}

#[cfg(test)]
mod tests;
