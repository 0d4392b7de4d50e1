//! Checks that an app is complete and storable: names are valid and unique, every
//! reference resolves, and every type is one ClickHouse can hold.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::types::{
    AggregateKind, ApiDef, DataType, Field, Model, ScalarType, TableDef, TypeWrapper,
};

use super::{model_ref, App};

/// One thing wrong with the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// What is wrong, e.g. "table `Order`".
    pub subject: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.subject, self.message)
    }
}

/// Everything wrong with the app, in declaration order.
#[derive(Debug, thiserror::Error)]
pub struct ValidationErrors(pub Vec<Problem>);

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "the app has {} problem(s):", self.0.len())?;
        for problem in &self.0 {
            writeln!(f, "  - {problem}")?;
        }
        Ok(())
    }
}

/// Validates the whole app, reporting every problem at once.
pub fn validate(app: &App) -> Result<(), ValidationErrors> {
    let mut check = Checker::new(app);
    check.models();
    check.streams();
    check.tables();
    check.ingests();
    check.functions();
    check.windowed_aggregations();
    check.views();
    check.apis();
    check.record_models();
    if check.problems.is_empty() {
        Ok(())
    } else {
        Err(ValidationErrors(check.problems))
    }
}

const MAX_PARTITIONS: u32 = 4096;

struct Checker<'a> {
    app: &'a App,
    models: BTreeMap<String, &'a Model>,
    streams: BTreeMap<&'a str, &'a str>,
    /// Tables, views and aggregation targets: one ClickHouse namespace.
    relations: BTreeSet<&'a str>,
    problems: Vec<Problem>,
}

impl<'a> Checker<'a> {
    fn new(app: &'a App) -> Self {
        Self {
            app,
            models: BTreeMap::new(),
            streams: BTreeMap::new(),
            relations: BTreeSet::new(),
            problems: Vec::new(),
        }
    }

