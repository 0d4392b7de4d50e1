"""Declaring an app: models, streams, tables, ingest endpoints, functions, SQL and APIs.

Build one `App` at module level in the component's entry module (`app.py`); the SDK
exports it as the component. Declaration mistakes (two streams with one name, an
unsupported annotation, an invalid API default, ...) raise when the app is built, and
`moose build` reports them with the line that declared them.
"""

from __future__ import annotations

import collections.abc
import inspect
import typing
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Iterable, Optional, TypeVar, Union

from .api import ApiHandler, UnknownApi
from .defs import (
    AggregationDef,
    ApiDef,
    AppDef,
    FunctionDef,
    IngestDef,
    MergeTree,
    ModelDef,
    StreamDef,
    TableDef,
    TableEngine,
    ViewDef,
)
from .process import GuestError, ProcessOutput, run_transform
from .schema import ModelInfo, SchemaError, model_info

__all__ = [
    "App",
    "Stream",
    "Table",
    "Ingest",
    "DeadLetterQueue",
    "Pipeline",
    "StreamConfig",
    "TableConfig",
    "PipelineConfig",
]

T = TypeVar("T")
O = TypeVar("O")


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
        dead_letter: Optional[DeadLetterQueue] = None,
    ) -> None:
        """Declares a streaming function from this stream to `destination`, named `name`
        (default: the function's name)."""
        self.app.transform(name or fn.__name__, self, destination, fn, dead_letter=dead_letter)

    def add_consumer(
        self,
        fn: Callable[[T], Any],
        *,
        name: Optional[str] = None,
        dead_letter: Optional[DeadLetterQueue] = None,
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
    """Settings of a table: sort key (empty means the model's key fields) and engine."""

    order_by: tuple[str, ...] = ()
    engine: TableEngine = field(default_factory=MergeTree)

    def __init__(self, order_by: Iterable[str] = (), engine: Optional[TableEngine] = None) -> None:
        object.__setattr__(self, "order_by", tuple(order_by))
        object.__setattr__(self, "engine", engine if engine is not None else MergeTree())


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


def _check_new(kind: str, name: str, existing: Iterable[str]) -> None:
    if not isinstance(name, str) or not name:
        raise DeclarationError(f"a {kind} needs a non-empty name")
    if name in existing:
        raise DeclarationError(f"two {kind}s are named `{name}`")


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
        _check_new("table", name, [t.name for t in self._tables] + [a.target.name for a in self._aggregations])
        self._tables.append(
            TableDef(name, info.reference, config.order_by, config.engine, None if source is None else source.name)
        )
        return Table(name, model)

    def ingest(self, name: str, stream: Stream[T], dead_letter: Optional[DeadLetterQueue] = None) -> Ingest[T]:
        """Declares `POST /ingest/<name>`, writing valid records to `stream`."""
        _check_new("ingest endpoint", name, [i.name for i in self._ingests])
        info = self.model(stream.model)
        self._ingests.append(
            IngestDef(name, info.reference, stream.name, None if dead_letter is None else dead_letter.name)
        )
        return Ingest(name, stream.model)

    def ingest_pipeline(self, name: str, model: type[T], config: PipelineConfig = PipelineConfig()) -> Pipeline[T]:
        """Declares an ingest pipeline named `name`: the stream `name` and, as `config`
        says (all by default), the ingest endpoint `name`, the table `name` filled from
        the stream and the ingest endpoint's dead-letter stream `<name>_dead_letter`."""
        stream = self.stream(name, model, config.stream)
        table = None if config.table is None else self.table(name, model, config.table, stream)
        dead_letter = DeadLetterQueue(f"{name}_dead_letter") if config.ingest and config.dead_letter else None
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
        dead_letter: Optional[DeadLetterQueue] = None,
    ) -> None:
        """Declares streaming function `name`: every record of `source` goes through
        `fn`, which returns a record, None (dropped) or a list of records for
        `destination`. An exception fails that record only (it goes to `dead_letter`)."""
        self._push_function(name, source, destination, fn, dead_letter)

    def consumer(
        self,
        name: str,
        source: Stream[T],
        fn: Callable[[T], Any],
        *,
        dead_letter: Optional[DeadLetterQueue] = None,
    ) -> None:
        """Declares streaming function `name` consuming `source` without output."""
        self._push_function(name, source, None, fn, dead_letter)

    def _push_function(
        self,
        name: str,
        source: Stream[Any],
        destination: Optional[Stream[Any]],
        fn: Callable[[Any], Any],
        dead_letter: Optional[DeadLetterQueue],
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
                None if dead_letter is None else dead_letter.name,
            )
        )

    # ------------------------------------------------------------ SQL

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
        _check_new("table", name, [t.name for t in self._tables])
        table = TableDef(name, info.reference, target.order_by, target.engine, None)
        self._aggregations.append(AggregationDef(name, select, _names(sources), table))
        return Table(name, model)

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
            list(self._views),
            list(self._apis),
        )

    def process(self, function: str, data: bytes, count: int) -> ProcessOutput:
        """Runs streaming function `function` on a batch of `count` JSON lines."""
        impl = self._function_impls.get(function)
        if impl is None:
            raise GuestError("unknown-function", function)
        return run_transform(data, count, impl.source, impl.destination, impl.fn)

    def handle_api(self, api: str, params: bytes) -> bytes:
        """Runs query API `api` (`name` or `name/version`) with the JSON object
        `params`; the JSON response body. Raises `ApiError` or `QueryError`."""
        impl = self._api_impls.get(api)
        if impl is None:
            raise UnknownApi(api)
        return impl.call(params)


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
