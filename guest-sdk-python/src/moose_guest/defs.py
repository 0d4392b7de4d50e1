"""Plain-data description of an app, mirroring the records of `wit/moose.wit`.

`App.describe()` returns an `AppDef`; the component export converts it to the
generated WIT types. `to_json()` gives the same data as plain JSON values.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Optional, Union

__all__ = [
    "TypeWrapper",
    "EnumMember",
    "ScalarType",
    "DataType",
    "Field",
    "ModelDef",
    "StreamDef",
    "TableEngine",
    "CollapsingMergeTree",
    "VersionedCollapsingMergeTree",
    "TableIndex",
    "Projection",
    "TableOptions",
    "ComputedColumn",
    "MergeTree",
    "ReplacingMergeTree",
    "SummingMergeTree",
    "AggregatingMergeTree",
    "TableDef",
    "IngestDef",
    "FunctionDef",
    "AggregationDef",
    "WindowSpec",
    "WindowedAggregationDef",
    "ViewDef",
    "ApiParam",
    "ApiDef",
    "AppDef",
    "to_json",
]

TypeWrapper = str
"""`"array"`, `"map"` or `"nullable"`."""

@dataclass(frozen=True)
class EnumMember:
    """One member of an enum type; records carry the member's name."""

    name: str
    value: int


@dataclass(frozen=True)
class ScalarType:
    """The innermost part of a field's type: `kind` is the WIT case name
    (`"string"`, `"int64"`, `"decimal"`, `"nested"`, ...) and `arg` its payload."""

    kind: str
    arg: Any = None


@dataclass(frozen=True)
class DataType:
    """A full type: `wrappers` applied outermost first around `leaf`."""

    wrappers: tuple[TypeWrapper, ...]
    leaf: ScalarType

    def wrapped(self, wrapper: TypeWrapper) -> DataType:
        """This type wrapped once more, as the new outermost wrapper."""
        return DataType((wrapper, *self.wrappers), self.leaf)


@dataclass(frozen=True)
class AggregateColumn:
    """A column of an aggregating table: `function` with its parameters (`uniq`,
    `quantiles(0.5, 0.9)`) and, for an `AggregateFunction` state column, the types of the
    function's arguments (`None` for `SimpleAggregateFunction`)."""

    function: str
    state_of: Optional[tuple[DataType, ...]] = None


@dataclass(frozen=True)
class Field:
    """One column of a model."""

    name: str
    data_type: DataType
    key: bool = False
    default: Optional[str] = None
    doc: Optional[str] = None
    aggregate: Optional[AggregateColumn] = None
    codec: Optional[str] = None
    ttl: Optional[str] = None


@dataclass(frozen=True)
class ModelDef:
    """A data model: the schema of a stream, a table or a nested record."""

    name: str
    version: Optional[str]
    fields: tuple[Field, ...]
    doc: Optional[str] = None

    def reference(self) -> str:
        """`name`, or `name@version` for a versioned model."""
        return self.name if self.version is None else f"{self.name}@{self.version}"


@dataclass(frozen=True)
class StreamDef:
    """A stream."""

    name: str
    model: str
    partitions: int = 0
    retention_hours: Optional[int] = None


@dataclass(frozen=True)
class MergeTree:
    """`MergeTree`."""


@dataclass(frozen=True)
class ReplacingMergeTree:
    """`ReplacingMergeTree([version[, is_deleted]])`: keeps the newest row per key, the
    one with the greatest `version` (the last inserted without one). With `is_deleted`, a
    `UInt8` column, a newest row with 1 deletes its key."""

    version: Optional[str] = None
    is_deleted: Optional[str] = None


@dataclass(frozen=True)
class SummingMergeTree:
    """`SummingMergeTree([columns])`; no columns sums every numeric column."""

    columns: tuple[str, ...] = ()

    def __init__(self, columns: Union[list[str], tuple[str, ...]] = ()) -> None:
        object.__setattr__(self, "columns", tuple(columns))


@dataclass(frozen=True)
class AggregatingMergeTree:
    """`AggregatingMergeTree`."""


@dataclass(frozen=True)
class CollapsingMergeTree:
    """`CollapsingMergeTree(sign)`: merging drops pairs of rows with equal keys and
    opposite signs; `sign` names an `Int8` column (1 for a state, -1 for its cancel)."""

    sign: str


@dataclass(frozen=True)
class VersionedCollapsingMergeTree:
    """`VersionedCollapsingMergeTree(sign, version)`: like `CollapsingMergeTree`, and rows
    may arrive in any order; `version` orders a key's states."""

    sign: str
    version: str


TableEngine = Union[
    MergeTree,
    ReplacingMergeTree,
    SummingMergeTree,
    AggregatingMergeTree,
    CollapsingMergeTree,
    VersionedCollapsingMergeTree,
]
"""A ClickHouse table engine."""


@dataclass(frozen=True)
class TableIndex:
    """A data-skipping index: `kind` is `minmax`, `set(100)`, `bloom_filter(0.01)`,
    `ngrambf_v1(3, 256, 2, 0)`, ...; one index block covers `granularity` granules."""

    name: str
    expression: str
    kind: str
    granularity: int = 1