    fn problem(&mut self, subject: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem {
            subject: subject.into(),
            message: message.into(),
        });
    }

    fn identifier(&mut self, subject: &str, name: &str) {
        if !is_identifier(name) {
            self.problem(
                subject,
                format!("`{name}` is not a valid name (letters, digits and `_`, not starting with a digit)"),
            );
        }
    }

    /// Checks that `name` is a valid identifier not already in `names`, the names taken by
    /// definitions of the same kind.
    fn new_name<'n>(&mut self, names: &mut BTreeSet<&'n str>, subject: &str, name: &'n str) {
        self.identifier(subject, name);
        if !names.insert(name) {
            self.problem(subject, "is declared twice");
        }
    }

    fn model_exists(&mut self, subject: &str, reference: &str) -> Option<&'a Model> {
        let found = self.models.get(reference).copied();
        if found.is_none() {
            self.problem(subject, format!("model `{reference}` is not declared"));
        }
        found
    }

    fn models(&mut self) {
        for model in &self.app.def.models {
            let key = model_ref(model);
            let subject = format!("model `{key}`");
            self.identifier(&subject, &model.name);
            if let Some(version) = &model.version {
                if !is_version(version) {
                    self.problem(
                        &subject,
                        format!("version `{version}` is not of the form 1, 1.1, 1.2.3"),
                    );
                }
            }
            if self.models.insert(key, model).is_some() {
                self.problem(&subject, "is declared twice");
            }
        }
        for model in &self.app.def.models {
            let subject = format!("model `{}`", model_ref(model));
            if model.fields.is_empty() {
                self.problem(&subject, "has no fields");
            }
            let mut names = BTreeSet::new();
            for field in &model.fields {
                let field_subject = format!("{subject}, field `{}`", field.name);
                self.identifier(&field_subject, &field.name);
                if !names.insert(field.name.as_str()) {
                    self.problem(&field_subject, "is declared twice");
                }
                self.data_type(&field_subject, &field.data_type, true);
                self.aggregate(&field_subject, field);
                if field.key && !is_sortable(&field.data_type) {
                    self.problem(
                        &field_subject,
                        format!(
                            "a key field must be a plain, non-null scalar, not {}",
                            field.data_type.type_name()
                        ),
                    );
                }
            }
            if let Some(cycle) = self.nesting_cycle(model, &mut vec![model_ref(model)]) {
                self.problem(&subject, format!("nests itself: {}", cycle.join(" -> ")));
            }
        }
    }

    /// An aggregate column: a valid function, valid argument types, not a key.
    fn aggregate(&mut self, subject: &str, field: &Field) {
        let Some(aggregate) = &field.aggregate else {
            return;
        };
        if !is_aggregate_function(&aggregate.function) {
            self.problem(
                subject,
                format!(
                    "`{}` is not an aggregate function name with optional parameters, such as \
                     `uniq` or `quantiles(0.5, 0.9)`",
                    aggregate.function
                ),
            );
        }
        if let AggregateKind::State(arguments) = &aggregate.kind {
            for argument in arguments {
                self.data_type(subject, argument, true);
            }
        }
        if field.key {
            self.problem(subject, "a key field cannot hold an aggregate");
        }
    }

    /// Models whose records the host or a guest carries (streams, ingest endpoints, API
    /// responses, windowed aggregation targets, nested records) cannot have columns of
    /// aggregate states: only materialized views write states.
    fn record_models(&mut self) {
        let def = &self.app.def;
        let carried = def
            .streams
            .iter()
            .map(|s| (format!("stream `{}`", s.name), &s.model))
            .chain(def.ingests.iter().map(|i| {
                (
                    format!("ingest endpoint `{}`", self.app.ingest_route(i)),
                    &i.model,
                )
            }))
            .chain(
                def.apis
                    .iter()
                    .map(|a| (format!("API `{}`", api_ref(a)), &a.response)),
            )
            .chain(def.windowed_aggregations.iter().map(|w| {
                (
                    format!("windowed aggregation `{}`", w.name),
                    &w.target.model,
                )
            }))
            .chain(def.models.iter().flat_map(|m| {
                m.fields
                    .iter()
                    .filter_map(move |f| match &f.data_type.leaf {
                        ScalarType::Nested(inner) => Some((
                            format!("model `{}`, field `{}`", model_ref(m), f.name),
                            inner,
                        )),
                        _ => None,
                    })
            }));
        let mut problems = Vec::new();
        for (subject, reference) in carried {
            let Some(model) = self.models.get(reference.as_str()) else {
                continue;
            };
            for field in model.fields.iter().filter(|f| f.is_aggregate_state()) {
                problems.push((
                    subject.clone(),
                    format!(
                        "model `{reference}` field `{}` is {}, an aggregate state: states are \
                         written by materialized views (`-State` functions), never carried by \
                         records; read them with `-Merge` in a query",
                        field.name,
                        field.type_name()
                    ),
                ));
            }
        }
        for (subject, message) in problems {
            self.problem(subject, message);
        }
    }

    fn nesting_cycle(&self, model: &Model, path: &mut Vec<String>) -> Option<Vec<String>> {
        for field in &model.fields {
            let ScalarType::Nested(inner) = &field.data_type.leaf else {
                continue;
            };
            if path.contains(inner) {
                let mut cycle = path.clone();
                cycle.push(inner.clone());
                return Some(cycle);
            }
            if let Some(next) = self.models.get(inner) {
                path.push(inner.clone());
                let found = self.nesting_cycle(next, path);
                path.pop();
                if found.is_some() {
                    return found;
                }
            }
        }
        None
    }

    /// Checks a type; `in_model` allows nested records and JSON (API parameters do not).
    fn data_type(&mut self, subject: &str, ty: &DataType, in_model: bool) {
        for (i, wrapper) in ty.wrappers.iter().enumerate() {
            if *wrapper != TypeWrapper::Nullable {
                continue;
            }
            let inner = ty.wrappers.get(i + 1);
            let problem = match inner {
                Some(TypeWrapper::Nullable) => Some("Nullable(Nullable(...)) is not a type".to_string()),
                Some(other) => Some(format!(
                    "ClickHouse cannot store a nullable {}; use an empty one for absent values",
                    if *other == TypeWrapper::Array { "array" } else { "map" }
                )),
                None if matches!(ty.leaf, ScalarType::Nested(_) | ScalarType::Json) => Some(
                    "ClickHouse cannot store a nullable nested record or JSON value; make its fields nullable instead"
                        .to_string(),
                ),
                None => None,
            };
            if let Some(problem) = problem {
                self.problem(subject, problem);
            }
        }
        match &ty.leaf {
            ScalarType::Decimal(d)
                if d.precision == 0 || d.precision > 76 || d.scale > d.precision =>
            {
                self.problem(
                    subject,
                    format!(
                        "Decimal({}, {}) needs 1 <= precision <= 76 and scale <= precision",
                        d.precision, d.scale
                    ),
                );
            }
            ScalarType::DateTime64(p) if *p > 9 => {
                self.problem(
                    subject,
                    format!("DateTime64({p}) needs a precision of 0 to 9"),
                );
            }
            ScalarType::Enum(members) => {
                if members.is_empty() {
                    self.problem(subject, "an enum needs at least one member");
                }
                let mut names = BTreeSet::new();
                let mut values = BTreeSet::new();
                for member in members {
                    if member.name.is_empty() {
                        self.problem(subject, "an enum member has an empty name");
                    }
                    if !names.insert(&member.name) {
                        self.problem(
                            subject,
                            format!("enum member `{}` is declared twice", member.name),
                        );
                    }
                    if !values.insert(member.value) {
                        self.problem(
                            subject,
                            format!("enum value {} is used twice", member.value),
                        );
                    }
                }
            }
            ScalarType::Nested(name) if in_model && !self.models.contains_key(name) => {
                self.problem(subject, format!("nested model `{name}` is not declared"));
            }
            ScalarType::Nested(_) | ScalarType::Json if !in_model => {
                self.problem(subject, format!("{} is not allowed here", ty.type_name()));
            }
            _ => {}
        }
    }

    fn streams(&mut self) {
        for stream in &self.app.def.streams {
            let subject = format!("stream `{}`", stream.name);
            self.identifier(&subject, &stream.name);
            self.model_exists(&subject, &stream.model);
            if stream.partitions > MAX_PARTITIONS {
                self.problem(
                    &subject,
                    format!(
                        "{} partitions is more than the {MAX_PARTITIONS} allowed",
                        stream.partitions
                    ),
                );
            }
            if self.streams.insert(&stream.name, &stream.model).is_some() {
                self.problem(&subject, "is declared twice");
            }
        }
        let dead_letters = self
            .app
            .def
            .ingests
            .iter()
            .filter_map(|i| i.dead_letter.as_deref())
            .chain(
                self.app
                    .def
                    .functions
                    .iter()
                    .filter_map(|f| f.dead_letter.as_deref()),
            )
            .chain(
                self.app
                    .def
                    .windowed_aggregations
                    .iter()
                    .filter_map(|w| w.dead_letter.as_deref()),
            );
        let mut problems = Vec::new();
        for name in dead_letters {
            let subject = format!("dead-letter stream `{name}`");
            if !is_identifier(name) {
                problems.push((subject, format!("`{name}` is not a valid name")));
            } else if let Some(model) = self.streams.get(name) {
                problems.push((subject, format!("is also declared as a stream of model `{model}`; dead-letter streams are created by the host")));
            }
        }
        for (subject, message) in problems {
            self.problem(subject, message);
        }
    }

    fn tables(&mut self) {
        for table in &self.app.def.tables {
            let subject = format!("table `{}`", table.name);
            self.table(&subject, table);
            if let Some(source) = &table.source_stream {
                match self.streams.get(source.as_str()) {
                    None => self.problem(
                        &subject,
                        format!("source stream `{source}` is not declared"),
                    ),
                    Some(model) if *model != table.model => self.problem(
                        &subject,
                        format!(
                            "holds model `{}` but its source stream `{source}` carries `{model}`",
                            table.model
                        ),
                    ),
                    Some(_) => {}
                }
            }
        }
        for aggregation in &self.app.def.aggregations {
            let subject = format!("aggregation `{}`", aggregation.name);
            self.identifier(&subject, &aggregation.name);
            if aggregation.select.trim().is_empty() {
                self.problem(&subject, "has an empty select");
            }
            self.aggregation_target(&subject, &aggregation.target);
        }
        let aggregation_sources: Vec<(String, Vec<String>)> = self
            .app
            .def
            .aggregations
            .iter()
            .map(|a| (format!("aggregation `{}`", a.name), a.sources.clone()))
            .collect();
        for (subject, sources) in aggregation_sources {
            self.sources(&subject, &sources);
        }
    }

    fn table(&mut self, subject: &str, table: &'a TableDef) {
        self.identifier(subject, &table.name);
        if !self.relations.insert(&table.name) {
            self.problem(subject, "a table or view of this name is declared twice");
        }
        let Some(model) = self.model_exists(subject, &table.model) else {
            return;
        };
        let field = |name: &str| model.fields.iter().find(|f| f.name == name);
        // Someone else's table may be unsorted (`ORDER BY tuple()`).
        if table.order_by.is_empty()
            && !model.fields.iter().any(|f| f.key)
            && !table.options.externally_managed
        {
            self.problem(
                subject,
                format!(
                    "has no order-by and model `{}` has no key fields",
                    table.model
                ),
            );
        }
        for column in &table.order_by {
            match field(column) {
                None => self.problem(
                    subject,
                    format!(
                        "order-by column `{column}` is not a field of `{}`",
                        table.model
                    ),
                ),
                Some(f) if f.aggregate.is_some() => self.problem(
                    subject,
                    format!(
                        "order-by column `{column}` is {}; an aggregate column cannot be part \
                         of the sort key",
                        f.type_name()
                    ),
                ),
                Some(f) if !is_sortable(&f.data_type) => self.problem(
                    subject,
                    format!(
                        "order-by column `{column}` is {}; it must be a plain, non-null scalar",
                        f.data_type.type_name()
                    ),
                ),
                Some(_) => {}
            }
        }
        for problem in storage::problems(table, model, &self.app.order_by(table)) {
            self.problem(subject, problem);
        }
    }

    fn sources(&mut self, subject: &str, sources: &[String]) {
        if sources.is_empty() {
            self.problem(subject, "names no source tables");
        }
        for source in sources {
            if !self.relations.contains(source.as_str()) {
                self.problem(
                    subject,
                    format!("source `{source}` is not a declared table or view"),
                );
            }
        }
    }

    fn ingests(&mut self) {
        // Endpoints of one name are told apart by their model's version.
        let mut routes = BTreeSet::new();
        for ingest in &self.app.def.ingests {
            let route = self.app.ingest_route(ingest);
            let subject = format!("ingest endpoint `{route}`");
            self.route_name(&subject, &ingest.name);
            if !routes.insert(route) {
                self.problem(&subject, "is declared twice");
            }
            self.model_exists(&subject, &ingest.model);
            match self.streams.get(ingest.stream.as_str()) {
                None => self.problem(
                    &subject,
                    format!("stream `{}` is not declared", ingest.stream),
                ),
                Some(model) if *model != ingest.model => self.problem(
                    &subject,
                    format!(
                        "accepts model `{}` but stream `{}` carries `{model}`",
                        ingest.model, ingest.stream
                    ),
                ),
                Some(_) => {}
            }
        }
    }

    fn functions(&mut self) {
        let mut names = BTreeSet::new();
        for function in &self.app.def.functions {
            let subject = format!("function `{}`", function.name);
            self.new_name(&mut names, &subject, &function.name);
            let streams = std::iter::once(&function.source).chain(function.destination.as_ref());
            let missing: Vec<String> = streams
                .filter(|s| !self.streams.contains_key(s.as_str()))
                .map(|s| format!("stream `{s}` is not declared"))
                .collect();
            for message in missing {
                self.problem(&subject, message);
            }
        }
    }

    /// Windowed aggregations: the source stream and its event-time field, the window, the
    /// target table.
    fn windowed_aggregations(&mut self) {
        let mut names = BTreeSet::new();
        for aggregation in &self.app.def.windowed_aggregations {
            let subject = format!("windowed aggregation `{}`", aggregation.name);
            self.new_name(&mut names, &subject, &aggregation.name);
            match self.streams.get(aggregation.source.as_str()).copied() {
                None => self.problem(
                    &subject,
                    format!("source stream `{}` is not declared", aggregation.source),
                ),
                Some(model) => {
                    let field = self
                        .models
                        .get(model)
                        .and_then(|m| m.fields.iter().find(|f| f.name == aggregation.time_field));
                    match field.map(|f| &f.data_type) {
                        None => self.problem(
                            &subject,
                            format!(
                                "time field `{}` is not a field of `{model}`",
                                aggregation.time_field
                            ),
                        ),
                        Some(ty)
                            if !matches!(
                                ty.scalar(),
                                Some(ScalarType::Date | ScalarType::DateTime | ScalarType::DateTime64(_))
                            ) =>
                        {
                            self.problem(
                                &subject,
                                format!(
                                    "time field `{}` is {}; it must be a non-null Date, DateTime or DateTime64",
                                    aggregation.time_field,
                                    ty.type_name()
                                ),
                            )
                        }
                        Some(_) => {}
                    }
                }
            }
            let window = &aggregation.window;
            if window.size_seconds == 0 {
                self.problem(&subject, "the window size must be at least 1 second");
            } else if window.hop_seconds == 0 || window.hop_seconds > window.size_seconds {
                self.problem(
                    &subject,
                    format!(
                        "the hop ({} s) must be between 1 s and the window size ({} s)",
                        window.hop_seconds, window.size_seconds
                    ),
                );
            } else if window.size_seconds % window.hop_seconds != 0 {
                self.problem(
                    &subject,
                    format!(
                        "the hop ({} s) must divide the window size ({} s)",
                        window.hop_seconds, window.size_seconds
                    ),
                );
            }
            self.aggregation_target(&subject, &aggregation.target);
        }
    }

    /// The target table of an aggregation, which only the aggregation writes.
    fn aggregation_target(&mut self, subject: &str, target: &'a TableDef) {
        let subject = format!("{subject}, target table `{}`", target.name);
        self.table(&subject, target);
        if target.options.externally_managed {
            self.problem(
                &subject,
                "is written by the aggregation and cannot be externally managed",
            );
        }
        if target.source_stream.is_some() {
            self.problem(
                &subject,
                "is written by the aggregation and cannot also have a source stream",
            );
        }
    }

    fn views(&mut self) {
        for view in &self.app.def.views {
            let subject = format!("view `{}`", view.name);
            self.identifier(&subject, &view.name);
            if view.select.trim().is_empty() {
                self.problem(&subject, "has an empty select");
            }
            let sources = view.sources.clone();
            self.sources(&subject, &sources);
            if !self.relations.insert(&view.name) {
                self.problem(&subject, "a table or view of this name is declared twice");
            }
        }
    }

    fn apis(&mut self) {
        let mut names = BTreeSet::new();
        for api in &self.app.def.apis {
            let subject = format!("API `{}`", api_ref(api));
            self.route_name(&subject, &api.name);
            if let Some(version) = &api.version {
                if !is_version(version) {
                    self.problem(
                        &subject,
                        format!("version `{version}` is not of the form 1, 1.1, 1.2.3"),
                    );
                }
            }
            if !names.insert(api_ref(api)) {
                self.problem(&subject, "is declared twice");
            }
            self.model_exists(&subject, &api.response);
            let mut params = BTreeSet::new();
            for param in &api.params {
                let param_subject = format!("{subject}, parameter `{}`", param.name);
                self.identifier(&param_subject, &param.name);
                if !params.insert(&param.name) {
                    self.problem(&param_subject, "is declared twice");
                }
                self.data_type(&param_subject, &param.data_type, false);
                if param.data_type.wrappers.contains(&TypeWrapper::Map) {
                    self.problem(&param_subject, "a query parameter cannot be a map");
                }
                if let ScalarType::Geo(shape) = &param.data_type.leaf {
                    self.problem(
                        &param_subject,
                        format!(
                            "a query parameter cannot be a {}; pass its coordinates as numbers",
                            shape.name()
                        ),
                    );
                }
                if param.required && param.default.is_some() {
                    self.problem(&param_subject, "is required and also has a default");
                }
                if param.min.is_some() || param.max.is_some() {
                    let leaf = &param.data_type.leaf;
                    if !(leaf.is_number() || matches!(leaf, ScalarType::Decimal(_))) {
                        self.problem(
                            &param_subject,
                            "min and max apply only to numeric parameters",
                        );
                    }
                    if let (Some(min), Some(max)) = (param.min, param.max) {
                        if min > max {
                            self.problem(
                                &param_subject,
                                format!("min {min} is greater than max {max}"),
                            );
                        }
                    }
                }
            }
        }
    }

    /// Names that appear in URL paths may also contain `-`.
    fn route_name(&mut self, subject: &str, name: &str) {
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid {
            self.problem(
                subject,
                format!("`{name}` is not a valid route name (letters, digits, `_` and `-`)"),
            );
        }
    }
}

fn api_ref(api: &ApiDef) -> String {
    match &api.version {
        Some(version) => format!("{}/{version}", api.name),
        None => api.name.clone(),
    }
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `uniq`, `quantiles(0.5, 0.9)`: a name, then optionally parameters (numbers, names and
/// quoted words) in one pair of parentheses that closes the text.
fn is_aggregate_function(text: &str) -> bool {
    let (name, parameters) = match text.split_once('(') {
        Some((name, rest)) => (name, Some(rest)),
        None => (text, None),
    };
    is_identifier(name)
        && parameters.is_none_or(|p| {
            p.strip_suffix(')').is_some_and(|inner| {
                inner.matches('\'').count() % 2 == 0
                    && inner.chars().all(|c| {
                        c.is_ascii_alphanumeric()
                            || matches!(c, '_' | '.' | ',' | ' ' | '-' | '+' | '\'')
                    })
            })
        })
}

fn is_version(version: &str) -> bool {
    version
        .split('.')
        .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_digit()))
}

fn is_sortable(ty: &DataType) -> bool {
    matches!(ty.scalar(), Some(s) if !matches!(s, ScalarType::Json | ScalarType::Nested(_)))
}

mod storage;

#[cfg(test)]
mod tests;
