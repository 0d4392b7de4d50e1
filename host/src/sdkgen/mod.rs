//! Typed client SDKs for an app's HTTP data plane (`moose generate sdk`): model types,
//! ingest helpers that send records in batches, query API calls with typed parameters and
//! typed errors, in TypeScript ([`typescript`]) or Python ([`python`]).
//!
//! Generated from the [`App`] itself. This module resolves what both languages need: the
//! identifiers of models, endpoints and APIs (unique, never a keyword), models in
//! dependency order, and where response values need converting after JSON parsing.

mod python;
mod typescript;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use crate::openapi::schema_name;
use moose_model::app::{model_ref, App};
use moose_model::types::{ApiDef, DataType, IngestDef, Model, ScalarType, TypeWrapper};

/// Language of a generated client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Language {
    /// One `client.ts` using the global `fetch` (Node 18+, browsers).
    Ts,
    /// A `moose_client` package using only the standard library (Python 3.11+).
    Python,
}

/// Why a client could not be generated or written.
#[derive(Debug, thiserror::Error)]
pub enum SdkError {
    #[error("{user} refers to model `{model}`, which the app does not declare")]
    UnknownModel { user: String, model: String },
    #[error("writing {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// One generated file, its path relative to the output directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    pub path: PathBuf,
    pub contents: String,
}

/// The client of `app` in `language`.
pub fn generate(app: &App, language: Language) -> Result<Vec<GeneratedFile>, SdkError> {
    match language {
        Language::Ts => typescript::generate(app),
        Language::Python => python::generate(app),
    }
}

/// Writes `files` under `out`, creating directories as needed; returns the paths written.
pub fn write(out: &Path, files: &[GeneratedFile]) -> Result<Vec<PathBuf>, SdkError> {
    let mut written = Vec::with_capacity(files.len());
    for file in files {
        let path = out.join(&file.path);
        let failed = |source| SdkError::Write {
            path: path.clone(),
            source,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(failed)?;
        }
        std::fs::write(&path, &file.contents).map_err(failed)?;
        written.push(path);
    }
    Ok(written)
}

/// Words a language does not allow as a name, in two namespaces.
struct Reserved {
    /// Names nothing may take.
    keywords: &'static [&'static str],
    /// Names that types may not take: built-in types, the client's own types.
    types: &'static [&'static str],
    /// Names that methods and parameters may not take.
    members: &'static [&'static str],
    /// Method names must not be type names either (Python evaluates the annotations of a
    /// method in its class's scope, where an earlier method would hide the type).
    members_avoid_types: bool,
    /// How an endpoint or API name becomes a method name, before it is made valid.
    method_case: fn(&str) -> String,
}

/// `name` with every character other than ASCII letters, digits and `_` made `_`, and a
/// leading `_` when it would start with a digit (or be empty).
fn sanitize(name: &str) -> String {
    let mut ident: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if !ident.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        ident.insert(0, '_');
    }
    ident
}

/// Identifiers handed out in one namespace: valid, not reserved, each used once.
struct Names {
    taken: HashSet<String>,
}

impl Names {
    /// Names that are free except those in `reserved`.
    fn new(reserved: &[&[&str]]) -> Self {
        Self {
            taken: reserved
                .iter()
                .flat_map(|words| words.iter().map(|w| w.to_string()))
                .collect(),
        }
    }

    /// `wanted` as a valid identifier, with `_` appended until it is unused.
    fn unique(&mut self, wanted: &str) -> String {
        let mut ident = sanitize(wanted);
        while self.taken.contains(&ident) {
            ident.push('_');
        }
        self.taken.insert(ident.clone());
        ident
    }
}

/// A model and its type name in the client.
struct ModelItem<'a> {
    ident: String,
    model: &'a Model,
}

/// An ingest endpoint and the client method that posts to it.
struct IngestItem<'a> {
    method: String,
    /// The route under `/ingest/`: `name`, or `name/version` for a versioned model.
    route: String,
    def: &'a IngestDef,
    /// Type name of the endpoint's model.
    model: String,
}

/// A query API and the client method that calls it.
struct ApiItem<'a> {
    method: String,
    /// Type name of the API's parameters.
    params_type: String,
    /// `/api/<name>` or `/api/<name>/<version>`.
    path: String,
    def: &'a ApiDef,
    /// Type name of the API's response rows.
    response: String,
}

/// What a client exposes, with every name resolved for one language.
struct Surface<'a> {
    app: &'a App,
    /// Nested models come before the models that use them.
    models: Vec<ModelItem<'a>>,
    ingests: Vec<IngestItem<'a>>,
    apis: Vec<ApiItem<'a>>,
    /// Model reference → type name.
    type_names: BTreeMap<String, String>,
}

