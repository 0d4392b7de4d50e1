"""Declaring an app: models, streams, tables, ingest endpoints, functions, SQL and
windowed aggregations, views and APIs.

Build one `App` at module level in the component's entry module (`app.py`); the SDK
exports it as the component. Declaration mistakes (two streams with one name, an
unsupported annotation, an invalid API default, ...) raise when the app is built, and
`moose build` reports them with the line that declared them.
"""

from __future__ import annotations

import collections.abc
import contextlib
import inspect
import typing
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Iterable, Iterator, Optional, TypeVar, Union

from .api import ApiHandler, UnknownApi
from .defs import (
    AggregationDef,
    ApiDef,
    AppDef,
    ComputedColumn,
    FunctionDef,
    IngestDef,
    MergeTree,
    ModelDef,
    Projection,
    StreamDef,
    TableDef,
    TableEngine,
    TableIndex,
    TableOptions,
    ViewDef,
    WindowedAggregationDef,
    WindowSpec,
)
from .process import GuestError, ProcessOutput, RecordError, encode_rows, error_message, run_transform
from .schema import ModelInfo, SchemaError, model_info, type_info
from .window import StateCodec, Window, WindowSize, lateness

__all__ = [
    "App",
    "Stream",
    "Table",
    "Ingest",
    "DeadLetterQueue",
    "Pipeline",
    "StreamConfig",
    "TableConfig",
    "Materialized",
    "Alias",
    "PipelineConfig",
]

T = TypeVar("T")
O = TypeVar("O")
S = TypeVar("S")


class DeclarationError(ValueError):
    """A mistake in the app's declaration."""


class Stream(Generic[T]):
    """A stream of `T` records."""

    def __init__(self, app: App, name: str, model: type[T]) -> None:
        self.app, self.name, self.model = app, name, model

    @property
    def __moose_identifier__(self) -> str:
        return self.name

    def add_transform(
        self,
        destination: Stream[O],
        fn: Callable[[T], Union[O, None, list[O]]],
        *,
        name: Optional[str] = None,
        dead_letter: Union[DeadLetterQueue, bool] = True,
    ) -> None:
        """Declares a streaming function from this stream to `destination`, named `name`
        (default: the function's name); `dead_letter` as for `App.transform`."""
        self.app.transform(name or fn.__name__, self, destination, fn, dead_letter=dead_letter)

    def add_consumer(
        self,
        fn: Callable[[T], Any],
        *,
        name: Optional[str] = None,
        dead_letter: Union[DeadLetterQueue, bool] = True,
    ) -> None:
        """Declares a streaming function consuming this stream without output."""
        self.app.consumer(name or fn.__name__, self, fn, dead_letter=dead_letter)

    def __repr__(self) -> str:
        return f"Stream[{self.model.__name__}]({self.name!r})"


class Table(Generic[T]):
    """A table of `T` rows; pass it to `sql()` to bind its name as an identifier."""

    def __init__(self, name: str, model: type[T]) -> None:
        self.name, self.model = name, model

    @property
    def __moose_identifier__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"Table[{self.model.__name__}]({self.name!r})"


class Ingest(Generic[T]):
    """An ingest endpoint accepting `T` records."""

    def __init__(self, name: str, model: type[T]) -> None:
        self.name, self.model = name, model

    def __repr__(self) -> str:
        return f"Ingest[{self.model.__name__}]({self.name!r})"


@dataclass(frozen=True)
class DeadLetterQueue:
    """A dead-letter stream: the host creates it, with its own record schema (original
    record, error, source, timestamp), when an ingest endpoint or a function names it."""

    name: str


@dataclass(frozen=True)
class StreamConfig:
    """Settings of a stream: partition count (0 lets the host choose) and retention
    (None lets the host choose)."""

    partitions: int = 0
    retention_hours: Optional[int] = None


