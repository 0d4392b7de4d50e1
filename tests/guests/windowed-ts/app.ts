// Windowed aggregations in TypeScript: orders per customer per 60 s tumbling window
// (count, sum, min and max of the amount) and per 120 s window every 60 s, the same app
// as tests/guests/windowed-rs and tests/guests/windowed-py. Late and rejected orders go
// to the dead-letter stream `customer_totals_dead_letter`.

import { App, DeadLetterQueue, hopping, model, t, tumbling, type Infer, type Window } from "@moose/guest";

export const Order = model("Order", {
  id: t.key(t.string()),
  customer: t.string(),
  amount: t.float64(),
  ts: t.dateTime64(3),
});
export type Order = Infer<typeof Order>;

export const CustomerWindow = model("CustomerWindow", {
  customer: t.key(t.string()),
  window_start: t.key(t.dateTime64(3)),
  window_end: t.dateTime64(3),
  orders: t.uint64(),
  amount_sum: t.float64(),
  amount_min: t.float64(),
  amount_max: t.float64(),
});
export type CustomerWindow = Infer<typeof CustomerWindow>;

/** Per customer: order count, sum, min and max of the amount. */
interface Totals {
  orders: number;
  sum: number;
  min: number;
  max: number;
}
type State = Record<string, Totals>;

function combine(a: Totals | undefined, b: Totals): Totals {
  if (a === undefined) return b;
  return { orders: a.orders + b.orders, sum: a.sum + b.sum, min: Math.min(a.min, b.min), max: Math.max(a.max, b.max) };
}

const aggregate = {
  timeField: "ts" as const,
  allowedLateness: 30,
  target: CustomerWindow,
  deadLetter: new DeadLetterQueue("customer_totals_dead_letter"),
  init: (): State => ({}),
  accumulate: (state: State, order: Order): State => {
    if (!Number.isFinite(order.amount) || order.amount < 0) {
      throw new Error(`order ${order.id}: negative amount ${order.amount}`);
    }
    const one = { orders: 1, sum: order.amount, min: order.amount, max: order.amount };
    return { ...state, [order.customer]: combine(state[order.customer], one) };
  },
  merge: (a: State, b: State): State => {
    const out = { ...a };
    for (const [customer, totals] of Object.entries(b)) out[customer] = combine(out[customer], totals);
    return out;
  },
  emit: (state: State, window: Window): CustomerWindow[] =>
    Object.entries(state).map(([customer, v]) => ({
      customer,
      window_start: window.start,
      window_end: window.end,
      orders: BigInt(v.orders),
      amount_sum: v.sum,
      amount_min: v.min,
      amount_max: v.max,
    })),
};

const app = new App();
const orders = app.ingestPipeline("Order", Order);
app.windowedAggregation("customer_totals_1m", orders.stream, { ...aggregate, window: tumbling(60) });
app.windowedAggregation("customer_totals_2m", orders.stream, { ...aggregate, window: hopping(120, 60) });

export default app;
