import assert from "node:assert/strict";
import { test } from "node:test";
import {
  App,
  DeadLetterQueue,
  decodeState,
  encodeState,
  engines,
  hopping,
  model,
  t,
  tumbling,
  type AccumulateOutput,
  type Batch,
  type Infer,
  type Result,
} from "@moose/guest";

const Order = model("Order", {
  id: t.key(t.string()),
  customer: t.string(),
  amount: t.float64(),
  cents: t.int64(),
  ts: t.dateTime64(3),
});
type Order = Infer<typeof Order>;

const Totals = model("Totals", {
  customer: t.key(t.string()),
  window_start: t.key(t.dateTime()),
  window_end: t.dateTime(),
  orders: t.uint64(),
  total: t.float64(),
  cents: t.int64(),
  min_amount: t.float64(),
  max_amount: t.float64(),
});

interface PerCustomer {
  orders: number;
  total: number;
  cents: bigint;
  min: number;
  max: number;
}
type State = Map<string, PerCustomer>;

function combine(a: PerCustomer, b: PerCustomer): PerCustomer {
  return { orders: a.orders + b.orders, total: a.total + b.total, cents: a.cents + b.cents, min: Math.min(a.min, b.min), max: Math.max(a.max, b.max) };
}

function ordersApp() {
  const app = new App();
  const orders = app.ingestPipeline("Order", Order);
  const table = app.windowedAggregation("order_totals", orders.stream, {
    timeField: "ts",
    window: tumbling(60),
    allowedLateness: 30,
    target: Totals,
    table: { orderBy: ["customer", "window_start"], engine: engines.replacingMergeTree() },
    deadLetter: new DeadLetterQueue("order_totals_dead_letter"),
    init: (): State => new Map(),
    accumulate: (state, order) => {
      if (order.amount < 0) throw new Error(`negative amount in order ${order.id}`);
      const one = { orders: 1, total: order.amount, cents: order.cents, min: order.amount, max: order.amount };
      const before = state.get(order.customer);
      return new Map(state).set(order.customer, before === undefined ? one : combine(before, one));
    },
    merge: (a, b) => {
      const out = new Map(a);
      for (const [customer, v] of b) {
        const before = out.get(customer);
        out.set(customer, before === undefined ? v : combine(before, v));
      }
      return out;
    },
    emit: (state, window) =>
      [...state].map(([customer, v]) => ({
        customer,
        window_start: window.start,
        window_end: window.end,
        orders: BigInt(v.orders),
        total: v.total,
        cents: v.cents,
        min_amount: v.min,
        max_amount: v.max,
      })),
  });
  app.windowedAggregation("order_counts_hopping", orders.stream, {
    timeField: "ts",
    window: hopping(120, 60),
    target: model("Counts", { window_start: t.key(t.dateTime()), orders: t.uint32() }),
    stateVersion: 3,
    init: () => 0,
    accumulate: (count) => count + 1,
    merge: (a, b) => a + b,
    emit: (count, window) => (count === 0 ? null : { window_start: window.start, orders: count }),
  });
  return { app, table };
}

const WINDOW = { startMs: 1714564800000n, endMs: 1714564860000n };
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const batch = (lines: string[]): Batch => ({ encoding: "json", count: lines.length, data: encoder.encode(lines.join("\n")) });
const order = (id: string, customer: string, amount: number, cents: string) =>
  `{"id":"${id}","customer":"${customer}","amount":${amount},"cents":${cents},"ts":"2024-05-01T12:00:${id.padStart(2, "0")}.5Z"}`;

function ok<T, E>(result: Result<T, E>): T {
  if (result.tag === "err") assert.fail(JSON.stringify(result.val));
  return result.val;
}

function rows(out: Batch): unknown[] {
  const text = decoder.decode(out.data);
  const lines = text === "" ? [] : text.split("\n");
  assert.equal(lines.length, out.count);
  return lines.map((line) => JSON.parse(line));
}

const noOptions = {
  partitionBy: undefined, primaryKey: [], sampleBy: undefined, ttl: undefined, settings: [], indexes: [], projections: [],
  computed: [], externallyManaged: false,
};

