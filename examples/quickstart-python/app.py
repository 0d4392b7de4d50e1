"""The quickstart app: orders are ingested, enriched by a streaming function, rolled up
per day and customer by a SQL aggregation, and served by the `revenue` query API.

Build and describe: `moose build .`
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from typing import Annotated, Optional

from moose_guest import (
    App,
    Doc,
    Key,
    SummingMergeTree,
    TableConfig,
    UInt32,
    UInt64,
    field,
    sql,
)


@dataclass
class Order:
    """An order as posted to `POST /ingest/Order`."""

    id: Key[str]
    customer: str
    amount: float
    ts: datetime


class Tier(Enum):
    """Order size by amount: below 100 small, below 1000 medium, else large."""

    SMALL = "small"
    MEDIUM = "medium"
    LARGE = "large"


@dataclass
class OrderEnriched:
    """A valid order with derived fields."""

    id: Key[str]
    customer: str
    amount: float
    amount_cents: Annotated[int, Doc("`amount * 100`, rounded half away from zero.")]
    tier: Tier
    day: Annotated[date, Doc("UTC date of `ts`.")]
    ts: datetime


@dataclass
class DailyRevenue:
    """Revenue and order count per day and customer."""

    day: Key[date]
    customer: Key[str]
    revenue: float
    orders: UInt64


@dataclass
class RevenueParams:
    """Parameters of `GET /api/revenue`."""

    customer: Optional[str] = field(default=None, doc="Only this customer.")
    from_: Optional[date] = field(default=None, name="from", doc="First day, inclusive.")
    to: Optional[date] = field(default=None, doc="Last day, inclusive.")
    limit: UInt32 = field(default=100, min=1, max=10000, doc="Maximum number of rows.")


def round_half_away_from_zero(value: float) -> int:
    """`value` rounded to the nearest integer, halves away from zero (unlike `round`)."""
    return int(math.copysign(math.floor(abs(value) + 0.5), value))


def enrich_order(order: Order) -> Optional[OrderEnriched]:
    """Drops invalid orders (amount <= 0, or a customer that is empty after trimming) and
    derives cents, tier and day. Other fields are copied unchanged."""
    if order.amount <= 0 or not order.customer.strip():
        return None
    if order.amount < 100:
        tier = Tier.SMALL
    elif order.amount < 1000:
        tier = Tier.MEDIUM
    else:
        tier = Tier.LARGE
    return OrderEnriched(
        id=order.id,
        customer=order.customer,
        amount=order.amount,
        amount_cents=round_half_away_from_zero(order.amount * 100),
        tier=tier,
        day=order.ts.date(),
        ts=order.ts,
    )


app = App()
orders = app.ingest_pipeline("Order", Order)
enriched = app.stream_pipeline("OrderEnriched", OrderEnriched)
app.transform("enrich_order", orders.stream, enriched.stream, enrich_order)
daily_revenue = app.aggregation(
    "DailyRevenue",
    DailyRevenue,
    "SELECT day, customer, sum(amount) AS revenue, count() AS orders "
    "FROM OrderEnriched GROUP BY day, customer",
    ["OrderEnriched"],
    TableConfig(order_by=["day", "customer"], engine=SummingMergeTree()),
)

REVENUE_SQL = (
    "SELECT day, customer, sum(revenue) AS revenue, sum(orders) AS orders "
    "FROM {table} "
    "WHERE ({customer:Nullable(String)} IS NULL OR customer = {customer:Nullable(String)}) "
    "AND ({from_:Nullable(Date)} IS NULL OR day >= {from_:Nullable(Date)}) "
    "AND ({to:Nullable(Date)} IS NULL OR day <= {to:Nullable(Date)}) "
    "GROUP BY day, customer "
    "ORDER BY day, customer "
    "LIMIT {limit:UInt32}"
)


def revenue(params: RevenueParams) -> list[DailyRevenue]:
    """Daily revenue, optionally for one customer and a range of days."""
    return sql(
        REVENUE_SQL,
        table=daily_revenue,
        customer=params.customer,
        from_=params.from_,
        to=params.to,
        limit=params.limit,
    ).fetch(DailyRevenue)


app.api("revenue", revenue)
