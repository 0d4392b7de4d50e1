"""Read-only queries on the OLAP store, with bound parameters.

```python
rows = sql(
    "SELECT day, revenue FROM {table} WHERE customer = {customer} LIMIT {limit:UInt32}",
    table=daily_revenue,          # a Table handle or Identifier: bound as an identifier
    customer=params.customer,     # bound as {p1:String}
    limit=params.limit,
).fetch(DailyRevenue)
```

Values are never spliced into the SQL: each `{name}` of the template becomes a
ClickHouse query parameter `{pN:Type}`, its type inferred from the Python value or
given after a colon (`{customer:Nullable(String)}`), and its value is sent in
ClickHouse's Escaped text form. `{{` and `}}` are literal braces. `Query` binds
hand-written `{name:Type}` placeholders instead.
"""

from __future__ import annotations

import decimal
import enum
import json
import string
import uuid
from datetime import date, datetime, timezone
from typing import Any, Callable, Optional, TypeVar

from ._host import WitErr, wit_host, wit_types
from .schema import model_info

__all__ = ["QueryError", "Identifier", "Sql", "sql", "Query", "to_query_text", "set_mock", "clear_mock"]

R = TypeVar("R")


class QueryError(Exception):
    """Why a query failed. `kind` is `invalid`, `denied`, `timeout`, `too-large`,
    `unavailable` or `failed`; `limit` is the byte limit of `too-large`."""

    KINDS = ("invalid", "denied", "timeout", "too-large", "unavailable", "failed")

    def __init__(self, kind: str, message: str = "", limit: int = 0) -> None:
        if kind not in self.KINDS:
            raise ValueError(f"unknown query error kind {kind!r}")
        self.kind, self.message, self.limit = kind, message, limit
        super().__init__(self._text())

    def _text(self) -> str:
        if self.kind == "timeout":
            return "query timed out"
        if self.kind == "too-large":
            return f"query result exceeds {self.limit} bytes"
        prefix = {
            "invalid": "invalid query",
            "denied": "query denied",
            "unavailable": "OLAP store unavailable",
            "failed": "query failed",
        }[self.kind]
        return f"{prefix}: {self.message}"


