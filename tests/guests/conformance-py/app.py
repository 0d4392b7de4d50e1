"""The conformance-suite component in Python. `tests/conformance/README.md` describes the
models and functions every language's conformance component declares."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from ipaddress import IPv4Address, IPv6Address
from typing import Annotated, Optional
from uuid import UUID

from stdlib_probe import probe

from moose_guest import (
    App,
    DateTime64,
    FixedString,
    Float32,
    Int128,
    Int8,
    Int16,
    Int32,
    Json,
    Key,
    LowCardinality,
    UInt8,
    UInt16,
    UInt32,
    UInt64,
    UInt256,
    Point,
    Polygon,
    decimal,
)


@dataclass
class Inner:
    name: str
    tags: list[str]


class Color(Enum):
    RED = "red"
    GREEN = "green"
    BLUE = "blue"


@dataclass
class Everything:
    id: Key[str]
    s: str
    lc: LowCardinality[str]
    i8: Int8
    i16: Int16
    i32: Int32
    i64: int
    u8: UInt8
    u16: UInt16
    u32: UInt32
    u64: UInt64
    f32: Float32
    f64: float
    b: bool
    dec: Annotated[Decimal, decimal(18, 4)]
    d: date
    dt: datetime
    dt64: DateTime64[3]
    uid: UUID
    e: Color
    j: Json
    inner: Inner
    opt_s: Optional[str]
    opt_i: Optional[Int32]
    arr_i: list[Int32]
    arr_opt: list[Optional[str]]
    m: dict[str, float]
    m_arr: dict[str, list[UInt8]]
    inners: list[Inner]
    i128: Int128
    u256: UInt256
    fs: FixedString[4]
    v4: IPv4Address
    v6: IPv6Address
    pt: Point
    poly: Polygon


def identity(record: Everything) -> Everything:
    return record


def filter(record: Everything) -> Optional[Everything]:
    return record if record.b else None


def fan_out(record: Everything) -> list[Everything]:
    return [dataclasses.replace(record, id=f"{record.id}-{k}") for k in range(record.u8 % 4)]


def stdlib(record: Everything) -> Everything:
    """The record with `s` set to the standard library probe's answer (JSON)."""
    return dataclasses.replace(record, s=json.dumps(probe(), sort_keys=True))


def fail_on_boom(record: Everything) -> Everything:
    if record.s == "boom":
        raise ValueError(f"boom: {record.id}")
    return record


app = App()
app.model(Inner)
source = app.stream("Everything", Everything)
out = app.stream("EverythingOut", Everything)
for function in (identity, filter, fan_out, fail_on_boom, stdlib):
    app.transform(function.__name__, source, out, function)
