// The quickstart's enrich_order in plain Node.js, as the native baseline of the component
// benchmark (bench/src/bin/components.rs): NDJSON batches in, NDJSON batches out.
//
// Usage: node enrich.mjs ORDERS.ndjson BATCH_SIZE  -> prints records/s
import { readFileSync } from "node:fs";

const [file, batchArg] = process.argv.slice(2);
const lines = readFileSync(file, "utf8").split("\n").filter((l) => l.length > 0);
const size = Number(batchArg);
const batches = [];
for (let i = 0; i < lines.length; i += size) batches.push(lines.slice(i, i + size).join("\n"));

function enrich(order) {
  if (!(order.amount > 0) || order.customer.trim() === "") return null;
  const tier = order.amount < 100 ? "small" : order.amount < 1000 ? "medium" : "large";
  const ts = new Date(order.ts);
  const cents = order.amount * 100;
  return {
    id: order.id,
    customer: order.customer,
    amount: order.amount,
    amount_cents: Math.sign(cents) * Math.round(Math.abs(cents)),
    tier,
    day: ts.toISOString().slice(0, 10),
    ts: ts.toISOString().replace(".000Z", "Z"),
  };
}

const started = process.hrtime.bigint();
let out = 0;
for (const batch of batches) {
  const output = [];
  for (const line of batch.split("\n")) {
    const enriched = enrich(JSON.parse(line));
    if (enriched !== null) output.push(JSON.stringify(enriched));
  }
  out += output.join("\n").length;
}
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
console.log(JSON.stringify({ records_per_s: lines.length / seconds, bytes: out }));
