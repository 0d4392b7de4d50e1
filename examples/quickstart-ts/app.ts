// The quickstart app: orders are ingested, enriched by a streaming function, rolled up
// per day and customer by a SQL aggregation, and served by the `revenue` query API.
//
// Build: `moose build .` (or `moose dev`).

import { App, engines, model, query, sql, t, type Infer } from "@moose/guest";

/** An order as posted to `POST /ingest/Order`. */
export const Order = model("Order", {
  id: t.key(t.string()),
  customer: t.string(),
  amount: t.float64(),
  ts: t.dateTime(),
}, { doc: "An order as posted to `POST /ingest/Order`." });
export type Order = Infer<typeof Order>;

/** Order size by amount: below 100 small, below 1000 medium, else large. */
export const Tier = t.enum(["small", "medium", "large"]);
export type Tier = Infer<typeof Tier>;

/** A valid order with derived fields. */
export const OrderEnriched = model("OrderEnriched", {
  id: t.key(t.string()),
  customer: t.string(),
  amount: t.float64(),
  amount_cents: t.int64().doc("`amount * 100`, rounded half away from zero."),
  tier: Tier,
  day: t.date().doc("UTC date of `ts`."),
  ts: t.dateTime(),
}, { doc: "A valid order with derived fields." });
export type OrderEnriched = Infer<typeof OrderEnriched>;

/** Revenue and order count per day and customer. */
export const DailyRevenue = model("DailyRevenue", {
  day: t.key(t.date()),
  customer: t.key(t.string()),
  revenue: t.float64(),
  orders: t.uint64(),
}, { doc: "Revenue and order count per day and customer." });
export type DailyRevenue = Infer<typeof DailyRevenue>;

/** `x` rounded to an integer, halves away from zero. */
function roundHalfAwayFromZero(x: number): number {
  return Math.sign(x) * Math.round(Math.abs(x));
}

/**
 * Drops invalid orders (amount <= 0, or a customer that is empty after trimming) and
 * derives cents, tier and day. Other fields are copied unchanged.
 */
export function enrichOrder(order: Order): OrderEnriched | null {
  if (!(order.amount > 0) || order.customer.trim() === "") return null;
  const tier: Tier = order.amount < 100 ? "small" : order.amount < 1000 ? "medium" : "large";
  return {
    ...order,
    amount_cents: BigInt(roundHalfAwayFromZero(order.amount * 100)),
    tier,
    day: order.ts.toISOString().slice(0, 10),
  };
}

const app = new App();
const orders = app.ingestPipeline("Order", Order);
const enriched = app.streamPipeline("OrderEnriched", OrderEnriched);
orders.stream.addTransform(enriched.stream, enrichOrder, { name: "enrich_order" });

const dailyRevenue = app.aggregation("DailyRevenue", DailyRevenue, {
  select:
    "SELECT day, customer, sum(amount) AS revenue, count() AS orders " +
    "FROM OrderEnriched GROUP BY day, customer",
  sources: ["OrderEnriched"],
  table: { engine: engines.summingMergeTree(), orderBy: ["day", "customer"] },
});

app.api(
  "revenue",
  {
    params: {
      customer: t.string().optional().doc("Only this customer."),
      from: t.date().optional().doc("First day, inclusive."),
      to: t.date().optional().doc("Last day, inclusive."),
      limit: t.uint32().default("100").min(1).max(10000).doc("Maximum number of rows."),
    },
    response: DailyRevenue,
    doc: "Daily revenue, optionally for one customer and a range of days.",
  },
  (params) => {
    const customer = sql.param(params.customer ?? null, t.nullable(t.string()));
    const from = sql.param(params.from ?? null, t.nullable(t.date()));
    const to = sql.param(params.to ?? null, t.nullable(t.date()));
    return query(
      sql`SELECT day, customer, sum(revenue) AS revenue, sum(orders) AS orders
FROM ${dailyRevenue}
WHERE (${customer} IS NULL OR customer = ${customer})
AND (${from} IS NULL OR day >= ${from})
AND (${to} IS NULL OR day <= ${to})
GROUP BY day, customer
ORDER BY day, customer
LIMIT ${sql.param(params.limit, t.uint32())}`,
      DailyRevenue,
    );
  },
);

export default app;