impl<'a> Surface<'a> {
    fn new(app: &'a App, reserved: &Reserved) -> Result<Self, SdkError> {
        let mut types = Names::new(&[reserved.keywords, reserved.types]);
        let mut type_names = BTreeMap::new();
        let models: Vec<ModelItem<'a>> = models_in_dependency_order(app)
            .into_iter()
            .map(|model| {
                let reference = model_ref(model);
                let ident = types.unique(&schema_name(&reference));
                type_names.insert(reference, ident.clone());
                ModelItem { ident, model }
            })
            .collect();
        let type_of = |user: String, reference: &str| {
            app.model(reference)
                .and_then(|m| type_names.get(&model_ref(m)).cloned())
                .ok_or_else(|| SdkError::UnknownModel {
                    user,
                    model: reference.to_string(),
                })
        };
        for item in &models {
            for field in &item.model.fields {
                if let ScalarType::Nested(nested) = &field.data_type.leaf {
                    let user = format!("field `{}` of `{}`", field.name, model_ref(item.model));
                    type_of(user, nested)?;
                }
            }
        }

        let member_names = || {
            let mut names = Names::new(&[reserved.keywords, reserved.members]);
            if reserved.members_avoid_types {
                names.taken.extend(models.iter().map(|m| m.ident.clone()));
            }
            names
        };
        let mut ingest_methods = member_names();
        let ingests = app
            .def
            .ingests
            .iter()
            .map(|def| {
                let route = app.ingest_route(def);
                let wanted = match app.model(&def.model).and_then(|m| m.version.as_ref()) {
                    Some(version) => format!("{}_v{version}", def.name),
                    None => def.name.clone(),
                };
                Ok(IngestItem {
                    method: ingest_methods.unique(&(reserved.method_case)(&wanted)),
                    model: type_of(format!("ingest endpoint `{route}`"), &def.model)?,
                    route,
                    def,
                })
            })
            .collect::<Result<Vec<_>, SdkError>>()?;

        let mut api_methods = member_names();
        let apis = app
            .def
            .apis
            .iter()
            .map(|def| {
                let (wanted, path) = match &def.version {
                    Some(version) => (
                        format!("{}_v{version}", def.name),
                        format!("/api/{}/{version}", def.name),
                    ),
                    None => (def.name.clone(), format!("/api/{}", def.name)),
                };
                let method = api_methods.unique(&(reserved.method_case)(&wanted));
                let params_type = types.unique(&format!("{}Params", upper_first(&method)));
                Ok(ApiItem {
                    response: type_of(format!("query API `{wanted}`"), &def.response)?,
                    method,
                    params_type,
                    path,
                    def,
                })
            })
            .collect::<Result<Vec<_>, SdkError>>()?;

        Ok(Self {
            app,
            models,
            ingests,
            apis,
            type_names,
        })
    }

    /// The type name of model `reference` (checked to exist by [`Surface::new`] for every
    /// reference the app makes).
    fn type_name(&self, reference: &str) -> String {
        self.app
            .model(reference)
            .and_then(|m| self.type_names.get(&model_ref(m)))
            .cloned()
            .unwrap_or_else(|| sanitize(reference))
    }

    /// For each model whose values need converting after parsing (directly or through a
    /// nested model), its type name and the conversion of each such field. `converts`
    /// says which scalars need it.
    fn conversions(
        &self,
        converts: fn(&ScalarType) -> Option<Conv>,
    ) -> Vec<(String, Vec<(String, Conv)>)> {
        let mut needing = BTreeSet::new();
        // Models come nested-first, so one pass sees every nested model decided; a cycle
        // (which validation refuses) only loses conversions.
        let mut shapes = Vec::new();
        for item in &self.models {
            let fields: Vec<(String, Conv)> = item
                .model
                .fields
                .iter()
                .filter_map(|f| {
                    self.conversion(&f.data_type, 0, converts, &needing)
                        .map(|c| (f.name.clone(), c))
                })
                .collect();
            if !fields.is_empty() {
                needing.insert(item.ident.clone());
                shapes.push((item.ident.clone(), fields));
            }
        }
        shapes
    }

