"""Windowed aggregations: declaration, describe, and init/accumulate/merge/emit round trips."""

import json
import unittest
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Annotated, Optional

import _paths  # noqa: F401 - puts the SDK on sys.path

from moose_guest import (
    App,
    DeadLetterQueue,
    DateTime64,
    Key,
    ReplacingMergeTree,
    TableConfig,
    UInt64,
    Window,
    decimal,
    hopping,
    tumbling,
)
from moose_guest.app import DeclarationError
from test_describe import NO_OPTIONS
from moose_guest.defs import to_json
from moose_guest.process import GuestError


@dataclass
class Order:
    id: Key[str]
    customer: str
    amount: float
    big: int
    ts: DateTime64[3]


@dataclass
class Totals:
    customer: Key[str]
    window_start: Key[datetime]
    window_end: datetime
    orders: UInt64
    total: float
    big: int
    min_amount: float
    max_amount: float


@dataclass
class PerCustomer:
    orders: int
    total: float
    big: int
    min: float
    max: float

    def combine(self, other: "PerCustomer") -> "PerCustomer":
        return PerCustomer(
            self.orders + other.orders,
            self.total + other.total,
            self.big + other.big,
            min(self.min, other.min),
            max(self.max, other.max),
        )


@dataclass
class TotalsState:
    """A dataclass state: kept with the model converters."""

    per_customer: dict[str, PerCustomer] = field(default_factory=dict)
    first: Optional[datetime] = None
    exact: Annotated[Decimal, decimal(20, 2)] = Decimal("0")


def init(window: Window) -> TotalsState:
    return TotalsState()


def accumulate(state: TotalsState, order: Order, window: Window) -> TotalsState:
    if order.amount < 0:
        raise ValueError(f"negative amount in order {order.id}")
    one = PerCustomer(1, order.amount, order.big, order.amount, order.amount)
    before = state.per_customer.get(order.customer)
    per_customer = dict(state.per_customer)
    per_customer[order.customer] = one if before is None else before.combine(one)
    first = order.ts if state.first is None else min(state.first, order.ts)
    return TotalsState(per_customer, first, state.exact + Decimal(str(order.amount)))


def merge(a: TotalsState, b: TotalsState, window: Window) -> TotalsState:
    out = dict(a.per_customer)
    for customer, value in b.per_customer.items():
        out[customer] = value if customer not in out else out[customer].combine(value)
    firsts = [t for t in (a.first, b.first) if t is not None]
    return TotalsState(out, min(firsts) if firsts else None, a.exact + b.exact)


def emit(state: TotalsState, window: Window) -> list[Totals]:
    return [
        Totals(customer, window.start, window.end, v.orders, v.total, v.big, v.min, v.max)
        for customer, v in sorted(state.per_customer.items())
    ]


@dataclass
class Count:
    window_start: Key[datetime]
    orders: UInt64


def orders_app() -> App:
    app = App()
    orders = app.ingest_pipeline("Order", Order)
    app.windowed_aggregation(
        "order_totals",
        Totals,
        orders.stream,
        time_field="ts",
        window=tumbling(60),
        allowed_lateness=30,
        init=init,
        accumulate=accumulate,
        merge=merge,
        emit=emit,
        target=TableConfig(order_by=["customer", "window_start"], engine=ReplacingMergeTree()),
        dead_letter=DeadLetterQueue("order_totals_dead_letter"),
    )

    def count(n: dict, order: Order, window: Window) -> None:
        n["orders"] += 1  # updated in place

    app.windowed_aggregation(
        "order_counts_hopping",
        Count,
        orders.stream,
        time_field="ts",
        window=hopping(120, 60),
        state_version=3,
        init=lambda w: {"orders": 0},
        accumulate=count,
        merge=lambda a, b, w: {"orders": a["orders"] + b["orders"]},
        emit=lambda n, w: Count(w.start, n["orders"]) if n["orders"] else None,
    )
    return app


WINDOW = Window(1714564800000, 1714564860000)


def order(i: int, customer: str, amount: float, big: int) -> str:
    return json.dumps(
        {"id": str(i), "customer": customer, "amount": amount, "big": big, "ts": f"2024-05-01T12:00:{i:02}.5Z"}
    )


def accumulate_lines(app: App, name: str, state: bytes, lines: list[str]):  # type: ignore[no-untyped-def]
    return app.window_accumulate(name, WINDOW, state, "\n".join(lines).encode(), len(lines))


