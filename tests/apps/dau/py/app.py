"""The Python part of the dau test app: the same pipeline as `../rs/src/lib.rs`, as
ingest `VisitPy`, aggregation `DailyUsersPy` and API `daily_users_py`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Optional

from moose_guest import (
    AggregateState,
    Alias,
    AggregatingMergeTree,
    App,
    Key,
    Materialized,
    PipelineConfig,
    Projection,
    SimpleAggregate,
    TableConfig,
    TableIndex,
    UInt64,
    field,
    model,
    sql,
)


@model(name="VisitPy")
@dataclass
class Visit:
    """A visit as posted to `POST /ingest/VisitPy`."""

    id: Key[str]
    user: str
    ts: datetime = field(codec="Delta, ZSTD(1)")
    duration: float = field(doc="Seconds on the site.")


@model(name="DailyUsersPy")
@dataclass
class DailyUsers:
    """Per day: aggregate states and simple aggregates, merged as parts merge."""

    day: Key[date]
    users: Annotated[UInt64, AggregateState("uniq", str)]
    durations: Annotated[list[float], AggregateState("quantiles(0.5, 0.9)", float)]
    visits: Annotated[UInt64, SimpleAggregate("sum")]
    last_seen: Annotated[datetime, SimpleAggregate("max")]


@model(name="DailyActivePy")
@dataclass
class DailyActive:
    """One day of `GET /api/daily_users_py`."""

    day: Key[date]
    users: UInt64
    visits: UInt64
    last_seen: datetime
    p90: float = field(doc="The 90th percentile of the day's durations.")


@dataclass
class DailyParams:
    """Parameters of `GET /api/daily_users_py`."""

    from_: Optional[date] = field(default=None, name="from", doc="First day, inclusive.")


app = App()
app.ingest_pipeline(
    "VisitPy",
    Visit,
    PipelineConfig(
        table=TableConfig(
            order_by=["id", "ts"],
            primary_key=["id"],
            partition_by="toYYYYMM(ts)",
            ttl="ts + INTERVAL 100 YEAR",
            settings={"index_granularity": 4096},
            indexes=[TableIndex("user_bf", "user", "bloom_filter(0.01)")],
            projections=[Projection("by_user", "SELECT * ORDER BY user")],
            computed={"day": Materialized(date, "toDate(ts)"), "minutes": Alias(float, "duration / 60")},
        )
    ),
)
daily_users = app.aggregation(
    "DailyUsersPy",
    DailyUsers,
    "SELECT toDate(ts) AS day, uniqState(user) AS users, "
    "quantilesState(0.5, 0.9)(duration) AS durations, count() AS visits, max(ts) AS last_seen "
    "FROM VisitPy GROUP BY day",
    ["VisitPy"],
    TableConfig(engine=AggregatingMergeTree()),
)

DAILY_ACTIVE_SQL = (
    "SELECT day, uniqMerge(users) AS users, sum(visits) AS visits, "
    "max(last_seen) AS last_seen, quantilesMerge(0.5, 0.9)(durations)[2] AS p90 "
    "FROM {table} "
    "WHERE {from_:Nullable(Date)} IS NULL OR day >= {from_:Nullable(Date)} "
    "GROUP BY day ORDER BY day"
)


def daily_users_py(params: DailyParams) -> list[DailyActive]:
    """Distinct users, visits, last visit and 90th percentile duration per day."""
    return sql(DAILY_ACTIVE_SQL, table=daily_users, from_=params.from_).fetch(DailyActive)


app.api("daily_users_py", daily_users_py)
