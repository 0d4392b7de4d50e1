//! Declaring an app: models, streams, tables, ingest endpoints, functions, SQL and APIs.
//!
//! Handles such as [`Stream<T>`] carry their model type, so wiring a function to streams
//! of the wrong models, or giving it the wrong signature, does not compile.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

mod calls;
mod options;

pub use options::{ApiOptions, FunctionOptions, WindowedAggregationOptions};

use crate::api::{ApiError, ApiHandler, ApiParams, Handler};
use crate::defs::{
    AggregationDef, ApiDef, ComputedColumn, ComputedKind, FunctionDef, IngestDef, Projection,
    StreamDef, TableDef, TableEngine, TableIndex, TableOptions, ViewDef, WindowedAggregationDef,
};
use crate::process::{Consumer, ConsumerOutcome, IntoOutputs, StreamFunction, Transform};
use crate::schema::{Model, ModelSet, MooseType};
use crate::window::{Erased, Window, WindowAggregator, WindowFunction};

/// A stream of `T` records.
pub struct Stream<T> {
    name: String,
    model: PhantomData<fn() -> T>,
}

/// A table of `T` rows.
pub struct Table<T> {
    name: String,
    model: PhantomData<fn() -> T>,
}

/// An ingest endpoint accepting `T` records.
pub struct Ingest<T> {
    name: String,
    model: PhantomData<fn() -> T>,
}

macro_rules! handle_impls {
    ($($handle:ident),*) => {$(
        impl<T> $handle<T> {
            fn new(name: &str) -> Self {
                $handle { name: name.to_owned(), model: PhantomData }
            }

            /// Its name.
            pub fn name(&self) -> &str {
                &self.name
            }
        }

        impl<T> Clone for $handle<T> {
            fn clone(&self) -> Self {
                Self::new(&self.name)
            }
        }

        impl<T> fmt::Debug for $handle<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}<{}>({:?})", stringify!($handle), std::any::type_name::<T>(), self.name)
            }
        }
    )*};
}
handle_impls!(Stream, Table, Ingest);

/// A dead-letter stream: the host creates it, with its own record schema (original record,
/// error, source, timestamp), when an ingest endpoint or a function names it. It is not
/// declared as a stream of the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetterQueue {
    name: String,
}

impl DeadLetterQueue {
    /// The dead-letter stream `name`.
    pub fn named(name: &str) -> Self {
        DeadLetterQueue {
            name: name.to_owned(),
        }
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// What [`App::ingest_pipeline`] and [`App::stream_pipeline`] created.
#[derive(Debug, Clone)]
pub struct Pipeline<T> {
    /// The stream (named like the pipeline).
    pub stream: Stream<T>,
    /// The table filled from the stream (named like the pipeline), if any.
    pub table: Option<Table<T>>,
    /// The ingest endpoint writing to the stream (named like the pipeline), if any.
    pub ingest: Option<Ingest<T>>,
    /// The dead-letter stream for records that fail ingest validation
    /// (`<name>_dead_letter`), created by the host.
    pub dead_letter: Option<DeadLetterQueue>,
}

/// Settings of a stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamConfig {
    /// Partition count; 0 lets the host choose.
    pub partitions: u32,
    /// How long records are kept; `None` lets the host choose.
    pub retention_hours: Option<u32>,
}

/// Settings of a table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableConfig {
    /// Sort key; empty means the model's key fields.
    pub order_by: Vec<String>,
    /// Table engine (default `MergeTree`).
    pub engine: TableEngine,
    /// Partitioning, TTL, indexes, projections and settings (none by default).
    pub options: TableOptions,
}

impl TableConfig {
    /// A table with this engine, sorted by the model's key fields.
    pub fn new(engine: TableEngine) -> Self {
        TableConfig {
            engine,
            ..TableConfig::default()
        }
    }

    /// `PARTITION BY expression`, e.g. `toYYYYMM(ts)`.
    pub fn partition_by(mut self, expression: impl Into<String>) -> Self {
        self.options.partition_by = Some(expression.into());
        self
    }

    /// `PRIMARY KEY`: a prefix of the sort key, for a primary index smaller than the sort.
    pub fn primary_key<I, S>(mut self, columns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.options.primary_key = columns.into_iter().map(Into::into).collect();
        self
    }

