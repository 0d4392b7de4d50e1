"""Mapping annotated Python classes to model schemas, and fast record converters.

A model is a dataclass (or any class with annotated attributes). Its schema and its
converters (JSON value -> instance, instance -> JSON value) are built once per class
from the annotations; records are then converted by generated code, without per-record
reflection.
"""

from __future__ import annotations

import dataclasses
import decimal as _decimal
import enum
import inspect
import ipaddress
import re
import types as _pytypes
import typing
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any, Callable, Optional, Union

from . import types as mt
from .defs import AggregateColumn, DataType, EnumMember, Field, ModelDef, ScalarType

__all__ = ["field", "model", "SchemaError", "ModelInfo", "model_info", "TypeInfo", "type_info"]

_MISSING: Any = dataclasses.MISSING
_UTC = timezone.utc


class SchemaError(TypeError):
    """An annotation or a field option the SDK cannot map to a column type; `model` and
    `attr` name the field at fault when known."""

    def __init__(self, message: str, model: Optional[type] = None, attr: Optional[str] = None) -> None:
        super().__init__(message)
        self.model, self.attr = model, attr


@dataclass(frozen=True)
class FieldOptions:
    """What `field()` records in a dataclass field's metadata."""

    key: bool = False
    name: Optional[str] = None
    doc: Optional[str] = None
    clickhouse_default: Optional[str] = None
    min: Optional[float] = None
    max: Optional[float] = None
    codec: Optional[str] = None
    ttl: Optional[str] = None


_META_KEY = "moose"


def field(
    *,
    default: Any = _MISSING,
    default_factory: Any = _MISSING,
    key: bool = False,
    name: Optional[str] = None,
    doc: Optional[str] = None,
    clickhouse_default: Optional[str] = None,
    min: Optional[float] = None,
    max: Optional[float] = None,
    codec: Optional[str] = None,
    ttl: Optional[str] = None,
) -> Any:
    """A dataclass field with Moose options.

    - `key`: part of the model's key (same as annotating `Key[T]`);
    - `name`: the column / parameter name when it differs from the attribute (`from_`
      with `name="from"`);
    - `doc`: the column's or parameter's description;
    - `clickhouse_default`: a ClickHouse default expression (`"now()"`): the field may
      be omitted on ingest;
    - `min`, `max`: inclusive bounds of a numeric API parameter;
    - `codec`: the column's compression codecs, as inside ClickHouse's `CODEC(...)`
      (`"Delta, ZSTD(1)"`);
    - `ttl`: a column TTL expression (`"ts + INTERVAL 30 DAY"`): once it passes, the value
      is reset to the column's default;
    - `default`, `default_factory`: the Python default (for API parameters, also the
      declared default).
    """
    options = FieldOptions(key, name, (doc or "").strip() or None, clickhouse_default, min, max, codec, ttl)
    kwargs: dict[str, Any] = {"metadata": {_META_KEY: options}}
    if default is not _MISSING:
        kwargs["default"] = default
    if default_factory is not _MISSING:
        kwargs["default_factory"] = default_factory
    return dataclasses.field(**kwargs)


def model(
    cls: Optional[type] = None, *, name: Optional[str] = None, version: Optional[str] = None
) -> Any:
    """Class decorator naming (`name`) or versioning (`version="1.1"`) a model.

    Without it a model is named like its class and has no version.
    """

    def apply(target: type) -> type:
        if name is not None:
            target.__moose_name__ = name  # type: ignore[attr-defined]
        if version is not None:
            target.__moose_version__ = version  # type: ignore[attr-defined]
        return target

    return apply if cls is None else apply(cls)


# ---------------------------------------------------------------- value converters


def _describe(value: Any) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


def _expected(what: str, value: Any) -> Exception:
    return ValueError(f"expected {what}, got {_describe(value)}")


def _parse_str(v: Any) -> str:
    if v.__class__ is str:
        return v
    raise _expected("a string", v)


def _parse_bool(v: Any) -> bool:
    if v.__class__ is bool:
        return v
    raise _expected("a boolean", v)