test("windowed aggregations are described with their window, target table and state version", () => {
  const { app, table } = ordersApp();
  assert.equal(table.name, "order_totals");
  const def = app.describe();
  assert.deepEqual(def.windowedAggregations, [
    {
      name: "order_totals",
      source: "Order",
      timeField: "ts",
      window: { sizeSeconds: 60, hopSeconds: 60, allowedLatenessSeconds: 30 },
      target: {
        name: "order_totals",
        model: "Totals",
        orderBy: ["customer", "window_start"],
        engine: { tag: "replacing-merge-tree", val: { version: undefined, isDeleted: undefined } },
        sourceStream: undefined,
        options: noOptions,
      },
      stateVersion: 1,
      deadLetter: "order_totals_dead_letter",
    },
    {
      name: "order_counts_hopping",
      source: "Order",
      timeField: "ts",
      window: { sizeSeconds: 120, hopSeconds: 60, allowedLatenessSeconds: 0 },
      target: {
        name: "order_counts_hopping", model: "Counts", orderBy: [], engine: { tag: "merge-tree" }, sourceStream: undefined,
        options: noOptions,
      },
      stateVersion: 3,
      deadLetter: "order_counts_hopping_dead_letter",
    },
  ]);
  assert.deepEqual(def.models.map((m) => m.name), ["Order", "Totals", "Counts"]);
  assert.deepEqual(def.tables.map((d) => d.name), ["Order"]);
});

test("init, accumulate, merge and emit round-trip through encoded states", () => {
  const { app } = ordersApp();
  const name = "order_totals";
  const empty = ok(app.windowInit(name, WINDOW));
  const first = ok(
    app.windowAccumulate(name, WINDOW, empty, batch([order("1", "acme", 10.5, "1050"), order("2", "beta", 2, "9223372036854775000")])),
  );
  assert.deepEqual(first.errors, []);
  const second = ok(
    app.windowAccumulate(name, WINDOW, empty, batch([order("3", "acme", 0.25, "25"), order("4", "beta", 7, "800")])),
  );
  const merged = ok(app.windowMerge(name, WINDOW, first.state, second.state));
  const emitted = ok(app.windowEmit(name, WINDOW, merged));
  assert.equal(emitted.encoding, "json");
  // 64-bit sums stay exact through the state and into the rows.
  assert.match(decoder.decode(emitted.data), /"cents":9223372036854775800,/);
  assert.deepEqual(rows(emitted), [
    {
      customer: "acme",
      window_start: "2024-05-01T12:00:00.000Z",
      window_end: "2024-05-01T12:01:00.000Z",
      orders: 2,
      total: 10.75,
      cents: 1075,
      min_amount: 0.25,
      max_amount: 10.5,
    },
    {
      customer: "beta",
      window_start: "2024-05-01T12:00:00.000Z",
      window_end: "2024-05-01T12:01:00.000Z",
      orders: 2,
      total: 9,
      cents: 9223372036854775800,
      min_amount: 2,
      max_amount: 7,
    },
  ]);
  assert.deepEqual(rows(ok(app.windowEmit(name, WINDOW, empty))), []);

  const hopping = "order_counts_hopping";
  const counted = ok(app.windowAccumulate(hopping, WINDOW, ok(app.windowInit(hopping, WINDOW)), batch([order("1", "a", 1, "1")])));
  assert.deepEqual(rows(ok(app.windowEmit(hopping, WINDOW, counted.state))), [{ window_start: "2024-05-01T12:00:00.000Z", orders: 1 }]);
});

test("records that do not decode or that accumulate rejects are record errors", () => {
  const { app } = ordersApp();
  const name = "order_totals";
  const out = ok(
    app.windowAccumulate(
      name,
      WINDOW,
      ok(app.windowInit(name, WINDOW)),
      batch([order("1", "acme", 10, "1000"), order("2", "acme", -1, "-100"), `{"id":"3","customer":"acme"}`, "not json", order("5", "acme", 1, "100")]),
    ),
  );
  assert.deepEqual(out.errors.map((e) => e.index), [1, 2, 3]);
  assert.match(out.errors[0]!.message, /negative amount in order 2/);
  assert.match(out.errors[1]!.message, /invalid input record: field `amount`: missing field/);
  assert.match(out.errors[2]!.message, /invalid input record/);
  assert.deepEqual(
    rows(ok(app.windowEmit(name, WINDOW, out.state))).map((r) => (r as { orders: number; total: number }).total),
    [11],
  );
});

