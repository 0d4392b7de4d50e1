"""Column types beyond Python's builtins, as `typing.Annotated` markers.

| annotation | column type |
|---|---|
| `str` | `String` |
| `LowCardinality[str]` | `LowCardinality(String)` |
| `int` | `Int64` |
| `Int8` ... `Int256`, `UInt8` ... `UInt256` | sized integers |
| `float` (or `Float64`), `Float32` | floats |
| `bool` | `Boolean` |
| `Annotated[Decimal, decimal(18, 4)]` | `Decimal(18, 4)` |
| `date` | `Date` |
| `datetime` | `DateTime` |
| `DateTime64[3]` or `Annotated[datetime, datetime64(3)]` | `DateTime64(3)` |
| `UUID` | `UUID` |
| `FixedString[16]` | `FixedString(16)`: a `str` of at most 16 UTF-8 bytes |
| `IPv4Address`, `IPv6Address` (from `ipaddress`) | `IPv4`, `IPv6` |
| `Point`, `Ring`, `LineString`, `MultiLineString`, `Polygon`, `MultiPolygon` | the geo types: `(x, y)` tuples in nested lists |
| an `Enum` subclass | `Enum8`/`Enum16` of its members |
| `Json` (or `Any`) | `JSON` |
| `Optional[T]`, `list[T]`, `dict[str, T]` | `Nullable(T)`, `Array(T)`, `Map(String, T)` |
| a model class | the nested model |

`Key[T]` marks a key field. A column of an aggregating table says how it holds its
aggregate: `Annotated[UInt64, AggregateState("uniq", str)]` (the state of `uniq` over
strings, read with `uniqMerge`) or `Annotated[datetime, SimpleAggregate("max")]`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, TypeVar

__all__ = [
    "Key",
    "LowCardinality",
    "DateTime64",
    "Json",
    "decimal",
    "datetime64",
    "Doc",
    "AggregateState",
    "SimpleAggregate",
    "Int8",
    "Int16",
    "Int32",
    "Int64",
    "UInt8",
    "UInt16",
    "UInt32",
    "UInt64",
    "Int128",
    "Int256",
    "UInt128",
    "UInt256",
    "FixedString",
    "Point",
    "Ring",
    "LineString",
    "MultiLineString",
    "Polygon",
    "MultiPolygon",
    "Float32",
    "Float64",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "int128",
    "int256",
    "uint128",
    "uint256",
    "float32",
    "float64",
]

T = TypeVar("T")


@dataclass(frozen=True)
class KeyMarker:
    """Marks a key field (`Key[T]`)."""


@dataclass(frozen=True)
class LowCardinalityMarker:
    """Turns a `String` leaf into `LowCardinality(String)` (`LowCardinality[str]`)."""


@dataclass(frozen=True)
class JsonMarker:
    """Marks a `JSON` column (`Json`)."""


@dataclass(frozen=True)
class IntKind:
    """A sized integer column; use the aliases `Int8` ... `UInt64` or the markers `int8` ...."""

    name: str
    low: int
    high: int


@dataclass(frozen=True)
class FixedStringSpec:
    """`FixedString(length)`: use `FixedString[16]`."""

    length: int

    def __post_init__(self) -> None:
        if not 1 <= self.length <= 2**32 - 1:
            raise ValueError(f"FixedString[{self.length}]: the length is at least 1 byte")


@dataclass(frozen=True)
class GeoMarker:
    """A geo column; use the aliases `Point` ... `MultiPolygon`. `shape` is the WIT name
    (`point`, `ring`, `line-string`, ...) and `depth` how many lists enclose the points."""

    shape: str
    depth: int


@dataclass(frozen=True)
class FloatKind:
    """`Float32` or `Float64`."""

    name: str


@dataclass(frozen=True)
class DecimalSpec:
    """`Decimal(precision, scale)`: use `Annotated[Decimal, decimal(P, S)]`."""

    precision: int
    scale: int

    def __post_init__(self) -> None:
        if not (1 <= self.precision <= 76 and 0 <= self.scale <= self.precision):
            raise ValueError(
                f"decimal({self.precision}, {self.scale}): needs 1 <= precision <= 76 and 0 <= scale <= precision"
            )


@dataclass(frozen=True)
class DateTime64Spec:
    """`DateTime64(precision)`: use `DateTime64[P]` or `Annotated[datetime, datetime64(P)]`."""

    precision: int

    def __post_init__(self) -> None:
        if not 0 <= self.precision <= 9:
            raise ValueError(f"datetime64({self.precision}): precision is 0..9")


@dataclass(frozen=True)
class Doc:
    """A field's description as an annotation: `Annotated[int, Doc("Cents.")]` (the same
    as `field(doc=...)`, and the shape of PEP 727's `typing_extensions.Doc`)."""

    documentation: str