    fn conversion(
        &self,
        ty: &DataType,
        depth: usize,
        converts: fn(&ScalarType) -> Option<Conv>,
        needing: &BTreeSet<String>,
    ) -> Option<Conv> {
        match ty.wrappers.get(depth) {
            Some(TypeWrapper::Nullable) => self.conversion(ty, depth + 1, converts, needing),
            Some(TypeWrapper::Array) => self
                .conversion(ty, depth + 1, converts, needing)
                .map(|c| Conv::Array(Box::new(c))),
            Some(TypeWrapper::Map) => self
                .conversion(ty, depth + 1, converts, needing)
                .map(|c| Conv::Map(Box::new(c))),
            None => match &ty.leaf {
                ScalarType::Nested(reference) => {
                    let ident = self.type_name(reference);
                    needing.contains(&ident).then_some(Conv::Model(ident))
                }
                scalar => converts(scalar),
            },
        }
    }
}

/// How a response value is converted after JSON parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Conv {
    /// A float sent as a number too large for exact parsing: back to a number.
    Float,
    /// A decimal sent as a JSON number: to its decimal string.
    Decimal,
    Array(Box<Conv>),
    Map(Box<Conv>),
    /// A nested record of the model with this type name.
    Model(String),
}

/// The app's models with every nested model before the models that use it, otherwise
/// in declaration order.
fn models_in_dependency_order(app: &App) -> Vec<&Model> {
    fn visit<'a>(
        app: &'a App,
        model: &'a Model,
        placed: &mut BTreeSet<String>,
        visiting: &mut BTreeSet<String>,
        order: &mut Vec<&'a Model>,
    ) {
        let reference = model_ref(model);
        if placed.contains(&reference) || !visiting.insert(reference.clone()) {
            return;
        }
        for field in &model.fields {
            if let ScalarType::Nested(nested) = &field.data_type.leaf {
                if let Some(nested) = app.model(nested) {
                    visit(app, nested, placed, visiting, order);
                }
            }
        }
        visiting.remove(&reference);
        placed.insert(reference);
        order.push(model);
    }
    let mut order = Vec::with_capacity(app.def.models.len());
    let (mut placed, mut visiting) = (BTreeSet::new(), BTreeSet::new());
    for model in &app.def.models {
        visit(app, model, &mut placed, &mut visiting, &mut order);
    }
    order
}

fn upper_first(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// A string literal valid in both TypeScript and Python (a JSON string).
fn string_literal(text: &str) -> String {
    serde_json::Value::String(text.to_string()).to_string()
}

/// The notes every client shows about a field: its doc, ClickHouse type, wire format,
/// key and default.
fn field_notes(field: &moose_model::types::Field) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(doc) = &field.doc {
        notes.push(doc.clone());
    }
    let mut kind = format!("ClickHouse `{}`", field.data_type.type_name());
    if let Some(format) = wire_format(&field.data_type.leaf) {
        kind.push_str(&format!(", {format}"));
    }
    notes.push(format!("{kind}."));
    if field.key {
        notes.push("Part of the model's key.".into());
    }
    if let Some(default) = &field.default {
        notes.push(format!(
            "May be omitted on ingest: defaults to `{default}`."
        ));
    }
    notes
}

/// How a scalar is written as a JSON string, for the ones where it matters.
fn wire_format(leaf: &ScalarType) -> Option<&'static str> {
    match leaf {
        ScalarType::Date => Some("`YYYY-MM-DD`"),
        ScalarType::DateTime | ScalarType::DateTime64(_) => {
            Some("RFC 3339 (`2024-05-01T12:00:00Z`) or `YYYY-MM-DD hh:mm:ss` in UTC")
        }
        ScalarType::Decimal(_) => Some("a decimal string such as `\"12.50\"`"),
        ScalarType::Uuid => Some("a UUID string"),
        ScalarType::Int128 | ScalarType::Int256 | ScalarType::Uint128 | ScalarType::Uint256 => {
            Some("a number, or a string of digits to keep values beyond 64 bits exact")
        }
        ScalarType::FixedString(_) => Some("a string of at most that many bytes"),
        ScalarType::Ipv4 => Some("dotted text such as `\"10.0.0.1\"`"),
        ScalarType::Ipv6 => Some("text such as `\"2001:db8::1\"` (IPv4 as `\"::ffff:10.0.0.1\"`)"),
        ScalarType::Geo(_) => Some("`[x, y]` points in nested arrays"),
        _ => None,
    }
}

/// The notes every client shows about a query parameter.
fn param_notes(param: &moose_model::types::ApiParam) -> String {
    let mut notes = Vec::new();
    if let Some(doc) = &param.doc {
        notes.push(doc.trim_end_matches('.').to_string() + ".");
    }
    let mut kind = format!("ClickHouse `{}`", param.data_type.type_name());
    if let Some(format) = wire_format(&param.data_type.leaf) {
        kind.push_str(&format!(", {format}"));
    }
    notes.push(format!("{kind}."));
    match (param.min, param.max) {
        (Some(min), Some(max)) => notes.push(format!("From {min} to {max}.")),
        (Some(min), None) => notes.push(format!("At least {min}.")),
        (None, Some(max)) => notes.push(format!("At most {max}.")),
        (None, None) => {}
    }
    match (&param.default, param.required) {
        (Some(default), _) => notes.push(format!("Default (applied by the server): `{default}`.")),
        (None, true) => notes.push("Required.".into()),
        (None, false) => {}
    }
    notes.join(" ")
}