test("whole-call errors", () => {
  const { app } = ordersApp();
  assert.deepEqual(app.windowInit("nope", WINDOW), { tag: "err", val: { tag: "unknown-function", val: "nope" } });
  assert.deepEqual(app.windowEmit("nope", WINDOW, new Uint8Array()), { tag: "err", val: { tag: "unknown-function", val: "nope" } });
  const empty = ok(app.windowInit("order_totals", WINDOW));
  assert.deepEqual(app.windowAccumulate("order_totals", WINDOW, empty, { encoding: "json", count: 2, data: encoder.encode("{}") }), {
    tag: "err",
    val: { tag: "failed", val: "batch count is 2 but its data holds 1 lines" },
  });
  const corrupt = app.windowMerge("order_totals", WINDOW, encoder.encode("{oops"), empty);
  assert.equal(corrupt.tag, "err");
  assert.match((corrupt.val as { val: string }).val, /^windowed aggregation `order_totals`: the state is not JSON/);

  const failing = new App();
  const source = failing.stream("In", Order);
  failing.windowedAggregation("bad_emit", source, {
    timeField: "ts",
    window: tumbling(10),
    target: Totals,
    init: () => 1,
    accumulate: (s) => s,
    merge: (a) => a,
    emit: () => ({ customer: "x" }) as unknown as Infer<typeof Totals>,
  });
  failing.windowedAggregation("throws", source, {
    timeField: "ts",
    window: tumbling(10),
    target: Totals,
    init: () => {
      throw new Error("no state today");
    },
    accumulate: (s) => s,
    merge: (a) => a,
    emit: () => null,
  });
  assert.deepEqual(failing.windowInit("throws", WINDOW), {
    tag: "err",
    val: { tag: "failed", val: "windowed aggregation `throws`: no state today" },
  });
  const emitted = ok(failing.windowEmit("bad_emit", WINDOW, ok(failing.windowInit("bad_emit", WINDOW))));
  // Emitted rows are encoded with the target model; the host validates them.
  assert.equal(emitted.count, 1);
});

test("states keep bigints, dates, maps, sets and undefined exactly", () => {
  const state = {
    big: 2n ** 64n - 1n,
    small: -3n,
    when: new Date(Date.UTC(2024, 4, 1, 12, 0, 0, 7)),
    byKey: new Map<unknown, unknown>([["a", 1], [2n, new Set([1, "x"])]]),
    list: [1.5, null, "s", undefined, { $bigint: "looks like a tag" }],
    nothing: undefined,
  };
  const decoded = decodeState(encodeState(state)) as typeof state;
  // Like JSON, a property holding undefined is left out.
  const { nothing: _, ...kept } = state;
  assert.deepEqual(decoded, kept);
  assert.equal(typeof decoded.small, "bigint");
  assert.ok(decoded.when instanceof Date);
  assert.deepEqual(decodeState(encodeState(undefined)), undefined);
  assert.throws(() => encodeState({ x: Number.NaN }), /state\.x: NaN cannot be stored/);
  assert.throws(() => encodeState({ f: () => 1 }), /state\.f: a function cannot be stored/);
  assert.throws(() => decodeState(encoder.encode(`{"$bigint":1.5}`)), /malformed \$bigint/);
});

test("declaration mistakes throw", () => {
  const app = new App();
  const source = app.stream("In", Order);
  const base = {
    window: tumbling(60),
    target: Totals,
    init: () => 0,
    accumulate: (s: number) => s,
    merge: (a: number) => a,
    emit: () => null,
  };
  assert.throws(() => tumbling(0), /size must be a whole number of seconds from 1/);
  assert.throws(() => hopping(60, 120), /hop \(120 s\) must not exceed its size \(60 s\)/);
  assert.throws(() => hopping(60, 1.5), /hop must be a whole number/);
  assert.throws(
    () => app.windowedAggregation("w", source, { ...base, timeField: "customer" }),
    /windowed aggregation `w`: time field `customer` must be a Date, DateTime or DateTime64 field of Order/,
  );
  assert.throws(() => app.windowedAggregation("w", source, { ...base, timeField: "ts", allowedLateness: -1 }), /allowedLateness must be/);
  app.windowedAggregation("w", source, { ...base, timeField: "ts" });
  assert.throws(() => app.windowedAggregation("w", source, { ...base, timeField: "ts" }), /two windowed aggregations are named `w`/);
  assert.throws(() => app.table("w", Totals), /two tables are named `w`/);
});