@dataclass(frozen=True)
class Projection:
    """A projection: `select` without `FROM` (`"SELECT * ORDER BY user_id"`)."""

    name: str
    select: str


@dataclass(frozen=True)
class ComputedColumn:
    """A column a table adds to its model's, computed by ClickHouse: `kind` is
    `materialized` (computed on insert, stored) or `alias` (computed when read)."""

    name: str
    data_type: DataType
    kind: str
    expression: str
    doc: Optional[str] = None


@dataclass(frozen=True)
class TableOptions:
    """How ClickHouse stores a table beyond its engine and sort key; empty by default.
    `settings` values are as ClickHouse spells them (strings quoted)."""

    partition_by: Optional[str] = None
    primary_key: tuple[str, ...] = ()
    sample_by: Optional[str] = None
    ttl: Optional[str] = None
    settings: tuple[tuple[str, str], ...] = ()
    indexes: tuple[TableIndex, ...] = ()
    projections: tuple[Projection, ...] = ()
    computed: tuple[ComputedColumn, ...] = ()
    externally_managed: bool = False


@dataclass(frozen=True)
class TableDef:
    """A table."""

    name: str
    model: str
    order_by: tuple[str, ...]
    engine: TableEngine
    source_stream: Optional[str] = None
    options: TableOptions = TableOptions()


@dataclass(frozen=True)
class IngestDef:
    """An ingest endpoint, `POST /ingest/<name>`."""

    name: str
    model: str
    stream: str
    dead_letter: Optional[str] = None


@dataclass
class FunctionDef:
    """A streaming function."""

    name: str
    source: str
    destination: Optional[str]
    dead_letter: Optional[str] = None


@dataclass(frozen=True)
class AggregationDef:
    """A SQL aggregation kept up to date as a materialized view."""

    name: str
    select: str
    sources: tuple[str, ...]
    target: TableDef


@dataclass(frozen=True)
class WindowSpec:
    """How a windowed aggregation tiles event time: tumbling when `hop_seconds` equals
    `size_seconds`, hopping when it is smaller."""

    size_seconds: int
    hop_seconds: int
    allowed_lateness_seconds: int = 0


@dataclass(frozen=True)
class WindowedAggregationDef:
    """An aggregation the component computes over event-time windows of a stream,
    writing the rows it emits for each closed window into `target`."""

    name: str
    source: str
    time_field: str
    window: WindowSpec
    target: TableDef
    state_version: int = 1
    dead_letter: Optional[str] = None


@dataclass(frozen=True)
class ViewDef:
    """A SQL view."""

    name: str
    select: str
    sources: tuple[str, ...]


@dataclass(frozen=True)
class ApiParam:
    """One query-string parameter of an API."""

    name: str
    data_type: DataType
    required: bool
    default: Optional[str] = None
    min: Optional[float] = None
    max: Optional[float] = None
    doc: Optional[str] = None


@dataclass
class ApiDef:
    """A query API, `GET /api/<name>`."""

    name: str
    version: Optional[str]
    params: tuple[ApiParam, ...]
    response: str
    doc: Optional[str] = None

    def reference(self) -> str:
        """How the host names the API in `handle-api`: `name` or `name/version`."""
        return self.name if self.version is None else f"{self.name}/{self.version}"


@dataclass
class AppDef:
    """A component's part of the app."""

    models: list[ModelDef] = field(default_factory=list)
    streams: list[StreamDef] = field(default_factory=list)
    tables: list[TableDef] = field(default_factory=list)
    ingests: list[IngestDef] = field(default_factory=list)
    functions: list[FunctionDef] = field(default_factory=list)
    aggregations: list[AggregationDef] = field(default_factory=list)
    windowed_aggregations: list[WindowedAggregationDef] = field(default_factory=list)
    views: list[ViewDef] = field(default_factory=list)
    apis: list[ApiDef] = field(default_factory=list)


_ENGINE_NAMES = {
    MergeTree: "merge-tree",
    ReplacingMergeTree: "replacing-merge-tree",
    SummingMergeTree: "summing-merge-tree",
    AggregatingMergeTree: "aggregating-merge-tree",
    CollapsingMergeTree: "collapsing-merge-tree",
    VersionedCollapsingMergeTree: "versioned-collapsing-merge-tree",
}


def to_json(value: Any) -> Any:
    """A definition as plain JSON values (dicts, lists, strings, numbers, None)."""
    if isinstance(value, ScalarType):
        if value.arg is None:
            return value.kind
        if value.kind == "enum":
            return {"enum": [to_json(m) for m in value.arg]}
        return {value.kind: to_json(value.arg)}
    if isinstance(value, (MergeTree, AggregatingMergeTree)):
        return _ENGINE_NAMES[type(value)]
    if isinstance(value, SummingMergeTree):
        return {"summing-merge-tree": list(value.columns)}
    if isinstance(value, CollapsingMergeTree):
        return {"collapsing-merge-tree": value.sign}
    if isinstance(value, (ReplacingMergeTree, VersionedCollapsingMergeTree)):
        fields = dataclasses.fields(value)
        return {_ENGINE_NAMES[type(value)]: {f.name: getattr(value, f.name) for f in fields}}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    return value
