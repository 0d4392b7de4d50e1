/**
 * The schema builder: column types whose TypeScript types are inferred, and models.
 *
 * Each {@link Type} knows its column type (as described to the host) and how to turn a
 * parsed JSON value into its TypeScript value, checking it on the way.
 */

/** A type constructor with one type argument (`moose:app/types.type-wrapper`). */
export type TypeWrapper = "array" | "map" | "nullable";

/** `Decimal(precision, scale)`. */
export interface DecimalSpec {
  precision: number;
  scale: number;
}

/** One member of an enum; records carry the member's name. */
export interface EnumMember {
  name: string;
  value: number;
}

/** The innermost part of a column type (`moose:app/types.scalar-type`). */
export type ScalarType =
  | {
      tag:
        | "string"
        | "low-cardinality-string"
        | "int8"
        | "int16"
        | "int32"
        | "int64"
        | "uint8"
        | "uint16"
        | "uint32"
        | "uint64"
        | "float32"
        | "float64"
        | "boolean"
        | "date"
        | "date-time"
        | "uuid"
        | "json"
        | "int128"
        | "int256"
        | "uint128"
        | "uint256"
        | "ipv4"
        | "ipv6";
    }
  | { tag: "decimal"; val: DecimalSpec }
  | { tag: "date-time64"; val: number }
  | { tag: "enum"; val: EnumMember[] }
  | { tag: "nested"; val: string }
  | { tag: "fixed-string"; val: number }
  | { tag: "geo"; val: GeoShape };

/** The geo types (`moose:app/types.geo-shape`): a point, and arrays of points nested one to
 * three levels deep. */
export type GeoShape = "point" | "ring" | "line-string" | "multi-line-string" | "polygon" | "multi-polygon";

/** `[x, y]`. */
export type Point = [number, number];

/** A full column type: `wrappers`, outermost first, around `leaf`. */
export interface DataType {
  wrappers: TypeWrapper[];
  leaf: ScalarType;
}

/** How a column holds an aggregate (`moose:app/types.aggregate-kind`): the state of the
 * function over arguments of these types, or plain values that merge with the function. */
export type AggregateKind = { tag: "state"; val: DataType[] } | { tag: "simple" };

/** A column of an aggregating table (`moose:app/types.aggregate-column`). */
export interface AggregateColumn {
  /** The function with its parameters as ClickHouse spells it: `uniq`, `quantiles(0.5, 0.9)`. */
  function: string;
  kind: AggregateKind;
}

/** A value that does not fit its type; `path` names the field at fault. */
export class ConvertError extends Error {
  readonly path: string[] = [];

  /** `field \`a.b\`: message`, or the message alone at the top level. */
  describe(): string {
    return this.path.length === 0
      ? this.message
      : `field \`${this.path.join(".")}\`: ${this.message}`;
  }
}

/** Turns a parsed JSON value into a typed value, or throws a {@link ConvertError}. */
export type Converter<T> = (value: unknown) => T;

/** Settings of a type used as a model field or an API parameter. */
export interface TypeOptions {
  /** Part of the model's key. */
  key?: boolean;
  /** A ClickHouse default expression (fields) or a query-string default (API parameters). */
  default?: string;
  doc?: string;
  /** Inclusive lower bound (API parameters). */
  min?: number;
  /** Inclusive upper bound (API parameters). */
  max?: number;
  /** The API parameter may be absent. */
  optional?: boolean;
  /** The field is a column of an aggregating table. */
  aggregate?: AggregateColumn;
  /** The column's codecs inside `CODEC(...)`. */
  codec?: string;
  /** Column TTL expression. */
  ttl?: string;
}

/** Turns a typed value into what `JSON.stringify` prints for it (`Date`s to RFC 3339
 * text, `bigint`s to numbers), keeping only model fields. */
export type Encoder = (value: unknown) => unknown;

/** How a {@link Type} handles its values. */
export interface TypeSpec<T> {
  /** The column type described to the host. */
  dataType: DataType;
  /** Checks and converts a parsed JSON value. */
  convert: Converter<T>;
  /** Models this type refers to (nested records), innermost first. */
  models?: readonly Model<Shape>[];
  /** Whether values hold 64-bit integers, which need exact JSON parsing. */
  wide?: boolean;
  /** For types whose parsed JSON value is already the typed value: a JavaScript condition
   * on `$` that holds for valid values (inlined into generated model converters). */
  check?: string;
  /** Output encoder; absent when the value prints as is. */
  encode?: Encoder;
}