class Identifier:
    """A table, view or column name, bound as an `Identifier` query parameter."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"Identifier({self.name!r})"


def _escape(text: str) -> str:
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text or "\0" in text:
        text = (
            text.replace("\\", "\\\\")
            .replace("\t", "\\t")
            .replace("\n", "\\n")
            .replace("\r", "\\r")
            .replace("\0", "\\0")
        )
    return text


def _datetime_text(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    value = value.astimezone(timezone.utc)
    text = value.strftime("%Y-%m-%d %H:%M:%S")
    micros = value.microsecond
    if micros == 0:
        return text
    return f"{text}.{micros // 1000:03d}" if micros % 1000 == 0 else f"{text}.{micros:06d}"


def to_query_text(value: Any) -> str:
    """`value` in ClickHouse's Escaped text form (`\\N` for None)."""
    if value is None:
        return "\\N"
    if isinstance(value, str):
        return _escape(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return _datetime_text(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, enum.Enum):
        return _escape(model_enum_name(value))
    if isinstance(value, Identifier):
        return _escape(value.name)
    name = getattr(value, "__moose_identifier__", None)
    if isinstance(name, str):
        return _escape(name)
    raise TypeError(f"cannot bind a {type(value).__name__} as a query parameter")


def model_enum_name(member: enum.Enum) -> str:
    """The stored name of an enum member: its value when a string, else its name."""
    return member.value if isinstance(member.value, str) else member.name


def _infer_type(value: Any) -> str:
    if value is None:
        raise TypeError("cannot infer the type of None: give it, as in {name:Nullable(String)}")
    if isinstance(value, bool):
        return "Bool"
    if isinstance(value, int):
        if -(2**63) <= value < 2**63:
            return "Int64"
        if 0 <= value < 2**64:
            return "UInt64"
        return "Int256"
    if isinstance(value, float):
        return "Float64"
    if isinstance(value, decimal.Decimal):
        sign, digits, exponent = value.as_tuple()
        if not isinstance(exponent, int):
            raise TypeError(f"cannot bind the decimal {value}")
        scale = max(0, -exponent)
        integer_digits = max(1, len(digits) + exponent)
        return f"Decimal({min(76, integer_digits + scale)}, {scale})"
    if isinstance(value, datetime):
        return "DateTime64(6, 'UTC')"
    if isinstance(value, date):
        return "Date"
    if isinstance(value, uuid.UUID):
        return "UUID"
    if isinstance(value, (str, enum.Enum)):
        return "String"
    if isinstance(value, Identifier) or isinstance(getattr(value, "__moose_identifier__", None), str):
        return "Identifier"
    raise TypeError(f"cannot bind a {type(value).__name__} as a query parameter")


_FORMATTER = string.Formatter()


def sql(template: str, /, **values: Any) -> Sql:
    """A statement from `template`, whose `{name}` / `{name:Type}` placeholders are bound
    to `values` as query parameters (see the module documentation)."""
    parts: list[str] = []
    params: list[tuple[str, str]] = []
    bound: dict[tuple[str, str], str] = {}
    used: set[str] = set()
    for literal, name, spec, conversion in _FORMATTER.parse(template):
        parts.append(literal)
        if name is None:
            continue
        if not name.isidentifier() or conversion:
            raise ValueError(f"sql: placeholder {{{name}}} must be a plain name such as {{customer}}")
        if name not in values:
            raise KeyError(f"sql: no value given for {{{name}}}")
        used.add(name)
        value = values[name]
        type_name = spec.strip() if spec else _infer_type(value)
        param = bound.get((name, type_name))
        if param is None:
            param = f"p{len(params)}"
            bound[(name, type_name)] = param
            params.append((param, to_query_text(value)))
        parts.append(f"{{{param}:{type_name}}}")
    unused = sorted(set(values) - used)
    if unused:
        raise KeyError(f"sql: values given for no placeholder: {', '.join(unused)}")
    return Sql("".join(parts), params)


class Sql:
    """A SQL statement and its bound parameters, ready to run."""

    __slots__ = ("text", "params")

    def __init__(self, text: str, params: list[tuple[str, str]]) -> None:
        self.text = text
        self.params = params

    def __repr__(self) -> str:
        return f"Sql({self.text!r}, {self.params!r})"

    def fetch_json_lines(self) -> bytes:
        """Runs the query; the raw result, one JSON object per line."""
        return _run(self.text, self.params)

    def fetch(self, row: type[R]) -> list[R]:
        """Runs the query and converts each row into model `row`."""
        data = _run(self.text, self.params)
        info = model_info(row)
        lines = [line for line in data.split(b"\n") if line.strip()]
        if not lines:
            return []
        try:
            values = json.loads(b"[" + b",".join(lines) + b"]")
            return [info.parse(v) for v in values]
        except Exception:  # noqa: BLE001 - find the row at fault for the message
            for i, line in enumerate(lines):
                try:
                    info.parse(json.loads(line))
                except Exception as e:  # noqa: BLE001
                    detail = info.diagnose(json.loads(line)) if isinstance(e, (KeyError, ValueError, TypeError)) else str(e)
                    raise QueryError("failed", f"cannot decode result row {i} as {info.name}: {detail}") from None
            raise


class Query:
    """A statement with hand-written `{name:Type}` placeholders and their values."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.params: list[tuple[str, str]] = []

    def bind(self, name: str, value: Any) -> Query:
        """Binds placeholder `name` (rebinding replaces the earlier value)."""
        text = to_query_text(value)
        self.params = [(n, v) for n, v in self.params if n != name] + [(name, text)]
        return self

    def fetch_json_lines(self) -> bytes:
        """Runs the query; the raw result, one JSON object per line."""
        return _run(self.text, self.params)

    def fetch(self, row: type[R]) -> list[R]:
        """Runs the query and converts each row into model `row`."""
        return Sql(self.text, self.params).fetch(row)


Mock = Callable[[str, list[tuple[str, str]]], bytes]
_mock: Optional[Mock] = None


def set_mock(mock: Mock) -> None:
    """Outside a component: answers queries with `mock(sql, params)` (JSON lines)."""
    global _mock
    _mock = mock


def clear_mock() -> None:
    """Removes the mock."""
    global _mock
    _mock = None


def _run(text: str, params: list[tuple[str, str]]) -> bytes:
    if wit_host is None:
        if _mock is None:
            raise QueryError("unavailable", "no Moose host: outside a component, set a mock with moose_guest.query.set_mock")
        return _mock(text, params)
    try:
        batch = wit_host.query(text, [wit_host.QueryParam(n, v) for n, v in params])
    except WitErr as e:
        raise _from_wit(e.value) from None
    return bytes(batch.data)


def _from_wit(error: Any) -> QueryError:
    t = wit_types
    if isinstance(error, t.QueryError_Timeout):
        return QueryError("timeout")
    if isinstance(error, t.QueryError_TooLarge):
        return QueryError("too-large", limit=error.value)
    kind = {
        t.QueryError_Invalid: "invalid",
        t.QueryError_Denied: "denied",
        t.QueryError_Unavailable: "unavailable",
    }.get(type(error), "failed")
    return QueryError(kind, str(error.value))
