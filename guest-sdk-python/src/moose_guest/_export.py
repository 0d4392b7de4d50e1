"""The component's export (`moose:app/guest`): converts between the SDK's values and
the generated WIT types. Only imported inside a component."""

from __future__ import annotations

from typing import Any, Callable, TypeVar

from . import defs
from ._host import WitErr, wit_types
from .api import ApiError
from .app import App
from .process import GuestError, error_message
from .query import QueryError
from .window import Window

t: Any = wit_types
R = TypeVar("R")

_SCALARS = {
    "string": "ScalarType_String",
    "low-cardinality-string": "ScalarType_LowCardinalityString",
    "int8": "ScalarType_Int8",
    "int16": "ScalarType_Int16",
    "int32": "ScalarType_Int32",
    "int64": "ScalarType_Int64",
    "uint8": "ScalarType_Uint8",
    "uint16": "ScalarType_Uint16",
    "uint32": "ScalarType_Uint32",
    "uint64": "ScalarType_Uint64",
    "float32": "ScalarType_Float32",
    "float64": "ScalarType_Float64",
    "boolean": "ScalarType_Boolean",
    "date": "ScalarType_Date",
    "date-time": "ScalarType_DateTime",
    "uuid": "ScalarType_Uuid",
    "json": "ScalarType_Json",
    "int128": "ScalarType_Int128",
    "int256": "ScalarType_Int256",
    "uint128": "ScalarType_Uint128",
    "uint256": "ScalarType_Uint256",
    "ipv4": "ScalarType_Ipv4",
    "ipv6": "ScalarType_Ipv6",
}
_WRAPPERS = {"array": "ARRAY", "map": "MAP", "nullable": "NULLABLE"}


def _scalar(s: defs.ScalarType) -> Any:
    if s.kind in _SCALARS:
        return getattr(t, _SCALARS[s.kind])()
    if s.kind == "decimal":
        return t.ScalarType_Decimal(t.DecimalSpec(*s.arg))
    if s.kind == "date-time64":
        return t.ScalarType_DateTime64(s.arg)
    if s.kind == "enum":
        return t.ScalarType_Enum([t.EnumMember(m.name, m.value) for m in s.arg])
    if s.kind == "nested":
        return t.ScalarType_Nested(s.arg)
    if s.kind == "fixed-string":
        return t.ScalarType_FixedString(s.arg)
    if s.kind == "geo":
        return t.ScalarType_Geo(getattr(t.GeoShape, s.arg.upper().replace("-", "_")))
    raise ValueError(f"unknown scalar type {s.kind}")


def _data_type(d: defs.DataType) -> Any:
    return t.DataType([getattr(t.TypeWrapper, _WRAPPERS[w]) for w in d.wrappers], _scalar(d.leaf))


def _field(f: defs.Field) -> Any:
    aggregate = None
    if f.aggregate is not None:
        a = f.aggregate
        if a.state_of is None:
            kind = t.AggregateKind_Simple()
        else:
            kind = t.AggregateKind_State([_data_type(d) for d in a.state_of])
        aggregate = t.AggregateColumn(a.function, kind)
    return t.Field(f.name, _data_type(f.data_type), f.key, f.default, f.doc, aggregate, f.codec, f.ttl)


def _engine(e: defs.TableEngine) -> Any:
    if isinstance(e, defs.ReplacingMergeTree):
        return t.TableEngine_ReplacingMergeTree(t.Replacing(e.version, e.is_deleted))
    if isinstance(e, defs.SummingMergeTree):
        return t.TableEngine_SummingMergeTree(list(e.columns))
    if isinstance(e, defs.AggregatingMergeTree):
        return t.TableEngine_AggregatingMergeTree()
    if isinstance(e, defs.CollapsingMergeTree):
        return t.TableEngine_CollapsingMergeTree(e.sign)
    if isinstance(e, defs.VersionedCollapsingMergeTree):
        return t.TableEngine_VersionedCollapsingMergeTree(t.VersionedCollapsing(e.sign, e.version))
    return t.TableEngine_MergeTree()


def _options(o: defs.TableOptions) -> Any:
    return t.TableOptions(
        o.partition_by,
        list(o.primary_key),
        o.sample_by,
        o.ttl,
        [t.TableSetting(name, value) for name, value in o.settings],
        [t.TableIndex(i.name, i.expression, i.kind, i.granularity) for i in o.indexes],
        [t.Projection(p.name, p.select) for p in o.projections],
        [
            t.ComputedColumn(c.name, _data_type(c.data_type), getattr(t.ComputedKind, c.kind.upper()), c.expression, c.doc)
            for c in o.computed
        ],
        o.externally_managed,
    )


def _table(d: defs.TableDef) -> Any:
    return t.TableDef(d.name, d.model, list(d.order_by), _engine(d.engine), d.source_stream, _options(d.options))