/** A column type whose values are `T` in TypeScript. Build them with {@link t}. */
export class Type<T> {
  /** Phantom member carrying `T`; it has no value at run time. */
  declare readonly __value: T;

  constructor(
    readonly spec: Readonly<TypeSpec<T>>,
    readonly options: Readonly<TypeOptions> = {},
  ) {}

  /** The column type described to the host. */
  get dataType(): DataType {
    return this.spec.dataType;
  }

  /** Checks and converts a parsed JSON value. */
  get convert(): Converter<T> {
    return this.spec.convert;
  }

  private with(options: TypeOptions): this {
    return new Type(this.spec, { ...this.options, ...options }) as this;
  }

  /** Marks the field as part of the model's key. */
  key(): this {
    return this.with({ key: true });
  }

  /** A ClickHouse default expression for a field, or the default of an API parameter
   * in query-string form (`"100"`). */
  default(expression: string): this {
    return this.with({ default: expression });
  }

  /**
   * An `AggregateFunction(fn, args...)` column: it holds `fn`'s intermediate state, written
   * by an aggregation's SELECT (`uniqState(user) AS users`) and read with `-Merge`
   * (`uniqMerge(users)`). The type itself is what `-Merge` yields:
   * `t.uint64().aggregateState("uniq", t.string())`.
   */
  aggregateState(fn: string, ...args: Type<unknown>[]): this {
    return this.with({ aggregate: { function: fn, kind: { tag: "state", val: args.map((a) => a.dataType) } } });
  }

  /**
   * A `SimpleAggregateFunction(fn, T)` column: plain values of this type that merge with
   * `fn` (`max`, `sum`, `anyLast`, ...): `t.dateTime().simpleAggregate("max")`.
   */
  simpleAggregate(fn: string): this {
    return this.with({ aggregate: { function: fn, kind: { tag: "simple" } } });
  }

  /** The column's compression codecs, as inside ClickHouse's `CODEC(...)`:
   * `t.dateTime().codec("Delta, ZSTD(1)")`. */
  codec(codecs: string): this {
    return this.with({ codec: codecs });
  }

  /** A column TTL: once the expression's time passes, the value is reset to the column's
   * default (`t.string().ttl("ts + INTERVAL 30 DAY")`). */
  ttl(expression: string): this {
    return this.with({ ttl: expression });
  }

  /** A description. */
  doc(text: string): this {
    return this.with({ doc: text });
  }

  /** Inclusive lower bound of a numeric API parameter. */
  min(bound: number): this {
    return this.with({ min: bound });
  }

  /** Inclusive upper bound of a numeric API parameter. */
  max(bound: number): this {
    return this.with({ max: bound });
  }

  /** An API parameter that may be absent (`undefined` in the handler). */
  optional(): Type<T | undefined> {
    return this.with({ optional: true }) as Type<T | undefined>;
  }
}

/** The fields of a model: names to types. */
export type Shape = { readonly [field: string]: Type<unknown> };

/** The TypeScript value of a {@link Type}, a {@link Model} or a shape. */
export type Infer<X> =
  X extends Model<infer S>
    ? InferShape<S>
    : X extends Type<infer T>
      ? T
      : X extends Shape
        ? InferShape<X>
        : never;

/** The record type of a shape. */
export type InferShape<S extends Shape> = {
  -readonly [K in keyof S]: S[K] extends Type<infer T> ? T : never;
};

/** One column of a model, as described to the host. */
export interface Field {
  name: string;
  dataType: DataType;
  key: boolean;
  default: string | undefined;
  doc: string | undefined;
  /** Set for a column of an aggregating table. */
  aggregate: AggregateColumn | undefined;
  codec: string | undefined;
  ttl: string | undefined;
}

/** Options of {@link model}. */
export interface ModelOptions {
  /** A version such as `"1.1"`; versioned models get their own streams and tables. */
  version?: string;
  doc?: string;
}

