/**
 * Declaring an app: streams, tables, ingest endpoints, streaming functions, SQL and
 * windowed aggregations, views and query APIs, and running its functions, windowed
 * aggregations and APIs.
 *
 * Handles carry their record type, so wiring a function between streams of the wrong
 * models, or giving it the wrong signature, does not type-check.
 */

import { runBatch, serialize } from "./batch.js";
import {
  type AccumulateOutput, type AggregationDef, type ComputedColumnConfig, type ApiDef, ApiError, type ApiErrorVariant, type ApiResponse, type AppDef, engines,
  type FunctionDef, type GuestError, type IngestDef, messageOf, type ModelDef, type ProcessOutput, type Projection,
  type Result,
  type StreamDef, type TableDef, type TableEngine, type TransformResult, type ViewDef, type WindowedAggregationDef,
} from "./defs.js";
import type { Batch } from "./host.js";
import { decodeText, encodeText } from "./json.js";
import { paramDef, prepareParams } from "./params.js";
import { Model, type Encoder, type InferShape, type Shape, type Type } from "./schema.js";
import { QueryError } from "./sql.js";
import { decodeState, encodeState, lateness, toWindow, type Window, type WindowBounds, type WindowSize } from "./window.js";

// ------------------------------------------------------------------ handles

/** A dead-letter stream, created by the host with its own record schema when an ingest
 * endpoint or a function names it; not declared as a stream of the app. */
export class DeadLetterQueue {
  constructor(readonly name: string) {}
}

/** The dead-letter stream of function or windowed aggregation `name`: the one given,
 * none for `false`, else `<name>_dead_letter`. */
function deadLetterOf(name: string, given: DeadLetterQueue | false | undefined): string | undefined {
  if (given === false) return undefined;
  return given?.name ?? `${name}_dead_letter`;
}

/** Options of a streaming function. */
export interface FunctionOptions {
  /** Its name (default `<source>_to_<destination>`, or `<source>_consumer`). */
  name?: string;
  /** Where records the function rejects or fails on go: `<name>_dead_letter` unless
   * given; `false` drops them (counted as failed and logged). */
  deadLetter?: DeadLetterQueue | false;
}

/** A stream of `T` records. */
export class Stream<T> {
  /** @internal */
  constructor(
    readonly name: string,
    readonly model: Model<Shape>,
    private readonly app: App,
  ) {}

  /**
   * Declares a streaming function from this stream to `destination`: each record goes
   * through `fn`, which returns a record, an array of records (fan-out) or `null` (drop).
   * A thrown error sends the record to the dead-letter queue, if any.
   */
  addTransform<O>(
    destination: Stream<O>,
    fn: (record: T) => TransformResult<O>,
    options: FunctionOptions = {},
  ): this {
    const name = options.name ?? `${this.name}_to_${destination.name}`;
    this.app.addFunction(
      { name, source: this.name, destination: destination.name, deadLetter: deadLetterOf(name, options.deadLetter) },
      (input) => runBatch(input, this.model, fn as (record: unknown) => TransformResult<unknown>, destination.model.encode),
    );
    return this;
  }

  /** Declares a streaming function that consumes this stream without output. */
  addConsumer(fn: (record: T) => void, options: FunctionOptions = {}): this {
    const name = options.name ?? `${this.name}_consumer`;
    this.app.addFunction(
      { name, source: this.name, destination: undefined, deadLetter: deadLetterOf(name, options.deadLetter) },
      (input) =>
        runBatch(
          input,
          this.model,
          (record) => {
            fn(record as T);
            return null;
          },
          undefined,
        ),
    );
    return this;
  }
}

/** A table of `T` rows. Interpolated in `sql`, it is bound as an identifier. */
export class Table<T> {
  declare readonly __row: T;
  constructor(readonly name: string) {}
}

/** A SQL view. Interpolated in `sql`, it is bound as an identifier. */
export class View {
  constructor(readonly name: string) {}
}

