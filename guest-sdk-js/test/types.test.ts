// Type-level tests: checked by tsc (`npm test` type-checks before running).
import assert from "node:assert/strict";
import { test } from "node:test";
import { App, hopping, model, t, tumbling, type Infer, type InferParams, type Table } from "@moose/guest";

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