    /// `SAMPLE BY expression`; the expression must be part of the primary key.
    pub fn sample_by(mut self, expression: impl Into<String>) -> Self {
        self.options.sample_by = Some(expression.into());
        self
    }

    /// Table `TTL`: `ts + INTERVAL 90 DAY` deletes rows 90 days after `ts`;
    /// `ts + INTERVAL 7 DAY TO VOLUME 'cold'` moves them.
    pub fn ttl(mut self, ttl: impl Into<String>) -> Self {
        self.options.ttl = Some(ttl.into());
        self
    }

    /// The table exists already and belongs to someone else: plans and migrations never
    /// create, alter or drop it (`moose dev` creates it only where it is missing, as a
    /// local mirror). Declare its columns as they are.
    pub fn externally_managed(mut self) -> Self {
        self.options.externally_managed = true;
        self
    }

    /// A table setting, `SETTINGS name = value` (`value` as ClickHouse spells it).
    pub fn setting(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.options.settings.push((name.into(), value.into()));
        self
    }

    /// A data-skipping index: `kind` is `minmax`, `set(100)`, `bloom_filter(0.01)`,
    /// `ngrambf_v1(3, 256, 2, 0)`, ...; one index block covers `granularity` granules.
    pub fn index(
        mut self,
        name: impl Into<String>,
        expression: impl Into<String>,
        kind: impl Into<String>,
        granularity: u32,
    ) -> Self {
        self.options.indexes.push(TableIndex {
            name: name.into(),
            expression: expression.into(),
            kind: kind.into(),
            granularity,
        });
        self
    }

    /// A `MATERIALIZED` column of type `T` after the model's: ClickHouse computes
    /// `expression` (`toDate(ts)`) when rows are inserted and stores it; records never
    /// carry it.
    pub fn materialized<T: MooseType>(
        self,
        name: impl Into<String>,
        expression: impl Into<String>,
    ) -> Self {
        self.computed::<T>(name, ComputedKind::Materialized, expression)
    }

    /// An `ALIAS` column of type `T` after the model's: computed from `expression` when
    /// read, never stored.
    pub fn alias<T: MooseType>(
        self,
        name: impl Into<String>,
        expression: impl Into<String>,
    ) -> Self {
        self.computed::<T>(name, ComputedKind::Alias, expression)
    }

    fn computed<T: MooseType>(
        mut self,
        name: impl Into<String>,
        kind: ComputedKind,
        expression: impl Into<String>,
    ) -> Self {
        self.options.computed.push(ComputedColumn {
            name: name.into(),
            data_type: T::data_type(),
            kind,
            expression: expression.into(),
            doc: None,
        });
        self
    }

    /// A projection: `select` without `FROM`, e.g. `SELECT * ORDER BY user_id`.
    pub fn projection(mut self, name: impl Into<String>, select: impl Into<String>) -> Self {
        self.options.projections.push(Projection {
            name: name.into(),
            select: select.into(),
        });
        self
    }

    /// Sorts the table by these columns.
    pub fn order_by<I, S>(mut self, columns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.order_by = columns.into_iter().map(Into::into).collect();
        self
    }
}

/// Which parts a pipeline has. The default has all of them: ingest endpoint, stream,
/// table and dead-letter stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineConfig {
    /// Create `POST /ingest/<name>` (ignored by [`App::stream_pipeline`]).
    pub ingest: bool,
    /// Send records failing ingest validation to the dead-letter stream
    /// `<name>_dead_letter` (ignored by [`App::stream_pipeline`]).
    pub dead_letter: bool,
    /// Create a table filled from the stream, with these settings.
    pub table: Option<TableConfig>,
    /// Stream settings.
    pub stream: StreamConfig,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            ingest: true,
            dead_letter: true,
            table: Some(TableConfig::default()),
            stream: StreamConfig::default(),
        }
    }
}

impl PipelineConfig {
    /// Without a table.
    pub fn without_table(mut self) -> Self {
        self.table = None;
        self
    }

    /// Without a dead-letter stream.
    pub fn without_dead_letter(mut self) -> Self {
        self.dead_letter = false;
        self
    }

    /// Without an ingest endpoint.
    pub fn without_ingest(mut self) -> Self {
        self.ingest = false;
        self
    }

    /// With these table settings.
    pub fn with_table(mut self, table: TableConfig) -> Self {
        self.table = Some(table);
        self
    }

