/**
 * Safe SQL for query APIs: the `sql` tagged template binds every interpolated value as a
 * ClickHouse query parameter (`{p0:String}`), never splicing it into the statement.
 *
 * ```ts
 * const rows = query(sql`SELECT * FROM ${table} WHERE customer = ${name} LIMIT ${limit}`, Row);
 * ```
 */

import { connectedHost, type QueryParam } from "./host.js";
import { decodeText, parseLines, InvalidLine } from "./json.js";
import { ConvertError, Model, type DataType, type GeoShape, type InferShape, type Shape, Type } from "./schema.js";

/** Why a query failed (`moose:app/types.query-error`). */
export type QueryErrorKind = "invalid" | "denied" | "timeout" | "too-large" | "unavailable" | "failed";

/** A failed query; thrown by {@link query}. Uncaught in an API handler, it becomes the
 * API's `query` error (an HTTP 4xx/5xx by kind). */
export class QueryError extends Error {
  constructor(
    readonly kind: QueryErrorKind,
    message: string,
    /** For `too-large`: the host's limit in bytes. */
    readonly limit?: bigint,
  ) {
    super(message);
    this.name = "QueryError";
  }

  /** The error as the WIT `query-error` variant. */
  toVariant(): { tag: QueryErrorKind; val?: string | bigint } {
    switch (this.kind) {
      case "timeout":
        return { tag: "timeout" };
      case "too-large":
        return { tag: "too-large", val: this.limit ?? 0n };
      default:
        return { tag: this.kind, val: this.message };
    }
  }
}

/** Something with a name that SQL may refer to: a table, a view or a stream. */
export interface Named {
  readonly name: string;
}

/** An identifier (table or column name), bound as an `Identifier` parameter. */
export class Identifier {
  constructor(readonly name: string) {}
}

/** A value with an explicit column type. */
export class Param {
  constructor(
    readonly value: unknown,
    readonly type: Type<unknown>,
  ) {}
}

/** What a `sql` template may interpolate. */
export type SqlValue =
  | string
  | number
  | bigint
  | boolean
  | Date
  | null
  | undefined
  | Param
  | Identifier
  | Named
  | Sql;

type Part = { kind: "param"; type: string; text: string; key: unknown } | { kind: "sql"; text: string };

/** A statement with bound values; build it with {@link sql}. */
export class Sql {
  /** @internal */
  constructor(readonly parts: readonly Part[]) {}

  /** The statement with `{pN:Type}` placeholders, and the parameter values. */
  build(): { sql: string; params: QueryParam[] } {
    let text = "";
    const params: QueryParam[] = [];
    const seen = new Map<unknown, string>();
    for (const part of this.parts) {
      if (part.kind === "sql") {
        text += part.text;
        continue;
      }
      let name = part.key === undefined ? undefined : seen.get(part.key);
      if (name === undefined) {
        name = `p${params.length}`;
        params.push({ name, value: part.text });
        if (part.key !== undefined) seen.set(part.key, name);
      }
      text += `{${name}:${part.type}}`;
    }
    return { sql: text, params };
  }
}

/** ClickHouse's Escaped text form of a string: backslash, tab, newline, CR and NUL escaped. */
export function escapeText(value: string): string {
  return value.replace(/[\\\t\n\r\0]/g, (c) => ESCAPES[c]!);
}

const ESCAPES: Record<string, string> = { "\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\0": "\\0" };

const pad = (n: number, width = 2): string => String(n).padStart(width, "0");

