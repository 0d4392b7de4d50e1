import assert from "node:assert/strict";
import { test } from "node:test";
import app from "../../examples/quickstart-ts/app.js";

const plain = (leaf: string) => ({ wrappers: [], leaf: { tag: leaf } });
const field = (name: string, leaf: string, key = false) => ({ name, dataType: plain(leaf), key, default: undefined });
const withoutDocs = (value: unknown): unknown =>
  JSON.parse(JSON.stringify(value, (k, v) => (k === "doc" ? undefined : v === undefined ? "<none>" : v)));

test("the quickstart describes the same app as the Rust quickstart", () => {
  const none = "<none>";
  const f = (name: string, leaf: string, key = false) => ({ ...field(name, leaf, key), default: none });
  assert.deepEqual(withoutDocs(app.describe()), {
    models: [
      { name: "Order", version: none, fields: [f("id", "string", true), f("customer", "string"), f("amount", "float64"), f("ts", "date-time")] },
      {
        name: "OrderEnriched",
        version: none,
        fields: [
          f("id", "string", true),
          f("customer", "string"),
          f("amount", "float64"),
          f("amount_cents", "int64"),
          {
            name: "tier",
            dataType: {
              wrappers: [],
              leaf: { tag: "enum", val: [{ name: "small", value: 1 }, { name: "medium", value: 2 }, { name: "large", value: 3 }] },
            },
            key: false,
            default: none,
          },
          f("day", "date"),
          f("ts", "date-time"),
        ],
      },
      { name: "DailyRevenue", version: none, fields: [f("day", "date", true), f("customer", "string", true), f("revenue", "float64"), f("orders", "uint64")] },
    ],
    streams: [
      { name: "Order", model: "Order", partitions: 0, retentionHours: none },
      { name: "OrderEnriched", model: "OrderEnriched", partitions: 0, retentionHours: none },
    ],
    tables: [
      { name: "Order", model: "Order", orderBy: [], engine: { tag: "merge-tree" }, sourceStream: "Order" },
      { name: "OrderEnriched", model: "OrderEnriched", orderBy: [], engine: { tag: "merge-tree" }, sourceStream: "OrderEnriched" },
    ],
    ingests: [{ name: "Order", model: "Order", stream: "Order", deadLetter: "Order_dead_letter" }],
    functions: [{ name: "enrich_order", source: "Order", destination: "OrderEnriched", deadLetter: none }],
    aggregations: [
      {
        name: "DailyRevenue",
        select: "SELECT day, customer, sum(amount) AS revenue, count() AS orders FROM OrderEnriched GROUP BY day, customer",
        sources: ["OrderEnriched"],
        target: {
          name: "DailyRevenue",
          model: "DailyRevenue",
          orderBy: ["day", "customer"],
          engine: { tag: "summing-merge-tree", val: [] },
          sourceStream: none,
        },
      },
    ],
    views: [],
    apis: [
      {
        name: "revenue",
        version: none,
        params: [
          { name: "customer", dataType: plain("string"), required: false, default: none, min: none, max: none },
          { name: "from", dataType: plain("date"), required: false, default: none, min: none, max: none },
          { name: "to", dataType: plain("date"), required: false, default: none, min: none, max: none },
          { name: "limit", dataType: plain("uint32"), required: false, default: "100", min: 1, max: 10000 },
        ],
        response: "DailyRevenue",
      },
    ],
  });
});
