// Bundles each test/*.test.ts (with the SDK sources it imports) into build/ for
// `node --test`; type checking is tsc's job.
import { readdirSync } from "node:fs";
import { build } from "esbuild";

const tests = readdirSync(new URL(".", import.meta.url)).filter((f) => f.endsWith(".test.ts"));
await build({
  entryPoints: tests.map((f) => `test/${f}`),
  outdir: "build",
  outExtension: { ".js": ".mjs" },
  bundle: true,
  format: "esm",
  platform: "node",
  target: "node20",
  alias: { "@moose/guest": "./src/index.ts" },
  logLevel: "warning",
});