def _int_parser(kind: mt.IntKind) -> Callable[[Any], int]:
    low, high, name = kind.low, kind.high, kind.name

    def parse(v: Any) -> int:
        if v.__class__ is str and _DIGITS.match(v):
            # 64-bit and wider integers may arrive as strings of digits.
            v = int(v)
        if v.__class__ is int and low <= v <= high:
            return int(v)
        if v.__class__ is int:
            raise ValueError(f"{v} is out of range for {name}")
        raise _expected(f"an integer ({name})", v)

    return parse


_DIGITS = re.compile(r"\s*[+-]?\d+\s*\Z")


def _fixed_string_parser(spec: mt.FixedStringSpec) -> Callable[[Any], str]:
    limit = spec.length

    def parse(v: Any) -> str:
        if v.__class__ is not str:
            raise _expected("a string", v)
        size = len(v.encode("utf-8"))
        if size > limit:
            raise ValueError(f"{v!r} is {size} bytes long; FixedString({limit}) holds at most {limit}")
        return v

    return parse


def _dump_str(v: Any) -> str:
    return str(v)


def _geo_info(marker: mt.GeoMarker) -> TypeInfo:
    depth, shape = marker.depth, marker.shape

    def point(v: Any) -> tuple[float, float]:
        if v.__class__ in (list, tuple) and len(v) == 2:
            x, y = v
            if x.__class__ in (int, float) and y.__class__ in (int, float):
                return (float(x), float(y))
        raise _expected("a point [x, y]", v)

    def parse_at(v: Any, level: int) -> Any:
        if level == 0:
            return point(v)
        if v.__class__ is not list:
            raise _expected(f"{shape} (nested lists of [x, y])", v)
        return [parse_at(item, level - 1) for item in v]

    return TypeInfo(_scalar("geo", shape), lambda v: parse_at(v, depth), _identity, dump_identity=True)


def _parse_float(v: Any) -> float:
    cls = v.__class__
    if cls is float:
        return float(v)
    if cls is int:
        return float(v)
    raise _expected("a number", v)


_DECIMAL_CONTEXT = _decimal.Context(prec=100, rounding=_decimal.ROUND_HALF_UP)


def _decimal_converters(spec: mt.DecimalSpec) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    quantum = _decimal.Decimal(1).scaleb(-spec.scale)
    limit = _decimal.Decimal(10) ** (spec.precision - spec.scale)
    label = f"Decimal({spec.precision}, {spec.scale})"

    def to_decimal(v: Any) -> _decimal.Decimal:
        if isinstance(v, _decimal.Decimal):
            d = v
        elif v.__class__ is str:
            try:
                d = _decimal.Decimal(v.strip())
            except _decimal.InvalidOperation:
                raise ValueError(f"invalid decimal {v!r}") from None
        elif v.__class__ is int:
            d = _decimal.Decimal(v)
        elif v.__class__ is float:
            d = _decimal.Decimal(repr(v))
        else:
            raise _expected(f"a {label} as a string or a number", v)
        if not d.is_finite():
            raise ValueError(f"{v!r} is not a finite decimal")
        d = d.quantize(quantum, context=_DECIMAL_CONTEXT)
        if abs(d) >= limit:
            raise ValueError(f"{v} does not fit {label}")
        return d

    def dump(v: Any) -> str:
        return format(to_decimal(v), "f")

    return to_decimal, dump


def _parse_date(v: Any) -> date:
    if v.__class__ is str and len(v) == 10:
        try:
            return date.fromisoformat(v)
        except ValueError:
            pass
    raise _expected("a date YYYY-MM-DD", v)


def _dump_date(v: date) -> str:
    return v.isoformat()


def _parse_datetime(v: Any) -> datetime:
    if v.__class__ is str and len(v) >= 19:
        try:
            t = datetime.fromisoformat(v)
        except ValueError:
            pass
        else:
            tz = t.tzinfo
            if tz is None:
                return t.replace(tzinfo=_UTC)
            if tz is _UTC:
                return t
            return t.astimezone(_UTC)
    raise _expected("an RFC 3339 date-time", v)