/** A data model: the schema of a stream, a table, a nested record or API rows. */
export class Model<S extends Shape> {
  /** How other definitions refer to the model: `name`, or `name@version`. */
  readonly ref: string;
  /** The columns, in declaration order. */
  readonly fields: Field[];
  /** Whether records hold 64-bit integers. */
  readonly wide: boolean;
  /** Checks a parsed JSON record and builds the typed record with exactly the model's fields. */
  readonly convert: Converter<InferShape<S>>;
  /** Builds the JSON-ready copy of a typed record, with exactly the model's fields. */
  readonly encode: Encoder;

  constructor(
    readonly name: string,
    readonly shape: S,
    readonly options: Readonly<ModelOptions> = {},
  ) {
    if (name === "") throw new Error("a model needs a non-empty name");
    this.ref = options.version === undefined ? name : `${name}@${options.version}`;
    const entries = Object.entries(shape);
    this.fields = entries.map(([field, type]) => ({
      name: field,
      dataType: type.dataType,
      key: type.options.key === true,
      default: type.options.default,
      doc: type.options.doc,
      aggregate: type.options.aggregate,
      codec: type.options.codec,
      ttl: type.options.ttl,
    }));
    this.wide = entries.some(([, type]) => type.spec.wide === true);
    this.convert = recordConverter(entries) as Converter<InferShape<S>>;
    this.encode = recordEncoder(entries);
  }

  /** This model and every model it nests, nested ones first, each once. */
  allModels(): Model<Shape>[] {
    const out: Model<Shape>[] = [];
    for (const type of Object.values(this.shape)) {
      for (const nested of type.spec.models ?? []) if (!out.includes(nested)) out.push(nested);
    }
    out.push(this as unknown as Model<Shape>);
    return out;
  }
}

/**
 * Declares a model.
 *
 * ```ts
 * export const Order = model("Order", { id: t.key(t.string()), amount: t.float64() });
 * export type Order = Infer<typeof Order>;
 * ```
 */
export function model<S extends Shape>(name: string, shape: S, options?: ModelOptions): Model<S> {
  return new Model(name, shape, options);
}

function fail(message: string): never {
  throw new ConvertError(message);
}

