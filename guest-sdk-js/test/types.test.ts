// Type-level tests: checked by tsc (`npm test` type-checks before running).
import { test } from "node:test";
import { App, model, t, type Infer, type InferParams } from "@moose/guest";

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
