/**
 * The app as plain data, as `describe` returns it to the host, and the results of the
 * calls the host makes (`moose:app/types` in `wit/moose.wit`).
 */

import type { Batch } from "./host.js";
import { ConvertError, type DataType, type Field, type Type } from "./schema.js";
import type { QueryError } from "./sql.js";

/** A model as described to the host. */
export interface ModelDef {
  name: string;
  version: string | undefined;
  fields: Field[];
  doc: string | undefined;
}

export interface StreamDef {
  name: string;
  model: string;
  partitions: number;
  retentionHours: number | undefined;
}

/** A ClickHouse table engine; build one with {@link engines}. */
export type TableEngine =
  | { tag: "merge-tree" }
  | { tag: "replacing-merge-tree"; val: { version: string | undefined; isDeleted: string | undefined } }
  | { tag: "summing-merge-tree"; val: string[] }
  | { tag: "aggregating-merge-tree" }
  | { tag: "collapsing-merge-tree"; val: string }
  | { tag: "versioned-collapsing-merge-tree"; val: { sign: string; version: string } };

/** Table engines. */
export const engines = {
  mergeTree: (): TableEngine => ({ tag: "merge-tree" }),
  /** Keeps the newest row per key: the one with the greatest `version` (the last inserted
   * without one). With `isDeleted`, a `UInt8` column, a newest row with 1 deletes its key. */
  replacingMergeTree: (version?: string, isDeleted?: string): TableEngine => ({
    tag: "replacing-merge-tree",
    val: { version, isDeleted },
  }),
  /** Sums `columns` per key (every numeric column when empty). */
  summingMergeTree: (columns: string[] = []): TableEngine => ({ tag: "summing-merge-tree", val: columns }),
  aggregatingMergeTree: (): TableEngine => ({ tag: "aggregating-merge-tree" }),
  /** Merging drops pairs of rows with equal keys and opposite `sign` (an `Int8` column:
   * 1 for a state, -1 for its cancel). */
  collapsingMergeTree: (sign: string): TableEngine => ({ tag: "collapsing-merge-tree", val: sign }),
  /** Like `collapsingMergeTree`, and rows may arrive in any order; `version` orders a key's
   * states. */
  versionedCollapsingMergeTree: (sign: string, version: string): TableEngine => ({
    tag: "versioned-collapsing-merge-tree",
    val: { sign, version },
  }),
};

/** A computed column's type and expression, before it is named (see {@link computed}). */
export interface ComputedColumnConfig {
  type: Type<unknown>;
  kind: "materialized" | "alias";
  expression: string;
}

/** Columns ClickHouse computes, for a table config's `computed`:
 * `computed: { day: computed.materialized(t.date(), "toDate(ts)") }`. */
export const computed = {
  /** Computed from `expression` when rows are inserted, and stored. */
  materialized: (type: Type<unknown>, expression: string): ComputedColumnConfig => ({
    type,
    kind: "materialized",
    expression,
  }),
  /** Computed from `expression` when read, never stored. */
  alias: (type: Type<unknown>, expression: string): ComputedColumnConfig => ({ type, kind: "alias", expression }),
};

/** A data-skipping index. */
export interface TableIndex {
  name: string;
  /** A column or an expression of columns: `"lower(email)"`. */
  expression: string;
  /** `minmax`, `set(100)`, `bloom_filter(0.01)`, `ngrambf_v1(3, 256, 2, 0)`, ... */
  type: string;
  /** Granules per index block; 0 means 1. */
  granularity: number;
}

/** A projection: the rows kept a second time, sorted or aggregated differently. */
export interface Projection {
  name: string;
  /** Its query without `FROM`: `"SELECT * ORDER BY userId"`. */
  select: string;
}

/** A column a table adds to its model's, computed by ClickHouse; records never carry it. */
export interface ComputedColumn {
  name: string;
  dataType: DataType;
  /** `materialized`: computed on insert and stored; `alias`: computed when read. */
  kind: "materialized" | "alias";
  /** ClickHouse SQL over the table's columns: `"toDate(ts)"`. */
  expression: string;
  doc: string | undefined;
}

