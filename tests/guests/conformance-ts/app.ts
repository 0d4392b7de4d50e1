// The conformance component: one model holding every column type, and functions that
// round-trip, filter, fan out and fail on its records (see tests/tests/conformance.rs).

import { App, model, t, type Infer } from "@moose/guest";
import { probe } from "./stdlib_probe.js";

export const Inner = model("Inner", {
  name: t.string(),
  tags: t.array(t.string()),
});

export const Everything = model("Everything", {
  id: t.key(t.string()),
  s: t.string(),
  lc: t.lowCardinality(),
  i8: t.int8(),
  i16: t.int16(),
  i32: t.int32(),
  i64: t.int64(),
  u8: t.uint8(),
  u16: t.uint16(),
  u32: t.uint32(),
  u64: t.uint64(),
  f32: t.float32(),
  f64: t.float64(),
  b: t.boolean(),
  dec: t.decimal(18, 4),
  d: t.date(),
  dt: t.dateTime(),
  dt64: t.dateTime64(3),
  uid: t.uuid(),
  e: t.enum({ red: 1, green: 2, blue: 3 }),
  j: t.json(),
  inner: t.nested(Inner),
  opt_s: t.nullable(t.string()),
  opt_i: t.nullable(t.int32()),
  arr_i: t.array(t.int32()),
  arr_opt: t.array(t.nullable(t.string())),
  m: t.map(t.float64()),
  m_arr: t.map(t.array(t.uint8())),
  inners: t.array(t.nested(Inner)),
  i128: t.int128(),
  u256: t.uint256(),
  fs: t.fixedString(4),
  v4: t.ipv4(),
  v6: t.ipv6(),
  pt: t.point(),
  poly: t.polygon(),
});
export type Everything = Infer<typeof Everything>;

const app = new App();
const source = app.stream("Everything", Everything);
const destination = app.stream("EverythingOut", Everything);

source.addTransform(destination, (record) => record, { name: "identity" });
source.addTransform(destination, (record) => (record.b ? record : null), { name: "filter" });
source.addTransform(
  destination,
  (record) => Array.from({ length: record.u8 % 4 }, (_, k) => ({ ...record, id: `${record.id}-${k}` })),
  { name: "fan_out" },
);
source.addTransform(
  destination,
  (record) => {
    if (record.s === "boom") throw new Error(`boom: ${record.id}`);
    return record;
  },
  { name: "fail_on_boom" },
);
source.addTransform(destination, (record) => ({ ...record, s: JSON.stringify(probe()) }), { name: "stdlib" });

export default app;