    /// With these stream settings.
    pub fn with_stream(mut self, stream: StreamConfig) -> Self {
        self.stream = stream;
        self
    }
}

struct RegisteredApi {
    def: ApiDef,
    handler: Box<dyn ApiHandler>,
}

/// The app a component provides: build it in `fn app() -> App` and export it with
/// [`export_app!`](crate::export_app).
///
/// Declaration mistakes (two streams with one name, an invalid API default, ...) panic
/// when the app is built, which fails `describe` with the message.
#[derive(Default)]
pub struct App {
    models: ModelSet,
    streams: Vec<StreamDef>,
    tables: Vec<TableDef>,
    ingests: Vec<IngestDef>,
    functions: Vec<FunctionDef>,
    aggregations: Vec<AggregationDef>,
    windowed_aggregations: Vec<WindowedAggregationDef>,
    views: Vec<ViewDef>,
    function_impls: BTreeMap<String, Box<dyn StreamFunction>>,
    window_impls: BTreeMap<String, Box<dyn WindowFunction>>,
    apis: Vec<RegisteredApi>,
}

impl fmt::Debug for App {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("App")
            .field("def", &self.describe())
            .finish()
    }
}

/// The dead-letter stream a function or windowed aggregation `name` has unless declared
/// otherwise.
fn default_dead_letter(name: &str) -> String {
    format!("{name}_dead_letter")
}

/// The version in a model reference (`Order@1.1` → `1.1`, `Order` → none).
fn version_of(reference: &str) -> Option<&str> {
    reference.split_once('@').map(|(_, version)| version)
}

/// The route of an ingest endpoint under `/ingest/`: `name`, or `name/version`.
fn ingest_route(name: &str, version: Option<&str>) -> String {
    match version {
        Some(version) => format!("{name}/{version}"),
        None => name.to_owned(),
    }
}

/// The name of a pipeline's stream and table: `name`, or `name_<version>` with the
/// version's dots as `_` (`Order`, `1.1` → `Order_1_1`).
fn versioned_name(name: &str, version: Option<&str>) -> String {
    match version {
        Some(version) => format!("{name}_{}", version.replace('.', "_")),
        None => name.to_owned(),
    }
}

fn check_new(kind: &str, name: &str, existing: impl IntoIterator<Item = impl AsRef<str>>) {
    assert!(!name.is_empty(), "a {kind} needs a non-empty name");
    assert!(
        !existing.into_iter().any(|n| n.as_ref() == name),
        "two {kind}s are named `{name}`"
    );
}

impl App {
    /// An empty app.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds model `T` (and the models it nests) without using it elsewhere.
    pub fn model<T: Model>(&mut self) -> &mut Self {
        self.models.add_model::<T>();
        self
    }

    /// Declares a stream of `T`.
    pub fn stream<T: Model>(&mut self, name: &str, config: StreamConfig) -> Stream<T> {
        check_new("stream", name, self.streams.iter().map(|s| &s.name));
        self.models.add_model::<T>();
        self.streams.push(StreamDef {
            name: name.to_owned(),
            model: T::REF.to_owned(),
            partitions: config.partitions,
            retention_hours: config.retention_hours,
        });
        Stream::new(name)
    }

    /// Declares a table of `T`, filled by the host from `source` when given.
    pub fn table<T: Model>(
        &mut self,
        name: &str,
        config: TableConfig,
        source: Option<&Stream<T>>,
    ) -> Table<T> {
        self.models.add_model::<T>();
        self.push_table(table_def::<T>(name, config, source.map(Stream::name)));
        Table::new(name)
    }

    fn push_table(&mut self, def: TableDef) {
        let targets = self.aggregations.iter().map(|a| &a.target.name);
        check_new(
            "table",
            &def.name,
            self.tables.iter().map(|t| &t.name).chain(targets),
        );
        self.tables.push(def);
    }

    /// Declares `POST /ingest/<name>`, writing valid `T` records to `stream`. When `T` is
    /// versioned (`#[moose(version = "1.1")]`) the route is `POST /ingest/<name>/1.1`, so
    /// several versions of a model may share one endpoint name.
    pub fn ingest<T: Model>(
        &mut self,
        name: &str,
        stream: &Stream<T>,
        dead_letter: Option<&DeadLetterQueue>,
    ) -> Ingest<T> {
        assert!(
            !name.is_empty(),
            "an ingest endpoint needs a non-empty name"
        );
        let route = ingest_route(name, version_of(T::REF));
        check_new(
            "ingest endpoint",
            &route,
            self.ingests
                .iter()
                .map(|i| ingest_route(&i.name, version_of(&i.model))),
        );
        self.models.add_model::<T>();
        self.ingests.push(IngestDef {
            name: name.to_owned(),
            model: T::REF.to_owned(),
            stream: stream.name.clone(),
            dead_letter: dead_letter.map(|s| s.name.clone()),
        });
        Ingest::new(name)
    }

