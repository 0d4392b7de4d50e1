// The TypeScript half of a mixed-language app: orders are ingested and enriched here;
// the Python component in ../audit-py reads the enriched stream.

import { App, model, t, type Infer } from "@moose/guest";

export const Order = model("Order", {
  id: t.key(t.string()),
  customer: t.string(),
  amount: t.float64(),
});
export type Order = Infer<typeof Order>;

/** Declared identically in the Python component, which reads its stream. */
export const OrderEnriched = model("OrderEnriched", {
  id: t.key(t.string()),
  customer: t.string(),
  cents: t.int64(),
});
export type OrderEnriched = Infer<typeof OrderEnriched>;

const app = new App();
const orders = app.ingestPipeline("Order", Order);
const enriched = app.stream("OrderEnriched", OrderEnriched);
orders.stream.addTransform(
  enriched,
  (order: Order): OrderEnriched | null =>
    order.amount > 0
      ? { id: order.id, customer: order.customer.toUpperCase(), cents: BigInt(Math.round(order.amount * 100)) }
      : null,
  { name: "enrich" },
);

export default app;