function show(value: unknown): string {
  if (typeof value === "bigint") return `${value}`;
  if (value === undefined) return "nothing";
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

// Records are converted and encoded on every record of a batch, in an interpreter: the
// model's functions are generated once, with the checks of plain fields inlined.

/** Converts field `name` of `type` (the slow path of a generated converter). */
function fieldConverter(name: string, type: Type<unknown>): Converter<unknown> {
  const convert = type.convert;
  const nullable = type.dataType.wrappers[0] === "nullable";
  return (value) => {
    try {
      if (value === undefined) return nullable ? null : fail("missing field");
      return convert(value);
    } catch (e) {
      if (e instanceof ConvertError) e.path.unshift(name);
      throw e;
    }
  };
}

function recordConverter(entries: [string, Type<unknown>][]): Converter<Record<string, unknown>> {
  const slow = entries.map(([name, type]) => fieldConverter(name, type));
  const lines = entries.map(([name, type], i) => {
    const check = type.spec.check;
    const read = `let x${i} = v[${JSON.stringify(name)}];`;
    return check === undefined
      ? `${read} x${i} = slow[${i}](x${i});`
      : `${read} if (!(${check.replaceAll("$", `x${i}`)})) x${i} = slow[${i}](x${i});`;
  });
  const fields = entries.map(([name], i) => `${JSON.stringify(name)}: x${i}`).join(", ");
  const make = new Function(
    "slow",
    "notObject",
    `return function convert(v) {
  if (typeof v !== "object" || v === null || Array.isArray(v)) notObject(v);
  ${lines.join("\n  ")}
  return { ${fields} };
};`,
  ) as (slow: Converter<unknown>[], notObject: (v: unknown) => never) => Converter<Record<string, unknown>>;
  return make(slow, (v) => fail(`expected an object, got ${show(v)}`));
}

function recordEncoder(entries: [string, Type<unknown>][]): Encoder {
  const encoders = entries.map(([, type]) => type.spec.encode);
  const fields = entries
    .map(([name], i) => {
      const read = `r[${JSON.stringify(name)}]`;
      return `${JSON.stringify(name)}: ${encoders[i] === undefined ? read : `enc[${i}](${read})`}`;
    })
    .join(", ");
  const make = new Function("enc", `return function encode(r) { return { ${fields} }; };`) as (
    enc: (Encoder | undefined)[],
  ) => Encoder;
  return make(encoders);
}

function scalar<T>(
  tag: Extract<ScalarType, { tag: string; val?: never }>["tag"],
  convert: Converter<T>,
  more: Omit<TypeSpec<T>, "dataType" | "convert"> = {},
): Type<T> {
  return new Type({ dataType: { wrappers: [], leaf: { tag } }, convert, ...more });
}

function text(label: string): Converter<string> {
  return (value) => (typeof value === "string" ? value : fail(`expected ${label}, got ${show(value)}`));
}

function integer(label: string, min: number, max: number): Converter<number> {
  return (value) =>
    typeof value === "number" && Number.isInteger(value) && value >= min && value <= max
      ? value
      : fail(`expected ${label}, got ${show(value)}`);
}

/** Inline check of an integer in `[min, max]`. */
function integerCheck(min: number, max: number): string {
  return `typeof $ === "number" && $ >= ${min} && $ <= ${max} && $ % 1 === 0`;
}

const DIGITS = /^\s*[+-]?\d+\s*$/;

/** Integers as numbers, bigints, or strings of digits (as JavaScript clients send 64-bit
 * values and the host accepts them). */
function bigInteger(label: string, min: bigint, max: bigint): Converter<bigint> {
  return (value) => {
    let big: bigint | undefined;
    if (typeof value === "bigint") big = value;
    else if (typeof value === "number" && Number.isInteger(value)) big = BigInt(value);
    else if (typeof value === "string" && DIGITS.test(value)) big = BigInt(value.trim());
    return big !== undefined && big >= min && big <= max
      ? big
      : fail(`expected ${label}, got ${show(value)}`);
  };
}

const rawJson = (JSON as unknown as { rawJSON?: (text: string) => unknown }).rawJSON;

/** A bigint as a JSON number: a plain number when exact, else raw JSON text. */
const encodeBig: Encoder = (value) => {
  if (typeof value !== "bigint") return value;
  if (value >= -9007199254740991n && value <= 9007199254740991n) return Number(value);
  if (rawJson === undefined) throw new TypeError("this JavaScript engine lacks JSON.rawJSON, needed for 64-bit integers");
  return rawJson(value.toString());
};

/** A `Date` as RFC 3339 UTC text. */
const encodeDate: Encoder = (value) => (value instanceof Date ? value.toISOString() : value);

function float(label: string): Converter<number> {
  return (value) => (typeof value === "number" ? value : fail(`expected ${label}, got ${show(value)}`));
}

const DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?$/;

/** `value` as a decimal string with exactly `scale` decimals, rounded half away from zero. */
export function normalizeDecimal(value: unknown, precision: number, scale: number): string {
  const label = `Decimal(${precision}, ${scale})`;
  let source: string;
  if (typeof value === "string") source = value.trim();
  else if (typeof value === "number" && Number.isFinite(value)) {
    source = Math.abs(value) < 1e21 ? value.toFixed(Math.min(20, scale + 1)) : "x";
  } else return fail(`expected ${label}, got ${show(value)}`);
  const match = DECIMAL.exec(source);
  if (match === null || (match[2] === "" && (match[3] ?? "") === "")) {
    return fail(`expected ${label}, got ${show(value)}`);
  }
  const negative = match[1] === "-";
  let digits = (match[2] ?? "") + (match[3] ?? "").padEnd(scale, "0");
  const extra = (match[3] ?? "").length - scale;
  if (extra > 0) {
    const roundUp = digits.charCodeAt(digits.length - extra) >= 53; // '5'
    digits = digits.slice(0, digits.length - extra);
    if (roundUp) digits = incrementDigits(digits);
  }
  digits = digits.replace(/^0+/, "").padStart(scale + 1, "0");
  if (digits.length > Math.max(precision, scale + 1)) {
    return fail(`${show(value)} does not fit ${label}`);
  }
  const whole = digits.slice(0, digits.length - scale);
  const fraction = digits.slice(digits.length - scale);
  const zero = /^0*$/.test(digits);
  return `${negative && !zero ? "-" : ""}${whole}${scale > 0 ? `.${fraction}` : ""}`;
}

function incrementDigits(digits: string): string {
  const out = digits.split("");
  for (let i = out.length - 1; i >= 0; i--) {
    if (out[i] === "9") out[i] = "0";
    else {
      out[i] = String.fromCharCode(out[i]!.charCodeAt(0) + 1);
      return out.join("");
    }
  }
  return `1${out.join("")}`;
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

function isCalendarDate(year: number, month: number, day: number): boolean {
  const d = new Date(Date.UTC(year, month - 1, day));
  return d.getUTCFullYear() === year && d.getUTCMonth() === month - 1 && d.getUTCDate() === day;
}

const date: Converter<string> = (value) => {
  if (typeof value === "string") {
    const m = DATE.exec(value);
    if (m !== null && isCalendarDate(Number(m[1]), Number(m[2]), Number(m[3]))) return value;
  }
  return fail(`expected a date "YYYY-MM-DD", got ${show(value)}`);
};

const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))?$/;

