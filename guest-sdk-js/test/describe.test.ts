import assert from "node:assert/strict";
import { test } from "node:test";
import { App, computed, engines, model, t } from "@moose/guest";
import app from "../../examples/quickstart-ts/app.js";

const plain = (leaf: string) => ({ wrappers: [], leaf: { tag: leaf } });
const field = (name: string, leaf: string, key = false) => ({
  name, dataType: plain(leaf), key, default: undefined, aggregate: undefined, codec: undefined, ttl: undefined,
});
const withoutDocs = (value: unknown): unknown =>
  JSON.parse(JSON.stringify(value, (k, v) => (k === "doc" ? undefined : v === undefined ? "<none>" : v)));

test("the quickstart describes the same app as the Rust quickstart", () => {
  const none = "<none>";
  const f = (name: string, leaf: string, key = false) => ({
    ...field(name, leaf, key), default: none, aggregate: none, codec: none, ttl: none,
  });
  const options = {
    partitionBy: none, primaryKey: [], sampleBy: none, ttl: none, settings: [], indexes: [], projections: [], computed: [],
    externallyManaged: false,
  };
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
            aggregate: none,
            codec: none,
            ttl: none,
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
      { name: "Order", model: "Order", orderBy: [], engine: { tag: "merge-tree" }, sourceStream: "Order", options },
      {
        name: "OrderEnriched", model: "OrderEnriched", orderBy: [], engine: { tag: "merge-tree" }, sourceStream: "OrderEnriched",
        options,
      },
    ],
    ingests: [{ name: "Order", model: "Order", stream: "Order", deadLetter: "Order_dead_letter" }],
    functions: [{ name: "enrich_order", source: "Order", destination: "OrderEnriched", deadLetter: "enrich_order_dead_letter" }],
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
          options,
        },
      },
    ],
    windowedAggregations: [],
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

// The declaration of the Rust SDK's `versions_of_a_model_get_their_own_pipelines`.
const Big = model("Big", { id: t.string() });
const BigV11 = model("Big", { id: t.string(), note: t.nullable(t.string()) }, { version: "1.1" });

test("versions of a model get their own pipelines, named as the Rust SDK names them", () => {
  const versioned = new App();
  versioned.ingestPipeline("Big", Big);
  const v11 = versioned.ingestPipeline("Big", BigV11);
  assert.equal(v11.stream.name, "Big_1_1");
  assert.equal(v11.table?.name, "Big_1_1");
  assert.equal(v11.deadLetter?.name, "Big_1_1_dead_letter");
  const def = versioned.describe();
  assert.deepEqual(
    def.ingests.map((i) => [i.name, i.model, i.stream]),
    [
      ["Big", "Big", "Big"],
      ["Big", "Big@1.1", "Big_1_1"],
    ],
  );
  assert.deepEqual(
    def.models.map((m) => (m.version === undefined ? m.name : `${m.name}@${m.version}`)),
    ["Big", "Big@1.1"],
  );
  assert.deepEqual(
    def.ingests.map((i) => i.deadLetter),
    ["Big_dead_letter", "Big_1_1_dead_letter"],
  );
});

test("one ingest route per model version", () => {
  const versioned = new App();
  const v11 = versioned.ingestPipeline("Big", BigV11);
  assert.throws(() => versioned.ingest("Big", v11.stream), /two ingest endpoints are named `Big\/1\.1`/);
});

test("aggregate columns describe their function, kind and argument types", () => {
  const DailyUsers = model("DailyUsers", {
    day: t.key(t.date()),
    users: t.uint64().aggregateState("uniq", t.string()),
    p90: t.array(t.float64()).aggregateState("quantiles(0.5, 0.9)", t.float64()),
    last_seen: t.dateTime().simpleAggregate("max"),
  });
  assert.deepEqual(
    DailyUsers.fields.map((f) => [f.name, f.aggregate]),
    [
      ["day", undefined],
      ["users", { function: "uniq", kind: { tag: "state", val: [plain("string")] } }],
      ["p90", { function: "quantiles(0.5, 0.9)", kind: { tag: "state", val: [plain("float64")] } }],
      ["last_seen", { function: "max", kind: { tag: "simple" } }],
    ],
  );
  assert.deepEqual(DailyUsers.fields[2]?.dataType, { wrappers: ["array"], leaf: { tag: "float64" } });
});

test("tables describe their engine columns, storage options and column codecs and TTLs", () => {
  const Event = model("Event", {
    id: t.key(t.string()),
    ts: t.dateTime().codec("Delta, ZSTD(1)"),
    sign: t.int8(),
    version: t.uint32(),
    note: t.string().ttl("ts + INTERVAL 1 DAY"),
  });
  assert.deepEqual(
    Event.fields.map((f) => [f.name, f.codec, f.ttl]),
    [
      ["id", undefined, undefined],
      ["ts", "Delta, ZSTD(1)", undefined],
      ["sign", undefined, undefined],
      ["version", undefined, undefined],
      ["note", undefined, "ts + INTERVAL 1 DAY"],
    ],
  );
  const storage = new App();
  storage.table("Events", Event, {
    orderBy: ["id", "ts"],
    engine: engines.versionedCollapsingMergeTree("sign", "version"),
    partitionBy: "toYYYYMM(ts)",
    primaryKey: ["id"],
    ttl: "ts + INTERVAL 90 DAY",
    settings: { index_granularity: 4096, storage_policy: "it's" },
    indexes: [{ name: "note_bf", expression: "lower(note)", type: "bloom_filter(0.01)" }],
    projections: [{ name: "by_ts", select: "SELECT * ORDER BY ts" }],
    computed: {
      day: computed.materialized(t.date(), "toDate(ts)"),
      shout: computed.alias(t.string().doc("The note, loud."), "upper(note)"),
    },
  });
  storage.table("Replaced", Event, { engine: engines.replacingMergeTree("version", "sign") });
  const [events, replaced] = storage.describe().tables;
  assert.deepEqual(events?.engine, { tag: "versioned-collapsing-merge-tree", val: { sign: "sign", version: "version" } });
  assert.deepEqual(events?.options, {
    partitionBy: "toYYYYMM(ts)",
    primaryKey: ["id"],
    sampleBy: undefined,
    ttl: "ts + INTERVAL 90 DAY",
    settings: [
      { name: "index_granularity", value: "4096" },
      { name: "storage_policy", value: "'it\\'s'" },
    ],
    indexes: [{ name: "note_bf", expression: "lower(note)", type: "bloom_filter(0.01)", granularity: 1 }],
    projections: [{ name: "by_ts", select: "SELECT * ORDER BY ts" }],
    computed: [
      { name: "day", dataType: plain("date"), kind: "materialized", expression: "toDate(ts)", doc: undefined },
      { name: "shout", dataType: plain("string"), kind: "alias", expression: "upper(note)", doc: "The note, loud." },
    ],
    externallyManaged: false,
  });
  storage.table("Theirs", Event, { externallyManaged: true });
  assert.equal(storage.describe().tables[2]?.options.externallyManaged, true);
  assert.deepEqual(replaced?.engine, { tag: "replacing-merge-tree", val: { version: "version", isDeleted: "sign" } });
  assert.deepEqual(replaced?.options.indexes, []);
});