    /// Declares an ingest pipeline named `name`: the stream `name`, and as `config` says
    /// (all by default) the ingest endpoint `name`, the table `name` filled from the stream
    /// and the ingest endpoint's dead-letter stream `<name>_dead_letter`.
    ///
    /// For a versioned model the stream and the table carry the version, dots as `_`,
    /// so versions run side by side: `Order@1.1` in pipeline `Order` has stream and table
    /// `Order_1_1`, dead-letter stream `Order_1_1_dead_letter` and the ingest route
    /// `POST /ingest/Order/1.1`.
    pub fn ingest_pipeline<T: Model>(&mut self, name: &str, config: PipelineConfig) -> Pipeline<T> {
        let storage = versioned_name(name, version_of(T::REF));
        let stream = self.stream::<T>(&storage, config.stream.clone());
        let table = config
            .table
            .map(|table| self.table::<T>(&storage, table, Some(&stream)));
        let dead_letter = (config.ingest && config.dead_letter)
            .then(|| DeadLetterQueue::named(&format!("{storage}_dead_letter")));
        let ingest = config
            .ingest
            .then(|| self.ingest::<T>(name, &stream, dead_letter.as_ref()));
        Pipeline {
            stream,
            table,
            ingest,
            dead_letter,
        }
    }

    /// Declares a stream pipeline named `name`: the stream `name` and, unless
    /// `config.table` is `None`, the table `name` filled from it. No ingest endpoint and
    /// no dead-letter stream (`config.ingest` and `config.dead_letter` are ignored).
    pub fn stream_pipeline<T: Model>(&mut self, name: &str, config: PipelineConfig) -> Pipeline<T> {
        self.ingest_pipeline(
            name,
            PipelineConfig {
                ingest: false,
                dead_letter: false,
                ..config
            },
        )
    }

    /// Declares streaming function `name`: every record of `source` goes through `f`, whose
    /// result (`O`, `Option<O>`, `Vec<O>` or a `Result` of those) goes to `destination`.
    pub fn transform<I, O, R, F>(
        &mut self,
        name: &str,
        source: &Stream<I>,
        destination: &Stream<O>,
        f: F,
    ) -> FunctionOptions<'_>
    where
        I: Model,
        O: Model,
        R: IntoOutputs<O> + 'static,
        F: Fn(I) -> R + Send + Sync + 'static,
    {
        self.push_function(
            name,
            source,
            Some(destination.name.clone()),
            Box::new(Transform::<I, O, R, F>::new(f)),
        )
    }

    /// Declares streaming function `name` that consumes `source` without output; `f`
    /// returns `()` or `Result<(), E>`.
    pub fn consumer<I, R, F>(&mut self, name: &str, source: &Stream<I>, f: F) -> FunctionOptions<'_>
    where
        I: Model,
        R: ConsumerOutcome + 'static,
        F: Fn(I) -> R + Send + Sync + 'static,
    {
        self.push_function(name, source, None, Box::new(Consumer::<I, R, F>::new(f)))
    }