/**
 * Parses an RFC 3339 timestamp (any offset, converted to UTC; `T` or a space; no offset
 * read as UTC, as ClickHouse prints `DateTime` columns). Sub-millisecond digits are
 * dropped: a `Date` holds milliseconds.
 */
export function parseDateTime(value: unknown): Date {
  if (typeof value === "string") {
    // The common form, `2024-05-01T12:00:00Z`, goes straight to the engine's parser.
    if (value.length === 20 && value.charCodeAt(19) === 90 && value.charCodeAt(10) === 84) {
      const millis = Date.parse(value);
      if (millis === millis) return new Date(millis);
    }
    const m = DATE_TIME.exec(value);
    if (m !== null) {
      const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
      const [hour, minute, second] = [Number(m[4]), Number(m[5]), Number(m[6])];
      const millis = Number((m[7] ?? "").padEnd(3, "0").slice(0, 3));
      let offset = 0;
      if (m[9] !== undefined) {
        const [oh, om] = [Number(m[10]), Number(m[11])];
        if (oh > 23 || om > 59) return fail(`invalid offset in ${show(value)}`);
        offset = (m[9] === "-" ? -1 : 1) * (oh * 60 + om);
      }
      if (isCalendarDate(year, month, day) && hour < 24 && minute < 60 && second < 60) {
        return new Date(
          Date.UTC(year, month - 1, day, hour, minute, second, millis) - offset * 60_000,
        );
      }
    }
  } else if (value instanceof Date && !Number.isNaN(value.getTime())) {
    return value;
  }
  return fail(`expected an RFC 3339 date-time, got ${show(value)}`);
}

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

const uuid: Converter<string> = (value) =>
  typeof value === "string" && UUID.test(value)
    ? value.toLowerCase()
    : fail(`expected a UUID, got ${show(value)}`);

function wrap<T, U>(inner: Type<T>, wrapper: TypeWrapper, convert: Converter<U>, encode: Encoder | undefined): Type<U> {
  return new Type({
    dataType: { wrappers: [wrapper, ...inner.dataType.wrappers], leaf: inner.dataType.leaf },
    convert,
    models: inner.spec.models ?? [],
    wide: inner.spec.wide ?? false,
    ...(encode === undefined ? {} : { encode }),
  });
}

/** The UTF-8 length of `text` in bytes. */
function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IPV6 = /^[0-9A-Fa-f:.]{2,45}$/;

const ipv4: Converter<string> = (value) =>
  typeof value === "string" && IPV4.test(value) ? value : fail(`expected an IPv4 address, got ${show(value)}`);

const ipv6: Converter<string> = (value) =>
  typeof value === "string" && value.includes(":") && IPV6.test(value)
    ? value
    : fail(`expected an IPv6 address (IPv4 written mapped: ::ffff:a.b.c.d), got ${show(value)}`);

const GEO_DEPTH: Record<GeoShape, number> = {
  point: 0,
  ring: 1,
  "line-string": 1,
  "multi-line-string": 2,
  polygon: 2,
  "multi-polygon": 3,
};

/** Checks `[x, y]` points inside `depth` levels of arrays; the value is kept as it is. */
function geoConverter<T>(shape: GeoShape): Converter<T> {
  const check = (value: unknown, depth: number): void => {
    if (!Array.isArray(value)) fail(`expected ${shape} (nested arrays of [x, y]), got ${show(value)}`);
    if (depth > 0) {
      value.forEach((item, i) => {
        try {
          check(item, depth - 1);
        } catch (e) {
          if (e instanceof ConvertError) e.path.unshift(String(i));
          throw e;
        }
      });
    } else if (value.length !== 2 || typeof value[0] !== "number" || typeof value[1] !== "number") {
      fail(`expected a point [x, y], got ${show(value)}`);
    }
  };
  return (value) => {
    check(value, GEO_DEPTH[shape]);
    return value as T;
  };
}

