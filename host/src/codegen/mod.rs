//! App source from models and tables, in each language: what `moose init --from-clickhouse`
//! writes for the tables of an existing database.
//!
//! Each generator lowers the model types into its SDK's spelling ([`TypeLowering`]) and
//! declares every table with its engine, sort key and storage options, externally managed.

mod python;
mod rust;
mod typescript;

use moose_model::app::Language;
use moose_model::types::{Model, TableDef};

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

/// A snake_case identifier for column `name`; `None` when it is already one.
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

#[cfg(test)]
mod tests;