@dataclass(frozen=True)
class TableConfig:
    """Settings of a table: sort key (empty means the model's key fields), engine, and how
    ClickHouse stores it:

    - `partition_by`: a `PARTITION BY` expression (`"toYYYYMM(ts)"`);
    - `primary_key`: a prefix of the sort key, for a primary index smaller than the sort;
    - `sample_by`: a `SAMPLE BY` expression, part of the primary key;
    - `ttl`: the table TTL (`"ts + INTERVAL 90 DAY"` deletes rows,
      `"ts + INTERVAL 7 DAY TO VOLUME 'cold'"` moves them);
    - `settings`: `SETTINGS`, numbers and booleans as they are, strings quoted
      (`{"index_granularity": 4096, "storage_policy": "tiered"}`);
    - `indexes`: data-skipping indexes (`TableIndex("email_bf", "lower(email)",
      "bloom_filter(0.01)")`);
    - `projections`: `Projection("by_user", "SELECT * ORDER BY user_id")`;
    - `computed`: columns ClickHouse computes after the model's, which records never carry
      (`{"day": Materialized(date, "toDate(ts)"), "loud": Alias(str, "upper(note)")}`);
      `SELECT *` leaves them out;
    - `externally_managed`: the table exists already and belongs to someone else: plans and
      migrations never create, alter or drop it (`moose dev` creates it only where it is
      missing, as a local mirror). Declare its columns as they are.
    """

    order_by: tuple[str, ...] = ()
    engine: TableEngine = field(default_factory=MergeTree)
    options: TableOptions = TableOptions()

    def __init__(
        self,
        order_by: Iterable[str] = (),
        engine: Optional[TableEngine] = None,
        *,
        partition_by: Optional[str] = None,
        primary_key: Iterable[str] = (),
        sample_by: Optional[str] = None,
        ttl: Optional[str] = None,
        settings: Optional[dict[str, Union[str, int, float, bool]]] = None,
        indexes: Iterable[TableIndex] = (),
        projections: Iterable[Projection] = (),
        computed: Optional[dict[str, Union[Materialized, Alias]]] = None,
        externally_managed: bool = False,
    ) -> None:
        object.__setattr__(self, "order_by", tuple(order_by))
        object.__setattr__(self, "engine", engine if engine is not None else MergeTree())
        options = TableOptions(
            partition_by,
            tuple(primary_key),
            sample_by,
            ttl,
            tuple((name, _setting_text(value)) for name, value in (settings or {}).items()),
            tuple(indexes),
            tuple(projections),
            tuple(c.column(name) for name, c in (computed or {}).items()),
            externally_managed,
        )
        object.__setattr__(self, "options", options)


@dataclass(frozen=True)
class Materialized:
    """A column of type `annotation` computed from `expression` when rows are inserted,
    and stored: `Materialized(date, "toDate(ts)")`."""

    annotation: Any
    expression: str
    doc: Optional[str] = None
    kind = "materialized"

    def column(self, name: str) -> ComputedColumn:
        """The computed column `name`."""
        try:
            data_type = type_info(self.annotation).data_type
        except SchemaError as e:
            raise DeclarationError(f"computed column `{name}`: {e}") from None
        return ComputedColumn(name, data_type, self.kind, self.expression, self.doc)


@dataclass(frozen=True)
class Alias(Materialized):
    """A column of type `annotation` computed from `expression` when read, never stored:
    `Alias(str, "upper(note)")`."""

    kind = "alias"