    fn push_function<I>(
        &mut self,
        name: &str,
        source: &Stream<I>,
        destination: Option<String>,
        function: Box<dyn StreamFunction>,
    ) -> FunctionOptions<'_> {
        check_new("function", name, self.functions.iter().map(|f| &f.name));
        self.function_impls.insert(name.to_owned(), function);
        self.functions.push(FunctionDef {
            name: name.to_owned(),
            source: source.name.clone(),
            destination,
            dead_letter: Some(default_dead_letter(name)),
        });
        FunctionOptions {
            def: self.functions.last_mut(),
        }
    }

    /// Declares SQL aggregation `name`: `select` reads `sources` and writes into the table
    /// `name` of model `T` (kept up to date as a materialized view).
    pub fn aggregation<T: Model>(
        &mut self,
        name: &str,
        select: &str,
        sources: &[&str],
        target: TableConfig,
    ) -> Table<T> {
        check_new(
            "aggregation",
            name,
            self.aggregations.iter().map(|a| &a.name),
        );
        self.models.add_model::<T>();
        // The target lives in the aggregation only, but shares the tables' names.
        check_new("table", name, self.tables.iter().map(|t| &t.name));
        let target = table_def::<T>(name, target, None);
        self.aggregations.push(AggregationDef {
            name: name.to_owned(),
            select: select.to_owned(),
            sources: sources.iter().map(|s| (*s).to_owned()).collect(),
            target,
        });
        Table::new(name)
    }

    /// Declares windowed aggregation `name`: the records of `source` are grouped into the
    /// windows of `window` by their event-time field `time_field` (a `Date` or `DateTime`
    /// field of the source model), aggregated by `aggregator`, and each closed window's
    /// rows go to the table `name` of `A::Output` (with `target`'s settings). Chain
    /// `.state_version(n)` and `.dead_letter(&queue)`; see [`crate::window`].
    ///
    /// # Panics
    /// When the name is taken or `time_field` is not a field of the source model.
    pub fn windowed_aggregation<A: WindowAggregator>(
        &mut self,
        name: &str,
        source: &Stream<A::Input>,
        time_field: &str,
        window: Window,
        target: TableConfig,
        aggregator: A,
    ) -> WindowedAggregationOptions<'_> {
        check_new(
            "windowed aggregation",
            name,
            self.windowed_aggregations.iter().map(|a| &a.name),
        );
        check_new("table", name, self.tables.iter().map(|t| &t.name));
        let input = A::Input::model_def();
        assert!(
            input.fields.iter().any(|f| f.name == time_field),
            "windowed aggregation `{name}`: time field `{time_field}` is not a field of `{}`",
            input.name
        );
        self.models.add_model::<A::Input>();
        self.models.add_model::<A::Output>();
        self.window_impls
            .insert(name.to_owned(), Box::new(Erased::new(aggregator)));
        self.windowed_aggregations.push(WindowedAggregationDef {
            name: name.to_owned(),
            source: source.name.clone(),
            time_field: time_field.to_owned(),
            window,
            target: table_def::<A::Output>(name, target, None),
            state_version: 1,
            dead_letter: Some(default_dead_letter(name)),
        });
        WindowedAggregationOptions {
            def: self.windowed_aggregations.last_mut(),
        }
    }

    /// Declares SQL view `name` over `sources`.
    pub fn view(&mut self, name: &str, select: &str, sources: &[&str]) -> &mut Self {
        check_new("view", name, self.views.iter().map(|v| &v.name));
        self.views.push(ViewDef {
            name: name.to_owned(),
            select: select.to_owned(),
            sources: sources.iter().map(|s| (*s).to_owned()).collect(),
        });
        self
    }

    /// Declares query API `GET /api/<name>`: `handler` gets the typed parameters `P` and
    /// returns rows of model `R`. Chain `.version("1.0")` for a versioned API (several
    /// versions of one name may coexist) and `.doc("...")` for a description.
    ///
    /// # Panics
    /// When another API has the same name and version, or a parameter's default does not
    /// parse as its type.
    pub fn api<P, R, F>(&mut self, name: &str, handler: F) -> ApiOptions<'_>
    where
        P: ApiParams + 'static,
        R: Model,
        F: Fn(P) -> Result<Vec<R>, ApiError> + Send + Sync + 'static,
    {
        check_new("API", name, std::iter::empty::<&str>());
        let params = P::params();
        for param in &params {
            if let Err(e) = crate::api::default_value(param) {
                panic!("API `{name}`: {e}");
            }
        }
        self.models.add_model::<R>();
        self.apis.push(RegisteredApi {
            def: ApiDef {
                name: name.to_owned(),
                version: None,
                params,
                response: R::REF.to_owned(),
                doc: None,
            },
            handler: Box::new(Handler::<P, R, F>::new(handler)),
        });
        ApiOptions {
            apis: &mut self.apis,
        }
    }
}

fn table_def<T: Model>(name: &str, config: TableConfig, source: Option<&str>) -> TableDef {
    TableDef {
        name: name.to_owned(),
        model: T::REF.to_owned(),
        order_by: config.order_by,
        engine: config.engine,
        source_stream: source.map(str::to_owned),
        options: config.options,
    }
}