/** An ingest endpoint, `POST /ingest/<name>`, accepting `T` records. */
export class Ingest<T> {
  declare readonly __record: T;
  constructor(readonly name: string) {}
}

/** Settings of a stream. */
export interface StreamConfig {
  /** Partition count; 0 (the default) lets the host choose. */
  partitions?: number;
  /** How long records are kept; absent lets the host choose. */
  retentionHours?: number;
}

/** Settings of a table. */
export interface TableConfig<T> {
  /** Sort key; empty (the default) means the model's key fields. */
  orderBy?: (keyof T & string)[];
  /** Default `MergeTree`. */
  engine?: TableEngine;
  /** `PARTITION BY` expression: `"toYYYYMM(ts)"`. */
  partitionBy?: string;
  /** `PRIMARY KEY`: a prefix of the sort key, for a primary index smaller than the sort. */
  primaryKey?: (keyof T & string)[];
  /** `SAMPLE BY` expression; it must be part of the primary key. */
  sampleBy?: string;
  /** Table TTL: `"ts + INTERVAL 90 DAY"` deletes rows; `"ts + INTERVAL 7 DAY TO VOLUME 'cold'"`
   * moves them. */
  ttl?: string;
  /** `SETTINGS`: numbers as they are, booleans as 1 or 0, strings quoted
   * (`{ index_granularity: 4096, storage_policy: "tiered" }`). */
  settings?: Record<string, string | number | boolean>;
  /** Data-skipping indexes: `type` is `minmax`, `set(100)`, `bloom_filter(0.01)`,
   * `ngrambf_v1(3, 256, 2, 0)`, ...; `granularity` defaults to 1. */
  indexes?: { name: string; expression: string; type: string; granularity?: number }[];
  /** Projections: `select` without `FROM` (`"SELECT * ORDER BY userId"`). */
  projections?: Projection[];
  /** Columns ClickHouse computes after the model's, which records never carry:
   * `{ day: computed.materialized(t.date(), "toDate(ts)") }`. `SELECT *` leaves them out. */
  computed?: Record<string, ComputedColumnConfig>;
  /** The table exists already and belongs to someone else: plans and migrations never
   * create, alter or drop it (`moose dev` creates it only where it is missing, as a local
   * mirror). Declare its columns as they are. */
  externallyManaged?: boolean;
}

/** Which parts a pipeline has; all of them by default. */
export interface PipelineConfig<T> {
  /** `POST /ingest/<name>` (ignored by stream pipelines). */
  ingest?: boolean;
  /** Records failing ingest validation go to `<name>_dead_letter` (ignored by stream pipelines). */
  deadLetter?: boolean;
  /** The table `<name>` filled from the stream, with these settings; `false` for none. */
  table?: TableConfig<T> | false;
  stream?: StreamConfig;
}

/** What a pipeline created. */
export interface Pipeline<T> {
  stream: Stream<T>;
  table: Table<T> | undefined;
  ingest: Ingest<T> | undefined;
  deadLetter: DeadLetterQueue | undefined;
}

/** The parameters of an API: names to types (`t.string().optional()`, `t.uint32().default("100")`). */
export type ParamShape = { readonly [name: string]: Type<unknown> };

/** The handler's view of the parameters. */
export type InferParams<P extends ParamShape> = {
  -readonly [K in keyof P]: P[K] extends Type<infer T> ? T : never;
};

/** Declaration of a query API. */
export interface ApiConfig<P extends ParamShape, R extends Shape> {
  /** Query-string parameters. A parameter is required unless `.optional()` or with a `.default(...)`. */
  params: P;
  /** Model of each response row. */
  response: Model<R>;
  /** Served at `/api/<name>/<version>`; several versions of a name may coexist. */
  version?: string;
  doc?: string;
}

/** The fields of `T` that can hold an event time (`Date`, `DateTime` or `DateTime64` columns). */
export type TimeField<T> = { [K in keyof T & string]: T[K] extends Date | string ? K : never }[keyof T & string];

/**
 * Declaration of a windowed aggregation over a stream of `T` records, keeping a state
 * `S` per window and emitting rows of the target model `R` when a window closes.
 */