def _setting_text(value: Union[str, int, float, bool]) -> str:
    """A setting's value as ClickHouse spells it: strings quoted, numbers as they are,
    booleans as 1 or 0."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float)):
        return repr(value)
    escaped = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


@dataclass(frozen=True)
class PipelineConfig:
    """Which parts a pipeline has; by default all of them: ingest endpoint, stream,
    table (with these settings; None for no table) and dead-letter stream."""

    ingest: bool = True
    dead_letter: bool = True
    table: Optional[TableConfig] = field(default_factory=TableConfig)
    stream: StreamConfig = field(default_factory=StreamConfig)


@dataclass
class Pipeline(Generic[T]):
    """What `App.ingest_pipeline` and `App.stream_pipeline` created."""

    stream: Stream[T]
    table: Optional[Table[T]]
    ingest: Optional[Ingest[T]]
    dead_letter: Optional[DeadLetterQueue]


@dataclass
class _Function:
    source: ModelInfo
    destination: Optional[ModelInfo]
    fn: Callable[[Any], Any]


@dataclass
class _Windowed:
    source: ModelInfo
    target: ModelInfo
    codec: StateCodec
    init: Callable[[Window], Any]
    accumulate: Callable[[Any, Any, Window], Any]
    merge: Callable[[Any, Any, Window], Any]
    emit: Callable[[Any, Window], Any]


_TIME_KINDS = ("date", "date-time", "date-time64")


def _dead_letter_of(name: str, dead_letter: Union[DeadLetterQueue, bool]) -> Optional[str]:
    """The dead-letter stream of function or windowed aggregation `name`: the queue given,
    `<name>_dead_letter` for True, none for False."""
    if isinstance(dead_letter, DeadLetterQueue):
        return dead_letter.name
    if dead_letter is True:
        return f"{name}_dead_letter"
    if dead_letter is False or dead_letter is None:
        return None
    raise DeclarationError(f"`{name}`: dead_letter must be a DeadLetterQueue, True or False, not {dead_letter!r}")


def _check_new(kind: str, name: str, existing: Iterable[str]) -> None:
    if not isinstance(name, str) or not name:
        raise DeclarationError(f"a {kind} needs a non-empty name")
    if name in existing:
        raise DeclarationError(f"two {kind}s are named `{name}`")


def _version_of(reference: str) -> Optional[str]:
    """The version in a model reference (`Order@1.1` → `1.1`, `Order` → None)."""
    _, at, version = reference.partition("@")
    return version if at else None


def _ingest_route(name: str, version: Optional[str]) -> str:
    """The route of an ingest endpoint under `/ingest/`: `name`, or `name/version`."""
    return name if version is None else f"{name}/{version}"


def _versioned_name(name: str, version: Optional[str]) -> str:
    """A pipeline's stream and table name: `name`, or `name_<version>` with the version's dots as `_`."""
    return name if version is None else f"{name}_{version.replace('.', '_')}"


def _names(sources: Iterable[Union[str, Table[Any]]]) -> tuple[str, ...]:
    return tuple(s if isinstance(s, str) else s.name for s in sources)


class App:
    """The app a component provides: build it at module level of the entry module."""

    def __init__(self) -> None:
        self._models: list[ModelDef] = []
        self._streams: list[StreamDef] = []
        self._tables: list[TableDef] = []
        self._ingests: list[IngestDef] = []
        self._functions: list[FunctionDef] = []
        self._aggregations: list[AggregationDef] = []
        self._windowed: list[WindowedAggregationDef] = []
        self._windowed_impls: dict[str, _Windowed] = {}
        self._views: list[ViewDef] = []
        self._apis: list[ApiDef] = []
        self._function_impls: dict[str, _Function] = {}
        self._api_impls: dict[str, ApiHandler] = {}

    # ------------------------------------------------------------ models

    def model(self, cls: type) -> ModelInfo:
        """Adds model `cls` (and the models it nests) without using it elsewhere."""
        info = model_info(cls)
        self._add_model(info)
        return info

    def _add_model(self, info: ModelInfo) -> None:
        definition = info.model_def()
        existing = next((m for m in self._models if m.reference() == info.reference), None)
        if existing is not None:
            if existing != definition:
                raise DeclarationError(
                    f"two different models are named `{info.reference}`; rename one with @model(name=...) or give a version"
                )
            return
        self._models.append(definition)
        for f in info.fields:
            for nested in f.info.nested:
                self._add_model(model_info(nested))

    # ------------------------------------------------------------ infrastructure

    def stream(self, name: str, model: type[T], config: StreamConfig = StreamConfig()) -> Stream[T]:
        """Declares a stream of `model` records."""
        _check_new("stream", name, [s.name for s in self._streams])
        info = self.model(model)
        self._streams.append(StreamDef(name, info.reference, config.partitions, config.retention_hours))
        return Stream(self, name, model)

    def table(
        self,
        name: str,
        model: type[T],
        config: TableConfig = TableConfig(),
        source: Optional[Stream[T]] = None,
    ) -> Table[T]:
        """Declares a table of `model` rows, filled by the host from `source` when given."""
        info = self.model(model)
        _check_new("table", name, self._table_names())
        self._tables.append(
            TableDef(
                name,
                info.reference,
                config.order_by,
                config.engine,
                None if source is None else source.name,
                config.options,
            )
        )
        return Table(name, model)

    def ingest(self, name: str, stream: Stream[T], dead_letter: Optional[DeadLetterQueue] = None) -> Ingest[T]:
        """Declares `POST /ingest/<name>`, writing valid records to `stream`. When the
        stream's model is versioned (`@model(version="1.1")`) the route is
        `POST /ingest/<name>/1.1`, so several versions of a model may share one name."""
        if not isinstance(name, str) or not name:
            raise DeclarationError("an ingest endpoint needs a non-empty name")
        info = model_info(stream.model)
        _check_new(
            "ingest endpoint",
            _ingest_route(name, info.version),
            [_ingest_route(i.name, _version_of(i.model)) for i in self._ingests],
        )
        self._add_model(info)
        self._ingests.append(
            IngestDef(name, info.reference, stream.name, None if dead_letter is None else dead_letter.name)
        )
        return Ingest(name, stream.model)

    def ingest_pipeline(self, name: str, model: type[T], config: PipelineConfig = PipelineConfig()) -> Pipeline[T]:
        """Declares an ingest pipeline named `name`: the stream `name` and, as `config`
        says (all by default), the ingest endpoint `name`, the table `name` filled from
        the stream and the ingest endpoint's dead-letter stream `<name>_dead_letter`.

        For a versioned model the stream and the table carry the version, dots as `_`, so
        versions run side by side: `Order@1.1` in pipeline `Order` has stream and table
        `Order_1_1`, dead-letter stream `Order_1_1_dead_letter` and the ingest route
        `POST /ingest/Order/1.1`."""
        storage = _versioned_name(name, model_info(model).version)
        stream = self.stream(storage, model, config.stream)
        table = None if config.table is None else self.table(storage, model, config.table, stream)
        dead_letter = DeadLetterQueue(f"{storage}_dead_letter") if config.ingest and config.dead_letter else None
        ingest = self.ingest(name, stream, dead_letter) if config.ingest else None
        return Pipeline(stream, table, ingest, dead_letter)

    def stream_pipeline(self, name: str, model: type[T], config: PipelineConfig = PipelineConfig()) -> Pipeline[T]:
        """Declares a stream pipeline named `name`: the stream `name` and, unless
        `config.table` is None, the table `name` filled from it (no ingest endpoint)."""
        return self.ingest_pipeline(
            name, model, PipelineConfig(ingest=False, dead_letter=False, table=config.table, stream=config.stream)
        )

    # ------------------------------------------------------------ functions

    def transform(
        self,
        name: str,
        source: Stream[T],
        destination: Stream[O],
        fn: Callable[[T], Union[O, None, list[O]]],
        *,
        dead_letter: Union[DeadLetterQueue, bool] = True,
    ) -> None:
        """Declares streaming function `name`: every record of `source` goes through
        `fn`, which returns a record, None (dropped) or a list of records for
        `destination`. An exception fails that record only: it goes to the dead-letter
        stream `<name>_dead_letter`, or to `dead_letter` when that is a queue; with
        `dead_letter=False` it is dropped (counted as failed and logged)."""
        self._push_function(name, source, destination, fn, dead_letter)

    def consumer(
        self,
        name: str,
        source: Stream[T],
        fn: Callable[[T], Any],
        *,
        dead_letter: Union[DeadLetterQueue, bool] = True,
    ) -> None:
        """Declares streaming function `name` consuming `source` without output; failed
        records go where `transform` sends them."""
        self._push_function(name, source, None, fn, dead_letter)

    def _push_function(
        self,
        name: str,
        source: Stream[Any],
        destination: Optional[Stream[Any]],
        fn: Callable[[Any], Any],
        dead_letter: Union[DeadLetterQueue, bool],
    ) -> None:
        _check_new("function", name, [f.name for f in self._functions])
        if not callable(fn):
            raise DeclarationError(f"function `{name}`: {fn!r} is not callable")
        self._function_impls[name] = _Function(
            model_info(source.model), None if destination is None else model_info(destination.model), fn
        )
        self._functions.append(
            FunctionDef(
                name,
                source.name,
                None if destination is None else destination.name,
                _dead_letter_of(name, dead_letter),
            )
        )

    # ------------------------------------------------------------ SQL aggregations

    def aggregation(
        self,
        name: str,
        model: type[T],
        select: str,
        sources: Iterable[Union[str, Table[Any]]],
        target: TableConfig = TableConfig(),
    ) -> Table[T]:
        """Declares SQL aggregation `name`: `select` reads `sources` and writes into the
        table `name` of `model` rows (kept up to date as a materialized view)."""
        _check_new("aggregation", name, [a.name for a in self._aggregations])
        info = self.model(model)
        _check_new("table", name, self._table_names())
        table = TableDef(name, info.reference, target.order_by, target.engine, None, target.options)
        self._aggregations.append(AggregationDef(name, select, _names(sources), table))
        return Table(name, model)

    def _table_names(self) -> list[str]:
        """Names of the tables declared so far, targets of aggregations included."""
        return (
            [t.name for t in self._tables]
            + [a.target.name for a in self._aggregations]
            + [w.target.name for w in self._windowed]
        )

    # ------------------------------------------------------------ windowed aggregations

    def windowed_aggregation(
        self,
        name: str,
        model: type[O],
        source: Stream[T],
        *,
        time_field: str,
        window: WindowSize,
        init: Callable[[Window], S],
        accumulate: Callable[[S, T, Window], Optional[S]],
        merge: Callable[[S, S, Window], S],
        emit: Callable[[S, Window], Union[O, None, list[O]]],
        allowed_lateness: int = 0,
        state_version: int = 1,
        state: Optional[type] = None,
        target: TableConfig = TableConfig(),
        dead_letter: Union[DeadLetterQueue, bool] = True,
    ) -> Table[O]:
        """Declares windowed aggregation `name` over `source`, writing into the table
        `name` of `model` rows.

        The host groups the records into event-time windows (`tumbling(size)` or
        `hopping(size, hop)`, in seconds) by `time_field`, and keeps a state per window:
        `init(window)` is an empty window's state, `accumulate(state, record, window)`
        folds a record in (returning the new state, or None after updating `state` in
        place; an exception rejects the record to the dead-letter stream, as late records
        are: `<name>_dead_letter`, `dead_letter` when a queue, none when False), `merge(a, b, window)`
        combines two states of one window. Once the event time seen, minus
        `allowed_lateness` seconds, passes a window's end, `emit(state, window)` returns
        its rows: a row, None or a list. States are JSON values, or instances of the
        dataclass `state` (default: `init`'s return annotation when it is a dataclass).
        Change `state_version` when the state's layout changes.
        """
        _check_new("windowed aggregation", name, [w.name for w in self._windowed])
        source_info = model_info(source.model)
        column = next((f for f in source_info.fields if f.column == time_field), None)
        if column is None or column.info.data_type.wrappers or column.info.data_type.leaf.kind not in _TIME_KINDS:
            raise DeclarationError(
                f"windowed aggregation `{name}`: time field `{time_field}` must be a date, datetime "
                f"or DateTime64 field of {source_info.reference}"
            )
        if not isinstance(window, WindowSize):
            raise DeclarationError(f"windowed aggregation `{name}`: window must be tumbling(...) or hopping(...)")
        if isinstance(state_version, bool) or not isinstance(state_version, int) or not 0 <= state_version < 2**32:
            raise DeclarationError(f"windowed aggregation `{name}`: state_version must be a u32, got {state_version!r}")
        for part, fn in (("init", init), ("accumulate", accumulate), ("merge", merge), ("emit", emit)):
            if not callable(fn):
                raise DeclarationError(f"windowed aggregation `{name}`: {part}={fn!r} is not callable")
        try:
            spec = WindowSpec(window.size_seconds, window.hop_seconds, lateness(allowed_lateness))
            codec = StateCodec(state if state is not None else _return_type(init))
        except (ValueError, SchemaError) as e:
            raise DeclarationError(f"windowed aggregation `{name}`: {e}") from None
        info = self.model(model)
        _check_new("table", name, self._table_names())
        table = TableDef(name, info.reference, target.order_by, target.engine, None, target.options)
        self._windowed.append(
            WindowedAggregationDef(
                name,
                source.name,
                time_field,
                spec,
                table,
                state_version,
                _dead_letter_of(name, dead_letter),
            )
        )
        self._windowed_impls[name] = _Windowed(source_info, info, codec, init, accumulate, merge, emit)
        return Table(name, model)

    # ------------------------------------------------------------ SQL views

    def view(self, name: str, select: str, sources: Iterable[Union[str, Table[Any]]]) -> None:
        """Declares SQL view `name` over `sources`."""
        _check_new("view", name, [v.name for v in self._views])
        self._views.append(ViewDef(name, select, _names(sources)))

    # ------------------------------------------------------------ APIs

    def api(
        self,
        name: str,
        handler: Callable[[Any], Iterable[Any]],
        *,
        params: Optional[type] = None,
        response: Optional[type] = None,
        version: Optional[str] = None,
        doc: Optional[str] = None,
    ) -> None:
        """Declares query API `GET /api/<name>` (`/api/<name>/<version>` when versioned).

        `handler(params) -> list[Row]` gets an instance of the parameters dataclass and
        returns rows of the response model. Both types are read from the handler's
        annotations unless given. `doc` defaults to the handler's docstring.
        """
        _check_new("API", name, [])
        params = params or _annotation(handler, 0, name, "params")
        response = response or _row_type(handler, name)
        try:
            impl = ApiHandler(params, response, handler)
        except SchemaError as e:
            raise SchemaError(f"API `{name}`: {e}") from None
        response_info = model_info(response)
        definition = ApiDef(
            name,
            version,
            tuple(impl.params),
            response_info.reference,
            doc if doc is not None else _doc(handler),
        )
        if definition.reference() in self._api_impls:
            raise DeclarationError(f"two APIs are named `{definition.reference()}`")
        self._add_model(response_info)
        self._apis.append(definition)
        self._api_impls[definition.reference()] = impl

    # ------------------------------------------------------------ running

    def describe(self) -> AppDef:
        """The app as plain data (what `describe` returns to the host)."""
        return AppDef(
            list(self._models),
            list(self._streams),
            list(self._tables),
            list(self._ingests),
            [FunctionDef(f.name, f.source, f.destination, f.dead_letter) for f in self._functions],
            list(self._aggregations),
            list(self._windowed),
            list(self._views),
            list(self._apis),
        )

    def process(self, function: str, data: bytes, count: int) -> ProcessOutput:
        """Runs streaming function `function` on a batch of `count` JSON lines."""
        impl = self._function_impls.get(function)
        if impl is None:
            raise GuestError("unknown-function", function)
        return run_transform(data, count, impl.source, impl.destination, impl.fn)

    def _windowed_impl(self, aggregation: str) -> _Windowed:
        impl = self._windowed_impls.get(aggregation)
        if impl is None:
            raise GuestError("unknown-function", aggregation)
        return impl

    def window_init(self, aggregation: str, window: Window) -> bytes:
        """`window-init`: the encoded state of an empty window."""
        impl = self._windowed_impl(aggregation)
        with _failing(aggregation):
            return impl.codec.encode(impl.init(window))

    def window_accumulate(
        self, aggregation: str, window: Window, state: bytes, data: bytes, count: int
    ) -> tuple[bytes, list[RecordError]]:
        """`window-accumulate`: folds a batch of `count` JSON records of one window into
        the encoded `state`; the new state and the records that failed."""
        impl = self._windowed_impl(aggregation)
        with _failing(aggregation):
            current = impl.codec.decode(state)

            def fold(record: Any) -> None:
                nonlocal current
                result = impl.accumulate(current, record, window)
                if result is not None:
                    current = result

            errors = run_transform(data, count, impl.source, None, fold).errors
            return impl.codec.encode(current), errors

    def window_merge(self, aggregation: str, window: Window, a: bytes, b: bytes) -> bytes:
        """`window-merge`: combines two encoded states of one window."""
        impl = self._windowed_impl(aggregation)
        with _failing(aggregation):
            return impl.codec.encode(impl.merge(impl.codec.decode(a), impl.codec.decode(b), window))

    def window_emit(self, aggregation: str, window: Window, state: bytes) -> tuple[bytes, int]:
        """`window-emit`: the rows of a closed window, as JSON lines and their count."""
        impl = self._windowed_impl(aggregation)
        with _failing(aggregation):
            rows = impl.emit(impl.codec.decode(state), window)
            batch = encode_rows(rows, impl.target)
            return batch.data, batch.count

    def handle_api(self, api: str, params: bytes) -> bytes:
        """Runs query API `api` (`name` or `name/version`) with the JSON object
        `params`; the JSON response body. Raises `ApiError` or `QueryError`."""
        impl = self._api_impls.get(api)
        if impl is None:
            raise UnknownApi(api)
        return impl.call(params)


@contextlib.contextmanager
def _failing(aggregation: str) -> Iterator[None]:
    """Turns an exception of a window call into the call's `failed` guest error."""
    try:
        yield
    except GuestError:
        raise
    except Exception as e:  # noqa: BLE001 - user code fails the call
        raise GuestError("failed", f"windowed aggregation `{aggregation}`: {error_message(e)}") from None


def _return_type(fn: Callable[..., Any]) -> Optional[type]:
    """`fn`'s return annotation, if it is a class."""
    try:
        hint = typing.get_type_hints(fn).get("return")
    except Exception:  # noqa: BLE001 - unresolvable annotations: JSON state
        return None
    return hint if isinstance(hint, type) else None


def _hints(handler: Callable[..., Any], name: str) -> dict[str, Any]:
    try:
        return typing.get_type_hints(handler, include_extras=True)
    except Exception as e:  # noqa: BLE001 - reported as a declaration error
        raise DeclarationError(f"API `{name}`: cannot read the handler's annotations: {e}") from None


def _annotation(handler: Callable[..., Any], index: int, name: str, what: str) -> type:
    hints = _hints(handler, name)
    parameters = list(inspect.signature(handler).parameters.values())
    if len(parameters) <= index or parameters[index].name not in hints:
        raise DeclarationError(f"API `{name}`: annotate the handler's parameter with the {what} dataclass, or pass {what}=")
    return hints[parameters[index].name]  # type: ignore[no-any-return]


def _row_type(handler: Callable[..., Any], name: str) -> type:
    returns = _hints(handler, name).get("return")
    args = typing.get_args(returns)
    if typing.get_origin(returns) in (list, collections.abc.Iterable, collections.abc.Sequence) and len(args) == 1:
        return args[0]  # type: ignore[no-any-return]
    raise DeclarationError(f"API `{name}`: annotate the handler's return as list[Row], or pass response=")


def _doc(handler: Callable[..., Any]) -> Optional[str]:
    doc = inspect.getdoc(handler)
    return doc.strip() or None if doc else None


def find_app(module: Any) -> App:
    """The `App` of the entry module: its `app` attribute, else its only `App` value."""
    candidate = getattr(module, "app", None)
    if isinstance(candidate, App):
        return candidate
    apps = [v for v in vars(module).values() if isinstance(v, App)]
    if len(apps) == 1:
        return apps[0]
    if apps:
        raise DeclarationError(f"module {module.__name__} defines {len(apps)} App values; name the one to export `app`")
    raise DeclarationError(f"module {module.__name__} defines no moose_guest.App: build one and assign it to `app`")
