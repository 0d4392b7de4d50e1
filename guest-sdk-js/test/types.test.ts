// Type-level tests: checked by tsc (`npm test` type-checks before running).
import assert from "node:assert/strict";
import { test } from "node:test";
import { App, ConvertError, hopping, model, t, tumbling, type Infer, type InferParams, type Table } from "@moose/guest";

type Equal<A, B> = (<X>() => X extends A ? 1 : 2) extends <X>() => X extends B ? 1 : 2 ? true : false;
function expectType<_ extends true>(): void {}

const Inner = model("Inner", { name: t.string(), tags: t.array(t.string()) });
const All = model("All", {
  s: t.key(t.string()),
  lc: t.lowCardinality(),
  i8: t.int8(),
  i64: t.int64(),
  u64: t.uint64(),
  f: t.float32(),
  b: t.boolean(),
  dec: t.decimal(18, 4),
  d: t.date(),
  dt: t.dateTime(),
  dt64: t.dateTime64(6),
  u: t.uuid(),
  e: t.enum(["a", "b"]),
  e2: t.enum({ red: 1, blue: 5 }),
  j: t.json(),
  inner: t.nested(Inner),
  opt: t.nullable(t.int32()),
  arr: t.array(t.nullable(t.string())),
  m: t.map(t.array(t.uint8())),
  withDefault: t.default(t.string(), "'x'"),
});

expectType<
  Equal<
    Infer<typeof All>,
    {
      s: string;
      lc: string;
      i8: number;
      i64: bigint;
      u64: bigint;
      f: number;
      b: boolean;
      dec: string;
      d: string;
      dt: Date;
      dt64: Date;
      u: string;
      e: "a" | "b";
      e2: "red" | "blue";
      j: unknown;
      inner: { name: string; tags: string[] };
      opt: number | null;
      arr: (string | null)[];
      m: Record<string, number[]>;
      withDefault: string;
    }
  >
>();

const params = { q: t.string().optional(), limit: t.uint32().default("10"), day: t.date() };
expectType<Equal<InferParams<typeof params>, { q: string | undefined; limit: number; day: string }>>();

test("transforms must return records of the destination model", () => {
  const app = new App();
  const source = app.stream("In", Inner);
  const destination = app.stream("Out", All);
  // @ts-expect-error an Inner is not an All
  source.addTransform(destination, (record) => record);
  // @ts-expect-error order-by columns are fields of the model
  app.table("T", Inner, { orderBy: ["nope"] });
  app.table("T2", Inner, { orderBy: ["name"] });
});

test("windowed aggregations are typed by the source model, the state and the target model", () => {
  const app = new App();
  const source = app.stream("Events", All);
  const Row = model("Row", { s: t.key(t.string()), n: t.uint64(), start: t.dateTime() });
  const table = app.windowedAggregation("per_s", source, {
    timeField: "dt",
    window: tumbling(60),
    target: Row,
    init: () => ({ n: 0n, s: "" }),
    accumulate: (state, record) => {
      expectType<Equal<typeof record, Infer<typeof All>>>();
      expectType<Equal<typeof state, { n: bigint; s: string }>>();
      return { n: state.n + 1n, s: record.s };
    },
    merge: (a, b) => ({ n: a.n + b.n, s: a.s || b.s }),
    emit: (state, window) => ({ s: state.s, n: state.n, start: window.start }),
  });
  expectType<Equal<typeof table, Table<Infer<typeof Row>>>>();
  const base = { window: hopping(120, 60), target: Row, init: () => 0, merge: (a: number, b: number) => a + b, accumulate: (n: number) => n + 1 };
  assert.throws(
    // @ts-expect-error the time field must hold a date or date-time
    () => app.windowedAggregation("bad_time", source, { ...base, timeField: "i8", emit: () => null }),
    /time field `i8` must be a Date, DateTime or DateTime64 field/,
  );
  // @ts-expect-error emitted rows are rows of the target model
  app.windowedAggregation("bad_row", source, { ...base, timeField: "d", emit: (n) => ({ s: "x", n }) });
});

const Wide = model("Wide", {
  i128: t.int128(),
  i256: t.int256(),
  u128: t.uint128(),
  u256: t.uint256(),
  code: t.fixedString(3),
  v4: t.ipv4(),
  v6: t.ipv6(),
  at: t.point(),
  ring: t.ring(),
  route: t.lineString(),
  routes: t.multiLineString(),
  area: t.polygon(),
  areas: t.multiPolygon(),
});
type Pt = [number, number];
expectType<
  Equal<
    Infer<typeof Wide>,
    {
      i128: bigint;
      i256: bigint;
      u128: bigint;
      u256: bigint;
      code: string;
      v4: string;
      v6: string;
      at: Pt;
      ring: Pt[];
      route: Pt[];
      routes: Pt[][];
      area: Pt[][];
      areas: Pt[][][];
    }
  >
>();

test("wide integers, fixed strings, addresses and geo values are described, converted and checked", () => {
  assert.deepEqual(
    Wide.fields.map((f) => f.dataType.leaf),
    [
      { tag: "int128" }, { tag: "int256" }, { tag: "uint128" }, { tag: "uint256" },
      { tag: "fixed-string", val: 3 }, { tag: "ipv4" }, { tag: "ipv6" },
      { tag: "geo", val: "point" }, { tag: "geo", val: "ring" }, { tag: "geo", val: "line-string" },
      { tag: "geo", val: "multi-line-string" }, { tag: "geo", val: "polygon" }, { tag: "geo", val: "multi-polygon" },
    ],
  );
  const record = {
    i128: "-170141183460469231731687303715884105728",
    i256: -1,
    u128: 340282366920938463463374607431768211455n,
    u256: "115792089237316195423570985008687907853269984665640564039457584007913129639935",
    code: "NOK",
    v4: "10.0.0.1",
    v6: "2001:db8::1",
    at: [10.5, -3],
    ring: [[0, 0], [1, 0], [0, 0]],
    route: [],
    routes: [[[0, 0], [1, 1]]],
    area: [[[0, 0], [10, 0], [10, 10], [0, 0]]],
    areas: [[[[0, 0], [1, 0], [0, 0]]]],
  };
  const converted = Wide.convert(record);
  assert.equal(converted.i128, -(2n ** 127n));
  assert.equal(converted.i256, -1n);
  assert.equal(converted.u256, 2n ** 256n - 1n);
  assert.deepEqual(converted.area, record.area);
  const bad: [string, unknown, RegExp][] = [
    ["i128", "170141183460469231731687303715884105728", /field `i128`: expected Int128/],
    ["u128", -1, /field `u128`: expected UInt128/],
    ["code", "NØK", /field `code`: "NØK" is 4 bytes long; FixedString\(3\) holds at most 3/],
    ["v4", "10.0.0.256", /field `v4`: expected an IPv4 address/],
    ["v6", "not an address", /field `v6`: expected an IPv6 address/],
    ["v6", "10.0.0.1", /field `v6`: expected an IPv6 address \(IPv4 written mapped/],
    ["at", [1, 2, 3], /field `at`: expected a point \[x, y\], got \[1,2,3\]/],
    ["area", [[[0, 0], [1, "a"]]], /field `area.0.1`: expected a point/],
    ["areas", [[0, 0]], /field `areas.0.0`: expected multi-polygon/],
  ];
  for (const [key, value, message] of bad) {
    assert.throws(
      () => Wide.convert({ ...record, [key]: value }),
      (e: unknown) => e instanceof ConvertError && message.test(e.describe()),
      key,
    );
  }
});