def rows(emitted: tuple[bytes, int]) -> list[dict]:
    data, count = emitted
    lines = data.decode().split("\n") if count else []
    assert len(lines) == count
    return [json.loads(line) for line in lines]


class WindowedAggregationTest(unittest.TestCase):
    def test_describe(self) -> None:
        d = to_json(orders_app().describe())
        self.maxDiff = None
        self.assertEqual(
            d["windowed_aggregations"],
            [
                {
                    "name": "order_totals",
                    "source": "Order",
                    "time_field": "ts",
                    "window": {"size_seconds": 60, "hop_seconds": 60, "allowed_lateness_seconds": 30},
                    "target": {
                        "name": "order_totals",
                        "model": "Totals",
                        "order_by": ["customer", "window_start"],
                        "engine": {"replacing-merge-tree": {"version": None, "is_deleted": None}},
                        "source_stream": None,
                        "options": NO_OPTIONS,
                    },
                    "state_version": 1,
                    "dead_letter": "order_totals_dead_letter",
                },
                {
                    "name": "order_counts_hopping",
                    "source": "Order",
                    "time_field": "ts",
                    "window": {"size_seconds": 120, "hop_seconds": 60, "allowed_lateness_seconds": 0},
                    "target": {
                        "name": "order_counts_hopping",
                        "model": "Count",
                        "order_by": [],
                        "engine": "merge-tree",
                        "source_stream": None,
                        "options": NO_OPTIONS,
                    },
                    "state_version": 3,
                    "dead_letter": "order_counts_hopping_dead_letter",
                },
            ],
        )
        self.assertEqual([m["name"] for m in d["models"]], ["Order", "Totals", "Count"])
        self.assertEqual([t["name"] for t in d["tables"]], ["Order"])

    def test_init_accumulate_merge_emit(self) -> None:
        app = orders_app()
        name = "order_totals"
        empty = app.window_init(name, WINDOW)
        a, errors = accumulate_lines(app, name, empty, [order(1, "acme", 10.5, 1050), order(2, "beta", 2, 2**63 - 1000)])
        self.assertEqual(errors, [])
        b, _ = accumulate_lines(app, name, empty, [order(3, "acme", 0.25, 25), order(4, "beta", 7, 800)])
        merged = app.window_merge(name, WINDOW, a, b)
        start, end = "2024-05-01T12:00:00Z", "2024-05-01T12:01:00Z"
        self.assertEqual(
            rows(app.window_emit(name, WINDOW, merged)),
            [
                {"customer": "acme", "window_start": start, "window_end": end, "orders": 2, "total": 10.75,
                 "big": 1075, "min_amount": 0.25, "max_amount": 10.5},
                {"customer": "beta", "window_start": start, "window_end": end, "orders": 2, "total": 9.0,
                 "big": 2**63 - 200, "min_amount": 2.0, "max_amount": 7.0},
            ],
        )  # fmt: skip
        state = app._windowed_impls[name].codec.decode(merged)
        self.assertEqual(state.first, datetime(2024, 5, 1, 12, 0, 1, 500000, tzinfo=timezone.utc))
        self.assertEqual(state.exact, Decimal("19.75"))
        self.assertEqual(rows(app.window_emit(name, WINDOW, empty)), [])

        hop = "order_counts_hopping"
        counted, _ = accumulate_lines(app, hop, app.window_init(hop, WINDOW), [order(1, "a", 1, 1), order(2, "a", 1, 1)])
        self.assertEqual(json.loads(counted), {"orders": 2})
        self.assertEqual(rows(app.window_emit(hop, WINDOW, counted)), [{"window_start": start, "orders": 2}])
        self.assertEqual(rows(app.window_emit(hop, WINDOW, app.window_init(hop, WINDOW))), [])

    def test_record_errors(self) -> None:
        app = orders_app()
        name = "order_totals"
        state, errors = accumulate_lines(
            app,
            name,
            app.window_init(name, WINDOW),
            [order(1, "acme", 10, 1), order(2, "acme", -1, 1), '{"id":"3","customer":"acme"}', "not json", order(5, "acme", 1, 1)],
        )
        self.assertEqual([e.index for e in errors], [1, 2, 3])
        self.assertEqual(errors[0].message, "ValueError: negative amount in order 2")
        self.assertIn("invalid input record: missing field `amount`", errors[1].message)
        self.assertIn("invalid input record", errors[2].message)
        self.assertEqual([r["total"] for r in rows(app.window_emit(name, WINDOW, state))], [11.0])

    def test_whole_call_errors(self) -> None:
        app = orders_app()
        for call in (
            lambda: app.window_init("nope", WINDOW),
            lambda: app.window_merge("nope", WINDOW, b"", b""),
            lambda: app.window_emit("nope", WINDOW, b""),
            lambda: app.window_accumulate("nope", WINDOW, b"", b"", 0),
        ):
            with self.assertRaises(GuestError) as raised:
                call()
            self.assertEqual((raised.exception.kind, raised.exception.message), ("unknown-function", "nope"))
        empty = app.window_init("order_totals", WINDOW)
        with self.assertRaises(GuestError) as raised:
            app.window_accumulate("order_totals", WINDOW, empty, b"{}", 2)
        self.assertEqual(raised.exception.message, "batch count is 2 but its data holds 1 lines")
        with self.assertRaises(GuestError) as raised:
            app.window_merge("order_totals", WINDOW, b"{oops", empty)
        self.assertEqual(raised.exception.kind, "failed")
        self.assertRegex(raised.exception.message, r"^windowed aggregation `order_totals`: StateError: the state is not JSON")
        with self.assertRaises(GuestError) as raised:
            app.window_emit("order_totals", WINDOW, b'{"per_customer":{"a":{"orders":"x"}}}')
        self.assertIn("cannot decode the state as TotalsState", raised.exception.message)

        bad = App()
        source = bad.stream("In", Order)
        bad.windowed_aggregation(
            "wrong_row", Totals, source, time_field="ts", window=tumbling(10),
            init=lambda w: 0, accumulate=lambda s, r, w: s, merge=lambda a, b, w: a, emit=lambda s, w: {"customer": "x"},
        )  # fmt: skip
        bad.windowed_aggregation(
            "not_json", Totals, source, time_field="ts", window=tumbling(10),
            init=lambda w: {1, 2}, accumulate=lambda s, r, w: s, merge=lambda a, b, w: a, emit=lambda s, w: None,
        )  # fmt: skip
        with self.assertRaises(GuestError) as raised:
            bad.window_emit("wrong_row", WINDOW, bad.window_init("wrong_row", WINDOW))
        self.assertIn("cannot serialize row 0", raised.exception.message)
        self.assertIn("expected Totals", raised.exception.message)
        with self.assertRaises(GuestError) as raised:
            bad.window_init("not_json", WINDOW)
        self.assertIn("cannot encode the state", raised.exception.message)

    def test_window_bounds(self) -> None:
        window = Window(-60000, 0)
        self.assertEqual(window.start, datetime(1969, 12, 31, 23, 59, tzinfo=timezone.utc))
        self.assertEqual(window.end, datetime(1970, 1, 1, tzinfo=timezone.utc))

    def test_declaration_mistakes(self) -> None:
        app = App()
        source = app.stream("In", Order)
        base = dict(init=lambda w: 0, accumulate=lambda s, r, w: s, merge=lambda a, b, w: a, emit=lambda s, w: None)
        with self.assertRaisesRegex(ValueError, "size must be a whole number of seconds from 1"):
            tumbling(0)
        with self.assertRaisesRegex(ValueError, r"hop \(120 s\) must not exceed its size \(60 s\)"):
            hopping(60, 120)
        with self.assertRaisesRegex(
            DeclarationError, "time field `customer` must be a date, datetime or DateTime64 field of Order"
        ):
            app.windowed_aggregation("w", Totals, source, time_field="customer", window=tumbling(60), **base)
        with self.assertRaisesRegex(DeclarationError, "allowed_lateness must be"):
            app.windowed_aggregation("w", Totals, source, time_field="ts", window=tumbling(60), allowed_lateness=-1, **base)
        with self.assertRaisesRegex(DeclarationError, "init=1 is not callable"):
            app.windowed_aggregation("w", Totals, source, time_field="ts", window=tumbling(60), **{**base, "init": 1})
        app.windowed_aggregation("w", Totals, source, time_field="ts", window=tumbling(60), **base)
        with self.assertRaisesRegex(DeclarationError, "two windowed aggregations are named `w`"):
            app.windowed_aggregation("w", Totals, source, time_field="ts", window=tumbling(60), **base)
        with self.assertRaisesRegex(DeclarationError, "two tables are named `w`"):
            app.table("w", Totals)


if __name__ == "__main__":
    unittest.main()