/// A parameter must be given: required and without a default.
fn param_required(param: &moose_model::types::ApiParam) -> bool {
    param.required && param.default.is_none()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use moose_model::types::{
        ApiParam, AppDef, DecimalSpec, EnumMember, Field, GeoShape, IngestDef,
    };

    const NOTHING_RESERVED: Reserved = Reserved {
        keywords: &[],
        types: &[],
        members: &[],
        members_avoid_types: false,
        method_case: str::to_string,
    };

    fn ty(wrappers: Vec<TypeWrapper>, leaf: ScalarType) -> DataType {
        DataType::new(wrappers, leaf)
    }

    /// An app with every field type, awkward names, a versioned model and a versioned API.
    pub(crate) fn rich_app() -> App {
        let tiers = ScalarType::Enum(vec![
            EnumMember {
                name: "small".into(),
                value: 1,
            },
            EnumMember {
                name: "it's \"big\"".into(),
                value: 2,
            },
        ]);
        let mut address = Model::new(
            "Address",
            vec![
                Field::new("city", ty(vec![], ScalarType::String)),
                Field::new(
                    "price",
                    ty(
                        vec![],
                        ScalarType::Decimal(DecimalSpec {
                            precision: 10,
                            scale: 2,
                        }),
                    ),
                ),
            ],
        );
        address.version = Some("1.1".into());
        let mut with_default = Field::new("count", ty(vec![], ScalarType::Uint16));
        with_default.default = Some("0".into());
        let mut key = Field::new("id", ty(vec![], ScalarType::Uint64));
        key.key = true;
        key.doc = Some("The id */ \"\"\" of it.".into());
        let fields = vec![
            key,
            Field::new("from", ty(vec![], ScalarType::String)),
            Field::new("class", ty(vec![], ScalarType::LowCardinalityString)),
            Field::new("my-field", ty(vec![], ScalarType::Int8)),
            Field::new("2fast", ty(vec![], ScalarType::Int16)),
            Field::new("i32", ty(vec![], ScalarType::Int32)),
            Field::new("i64", ty(vec![], ScalarType::Int64)),
            Field::new("u8", ty(vec![], ScalarType::Uint8)),
            Field::new("u32", ty(vec![], ScalarType::Uint32)),
            Field::new("f32", ty(vec![], ScalarType::Float32)),
            Field::new("f64", ty(vec![], ScalarType::Float64)),
            Field::new("ok", ty(vec![], ScalarType::Boolean)),
            Field::new("day", ty(vec![], ScalarType::Date)),
            Field::new("at", ty(vec![], ScalarType::DateTime)),
            Field::new("at_ms", ty(vec![], ScalarType::DateTime64(3))),
            Field::new("uid", ty(vec![], ScalarType::Uuid)),
            Field::new("tier", ty(vec![], tiers.clone())),
            Field::new("extra", ty(vec![], ScalarType::Json)),
            Field::new("big", ty(vec![], ScalarType::Int256)),
            Field::new("code", ty(vec![], ScalarType::FixedString(2))),
            Field::new("ip", ty(vec![], ScalarType::Ipv6)),
            Field::new("area", ty(vec![], ScalarType::Geo(GeoShape::Polygon))),
            Field::new(
                "ship_to",
                ty(vec![], ScalarType::Nested("Address@1.1".into())),
            ),
            Field::new(
                "stops",
                ty(
                    vec![TypeWrapper::Array],
                    ScalarType::Nested("Address@1.1".into()),
                ),
            ),
            Field::new(
                "tags",
                ty(
                    vec![TypeWrapper::Array, TypeWrapper::Nullable],
                    ScalarType::String,
                ),
            ),
            Field::new(
                "scores",
                ty(
                    vec![TypeWrapper::Map, TypeWrapper::Array],
                    ScalarType::Float64,
                ),
            ),
            Field::new("note", ty(vec![TypeWrapper::Nullable], ScalarType::String)),
            with_default,
        ];
        // The nested model is declared after its user: the client must reorder.
        let order = Model::new("Order", fields);
        let param = |name: &str, leaf: ScalarType, required: bool| ApiParam {
            name: name.into(),
            data_type: ty(vec![], leaf),
            required,
            default: None,
            min: None,
            max: None,
            doc: None,
        };
        let mut limit = param("limit", ScalarType::Uint32, false);
        limit.default = Some("100".into());
        limit.min = Some(1.0);
        limit.max = Some(1000.0);
        let mut ids = param("id", ScalarType::Int64, false);
        ids.data_type.wrappers = vec![TypeWrapper::Array];
        let params = vec![
            param("customer", ScalarType::String, true),
            param("from", ScalarType::Date, false),
            param("class", tiers, false),
            param("my-param", ScalarType::Boolean, false),
            limit,
            ids,
        ];
        App {
            name: "shop".into(),
            components: vec![],
            def: AppDef {
                models: vec![order, address],
                ingests: vec![IngestDef {
                    name: "Order".into(),
                    model: "Order".into(),
                    stream: "Order".into(),
                    dead_letter: None,
                }],
                apis: vec![
                    ApiDef {
                        name: "orders".into(),
                        version: None,
                        params: params.clone(),
                        response: "Order".into(),
                        doc: Some("Orders of one customer.".into()),
                    },
                    ApiDef {
                        name: "orders".into(),
                        version: Some("2.0".into()),
                        params,
                        response: "Address@1.1".into(),
                        doc: None,
                    },
                ],
                ..AppDef::default()
            },
        }
    }

    #[test]
    fn identifiers_are_valid_unique_and_not_reserved() {
        assert_eq!(sanitize("my-field"), "my_field");
        assert_eq!(sanitize("2fast"), "_2fast");
        assert_eq!(sanitize(""), "_");
        let mut names = Names::new(&[&["class"]]);
        assert_eq!(names.unique("class"), "class_");
        assert_eq!(names.unique("a-b"), "a_b");
        assert_eq!(names.unique("a_b"), "a_b_");
    }

    #[test]
    fn surface_orders_models_and_names_versions() {
        let app = rich_app();
        let reserved = NOTHING_RESERVED;
        let surface = Surface::new(&app, &reserved).expect("surface");
        let idents: Vec<&str> = surface.models.iter().map(|m| m.ident.as_str()).collect();
        assert_eq!(idents, ["Address_v1_1", "Order"]);
        let apis: Vec<(&str, &str, &str)> = surface
            .apis
            .iter()
            .map(|a| (a.method.as_str(), a.path.as_str(), a.response.as_str()))
            .collect();
        assert_eq!(
            apis,
            [
                ("orders", "/api/orders", "Order"),
                ("orders_v2_0", "/api/orders/2.0", "Address_v1_1"),
            ]
        );
        assert_eq!(surface.apis[1].params_type, "Orders_v2_0Params");
    }

    #[test]
    fn versions_of_an_ingest_endpoint_get_their_own_routes_methods_and_types() {
        let app = crate::infra::tests::versioned_app();
        let reserved = NOTHING_RESERVED;
        let surface = Surface::new(&app, &reserved).expect("surface");
        let ingests: Vec<(&str, &str, &str)> = surface
            .ingests
            .iter()
            .map(|i| (i.method.as_str(), i.route.as_str(), i.model.as_str()))
            .collect();
        assert_eq!(
            ingests,
            [
                ("Order_v1_0", "Order/1.0", "Order_v1_0"),
                ("Order_v1_1", "Order/1.1", "Order_v1_1"),
            ]
        );
    }

    #[test]
    fn conversions_reach_through_nested_models() {
        let app = rich_app();
        let reserved = NOTHING_RESERVED;
        let surface = Surface::new(&app, &reserved).expect("surface");
        let decimals =
            surface.conversions(|s| matches!(s, ScalarType::Decimal(_)).then_some(Conv::Decimal));
        assert_eq!(
            decimals,
            vec![
                (
                    "Address_v1_1".to_string(),
                    vec![("price".to_string(), Conv::Decimal)]
                ),
                (
                    "Order".to_string(),
                    vec![
                        ("ship_to".to_string(), Conv::Model("Address_v1_1".into())),
                        (
                            "stops".to_string(),
                            Conv::Array(Box::new(Conv::Model("Address_v1_1".into())))
                        ),
                    ]
                ),
            ]
        );
    }

    #[test]
    fn unknown_models_are_named() {
        let mut app = rich_app();
        app.def.apis[0].response = "Missing".into();
        let reserved = NOTHING_RESERVED;
        let error = Surface::new(&app, &reserved).err().expect("unknown model");
        assert_eq!(
            error.to_string(),
            "query API `orders` refers to model `Missing`, which the app does not declare"
        );
    }
}