def describe(app: App) -> Any:
    """`describe`: the app definition as WIT values."""
    d = app.describe()
    return t.AppDef(
        [
            t.Model(
                m.name,
                m.version,
                [_field(f) for f in m.fields],
                m.doc,
            )
            for m in d.models
        ],
        [t.StreamDef(s.name, s.model, s.partitions, s.retention_hours) for s in d.streams],
        [_table(x) for x in d.tables],
        [t.IngestDef(i.name, i.model, i.stream, i.dead_letter) for i in d.ingests],
        [t.FunctionDef(f.name, f.source, f.destination, f.dead_letter) for f in d.functions],
        [t.AggregationDef(a.name, a.select, list(a.sources), _table(a.target)) for a in d.aggregations],
        [
            t.WindowedAggregationDef(
                w.name,
                w.source,
                w.time_field,
                t.WindowSpec(w.window.size_seconds, w.window.hop_seconds, w.window.allowed_lateness_seconds),
                _table(w.target),
                w.state_version,
                w.dead_letter,
            )
            for w in d.windowed_aggregations
        ],
        [t.ViewDef(v.name, v.select, list(v.sources)) for v in d.views],
        [
            t.ApiDef(
                a.name,
                a.version,
                [
                    t.ApiParam(p.name, _data_type(p.data_type), p.required, p.default, p.min, p.max, p.doc)
                    for p in a.params
                ],
                a.response,
                a.doc,
            )
            for a in d.apis
        ],
    )


def _guest_call(run: Callable[[], R]) -> R:
    """Runs a guest call; its `GuestError` (or any SDK failure) raises `Err(guest-error)`."""
    try:
        return run()
    except GuestError as e:
        if e.kind == "unknown-function":
            raise WitErr(t.GuestError_UnknownFunction(e.message)) from None
        raise WitErr(t.GuestError_Failed(e.message)) from None
    except Exception as e:  # noqa: BLE001 - an SDK failure fails the call, not the instance
        raise WitErr(t.GuestError_Failed(error_message(e))) from None


def _check_encoding(batch: Any) -> None:
    if batch.encoding != t.Encoding.JSON:
        raise WitErr(t.GuestError_UnsupportedEncoding(batch.encoding))


def process(app: App, function: str, batch: Any) -> Any:
    """`process`: runs a function on a WIT batch; raises `Err(guest-error)`."""
    _check_encoding(batch)
    out = _guest_call(lambda: app.process(function, batch.data, batch.count))
    return t.ProcessOutput(
        t.Batch(t.Encoding.JSON, out.output.count, out.output.data),
        out.sources,
        [t.RecordError(e.index, e.message) for e in out.errors],
    )


def _query_error(e: QueryError) -> Any:
    if e.kind == "timeout":
        return t.QueryError_Timeout()
    if e.kind == "too-large":
        return t.QueryError_TooLarge(e.limit)
    cls = {
        "invalid": t.QueryError_Invalid,
        "denied": t.QueryError_Denied,
        "unavailable": t.QueryError_Unavailable,
    }.get(e.kind, t.QueryError_Failed)
    return cls(e.message)


def handle_api(app: App, api: str, params: bytes) -> Any:
    """`handle-api`: runs an API; raises `Err(api-error)`."""
    try:
        body = app.handle_api(api, params)
    except QueryError as e:
        raise WitErr(t.ApiError_Query(_query_error(e))) from None
    except ApiError as e:
        cls = {
            "unknown-api": t.ApiError_UnknownApi,
            "bad-request": t.ApiError_BadRequest,
            "not-found": t.ApiError_NotFound,
        }.get(e.kind, t.ApiError_Failed)
        raise WitErr(cls(e.message)) from None
    except Exception as e:  # noqa: BLE001 - an SDK failure fails the request only
        raise WitErr(t.ApiError_Failed(error_message(e))) from None
    return t.ApiResponse(200, body)


def window_init(app: App, aggregation: str, window: Any) -> bytes:
    """`window-init`: an empty window's state; raises `Err(guest-error)`."""
    return _guest_call(lambda: app.window_init(aggregation, Window(window.start_ms, window.end_ms)))


def window_accumulate(app: App, aggregation: str, window: Any, state: bytes, batch: Any) -> Any:
    """`window-accumulate`: folds a WIT batch into a state; raises `Err(guest-error)`."""
    _check_encoding(batch)
    bounds = Window(window.start_ms, window.end_ms)
    new_state, errors = _guest_call(lambda: app.window_accumulate(aggregation, bounds, state, batch.data, batch.count))
    return t.AccumulateOutput(new_state, [t.RecordError(e.index, e.message) for e in errors])


def window_merge(app: App, aggregation: str, window: Any, a: bytes, b: bytes) -> bytes:
    """`window-merge`: combines two states; raises `Err(guest-error)`."""
    return _guest_call(lambda: app.window_merge(aggregation, Window(window.start_ms, window.end_ms), a, b))


def window_emit(app: App, aggregation: str, window: Any, state: bytes) -> Any:
    """`window-emit`: a closed window's rows as a WIT batch; raises `Err(guest-error)`."""
    data, count = _guest_call(lambda: app.window_emit(aggregation, Window(window.start_ms, window.end_ms), state))
    return t.Batch(t.Encoding.JSON, count, data)