def _dump_datetime(v: datetime) -> str:
    tz = v.tzinfo
    if tz is not _UTC:
        v = v.replace(tzinfo=_UTC) if tz is None else v.astimezone(_UTC)
    micros = v.microsecond
    if micros == 0:
        text = v.isoformat(timespec="seconds")
    elif micros % 1000 == 0:
        text = v.isoformat(timespec="milliseconds")
    else:
        text = v.isoformat(timespec="microseconds")
    return text[:-6] + "Z"


def _from_text(make: Callable[[str], Any], what: str) -> Callable[[Any], Any]:
    """A parser of strings that `make` reads (raising `ValueError` otherwise)."""

    def parse(v: Any) -> Any:
        if v.__class__ is str:
            try:
                return make(v)
            except ValueError:
                pass
        raise _expected(what, v)

    return parse


_parse_uuid = _from_text(uuid.UUID, "a UUID")
_parse_ipv4 = _from_text(ipaddress.IPv4Address, "an IPv4 address")
# IPv6 text only; IPv4 addresses are written mapped, as ClickHouse stores them.
_parse_ipv6 = _from_text(ipaddress.IPv6Address, "an IPv6 address (IPv4 written mapped: ::ffff:a.b.c.d)")


def _dump_uuid(v: Any) -> str:
    return str(v) if isinstance(v, uuid.UUID) else str(uuid.UUID(str(v)))


def _identity(v: Any) -> Any:
    return v


def _enum_converters(
    cls: type[enum.Enum],
) -> tuple[tuple[EnumMember, ...], Callable[[Any], Any], Callable[[Any], Any]]:
    members: list[EnumMember] = []
    by_name: dict[str, enum.Enum] = {}
    next_value = 1
    for member in cls:
        if isinstance(member.value, str):
            wire, number = member.value, next_value
        elif isinstance(member.value, int) and not isinstance(member.value, bool):
            wire, number = member.name, member.value
        else:
            raise SchemaError(
                f"enum {cls.__name__}: member values must be strings (the stored names) or integers"
            )
        if not -(2**15) <= number < 2**15:
            raise SchemaError(f"enum {cls.__name__}: value {number} does not fit Int16")
        if wire in by_name or any(m.value == number for m in members):
            raise SchemaError(f"enum {cls.__name__}: two members are named {wire!r} or numbered {number}")
        members.append(EnumMember(wire, number))
        by_name[wire] = member
        next_value = number + 1
    if not members:
        raise SchemaError(f"enum {cls.__name__} needs at least one member")
    wire_of = {m: name for name, m in by_name.items()}
    names = ", ".join(repr(n) for n in by_name)

    def parse(v: Any) -> enum.Enum:
        try:
            return by_name[v]
        except (KeyError, TypeError):
            raise ValueError(f"expected one of {names}, got {_describe(v)}") from None

    def dump(v: Any) -> str:
        try:
            return wire_of[v]
        except KeyError:
            return wire_of[cls(v)]

    return tuple(members), parse, dump


# ---------------------------------------------------------------- type info


@dataclass
class TypeInfo:
    """A Python annotation resolved to a column type and its converters."""

    data_type: DataType
    parse: Callable[[Any], Any]
    dump: Callable[[Any], Any]
    optional: bool = False
    key: bool = False
    # Model classes this type nests (directly or inside containers).
    nested: tuple[type, ...] = ()
    # Inline parse code, when simple: `{w}` is where the value is first evaluated (it may
    # bind `v`), `{v}` the later uses, `{fn}` the name of `parse`.
    parse_inline: Optional[str] = None
    dump_identity: bool = False
    # For `Optional[T]`: the info of `T`.
    inner: Optional["TypeInfo"] = None
    # A description given in the annotation (`Annotated[T, Doc("...")]`).
    doc: Optional[str] = None
    # How a column of an aggregating table holds its aggregate
    # (`Annotated[T, AggregateState(...)]`, `Annotated[T, SimpleAggregate(...)]`).
    aggregate: Optional[AggregateColumn] = None


def _scalar(kind: str, arg: Any = None) -> DataType:
    return DataType((), ScalarType(kind, arg))


