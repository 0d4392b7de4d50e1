/**
 * `@moose/guest`: declare Moose data models, streaming functions, SQL and windowed
 * aggregations and query APIs in TypeScript; `moose build` compiles them into a
 * WebAssembly component.
 *
 * ```ts
 * import { App, model, t, type Infer } from "@moose/guest";
 * export const Order = model("Order", { id: t.key(t.string()), amount: t.float64(), ts: t.dateTime() });
 * export type Order = Infer<typeof Order>;
 * const app = new App();
 * app.ingestPipeline("Order", Order);
 * export default app;
 * ```
 */

/// <reference path="./globals.d.ts" />

export { t, model, Model, Type, ConvertError } from "./schema.js";
export type {
  Infer, InferShape, Shape, DataType, ScalarType, TypeWrapper, Field, EnumMember, DecimalSpec, ModelOptions,
  AggregateColumn, AggregateKind, GeoShape, Point,
} from "./schema.js";
export { App, DeadLetterQueue, Stream, Table, View, Ingest } from "./app.js";
export type {
  ApiConfig, FunctionOptions, InferParams, ParamShape, Pipeline, PipelineConfig, StreamConfig, TableConfig,
  TimeField, WindowedAggregationConfig,
} from "./app.js";
export { ApiError, computed, engines } from "./defs.js";
export type {
  AppDef, ApiDef, ApiParamDef, TableEngine, TableIndex, TableOptions, Projection, ComputedColumn, ComputedColumnConfig, TransformResult, ProcessOutput, RecordError, Result, AccumulateOutput,
  WindowSpec, WindowedAggregationDef,
} from "./defs.js";
export { tumbling, hopping, encodeState, decodeState, StateError } from "./window.js";
export type { Window, WindowBounds, WindowSize } from "./window.js";
export { sql, query, QueryError, Sql, Identifier, Param } from "./sql.js";
export type { SqlValue, QueryErrorKind } from "./sql.js";
export { log, connectHost } from "./host.js";
export type { HostImports, LogLevel, QueryParam, Batch } from "./host.js";