function geo<T>(shape: GeoShape): Type<T> {
  return new Type({ dataType: { wrappers: [], leaf: { tag: "geo", val: shape } }, convert: geoConverter<T>(shape) });
}

const STRING = `typeof $ === "string"`;
const NUMBER = `typeof $ === "number"`;
const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;
const U64_MAX = 2n ** 64n - 1n;
const I128_MIN = -(2n ** 127n);
const I128_MAX = 2n ** 127n - 1n;
const U128_MAX = 2n ** 128n - 1n;
const I256_MIN = -(2n ** 255n);
const I256_MAX = 2n ** 255n - 1n;
const U256_MAX = 2n ** 256n - 1n;

/**
 * Column types. Every builder returns a {@link Type} whose TypeScript type is inferred:
 *
 * | builder | ClickHouse | TypeScript |
 * |---|---|---|
 * | `string()`, `lowCardinality()` | `String`, `LowCardinality(String)` | `string` |
 * | `int8()` .. `int32()`, `uint8()` .. `uint32()` | | `number` |
 * | `int64()`, `uint64()`, `int128()` .. `uint256()` | | `bigint` |
 * | `float32()`, `float64()` | | `number` |
 * | `boolean()` | `Bool` | `boolean` |
 * | `decimal(p, s)` | `Decimal(p, s)` | `string` such as `"12.50"` |
 * | `date()` | `Date` | `string` `"YYYY-MM-DD"` |
 * | `dateTime()`, `dateTime64(p)` | `DateTime`, `DateTime64(p)` | `Date` |
 * | `uuid()` | `UUID` | `string` |
 * | `enum(["a", "b"])`, `enum({a: 1, b: 2})` | `Enum8` / `Enum16` | `"a" \| "b"` |
 * | `json()` | `JSON` | `unknown` |
 * | `fixedString(n)` | `FixedString(n)` | `string` of at most `n` UTF-8 bytes |
 * | `ipv4()`, `ipv6()` | `IPv4`, `IPv6` | `string` |
 * | `point()`, `ring()`, `lineString()` | `Point`, `Ring`, `LineString` | `[x, y]`, `[x, y][]` |
 * | `multiLineString()`, `polygon()`, `multiPolygon()` | `MultiLineString`, `Polygon`, `MultiPolygon` | `[x, y][][]`, `[x, y][][]`, `[x, y][][][]` |
 * | `nested(Model)` | named `Tuple` | the model's record type |
 * | `array(T)`, `map(T)`, `nullable(T)` | `Array(T)`, `Map(String, T)`, `Nullable(T)` | `T[]`, `Record<string, T>`, `T \| null` |
 */