export interface WindowedAggregationConfig<T, S, R extends Shape> {
  /** The field holding each record's event time. */
  timeField: TimeField<T>;
  /** `tumbling(size)` or `hopping(size, hop)`, in seconds. */
  window: WindowSize;
  /** How long, in seconds, a window keeps accepting records after its end (default 0). */
  allowedLateness?: number;
  /** Model of the rows written to the target table. */
  target: Model<R>;
  /** Settings of the target table. */
  table?: TableConfig<InferShape<R>>;
  /** Version of the state's layout (default 1): change it when `S` changes incompatibly,
   * and the host drops kept states instead of decoding them. */
  stateVersion?: number;
  /** Where late records and records `accumulate` fails on go: `<name>_dead_letter`
   * unless given; `false` drops them (counted and logged). */
  deadLetter?: DeadLetterQueue | false;
  /** The state of an empty window. */
  init: (window: Window) => S;
  /** Folds one record into the state and returns the new state. A thrown error rejects
   * the record (to the dead-letter stream); return a new value rather than mutating
   * `state` so that a rejected record leaves no trace. */
  accumulate: (state: S, record: T, window: Window) => S;
  /** Combines two states of the same window (from different partitions). */
  merge: (a: S, b: S, window: Window) => S;
  /** The rows of a closed window: a row, an array of rows, or `null` for none. */
  emit: (state: S, window: Window) => TransformResult<InferShape<R>>;
}

interface RegisteredWindowed {
  model: Model<Shape>;
  encode: Encoder;
  init: (window: Window) => unknown;
  accumulate: (state: unknown, record: unknown, window: Window) => unknown;
  merge: (a: unknown, b: unknown, window: Window) => unknown;
  emit: (state: unknown, window: Window) => TransformResult<unknown>;
}

const TIME_TYPES = new Set(["date", "date-time", "date-time64"]);

type BatchFunction = (input: Batch) => Result<ProcessOutput, GuestError>;

interface RegisteredApi {
  def: ApiDef;
  types: Type<unknown>[];
  encode: Encoder;
  handler: (params: Record<string, unknown>) => unknown;
}

function checkNew(kind: string, name: string, existing: Iterable<string>): void {
  if (name === "") throw new Error(`a ${kind} needs a non-empty name`);
  for (const other of existing) {
    if (other === name) throw new Error(`two ${kind}s are named \`${name}\``);
  }
}

function names(items: readonly { name: string }[]): string[] {
  return items.map((item) => item.name);
}

function apiRef(def: ApiDef): string {
  return def.version === undefined ? def.name : `${def.name}/${def.version}`;
}

/** The version in a model reference (`Order@1.1` → `1.1`, `Order` → none). */
function versionOf(ref: string): string | undefined {
  const at = ref.indexOf("@");
  return at < 0 ? undefined : ref.slice(at + 1);
}

/** The route of an ingest endpoint under `/ingest/`: `name`, or `name/version`. */
function ingestRoute(name: string, version: string | undefined): string {
  return version === undefined ? name : `${name}/${version}`;
}

/** A pipeline's stream and table name: `name`, or `name_<version>` with the version's dots as `_`. */
function versionedName(name: string, version: string | undefined): string {
  return version === undefined ? name : `${name}_${version.replaceAll(".", "_")}`;
}

/**
 * The app a component provides: declare everything on it, then `export default app`.
 * Declaration mistakes (two streams with one name, an invalid API default, ...) throw
 * while the app is declared, which fails the build with the message.
 */
export class App {
  private readonly models: Model<Shape>[] = [];
  private readonly streams: StreamDef[] = [];
  private readonly tables: TableDef[] = [];
  private readonly ingests: IngestDef[] = [];
  private readonly functions: FunctionDef[] = [];
  private readonly aggregations: AggregationDef[] = [];
  private readonly windowedAggregations: WindowedAggregationDef[] = [];
  private readonly windowedImpls = new Map<string, RegisteredWindowed>();
  private readonly views: ViewDef[] = [];
  private readonly apis: RegisteredApi[] = [];
  private readonly functionImpls = new Map<string, BatchFunction>();