/** How ClickHouse stores a table beyond its engine and sort key, as described to the host. */
export interface TableOptions {
  partitionBy: string | undefined;
  primaryKey: string[];
  sampleBy: string | undefined;
  ttl: string | undefined;
  settings: { name: string; value: string }[];
  indexes: TableIndex[];
  projections: Projection[];
  computed: ComputedColumn[];
  externallyManaged: boolean;
}

export interface TableDef {
  name: string;
  model: string;
  orderBy: string[];
  engine: TableEngine;
  sourceStream: string | undefined;
  options: TableOptions;
}

export interface IngestDef {
  name: string;
  model: string;
  stream: string;
  deadLetter: string | undefined;
}

export interface FunctionDef {
  name: string;
  source: string;
  destination: string | undefined;
  deadLetter: string | undefined;
}

export interface AggregationDef {
  name: string;
  select: string;
  sources: string[];
  target: TableDef;
}

export interface ViewDef {
  name: string;
  select: string;
  sources: string[];
}

export interface ApiParamDef {
  name: string;
  dataType: DataType;
  required: boolean;
  default: string | undefined;
  min: number | undefined;
  max: number | undefined;
  doc: string | undefined;
}

export interface ApiDef {
  name: string;
  version: string | undefined;
  params: ApiParamDef[];
  response: string;
  doc: string | undefined;
}

/** How a windowed aggregation tiles event time (`moose:app/types.window-spec`). */
export interface WindowSpec {
  sizeSeconds: number;
  hopSeconds: number;
  allowedLatenessSeconds: number;
}

export interface WindowedAggregationDef {
  name: string;
  source: string;
  timeField: string;
  window: WindowSpec;
  target: TableDef;
  stateVersion: number;
  deadLetter: string | undefined;
}

/** A component's part of the app (`moose:app/types.app-def`), as `describe` returns it. */
export interface AppDef {
  models: ModelDef[];
  streams: StreamDef[];
  tables: TableDef[];
  ingests: IngestDef[];
  functions: FunctionDef[];
  aggregations: AggregationDef[];
  windowedAggregations: WindowedAggregationDef[];
  views: ViewDef[];
  apis: ApiDef[];
}

/** A WIT `result`: the component bindings pass it through as is. */
export type Result<T, E> = { tag: "ok"; val: T } | { tag: "err"; val: E };

export interface RecordError {
  index: number;
  message: string;
}

export interface ProcessOutput {
  output: Batch;
  sources: Uint32Array;
  errors: RecordError[];
}

/** An error for a whole `process` call. */
export type GuestError =
  | { tag: "unknown-function"; val: string }
  | { tag: "unsupported-encoding"; val: string }
  | { tag: "failed"; val: string };

/** What `window-accumulate` returns: the new state and the records that failed. */
export interface AccumulateOutput {
  state: Uint8Array;
  errors: RecordError[];
}

export interface ApiResponse {
  status: number;
  body: Uint8Array;
}

/** Why an API call failed (`moose:app/types.api-error`). */
export type ApiErrorVariant =
  | { tag: "unknown-api" | "bad-request" | "not-found" | "failed"; val: string }
  | { tag: "query"; val: ReturnType<QueryError["toVariant"]> };

/** Thrown by an API handler: a bad request (HTTP 400) or nothing found (404). */
export class ApiError extends Error {
  constructor(
    readonly kind: "bad-request" | "not-found",
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }

  static badRequest(message: string): ApiError {
    return new ApiError("bad-request", message);
  }

  static notFound(message: string): ApiError {
    return new ApiError("not-found", message);
  }
}

/** What a transform returns for one record: a record, several, or none. */
export type TransformResult<O> = O | O[] | null | undefined;

/** The message of a thrown value, as a dead letter or an error answer says it. */
export function messageOf(e: unknown): string {
  if (e instanceof ConvertError) return e.describe();
  if (e instanceof Error) return e.message;
  return String(e);
}