export const t = {
  string: (): Type<string> => scalar("string", text("a string"), { check: STRING }),
  lowCardinality: (): Type<string> => scalar("low-cardinality-string", text("a string"), { check: STRING }),
  int8: (): Type<number> => scalar("int8", integer("Int8", -128, 127), { check: integerCheck(-128, 127) }),
  int16: (): Type<number> => scalar("int16", integer("Int16", -32768, 32767), { check: integerCheck(-32768, 32767) }),
  int32: (): Type<number> =>
    scalar("int32", integer("Int32", -(2 ** 31), 2 ** 31 - 1), { check: integerCheck(-(2 ** 31), 2 ** 31 - 1) }),
  int64: (): Type<bigint> => scalar("int64", bigInteger("Int64", I64_MIN, I64_MAX), { wide: true, encode: encodeBig }),
  uint8: (): Type<number> => scalar("uint8", integer("UInt8", 0, 255), { check: integerCheck(0, 255) }),
  uint16: (): Type<number> => scalar("uint16", integer("UInt16", 0, 65535), { check: integerCheck(0, 65535) }),
  uint32: (): Type<number> => scalar("uint32", integer("UInt32", 0, 2 ** 32 - 1), { check: integerCheck(0, 2 ** 32 - 1) }),
  uint64: (): Type<bigint> => scalar("uint64", bigInteger("UInt64", 0n, U64_MAX), { wide: true, encode: encodeBig }),
  int128: (): Type<bigint> => scalar("int128", bigInteger("Int128", I128_MIN, I128_MAX), { wide: true, encode: encodeBig }),
  int256: (): Type<bigint> => scalar("int256", bigInteger("Int256", I256_MIN, I256_MAX), { wide: true, encode: encodeBig }),
  uint128: (): Type<bigint> => scalar("uint128", bigInteger("UInt128", 0n, U128_MAX), { wide: true, encode: encodeBig }),
  uint256: (): Type<bigint> => scalar("uint256", bigInteger("UInt256", 0n, U256_MAX), { wide: true, encode: encodeBig }),
  float32: (): Type<number> => scalar("float32", float("Float32"), { check: NUMBER }),
  float64: (): Type<number> => scalar("float64", float("Float64"), { check: NUMBER }),
  boolean: (): Type<boolean> =>
    scalar("boolean", (v) => (typeof v === "boolean" ? v : fail(`expected a boolean, got ${show(v)}`)), {
      check: `typeof $ === "boolean"`,
    }),
  /** `Decimal(precision, scale)`: a string with exactly `scale` decimals. */
  decimal: (precision: number, scale: number): Type<string> => {
    if (!(Number.isInteger(precision) && precision >= 1 && precision <= 76 && Number.isInteger(scale) && scale >= 0 && scale <= precision)) {
      throw new Error(`Decimal(${precision}, ${scale}) needs 1 <= precision <= 76 and 0 <= scale <= precision`);
    }
    return new Type({
      dataType: { wrappers: [], leaf: { tag: "decimal", val: { precision, scale } } },
      convert: (v) => normalizeDecimal(v, precision, scale),
    });
  },
  /** `Date`: a `"YYYY-MM-DD"` string. */
  date: (): Type<string> => scalar("date", date),
  /** `DateTime`: a `Date`. */
  dateTime: (): Type<Date> => scalar("date-time", parseDateTime, { encode: encodeDate }),
  /** `DateTime64(precision)`: a `Date` (digits beyond milliseconds are dropped). */
  dateTime64: (precision: number): Type<Date> => {
    if (!(Number.isInteger(precision) && precision >= 0 && precision <= 9)) {
      throw new Error(`DateTime64(${precision}) needs a precision from 0 to 9`);
    }
    return new Type({
      dataType: { wrappers: [], leaf: { tag: "date-time64", val: precision } },
      convert: parseDateTime,
      encode: encodeDate,
    });
  },
  uuid: (): Type<string> => scalar("uuid", uuid),
  /** `FixedString(bytes)`: a string of at most `bytes` UTF-8 bytes. */
  fixedString: (bytes: number): Type<string> => {
    if (!(Number.isInteger(bytes) && bytes >= 1 && bytes <= 0xffffffff)) {
      throw new Error(`FixedString(${bytes}) needs a length of at least 1 byte`);
    }
    return new Type({
      dataType: { wrappers: [], leaf: { tag: "fixed-string", val: bytes } },
      convert: (v) => {
        if (typeof v !== "string") return fail(`expected a string, got ${show(v)}`);
        const length = utf8Length(v);
        return length <= bytes ? v : fail(`${show(v)} is ${length} bytes long; FixedString(${bytes}) holds at most ${bytes}`);
      },
    });
  },
  /** `IPv4`: dotted text such as `"10.0.0.1"`. */
  ipv4: (): Type<string> => scalar("ipv4", ipv4),
  /** `IPv6`: text such as `"2001:db8::1"`; IPv4 addresses are written mapped (`"::ffff:10.0.0.1"`). */
  ipv6: (): Type<string> => scalar("ipv6", ipv6),
  /** `Point`: `[x, y]`. */
  point: (): Type<Point> => geo<Point>("point"),
  /** `Ring`: a polygon without holes. */
  ring: (): Type<Point[]> => geo<Point[]>("ring"),
  lineString: (): Type<Point[]> => geo<Point[]>("line-string"),
  multiLineString: (): Type<Point[][]> => geo<Point[][]>("multi-line-string"),
  /** `Polygon`: the outer ring, then the holes. */
  polygon: (): Type<Point[][]> => geo<Point[][]>("polygon"),
  multiPolygon: (): Type<Point[][][]> => geo<Point[][][]>("multi-polygon"),
  /** An enum: member names numbered from 1 (`["a", "b"]`), or names to values. */
  enum: enumType,
  /** `JSON`: any JSON value. */
  json: (): Type<unknown> => scalar("json", (v) => v, { check: `$ !== undefined` }),
  /** A nested record of another model. */
  nested: <S extends Shape>(model: Model<S>): Type<InferShape<S>> =>
    new Type({
      dataType: { wrappers: [], leaf: { tag: "nested", val: model.ref } },
      convert: model.convert,
      models: model.allModels(),
      wide: model.wide,
      encode: model.encode,
    }),
  array: <T>(inner: Type<T>): Type<T[]> => {
    const convert = inner.convert;
    const encode = inner.spec.encode;
    return wrap(
      inner,
      "array",
      (v) => {
        if (!Array.isArray(v)) return fail(`expected an array, got ${show(v)}`);
        const out = new Array<T>(v.length);
        let i = 0;
        try {
          for (; i < v.length; i++) out[i] = convert(v[i]);
        } catch (e) {
          if (e instanceof ConvertError) e.path.unshift(String(i));
          throw e;
        }
        return out;
      },
      encode && ((v) => (Array.isArray(v) ? v.map((x) => encode(x)) : v)),
    );
  },
  /** `Map(String, T)`. */
  map: <T>(inner: Type<T>): Type<Record<string, T>> => {
    const convert = inner.convert;
    const encode = inner.spec.encode;
    return wrap(
      inner,
      "map",
      (v) => {
        if (typeof v !== "object" || v === null || Array.isArray(v)) {
          return fail(`expected an object, got ${show(v)}`);
        }
        const out: Record<string, T> = {};
        let key = "";
        try {
          for (key in v) out[key] = convert((v as Record<string, unknown>)[key]);
        } catch (e) {
          if (e instanceof ConvertError) e.path.unshift(key);
          throw e;
        }
        return out;
      },
      encode &&
        ((v) => {
          if (typeof v !== "object" || v === null) return v;
          const out: Record<string, unknown> = {};
          for (const key in v) out[key] = encode((v as Record<string, unknown>)[key]);
          return out;
        }),
    );
  },
  nullable: <T>(inner: Type<T>): Type<T | null> => {
    if (inner.dataType.wrappers[0] === "nullable") throw new Error("t.nullable(t.nullable(...)) is not a type");
    const convert = inner.convert;
    const encode = inner.spec.encode;
    return wrap(
      inner,
      "nullable",
      (v) => (v === null || v === undefined ? null : convert(v)),
      encode && ((v) => (v === null ? null : encode(v))),
    );
  },
  /** `inner` as a key field. */
  key: <T>(inner: Type<T>): Type<T> => inner.key(),
  /** `inner` with a ClickHouse default expression. */
  default: <T>(inner: Type<T>, expression: string): Type<T> => inner.default(expression),
  /** `inner` with a description. */
  doc: <T>(inner: Type<T>, text: string): Type<T> => inner.doc(text),
};