_STR = TypeInfo(_scalar("string"), _parse_str, _identity, parse_inline="{v} if {w}.__class__ is str else {fn}({v})", dump_identity=True)
_BOOL = TypeInfo(_scalar("boolean"), _parse_bool, _identity, parse_inline="{v} if {w}.__class__ is bool else {fn}({v})", dump_identity=True)
_FLOAT64 = TypeInfo(_scalar("float64"), _parse_float, _identity, parse_inline="{v} if {w}.__class__ is float else {fn}({v})", dump_identity=True)
_JSON = TypeInfo(_scalar("json"), _identity, _identity, parse_inline="{w}", dump_identity=True)
_DATE = TypeInfo(_scalar("date"), _parse_date, _dump_date)
_DATETIME = TypeInfo(_scalar("date-time"), _parse_datetime, _dump_datetime)
_UUID = TypeInfo(_scalar("uuid"), _parse_uuid, _dump_uuid)


def _int_info(kind: mt.IntKind) -> TypeInfo:
    parse = _int_parser(kind)
    return TypeInfo(
        _scalar(kind.name.lower()),
        parse,
        _identity,
        parse_inline=f"{{v}} if {{w}}.__class__ is int and {kind.low} <= {{v}} <= {kind.high} else {{fn}}({{v}})",
        dump_identity=True,
    )


_INT_INFOS = {
    k: _int_info(k)
    for k in (
        mt.int8, mt.int16, mt.int32, mt.int64, mt.int128, mt.int256,
        mt.uint8, mt.uint16, mt.uint32, mt.uint64, mt.uint128, mt.uint256,
    )
}
_IPV4 = TypeInfo(_scalar("ipv4"), _parse_ipv4, _dump_str)
_IPV6 = TypeInfo(_scalar("ipv6"), _parse_ipv6, _dump_str)


def _list_info(inner: TypeInfo) -> TypeInfo:
    p, d = inner.parse, inner.dump

    def parse(v: Any) -> list[Any]:
        if v.__class__ is not list:
            raise _expected("an array", v)
        return [p(x) for x in v]

    dump = _identity if inner.dump_identity else (lambda v: [d(x) for x in v])
    return TypeInfo(inner.data_type.wrapped("array"), parse, dump, nested=inner.nested, dump_identity=inner.dump_identity)


def _map_info(inner: TypeInfo) -> TypeInfo:
    p, d = inner.parse, inner.dump

    def parse(v: Any) -> dict[str, Any]:
        if v.__class__ is not dict:
            raise _expected("an object (map)", v)
        return {k: p(x) for k, x in v.items()}

    dump = _identity if inner.dump_identity else (lambda v: {k: d(x) for k, x in v.items()})
    return TypeInfo(inner.data_type.wrapped("map"), parse, dump, nested=inner.nested, dump_identity=inner.dump_identity)


def _nullable_info(inner: TypeInfo) -> TypeInfo:
    p, d = inner.parse, inner.dump

    def parse(v: Any) -> Any:
        return None if v is None else p(v)

    dump = _identity if inner.dump_identity else (lambda v: None if v is None else d(v))
    return TypeInfo(
        inner.data_type.wrapped("nullable"),
        parse,
        dump,
        optional=True,
        nested=inner.nested,
        dump_identity=inner.dump_identity,
        inner=inner,
    )


def _with_leaf(info: TypeInfo, leaf: ScalarType, what: str, expected_kind: str) -> TypeInfo:
    if info.data_type.leaf.kind != expected_kind:
        raise SchemaError(f"{what} needs a {expected_kind} leaf type")
    return dataclasses.replace(info, data_type=DataType(info.data_type.wrappers, leaf))


def _is_model_class(tp: Any) -> bool:
    return isinstance(tp, type) and (
        dataclasses.is_dataclass(tp) or bool(getattr(tp, "__annotations__", None))
    ) and not issubclass(tp, (enum.Enum, str, int, float, bytes, list, dict, tuple))