class AggregateState:
    """An `AggregateFunction(function, arguments...)` column:
    `users: Annotated[UInt64, AggregateState("uniq", str)]`.

    The column holds `function`'s intermediate state, written by an aggregation's SELECT
    (`uniqState(user) AS users`) and read with `-Merge` (`uniqMerge(users)`); `arguments`
    are the annotations of the function's arguments, and the annotated type is what
    `-Merge` yields. Records never carry states, so such a model is only an aggregation's
    target.
    """

    __slots__ = ("function", "arguments")

    def __init__(self, function: str, *arguments: Any) -> None:
        self.function = function
        self.arguments = arguments

    def __repr__(self) -> str:
        names = (getattr(a, "__name__", None) or repr(a) for a in self.arguments)
        return f"AggregateState({self.function!r}, {', '.join(names)})"


@dataclass(frozen=True)
class SimpleAggregate:
    """A `SimpleAggregateFunction(function, T)` column: plain values of the annotated type
    that merge with `function` (`max`, `sum`, `anyLast`, ...):
    `last_seen: Annotated[datetime, SimpleAggregate("max")]`."""

    function: str


def decimal(precision: int, scale: int) -> DecimalSpec:
    """The `Decimal(precision, scale)` marker: `Annotated[Decimal, decimal(18, 4)]`."""
    return DecimalSpec(precision, scale)


def datetime64(precision: int) -> DateTime64Spec:
    """The `DateTime64(precision)` marker: `Annotated[datetime, datetime64(3)]`."""
    return DateTime64Spec(precision)


Key = Annotated[T, KeyMarker()]
"""A key field: `id: Key[str]`."""

LowCardinality = Annotated[T, LowCardinalityMarker()]
"""`LowCardinality(String)`: `country: LowCardinality[str]`."""

Json = Annotated[Any, JsonMarker()]
"""Any JSON value, `JSON` in ClickHouse."""


class FixedString:
    """`FixedString[16]` is a `str` stored as `FixedString(16)`."""

    def __class_getitem__(cls, length: int) -> Any:
        return Annotated[str, FixedStringSpec(length)]


class DateTime64:
    """`DateTime64[3]` is a `datetime` stored as `DateTime64(3)`."""

    def __class_getitem__(cls, precision: int) -> Any:
        return Annotated[datetime, DateTime64Spec(precision)]


int8 = IntKind("Int8", -(2**7), 2**7 - 1)
int16 = IntKind("Int16", -(2**15), 2**15 - 1)
int32 = IntKind("Int32", -(2**31), 2**31 - 1)
int64 = IntKind("Int64", -(2**63), 2**63 - 1)
uint8 = IntKind("UInt8", 0, 2**8 - 1)
uint16 = IntKind("UInt16", 0, 2**16 - 1)
uint32 = IntKind("UInt32", 0, 2**32 - 1)
uint64 = IntKind("UInt64", 0, 2**64 - 1)
int128 = IntKind("Int128", -(2**127), 2**127 - 1)
int256 = IntKind("Int256", -(2**255), 2**255 - 1)
uint128 = IntKind("UInt128", 0, 2**128 - 1)
uint256 = IntKind("UInt256", 0, 2**256 - 1)
float32 = FloatKind("Float32")
float64 = FloatKind("Float64")

Int8 = Annotated[int, int8]
Int16 = Annotated[int, int16]
Int32 = Annotated[int, int32]
Int64 = Annotated[int, int64]
UInt8 = Annotated[int, uint8]
UInt16 = Annotated[int, uint16]
UInt32 = Annotated[int, uint32]
UInt64 = Annotated[int, uint64]
Int128 = Annotated[int, int128]
Int256 = Annotated[int, int256]
UInt128 = Annotated[int, uint128]
UInt256 = Annotated[int, uint256]

Point = Annotated[tuple[float, float], GeoMarker("point", 0)]
"""`Point`: `(x, y)`."""
Ring = Annotated[list[tuple[float, float]], GeoMarker("ring", 1)]
"""`Ring`: a polygon without holes."""
LineString = Annotated[list[tuple[float, float]], GeoMarker("line-string", 1)]
MultiLineString = Annotated[list[list[tuple[float, float]]], GeoMarker("multi-line-string", 2)]
Polygon = Annotated[list[list[tuple[float, float]]], GeoMarker("polygon", 2)]
"""`Polygon`: the outer ring, then the holes."""
MultiPolygon = Annotated[list[list[list[tuple[float, float]]]], GeoMarker("multi-polygon", 3)]
Float32 = Annotated[float, float32]
Float64 = Annotated[float, float64]