function enumType<const N extends string>(members: readonly N[]): Type<N>;
function enumType<const M extends Record<string, number>>(members: M): Type<keyof M & string>;
function enumType(members: readonly string[] | Record<string, number>): Type<string> {
  const list: EnumMember[] = Array.isArray(members)
    ? members.map((name, i) => ({ name, value: i + 1 }))
    : Object.entries(members as Record<string, number>).map(([name, value]) => ({ name, value }));
  if (list.length === 0) throw new Error("an enum needs at least one member");
  for (const [i, m] of list.entries()) {
    if (!Number.isInteger(m.value) || m.value < -32768 || m.value > 32767) {
      throw new Error(`enum member ${JSON.stringify(m.name)}: value ${m.value} does not fit Int16`);
    }
    if (list.findIndex((o) => o.name === m.name) !== i) throw new Error(`two enum members are named ${JSON.stringify(m.name)}`);
    if (list.findIndex((o) => o.value === m.value) !== i) throw new Error(`two enum members have value ${m.value}`);
  }
  const names = new Set(list.map((m) => m.name));
  const label = `one of ${list.map((m) => JSON.stringify(m.name)).join(", ")}`;
  return new Type({
    dataType: { wrappers: [], leaf: { tag: "enum", val: list } },
    convert: (v) => (typeof v === "string" && names.has(v) ? v : fail(`expected ${label}, got ${show(v)}`)),
  });
}