def type_info(tp: Any) -> TypeInfo:
    """The column type and converters of annotation `tp`.

    Raises `SchemaError` for annotations without a column type.
    """
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        base, *markers = typing.get_args(tp)
        return _annotated(base, markers)
    if tp is str:
        return _STR
    if tp is bool:
        return _BOOL
    if tp is int:
        return _INT_INFOS[mt.int64]
    if tp is float:
        return _FLOAT64
    if tp is date:
        return _DATE
    if tp is datetime:
        return _DATETIME
    if tp is uuid.UUID:
        return _UUID
    if tp is ipaddress.IPv4Address:
        return _IPV4
    if tp is ipaddress.IPv6Address:
        return _IPV6
    if tp is Any:
        return _JSON
    if tp is _decimal.Decimal:
        raise SchemaError("Decimal needs a precision and a scale: write Annotated[Decimal, decimal(18, 4)]")
    if origin is Union or origin is _pytypes.UnionType:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) != 1 or len(typing.get_args(tp)) != 2:
            raise SchemaError(f"{_name(tp)}: only Optional[T] (T | None) unions are supported")
        return _nullable_info(type_info(args[0]))
    if origin is list:
        (inner,) = typing.get_args(tp) or (None,)
        if inner is None:
            raise SchemaError("list needs an item type: list[T]")
        return _list_info(type_info(inner))
    if origin is dict:
        key_value = typing.get_args(tp)
        if len(key_value) != 2 or key_value[0] is not str:
            raise SchemaError(f"{_name(tp)}: maps need string keys: dict[str, T]")
        return _map_info(type_info(key_value[1]))
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        members, parse, dump = _enum_converters(tp)
        return TypeInfo(_scalar("enum", members), parse, dump)
    if _is_model_class(tp):
        info = model_info(tp)
        return TypeInfo(
            _scalar("nested", info.reference),
            info.parse,
            info.dump,
            nested=(tp,),
        )
    if isinstance(tp, str) or isinstance(tp, typing.ForwardRef):
        raise SchemaError(f"unresolved annotation {tp!r}")
    raise SchemaError(f"{_name(tp)} has no column type")


def _annotated(base: Any, markers: list[Any]) -> TypeInfo:
    key = any(isinstance(m, mt.KeyMarker) for m in markers)
    others = [m for m in markers if not isinstance(m, mt.KeyMarker)]
    if base is _decimal.Decimal:
        specs = [m for m in others if isinstance(m, mt.DecimalSpec)]
        if not specs:
            raise SchemaError("Decimal needs a precision and a scale: write Annotated[Decimal, decimal(18, 4)]")
        spec = specs[0]
        parse, dump = _decimal_converters(spec)
        info = TypeInfo(_scalar("decimal", (spec.precision, spec.scale)), parse, dump)
        others = [m for m in others if m is not spec]
    elif geo := [m for m in others if isinstance(m, mt.GeoMarker)]:
        info = _geo_info(geo[0])
        others = [m for m in others if m is not geo[0]]
    else:
        info = type_info(base)
    for marker in others:
        if isinstance(marker, mt.IntKind):
            if base is not int:
                raise SchemaError(f"{marker.name} needs an int, not {_name(base)}")
            info = _INT_INFOS[marker]
        elif isinstance(marker, mt.FloatKind):
            if base is not float:
                raise SchemaError(f"{marker.name} needs a float, not {_name(base)}")
            if marker.name == "Float32":
                info = dataclasses.replace(_FLOAT64, data_type=_scalar("float32"))
        elif isinstance(marker, mt.LowCardinalityMarker):
            info = _with_leaf(info, ScalarType("low-cardinality-string"), "LowCardinality", "string")
        elif isinstance(marker, mt.DateTime64Spec):
            info = _with_leaf(info, ScalarType("date-time64", marker.precision), "DateTime64", "date-time")
        elif isinstance(marker, mt.JsonMarker):
            info = _JSON
        elif isinstance(marker, mt.FixedStringSpec):
            if base is not str:
                raise SchemaError(f"FixedString[{marker.length}] needs a str, not {_name(base)}")
            info = _with_leaf(info, ScalarType("fixed-string", marker.length), "FixedString", "string")
            info = dataclasses.replace(info, parse=_fixed_string_parser(marker), parse_inline=None)
        elif isinstance(marker, mt.DecimalSpec):
            raise SchemaError(f"decimal({marker.precision}, {marker.scale}) needs a Decimal, not {_name(base)}")
        elif isinstance(marker, mt.AggregateState):
            arguments = tuple(_aggregate_argument(marker, a) for a in marker.arguments)
            info = dataclasses.replace(info, aggregate=AggregateColumn(marker.function, arguments))
        elif isinstance(marker, mt.SimpleAggregate):
            info = dataclasses.replace(info, aggregate=AggregateColumn(marker.function))
        elif isinstance(getattr(marker, "documentation", None), str):
            info = dataclasses.replace(info, doc=inspect.cleandoc(marker.documentation).strip() or None)
        # Other annotations (validators of other libraries, ...) are ignored.
    if key:
        info = dataclasses.replace(info, key=True)
    return info