  private addModel(model: Model<Shape>): void {
    for (const m of model.allModels()) {
      const existing = this.models.find((o) => o.ref === m.ref);
      if (existing === undefined) this.models.push(m);
      else if (existing !== m && JSON.stringify(modelDef(existing)) !== JSON.stringify(modelDef(m))) {
        throw new Error(`two different models are named \`${m.ref}\`; rename one or give it a version`);
      }
    }
  }

  /** Adds `model` (and the models it nests) without using it elsewhere. */
  model<S extends Shape>(model: Model<S>): this {
    this.addModel(model as unknown as Model<Shape>);
    return this;
  }

  /** Declares a stream of `model` records. */
  stream<S extends Shape>(name: string, model: Model<S>, config: StreamConfig = {}): Stream<InferShape<S>> {
    checkNew("stream", name, names(this.streams));
    const m = model as unknown as Model<Shape>;
    this.addModel(m);
    this.streams.push({
      name,
      model: m.ref,
      partitions: config.partitions ?? 0,
      retentionHours: config.retentionHours,
    });
    return new Stream(name, m, this);
  }

  /** Declares a table of `model` rows, filled by the host from `source` when given. */
  table<S extends Shape>(
    name: string,
    model: Model<S>,
    config: TableConfig<InferShape<S>> = {},
    source?: Stream<InferShape<S>>,
  ): Table<InferShape<S>> {
    this.addModel(model as unknown as Model<Shape>);
    checkNew("table", name, this.tableNames());
    this.tables.push(tableDef(name, model, config, source?.name));
    return new Table(name);
  }

  /**
   * Declares `POST /ingest/<name>`, writing valid records to `stream`. When the stream's
   * model is versioned (`{ version: "1.1" }`) the route is `POST /ingest/<name>/1.1`, so
   * several versions of a model may share one endpoint name.
   */
  ingest<T>(name: string, stream: Stream<T>, deadLetter?: DeadLetterQueue): Ingest<T> {
    if (name === "") throw new Error("an ingest endpoint needs a non-empty name");
    checkNew(
      "ingest endpoint",
      ingestRoute(name, stream.model.options.version),
      this.ingests.map((i) => ingestRoute(i.name, versionOf(i.model))),
    );
    this.addModel(stream.model);
    this.ingests.push({ name, model: stream.model.ref, stream: stream.name, deadLetter: deadLetter?.name });
    return new Ingest(name);
  }

  /**
   * Declares an ingest pipeline named `name`: the stream `name`, and as `config` says (all
   * by default) the ingest endpoint `name`, the table `name` filled from the stream and
   * the ingest endpoint's dead-letter stream `<name>_dead_letter`.
   *
   * For a versioned model the stream and the table carry the version, dots as `_`, so
   * versions run side by side: `Order@1.1` in pipeline `Order` has stream and table
   * `Order_1_1`, dead-letter stream `Order_1_1_dead_letter` and the ingest route
   * `POST /ingest/Order/1.1`.
   */
  ingestPipeline<S extends Shape>(
    name: string,
    model: Model<S>,
    config: PipelineConfig<InferShape<S>> = {},
  ): Pipeline<InferShape<S>> {
    const storage = versionedName(name, model.options.version);
    const stream = this.stream(storage, model, config.stream);
    const table = config.table === false ? undefined : this.table(storage, model, config.table ?? {}, stream);
    const withIngest = config.ingest ?? true;
    const deadLetter =
      withIngest && (config.deadLetter ?? true) ? new DeadLetterQueue(`${storage}_dead_letter`) : undefined;
    const ingest = withIngest ? this.ingest(name, stream, deadLetter) : undefined;
    return { stream, table, ingest, deadLetter };
  }

