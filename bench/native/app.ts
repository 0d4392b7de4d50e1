// The TypeScript quickstart app itself, with the TypeScript SDK, run on plain Node.js: the
// second native baseline of the component benchmark (bench/src/bin/components.rs), which
// bundles this file with esbuild first. Against enrich.mjs it shows what the SDK's typed
// models cost; against the component, what running in WebAssembly costs.
//
// Usage: node app.mjs ORDERS.ndjson BATCH_SIZE  -> prints records/s
import { readFileSync } from "node:fs";
import app from "../../examples/quickstart-ts/app.js";

const [file, batchArg] = process.argv.slice(2);
const lines = readFileSync(file, "utf8").split("\n").filter((l) => l.length > 0);
const size = Number(batchArg);
const encoder = new TextEncoder();
const batches = [];
for (let i = 0; i < lines.length; i += size) {
  const chunk = lines.slice(i, i + size);
  batches.push({ encoding: "json" as const, count: chunk.length, data: encoder.encode(chunk.join("\n")) });
}

const started = process.hrtime.bigint();
let out = 0;
for (const batch of batches) {
  const result = app.process("enrich_order", batch);
  if (result.tag !== "ok") throw new Error(JSON.stringify(result.val));
  out += result.val.output.data.length;
}
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
console.log(JSON.stringify({ records_per_s: lines.length / seconds, bytes: out }));