def _aggregate_argument(marker: mt.AggregateState, tp: Any) -> DataType:
    try:
        return type_info(tp).data_type
    except SchemaError as e:
        raise SchemaError(f"{marker!r}: argument {_name(tp)}: {e}") from None


def _name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or repr(tp)


# ---------------------------------------------------------------- models


@dataclass
class FieldInfo:
    """One field of a model: attribute, column and converters."""

    attr: str
    column: str
    info: TypeInfo
    options: FieldOptions
    # Python default: a value, a zero-argument factory, or neither.
    default: Any = _MISSING
    default_factory: Any = _MISSING


@dataclass
class ModelInfo:
    """A model class's schema and converters, built once per class."""

    cls: type
    name: str
    version: Optional[str]
    doc: Optional[str]
    fields: list[FieldInfo]
    parse: Callable[[Any], Any] = _identity
    dump: Callable[[Any], Any] = _identity

    @property
    def reference(self) -> str:
        """`name`, or `name@version` for a versioned model."""
        return self.name if self.version is None else f"{self.name}@{self.version}"

    def model_def(self) -> ModelDef:
        """The model's schema."""
        return ModelDef(
            self.name,
            self.version,
            tuple(
                Field(
                    f.column,
                    f.info.data_type,
                    f.info.key or f.options.key,
                    f.options.clickhouse_default,
                    f.options.doc or f.info.doc,
                    f.info.aggregate,
                    f.options.codec,
                    f.options.ttl,
                )
                for f in self.fields
            ),
            self.doc,
        )

    def diagnose(self, value: Any) -> str:
        """Why `value` does not parse as this model (slow path, for error messages)."""
        if not isinstance(value, dict):
            return f"expected a JSON object, got {_describe(value)}"
        for f in self.fields:
            if f.column not in value:
                if f.info.optional or f.default is not _MISSING or f.default_factory is not _MISSING:
                    continue
                return f"missing field `{f.column}`"
            try:
                f.info.parse(value[f.column])
            except Exception as e:  # noqa: BLE001 - the message is the diagnosis
                return f"field `{f.column}`: {e}"
        return "invalid record"


_MODELS: dict[type, ModelInfo] = {}


def model_info(cls: type) -> ModelInfo:
    """The schema and converters of model class `cls` (built on first use)."""
    found = _MODELS.get(cls)
    if found is not None:
        return found
    info = ModelInfo(
        cls,
        str(vars(cls).get("__moose_name__", cls.__name__)),
        vars(cls).get("__moose_version__"),
        _class_doc(cls),
        [],
    )
    # Registered before the fields are resolved, so self-references terminate.
    _MODELS[cls] = info
    try:
        info.fields = _fields(cls)
        info.parse, info.dump = _compile(info)
    except Exception:
        del _MODELS[cls]
        raise
    return info


def _class_doc(cls: type) -> Optional[str]:
    doc = vars(cls).get("__doc__")
    if not doc:
        return None
    if dataclasses.is_dataclass(cls):
        # dataclass() writes `Name(field: type, ...)` when the class has no docstring.
        try:
            generated = cls.__name__ + str(inspect.signature(cls)).replace(" -> None", "")
        except (TypeError, ValueError):
            generated = None
        if doc == generated:
            return None
    return inspect.cleandoc(doc).strip() or None


