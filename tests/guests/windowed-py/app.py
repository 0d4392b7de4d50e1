"""Windowed aggregations in Python: orders per customer per 60 s tumbling window (count,
sum, min and max of the amount) and per 120 s window every 60 s, the same app as
tests/guests/windowed-rs and tests/guests/windowed-ts. Late and rejected orders go to the
dead-letter stream `customer_totals_dead_letter`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from moose_guest import App, DateTime64, DeadLetterQueue, Key, UInt64, Window, hopping, tumbling


@dataclass
class Order:
    id: Key[str]
    customer: str
    amount: float
    ts: DateTime64[3]


@dataclass
class CustomerWindow:
    customer: Key[str]
    window_start: Key[DateTime64[3]]
    window_end: DateTime64[3]
    orders: UInt64
    amount_sum: float
    amount_min: float
    amount_max: float


@dataclass
class Totals:
    """One customer's order count, and sum, min and max of the amount."""

    orders: int
    sum: float
    min: float
    max: float

    def combine(self, other: Totals) -> Totals:
        return Totals(
            self.orders + other.orders, self.sum + other.sum, min(self.min, other.min), max(self.max, other.max)
        )


@dataclass
class State:
    per_customer: dict[str, Totals] = field(default_factory=dict)


def init(window: Window) -> State:
    return State()


def accumulate(state: State, order: Order, window: Window) -> State:
    if not math.isfinite(order.amount) or order.amount < 0:
        raise ValueError(f"order {order.id}: negative amount {order.amount}")
    one = Totals(1, order.amount, order.amount, order.amount)
    before = state.per_customer.get(order.customer)
    state.per_customer[order.customer] = one if before is None else before.combine(one)
    return state


def merge(a: State, b: State, window: Window) -> State:
    for customer, totals in b.per_customer.items():
        before = a.per_customer.get(customer)
        a.per_customer[customer] = totals if before is None else before.combine(totals)
    return a


def emit(state: State, window: Window) -> list[CustomerWindow]:
    return [
        CustomerWindow(customer, window.start, window.end, t.orders, t.sum, t.min, t.max)
        for customer, t in state.per_customer.items()
    ]


app = App()
orders = app.ingest_pipeline("Order", Order)
dead_letter = DeadLetterQueue("customer_totals_dead_letter")
for name, window in (("customer_totals_1m", tumbling(60)), ("customer_totals_2m", hopping(120, 60))):
    app.windowed_aggregation(
        name,
        CustomerWindow,
        orders.stream,
        time_field="ts",
        window=window,
        allowed_lateness=30,
        init=init,
        accumulate=accumulate,
        merge=merge,
        emit=emit,
        dead_letter=dead_letter,
    )