/** `YYYY-MM-DD hh:mm:ss.fff` in UTC, as ClickHouse reads `DateTime64(3, 'UTC')`. */
function dateTimeText(d: Date): string {
  if (Number.isNaN(d.getTime())) throw new TypeError("cannot bind an invalid Date");
  return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}`;
}

function numberText(n: number): string {
  if (Number.isNaN(n)) return "nan";
  if (!Number.isFinite(n)) return n > 0 ? "inf" : "-inf";
  return Object.is(n, -0) ? "0" : String(n);
}

const GEO_NAMES: Record<GeoShape, string> = {
  point: "Point",
  ring: "Ring",
  "line-string": "LineString",
  "multi-line-string": "MultiLineString",
  polygon: "Polygon",
  "multi-polygon": "MultiPolygon",
};

/** Nested arrays of `[x, y]` as ClickHouse text: `[(0,0),(1,0)]`. */
function geoText(value: unknown): string {
  if (!Array.isArray(value)) throw new TypeError("a geo parameter is an array of [x, y] points (nested)");
  if (value.length === 2 && typeof value[0] === "number" && typeof value[1] === "number") {
    return `(${numberText(value[0])},${numberText(value[1])})`;
  }
  return `[${value.map(geoText).join(",")}]`;
}

/** The narrowest of Int64, UInt64, Int128, UInt128, Int256 and UInt256 that holds `value`. */
function bigIntType(value: bigint): string {
  for (const bits of [64n, 128n, 256n]) {
    if (value >= -(2n ** (bits - 1n)) && value < 2n ** (bits - 1n)) return `Int${bits}`;
    if (value >= 0n && value < 2n ** bits) return `UInt${bits}`;
  }
  throw new TypeError(`${value} does not fit a 256-bit integer`);
}

/** The ClickHouse name of a column type, as used in `{name:Type}`. */
export function clickhouseType(dataType: DataType): string {
  const leaf = dataType.leaf;
  let out: string;
  switch (leaf.tag) {
    case "string": out = "String"; break;
    case "low-cardinality-string": out = "String"; break;
    case "int8": out = "Int8"; break;
    case "int16": out = "Int16"; break;
    case "int32": out = "Int32"; break;
    case "int64": out = "Int64"; break;
    case "uint8": out = "UInt8"; break;
    case "uint16": out = "UInt16"; break;
    case "uint32": out = "UInt32"; break;
    case "uint64": out = "UInt64"; break;
    case "float32": out = "Float32"; break;
    case "float64": out = "Float64"; break;
    case "boolean": out = "Bool"; break;
    case "decimal": out = `Decimal(${leaf.val.precision}, ${leaf.val.scale})`; break;
    case "date": out = "Date"; break;
    case "date-time": out = "DateTime('UTC')"; break;
    case "date-time64": out = `DateTime64(${leaf.val}, 'UTC')`; break;
    case "uuid": out = "UUID"; break;
    case "enum": out = "String"; break;
    case "json": out = "String"; break;
    case "nested": throw new TypeError("a nested record cannot be bound as a query parameter");
    case "int128": out = "Int128"; break;
    case "int256": out = "Int256"; break;
    case "uint128": out = "UInt128"; break;
    case "uint256": out = "UInt256"; break;
    case "fixed-string": out = `FixedString(${leaf.val})`; break;
    case "ipv4": out = "IPv4"; break;
    case "ipv6": out = "IPv6"; break;
    case "geo": out = GEO_NAMES[leaf.val]; break;
  }
  for (const wrapper of [...dataType.wrappers].reverse()) {
    if (wrapper === "nullable") out = `Nullable(${out})`;
    else throw new TypeError(`cannot bind ${wrapper} parameters; bind scalars`);
  }
  return out;
}

/** The Escaped text of `value` for a parameter of `dataType`. */
function valueText(value: unknown, dataType: DataType): string {
  if (value === null || value === undefined) {
    if (dataType.wrappers[0] !== "nullable") throw new TypeError(`cannot bind null to ${clickhouseType(dataType)}`);
    return "\\N";
  }
  switch (dataType.leaf.tag) {
    case "date-time":
    case "date-time64":
      return value instanceof Date ? dateTimeText(value) : escapeText(String(value));
    case "json":
      return escapeText(JSON.stringify(value));
    case "geo":
      return geoText(value);
    default:
      return inferred(value).text;
  }
}

function inferred(value: unknown): { type: string; text: string } {
  switch (typeof value) {
    case "string":
      return { type: "String", text: escapeText(value) };
    case "number":
      return { type: Number.isSafeInteger(value) ? "Int64" : "Float64", text: numberText(value) };
    case "bigint":
      return { type: bigIntType(value), text: value.toString() };
    case "boolean":
      return { type: "Bool", text: value ? "true" : "false" };
    default:
      if (value === null || value === undefined) return { type: "Nullable(String)", text: "\\N" };
      if (value instanceof Date) return { type: "DateTime64(3, 'UTC')", text: dateTimeText(value) };
      throw new TypeError(`cannot bind ${Array.isArray(value) ? "an array" : "this value"} as a query parameter; use sql.param(value, type) with a scalar type`);
  }
}

function part(value: SqlValue): Part[] {
  if (value instanceof Sql) return [...value.parts];
  if (value instanceof Param) {
    return [{ kind: "param", type: clickhouseType(value.type.dataType), text: valueText(value.value, value.type.dataType), key: value }];
  }
  if (value instanceof Identifier) return [{ kind: "param", type: "Identifier", text: escapeText(value.name), key: undefined }];
  if (typeof value === "object" && value !== null && !(value instanceof Date) && typeof (value as Named).name === "string") {
    return [{ kind: "param", type: "Identifier", text: escapeText((value as Named).name), key: undefined }];
  }
  const { type, text } = inferred(value);
  return [{ kind: "param", type, text, key: undefined }];
}

/**
 * A SQL statement whose interpolated values are bound as query parameters: strings,
 * numbers (`Int64` when integral, else `Float64`), bigints, booleans, `Date`s
 * (`DateTime64(3, 'UTC')`), `null` (`Nullable(String)`), {@link sql.param} for an
 * explicit type, tables and views (and {@link sql.identifier}) as identifiers, and other
 * `sql` fragments.
 */
export function sql(strings: TemplateStringsArray, ...values: SqlValue[]): Sql {
  const parts: Part[] = [];
  strings.forEach((text, i) => {
    if (text !== "") parts.push({ kind: "sql", text });
    if (i < values.length) parts.push(...part(values[i]));
  });
  return new Sql(parts);
}

/** A value bound with an explicit type: `sql.param(day, t.nullable(t.date()))`. The same
 * `Param` interpolated twice is bound once. */
sql.param = (value: unknown, type: Type<unknown>): Param => new Param(value, type);

/** A table or column name, bound as an `Identifier` parameter. */
sql.identifier = (name: string): Identifier => new Identifier(name);

function hostQuery(statement: Sql): string {
  const host = connectedHost();
  if (host === undefined) throw new QueryError("unavailable", "no Moose host is connected");
  const { sql: text, params } = statement.build();
  try {
    return decodeText(host.query(text, params).data);
  } catch (e) {
    const payload = (e as { payload?: { tag?: string; val?: unknown } } | null)?.payload;
    if (payload?.tag === undefined) throw e;
    const kind = payload.tag as QueryErrorKind;
    const limit = typeof payload.val === "bigint" ? payload.val : undefined;
    const message =
      kind === "timeout" ? "query timed out"
        : kind === "too-large" ? `query result exceeds ${String(payload.val)} bytes`
          : String(payload.val);
    throw new QueryError(kind, message, limit);
  }
}

/**
 * Runs a read-only query. With a model, each row is checked and typed by it (64-bit
 * integers as `bigint`, date-times as `Date`); without one, rows are plain JSON objects.
 */
export function query<S extends Shape>(statement: Sql, model: Model<S>): InferShape<S>[];
export function query(statement: Sql): Record<string, unknown>[];
export function query(statement: Sql, model?: Model<Shape>): unknown[] {
  const text = hostQuery(statement);
  const lines = text.split("\n").filter((line) => line.trim() !== "");
  const values = parseLines(lines.join("\n"), lines.length, model?.wide ?? false);
  return values.map((value, i) => {
    if (value instanceof InvalidLine) throw new QueryError("failed", `result row ${i} is not JSON: ${value.message}`);
    if (model === undefined) return value;
    try {
      return model.convert(value);
    } catch (e) {
      if (e instanceof ConvertError) {
        throw new QueryError("failed", `cannot decode result row ${i} as ${model.name}: ${e.describe()}`);
      }
      throw e;
    }
  });
}
