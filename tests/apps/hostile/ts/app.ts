// The TypeScript part of the hostile test app: the same function as `../rs/src/lib.rs`
// (see the table there), as `hostile_ts` from ingest `HostileTs` to `HostileTsOut`.

import { App, log, model, t, type Infer } from "@moose/guest";

export const Hostile = model("HostileTs", {
  id: t.key(t.string()),
  op: t.string(),
  n: t.uint64(),
  size: t.uint64(),
});
export type Hostile = Infer<typeof Hostile>;

export const HostileOut = model("HostileTsOut", {
  id: t.string(),
  i: t.uint64(),
  payload: t.string(),
});
export type HostileOut = Infer<typeof HostileOut>;

function recurse(depth: number): number {
  return depth === 0 ? 0 : recurse(depth - 1) + 1;
}

export function hostile(record: Hostile): HostileOut[] {
  const id = record.id;
  const n = Number(record.n);
  const size = Number(record.size);
  const out = (i: number, payload: string): HostileOut => ({ id, i: BigInt(i), payload });
  switch (record.op) {
    case "echo":
      return [out(0, "")];
    case "big":
      return [out(0, "x".repeat(n))];
    case "many":
      return Array.from({ length: n }, (_, i) => out(i, ""));
    case "log": {
      const line = "l".repeat(size);
      for (let i = 0; i < n; i++) log.info(line);
      return [out(0, "")];
    }
    case "print": {
      const line = "p".repeat(size);
      for (let i = 0; i < n; i++) console.log(line);
      return [out(0, "")];
    }
    case "panic":
      throw new Error(`boom ${id}`);
    case "recurse":
      return [out(recurse(n), "")];
    case "net": {
      // Never resolves here: the call must throw, not trap.
      void fetch("http://127.0.0.1:9/");
      return [out(0, "connected")];
    }
    default:
      throw new Error(`unknown op \`${record.op}\``);
  }
}

const app = new App();
const input = app.ingestPipeline("HostileTs", Hostile, { table: false });
const output = app.streamPipeline("HostileTsOut", HostileOut, { table: false });
input.stream.addTransform(output.stream, hostile, { name: "hostile_ts" });

export default app;