def _fields(cls: type) -> list[FieldInfo]:
    try:
        hints = typing.get_type_hints(cls, include_extras=True)
    except NameError as e:
        raise SchemaError(f"model {cls.__name__}: cannot resolve annotation: {e}") from None
    result: list[FieldInfo] = []
    if dataclasses.is_dataclass(cls):
        for f in dataclasses.fields(cls):
            options = f.metadata.get(_META_KEY, FieldOptions())
            result.append(_field(cls, f.name, hints[f.name], options, f.default, f.default_factory))
    else:
        for attr, tp in hints.items():
            if attr.startswith("_") or typing.get_origin(tp) is typing.ClassVar:
                continue
            result.append(_field(cls, attr, tp, FieldOptions(), getattr(cls, attr, _MISSING), _MISSING))
    columns = [f.column for f in result]
    for column in columns:
        if columns.count(column) > 1:
            raise SchemaError(f"model {cls.__name__}: two fields are named `{column}`")
    if not result:
        raise SchemaError(f"model {cls.__name__} has no fields")
    return result


def _field(cls: type, attr: str, tp: Any, options: FieldOptions, default: Any, factory: Any) -> FieldInfo:
    try:
        info = type_info(tp)
    except SchemaError as e:
        raise SchemaError(f"{cls.__name__}.{attr}: {e}", e.model or cls, e.attr or attr) from None
    return FieldInfo(attr, options.name or attr, info, options, default, factory)


def _compile(info: ModelInfo) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    """Generates the parse and dump functions of a model."""
    cls = info.cls
    env: dict[str, Any] = {"_cls": cls, "_new": object.__new__, "_set": object.__setattr__, "_M": _MISSING}
    items: list[str] = []
    dumps: list[str] = []
    for i, f in enumerate(info.fields):
        fn = f"_p{i}"
        env[fn] = f.info.parse
        col = repr(f.column)
        inline = f.info.parse_inline

        def expr(first: str, inline: Optional[str] = inline, fn: str = fn) -> str:
            return inline.format(w=first, v="v", fn=fn) if inline else f"{fn}({first})"

        if f.default is not _MISSING or f.default_factory is not _MISSING:
            if f.default is not _MISSING:
                env[f"_d{i}"] = f.default
                fallback = f"_d{i}"
            else:
                env[f"_d{i}"] = f.default_factory
                fallback = f"_d{i}()"
            code = f"{fallback} if (v := d.get({col}, _M)) is _M else ({expr('v')})"
        elif f.info.inner is not None:
            # `None` is handled here, so the non-null value takes the inner type's path.
            env[fn] = f.info.inner.parse
            code = f"None if (v := d.get({col})) is None else ({expr('v', f.info.inner.parse_inline)})"
        else:
            code = expr(f"(v := d[{col}])")
        items.append(f"{f.attr!r}: {code}")
        if f.info.dump_identity:
            dumps.append(f"{col}: o.{f.attr}")
        else:
            env[f"_o{i}"] = f.info.dump
            dumps.append(f"{col}: _o{i}(o.{f.attr})")
    body = ", ".join(items)
    if hasattr(cls, "__post_init__") or "__slots__" in vars(cls):
        make = f"    return _cls(**{{{body}}})\n"
    else:
        # No __init__ call: the validated values become the instance's __dict__.
        make = f"    o = _new(_cls)\n    _set(o, '__dict__', {{{body}}})\n    return o\n"
    src = (
        "def parse(d):\n"
        "    if d.__class__ is not dict: raise _not_object(d)\n"
        f"{make}"
        "def dump(o):\n"
        f"    return {{{', '.join(dumps)}}}\n"
    )
    env["_not_object"] = lambda d: _expected("a JSON object", d)
    exec(compile(src, f"<moose model {info.name}>", "exec"), env)  # noqa: S102 - generated from annotations
    return env["parse"], env["dump"]

