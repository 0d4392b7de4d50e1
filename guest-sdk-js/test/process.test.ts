import assert from "node:assert/strict";
import { test } from "node:test";
import { App, model, t, type Batch, type ProcessOutput } from "@moose/guest";
import app from "../../examples/quickstart-ts/app.js";

const batch = (lines: string[]): Batch => ({ encoding: "json", count: lines.length, data: new TextEncoder().encode(lines.join("\n")) });

function run(target: App, name: string, lines: string[]): ProcessOutput & { records: unknown[] } {
  const result = target.process(name, batch(lines));
  assert.equal(result.tag, "ok", JSON.stringify(result.val));
  const out = result.val as ProcessOutput;
  const text = new TextDecoder().decode(out.output.data);
  const records = text === "" ? [] : text.split("\n").map((line) => JSON.parse(line));
  assert.equal(records.length, out.output.count);
  return { ...out, records };
}

test("enrich_order drops invalid orders and derives fields", () => {
  const out = run(app, "enrich_order", [
    `{"id":"1","customer":"acme","amount":12.345,"ts":"2024-05-01T23:30:00Z"}`,
    `{"id":"2","customer":"   ","amount":10,"ts":"2024-05-01T12:00:00Z"}`,
    `{"id":"3","customer":"acme","amount":0,"ts":"2024-05-01T12:00:00Z"}`,
    `{"id":"4","customer":"beta","amount":999.99,"ts":"2024-05-02T00:00:00+02:00"}`,
    `{"id":"5","customer":"beta","amount":1000,"ts":"2024-05-02T10:00:00Z"}`,
    `{"id":"6","customer":"beta"}`,
  ]);
  assert.deepEqual([...out.sources], [0, 3, 4]);
  assert.deepEqual(out.records, [
    { id: "1", customer: "acme", amount: 12.345, amount_cents: 1235, tier: "small", day: "2024-05-01", ts: "2024-05-01T23:30:00.000Z" },
    { id: "4", customer: "beta", amount: 999.99, amount_cents: 99999, tier: "medium", day: "2024-05-01", ts: "2024-05-01T22:00:00.000Z" },
    { id: "5", customer: "beta", amount: 1000, amount_cents: 100000, tier: "large", day: "2024-05-02", ts: "2024-05-02T10:00:00.000Z" },
  ]);
  assert.equal(out.errors.length, 1);
  assert.equal(out.errors[0]!.index, 5);
  assert.match(out.errors[0]!.message, /invalid input record: field `amount`: missing field/);
});

const Wide = model("Wide", {
  id: t.key(t.string()),
  i64: t.int64(),
  u64: t.uint64(),
  dec: t.decimal(18, 4),
  dt64: t.dateTime64(3),
  tags: t.array(t.nullable(t.string())),
  m: t.map(t.int64()),
  j: t.json(),
});

function wideApp() {
  const target = new App();
  const source = target.stream("In", Wide);
  const destination = target.stream("Out", Wide);
  source.addTransform(destination, (r) => r, { name: "identity" });
  source.addTransform(destination, (r) => (r.id === "drop" ? null : Array.from({ length: 2 }, (_, k) => ({ ...r, id: `${r.id}-${k}` }))), { name: "fan_out" });
  source.addTransform(destination, (r) => {
    if (r.id === "boom") throw new Error(`boom: ${r.id}`);
    return r;
  }, { name: "fail" });
  source.addConsumer(() => {}, { name: "sink" });
  return target;
}

const wideLine = (id: string, i64: string, u64: string) =>
  `{"id":"${id}","i64":${i64},"u64":${u64},"dec":"-99999999999999.9999","dt64":"2024-05-01T14:00:00.123+02:00","tags":["a",null],"m":{"x":${i64}},"j":{"n":[1,2.5,null,"s"]}}`;

test("64-bit integers, decimals and date-times round-trip exactly", () => {
  const out = run(wideApp(), "identity", [
    wideLine("a", "-9223372036854775808", "18446744073709551615"),
    wideLine("b", "9223372036854775807", "0"),
  ]);
  const text = new TextDecoder().decode(out.output.data);
  assert.match(text, /"i64":-9223372036854775808,"u64":18446744073709551615/);
  assert.match(text, /"i64":9223372036854775807,"u64":0/);
  assert.match(text, /"dec":"-99999999999999.9999","dt64":"2024-05-01T12:00:00.123Z"/);
  assert.deepEqual((out.records[0] as { j: unknown }).j, { n: [1, 2.5, null, "s"] });
});

test("fan-out, filter and per-record errors", () => {
  const target = wideApp();
  const out = run(target, "fan_out", [wideLine("a", "1", "2"), wideLine("drop", "1", "2"), `{"id":"c","i64":"x"}`, wideLine("d", "1", "2")]);
  assert.deepEqual([...out.sources], [0, 0, 3, 3]);
  assert.deepEqual(out.records.map((r) => (r as { id: string }).id), ["a-0", "a-1", "d-0", "d-1"]);
  assert.deepEqual(out.errors.map((e) => e.index), [2]);
  assert.match(out.errors[0]!.message, /invalid input record: field `i64`: expected Int64, got "x"/);

  const failed = run(target, "fail", [wideLine("boom", "1", "2"), "not json", wideLine("ok", "1", "2")]);
  assert.deepEqual([...failed.sources], [2]);
  assert.deepEqual(failed.errors.map((e) => e.index), [0, 1]);
  assert.match(failed.errors[0]!.message, /boom: boom/);
  assert.match(failed.errors[1]!.message, /invalid input record/);

  const consumed = run(target, "sink", [wideLine("a", "1", "2")]);
  assert.equal(consumed.output.count, 0);
  assert.deepEqual(consumed.errors, []);
});

test("whole-batch errors", () => {
  const target = wideApp();
  assert.deepEqual(target.process("nope", batch([])), { tag: "err", val: { tag: "unknown-function", val: "nope" } });
  const mismatch = target.process("identity", { encoding: "json", count: 3, data: new TextEncoder().encode("{}\n{}") });
  assert.deepEqual(mismatch, { tag: "err", val: { tag: "failed", val: "batch count is 3 but its data holds 2 lines" } });
  const empty = run(target, "identity", []);
  assert.equal(empty.output.count, 0);
});

test("values that do not fit their type are record errors", () => {
  const target = wideApp();
  const out = run(target, "identity", [
    wideLine("a", "9223372036854775808", "1"),
    wideLine("b", "1", "-1"),
    wideLine("c", "1.5", "1"),
    wideLine("d", "1", "1").replace('"dt64":"2024-05-01T14:00:00.123+02:00"', '"dt64":"yesterday"'),
    wideLine("e", "1", "1").replace('"-99999999999999.9999"', '"999999999999999"'),
  ]);
  assert.equal(out.output.count, 0);
  assert.deepEqual(out.errors.map((e) => e.index), [0, 1, 2, 3, 4]);
});