  /** Declares a stream pipeline named `name`: the stream `name` and, unless
   * `config.table` is `false`, the table `name` filled from it. */
  streamPipeline<S extends Shape>(
    name: string,
    model: Model<S>,
    config: PipelineConfig<InferShape<S>> = {},
  ): Pipeline<InferShape<S>> {
    return this.ingestPipeline(name, model, { ...config, ingest: false, deadLetter: false });
  }

  /** @internal Registers a streaming function (see {@link Stream.addTransform}). */
  addFunction(def: FunctionDef, run: BatchFunction): void {
    checkNew("function", def.name, names(this.functions));
    this.functions.push(def);
    this.functionImpls.set(def.name, run);
  }

  /**
   * Declares SQL aggregation `name`: `select` reads `sources` and writes into the table
   * `name` of `model`, kept up to date as a materialized view.
   */
  aggregation<S extends Shape>(
    name: string,
    model: Model<S>,
    config: { select: string; sources: (string | { name: string })[]; table?: TableConfig<InferShape<S>> },
  ): Table<InferShape<S>> {
    checkNew("aggregation", name, names(this.aggregations));
    this.addModel(model as unknown as Model<Shape>);
    checkNew("table", name, this.tableNames());
    this.aggregations.push({
      name,
      select: config.select,
      sources: config.sources.map((s) => (typeof s === "string" ? s : s.name)),
      target: tableDef(name, model, config.table ?? {}, undefined),
    });
    return new Table(name);
  }

  /** Names of the tables declared so far, targets of aggregations included. */
  private tableNames(): string[] {
    return [
      ...names(this.tables),
      ...this.aggregations.map((a) => a.target.name),
      ...this.windowedAggregations.map((a) => a.target.name),
    ];
  }

  /**
   * Declares windowed aggregation `name` over `source`: the host groups its records into
   * event-time windows of `config.window` by `config.timeField`, keeps a state per window
   * through `init`, `accumulate` and `merge`, and when a window closes (its end plus the
   * allowed lateness has passed in event time) writes the rows of `emit` into the table
   * `name` of `config.target` rows.
   */
  windowedAggregation<T, S, R extends Shape>(
    name: string,
    source: Stream<T>,
    config: WindowedAggregationConfig<T, S, R>,
  ): Table<InferShape<R>> {
    checkNew("windowed aggregation", name, names(this.windowedAggregations));
    const timeField = source.model.fields.find((f) => f.name === config.timeField);
    if (timeField === undefined || timeField.dataType.wrappers.length > 0 || !TIME_TYPES.has(timeField.dataType.leaf.tag)) {
      throw new Error(
        `windowed aggregation \`${name}\`: time field \`${config.timeField}\` must be a Date, DateTime or DateTime64 field of ${source.model.ref}`,
      );
    }
    const stateVersion = config.stateVersion ?? 1;
    if (!Number.isInteger(stateVersion) || stateVersion < 0 || stateVersion > 2 ** 32 - 1) {
      throw new Error(`windowed aggregation \`${name}\`: stateVersion must be a u32, got ${stateVersion}`);
    }
    for (const part of ["init", "accumulate", "merge", "emit"] as const) {
      if (typeof config[part] !== "function") throw new Error(`windowed aggregation \`${name}\`: \`${part}\` must be a function`);
    }
    const target = config.target as unknown as Model<Shape>;
    this.addModel(target);
    checkNew("table", name, this.tableNames());
    this.windowedAggregations.push({
      name,
      source: source.name,
      timeField: config.timeField,
      window: {
        sizeSeconds: config.window.sizeSeconds,
        hopSeconds: config.window.hopSeconds,
        allowedLatenessSeconds: lateness(config.allowedLateness ?? 0),
      },
      target: tableDef(name, config.target, config.table ?? {}, undefined),
      stateVersion,
      deadLetter: deadLetterOf(name, config.deadLetter),
    });
    this.windowedImpls.set(name, {
      model: source.model,
      encode: target.encode,
      init: config.init,
      accumulate: config.accumulate as RegisteredWindowed["accumulate"],
      merge: config.merge as RegisteredWindowed["merge"],
      emit: config.emit as RegisteredWindowed["emit"],
    });
    return new Table(name);
  }

