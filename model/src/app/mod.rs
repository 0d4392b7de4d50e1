//! The app as the host sees it: the parts every component describes, merged into one
//! [`AppDef`], validated, and remembered with the component that runs each function and
//! API.

mod merge;
mod validate;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::types::{AppDef, IngestDef, Model, TableDef};

pub use merge::{merge, ComponentPart, MergeError};
pub use validate::{validate, Problem, ValidationErrors};

/// Source language of a component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    Rust,
    #[value(name = "ts", alias = "typescript", alias = "js")]
    #[serde(rename = "typescript")]
    TypeScript,
    #[value(alias = "py")]
    Python,
}

impl std::fmt::Display for Language {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Language::Rust => "rust",
            Language::TypeScript => "typescript",
            Language::Python => "python",
        })
    }
}

/// One built component of the app.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComponentInfo {
    pub name: String,
    pub language: Language,
    /// Source directory.
    pub source: PathBuf,
    /// The built `.wasm` file.
    pub wasm: PathBuf,
    pub wasm_size: u64,
    /// Hex SHA-256 of the `.wasm` file.
    pub digest: String,
    /// Streaming functions this component runs.
    pub functions: Vec<String>,
    /// Query APIs this component serves.
    pub apis: Vec<String>,
    /// Windowed aggregations this component computes.
    #[serde(default)]
    pub windowed_aggregations: Vec<String>,
}

/// A whole app: its components and the merged description of everything they declare.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct App {
    pub name: String,
    pub components: Vec<ComponentInfo>,
    pub def: AppDef,
}

impl App {
    /// The model that a reference such as `Order` or `Order@1.1` names.
    pub fn model(&self, reference: &str) -> Option<&Model> {
        self.def.models.iter().find(|m| model_ref(m) == reference)
    }

    /// The sort key of `table`: its own order-by, else its model's key fields.
    pub fn order_by(&self, table: &TableDef) -> Vec<String> {
        if !table.order_by.is_empty() {
            return table.order_by.clone();
        }
        self.key_fields(&table.model)
    }

    /// The key fields of model `reference` (none for an unknown model).
    pub fn key_fields(&self, reference: &str) -> Vec<String> {
        self.model(reference)
            .map(|m| {
                m.fields
                    .iter()
                    .filter(|f| f.key)
                    .map(|f| f.name.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The route of ingest endpoint `ingest` under `/ingest/`: its name, or
    /// `name/version` when its model is versioned (`Order@1.1` is `POST /ingest/Order/1.1`).
    pub fn ingest_route(&self, ingest: &IngestDef) -> String {
        match self.model(&ingest.model).and_then(|m| m.version.as_ref()) {
            Some(version) => format!("{}/{version}", ingest.name),
            None => ingest.name.clone(),
        }
    }

    /// The component that runs streaming function `function`.
    pub fn function_component(&self, function: &str) -> Option<&ComponentInfo> {
        self.components
            .iter()
            .find(|c| c.functions.iter().any(|f| f == function))
    }

    /// The component that computes windowed aggregation `aggregation`.
    pub fn windowed_aggregation_component(&self, aggregation: &str) -> Option<&ComponentInfo> {
        self.components
            .iter()
            .find(|c| c.windowed_aggregations.iter().any(|a| a == aggregation))
    }

    /// The component that serves query API `api`.
    pub fn api_component(&self, api: &str) -> Option<&ComponentInfo> {
        self.components
            .iter()
            .find(|c| c.apis.iter().any(|a| a == api))
    }
}

/// How other definitions refer to a model: `name`, or `name@version` when versioned.
pub fn model_ref(model: &Model) -> String {
    match &model.version {
        Some(version) => format!("{}@{version}", model.name),
        None => model.name.clone(),
    }
}
