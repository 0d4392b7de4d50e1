// The TypeScript part of the dau test app: the same pipeline as `../rs/src/lib.rs`, as
// ingest `VisitTs`, aggregation `DailyUsersTs` and API `daily_users_ts`.

import { App, computed, engines, model, query, sql, t, type Infer } from "@moose/guest";

export const Visit = model("VisitTs", {
  id: t.key(t.string()),
  user: t.string(),
  ts: t.dateTime().codec("Delta, ZSTD(1)"),
  duration: t.float64().doc("Seconds on the site."),
});

export const DailyUsers = model("DailyUsersTs", {
  day: t.key(t.date()),
  users: t.uint64().aggregateState("uniq", t.string()),
  durations: t.array(t.float64()).aggregateState("quantiles(0.5, 0.9)", t.float64()),
  visits: t.uint64().simpleAggregate("sum"),
  last_seen: t.dateTime().simpleAggregate("max"),
});

export const DailyActive = model("DailyActiveTs", {
  day: t.key(t.date()),
  users: t.uint64(),
  visits: t.uint64(),
  last_seen: t.dateTime(),
  p90: t.float64().doc("The 90th percentile of the day's durations."),
});
export type DailyActive = Infer<typeof DailyActive>;

const app = new App();
app.ingestPipeline("VisitTs", Visit, {
  table: {
    orderBy: ["id", "ts"],
    primaryKey: ["id"],
    partitionBy: "toYYYYMM(ts)",
    ttl: "ts + INTERVAL 100 YEAR",
    settings: { index_granularity: 4096 },
    indexes: [{ name: "user_bf", expression: "user", type: "bloom_filter(0.01)" }],
    projections: [{ name: "by_user", select: "SELECT * ORDER BY user" }],
    computed: {
      day: computed.materialized(t.date(), "toDate(ts)"),
      minutes: computed.alias(t.float64(), "duration / 60"),
    },
  },
});
const dailyUsers = app.aggregation("DailyUsersTs", DailyUsers, {
  select:
    "SELECT toDate(ts) AS day, uniqState(user) AS users, " +
    "quantilesState(0.5, 0.9)(duration) AS durations, count() AS visits, max(ts) AS last_seen " +
    "FROM VisitTs GROUP BY day",
  sources: ["VisitTs"],
  table: { engine: engines.aggregatingMergeTree() },
});

app.api(
  "daily_users_ts",
  { params: { from: t.date().optional().doc("First day, inclusive.") }, response: DailyActive },
  (params) => {
    const from = sql.param(params.from ?? null, t.nullable(t.date()));
    return query(
      sql`SELECT day, uniqMerge(users) AS users, sum(visits) AS visits,
max(last_seen) AS last_seen, quantilesMerge(0.5, 0.9)(durations)[2] AS p90
FROM ${dailyUsers}
WHERE ${from} IS NULL OR day >= ${from}
GROUP BY day ORDER BY day`,
      DailyActive,
    );
  },
);

export default app;