  /** Declares SQL view `name` over `sources`. */
  view(name: string, select: string, sources: (string | { name: string })[]): View {
    checkNew("view", name, names(this.views));
    this.views.push({ name, select, sources: sources.map((s) => (typeof s === "string" ? s : s.name)) });
    return new View(name);
  }

  /**
   * Declares query API `GET /api/<name>`: `handler` gets the typed parameters and returns
   * rows of the response model (or a promise of them).
   */
  api<P extends ParamShape, R extends Shape>(
    name: string,
    config: ApiConfig<P, R>,
    handler: (params: InferParams<P>) => InferShape<R>[] | Promise<InferShape<R>[]>,
  ): this {
    const params = Object.entries(config.params).map(([param, type]) => paramDef(name, param, type));
    const def: ApiDef = {
      name,
      version: config.version,
      params,
      response: config.response.ref,
      doc: config.doc,
    };
    checkNew("API", apiRef(def), this.apis.map((a) => apiRef(a.def)));
    this.addModel(config.response as unknown as Model<Shape>);
    this.apis.push({
      def,
      types: Object.values(config.params),
      encode: config.response.encode,
      handler: handler as (params: Record<string, unknown>) => unknown,
    });
    return this;
  }

  /** The app as plain data (what `describe` returns to the host). */
  describe(): AppDef {
    return {
      models: this.models.map(modelDef),
      streams: this.streams.map((s) => ({ ...s })),
      tables: this.tables.map((d) => ({ ...d })),
      ingests: this.ingests.map((d) => ({ ...d })),
      functions: this.functions.map((d) => ({ ...d })),
      aggregations: this.aggregations.map((d) => ({ ...d })),
      windowedAggregations: this.windowedAggregations.map((d) => ({ ...d, window: { ...d.window }, target: { ...d.target } })),
      views: this.views.map((d) => ({ ...d })),
      apis: this.apis.map((a) => a.def),
    };
  }

  /** Runs streaming function `name` on a batch. */
  process(name: string, input: Batch): Result<ProcessOutput, GuestError> {
    const run = this.functionImpls.get(name);
    if (run === undefined) return { tag: "err", val: { tag: "unknown-function", val: name } };
    return run(input);
  }

  /** `window-init`: the encoded state of an empty window of aggregation `name`. */
  windowInit(name: string, bounds: WindowBounds): Result<Uint8Array, GuestError> {
    return this.windowCall(name, bounds, (impl, window) => encodeState(impl.init(window)));
  }

  /** `window-accumulate`: folds a batch of records of one window into its encoded state.
   * Records that do not fit the source model, or on which `accumulate` throws, are
   * record errors and leave the state as it was. */
  windowAccumulate(name: string, bounds: WindowBounds, state: Uint8Array, input: Batch): Result<AccumulateOutput, GuestError> {
    return this.windowCall(name, bounds, (impl, window) => {
      let current = decodeState(state);
      const result = runBatch(
        input,
        impl.model,
        (record) => {
          current = impl.accumulate(current, record, window);
          return null;
        },
        undefined,
      );
      if (result.tag === "err") throw new CallFailure(result.val);
      return { state: encodeState(current), errors: result.val.errors };
    });
  }

  /** `window-merge`: combines two encoded states of one window. */
  windowMerge(name: string, bounds: WindowBounds, a: Uint8Array, b: Uint8Array): Result<Uint8Array, GuestError> {
    return this.windowCall(name, bounds, (impl, window) => encodeState(impl.merge(decodeState(a), decodeState(b), window)));
  }

  /** `window-emit`: the rows of a closed window, as a batch of target-model records. */
  windowEmit(name: string, bounds: WindowBounds, state: Uint8Array): Result<Batch, GuestError> {
    return this.windowCall(name, bounds, (impl, window) => {
      const result = impl.emit(decodeState(state), window);
      const rows = result === null || result === undefined ? [] : Array.isArray(result) ? result : [result];
      const lines = rows.map((row, i) => {
        try {
          return serialize(row, impl.encode);
        } catch (e) {
          throw new Error(`cannot serialize emitted row ${i}: ${messageOf(e)}`);
        }
      });
      return { encoding: "json", count: lines.length, data: encodeText(lines.join("\n")) };
    });
  }

  /** Runs one window call of aggregation `name`; a thrown error fails the whole call. */
  private windowCall<T>(
    name: string,
    bounds: WindowBounds,
    run: (impl: RegisteredWindowed, window: Window) => T,
  ): Result<T, GuestError> {
    const impl = this.windowedImpls.get(name);
    if (impl === undefined) return { tag: "err", val: { tag: "unknown-function", val: name } };
    try {
      return { tag: "ok", val: run(impl, toWindow(bounds)) };
    } catch (e) {
      if (e instanceof CallFailure) return { tag: "err", val: e.error };
      return { tag: "err", val: { tag: "failed", val: `windowed aggregation \`${name}\`: ${messageOf(e)}` } };
    }
  }

  /** Runs query API `api` (`name` or `name/version`) with `params`, a JSON object. */
  async handleApi(api: string, params: Uint8Array): Promise<Result<ApiResponse, ApiErrorVariant>> {
    const registered = this.apis.find((a) => apiRef(a.def) === api);
    if (registered === undefined) return { tag: "err", val: { tag: "unknown-api", val: api } };
    let typed: Record<string, unknown>;
    try {
      typed = prepareParams(registered, decodeText(params));
    } catch (e) {
      return { tag: "err", val: { tag: "bad-request", val: messageOf(e) } };
    }
    try {
      const rows = await registered.handler(typed);
      if (!Array.isArray(rows)) throw new TypeError(`API \`${api}\` returned ${typeof rows}, not an array of rows`);
      const body = JSON.stringify(rows.map((row) => registered.encode(row)));
      return { tag: "ok", val: { status: 200, body: encodeText(body) } };
    } catch (e) {
      if (e instanceof ApiError) return { tag: "err", val: { tag: e.kind, val: e.message } };
      if (e instanceof QueryError) return { tag: "err", val: { tag: "query", val: e.toVariant() } };
      return { tag: "err", val: { tag: "failed", val: messageOf(e) } };
    }
  }
}

/** A whole-call error raised inside a window call. */
class CallFailure extends Error {
  constructor(readonly error: GuestError) {
    super(error.tag);
  }
}

function modelDef(model: Model<Shape>): ModelDef {
  return { name: model.name, version: model.options.version, fields: model.fields, doc: model.options.doc };
}

function tableDef<S extends Shape>(
  name: string,
  model: Model<S>,
  config: TableConfig<InferShape<S>>,
  source: string | undefined,
): TableDef {
  return {
    name,
    model: model.ref,
    orderBy: [...(config.orderBy ?? [])],
    engine: config.engine ?? engines.mergeTree(),
    sourceStream: source,
    options: {
      partitionBy: config.partitionBy,
      primaryKey: [...(config.primaryKey ?? [])],
      sampleBy: config.sampleBy,
      ttl: config.ttl,
      settings: Object.entries(config.settings ?? {}).map(([name, value]) => ({ name, value: settingText(value) })),
      indexes: (config.indexes ?? []).map((i) => ({ ...i, granularity: i.granularity ?? 1 })),
      projections: (config.projections ?? []).map((p) => ({ ...p })),
      computed: Object.entries(config.computed ?? {}).map(([column, c]) => ({
        name: column,
        dataType: c.type.dataType,
        kind: c.kind,
        expression: c.expression,
        doc: c.type.options.doc,
      })),
      externallyManaged: config.externallyManaged ?? false,
    },
  };
}

/** A setting's value as ClickHouse spells it: strings quoted, numbers as they are, booleans as 1 or 0. */
function settingText(value: string | number | boolean): string {
  if (typeof value === "boolean") return value ? "1" : "0";
  if (typeof value !== "string") return String(value);
  return `'${value.replace(/[\\']/g, (c) => `\\${c}`)}'`;
}

