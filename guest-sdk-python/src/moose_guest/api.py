"""Query APIs: typed parameters in, rows of a model out.

The parameters are a dataclass: an `Optional[T]` field or one with a default is not
required; `field(default=100, min=1, max=10000, doc="...")` sets the declared default,
the bounds and the description; `field(name="from")` names a parameter that is a
Python keyword. The host sends the parameters as a JSON object; the SDK fills in
defaults, accepts numbers and booleans sent as strings, checks `min`/`max`, and builds
the dataclass.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
from typing import Any, Callable, Optional

from .defs import ApiParam, DataType
from .process import error_message
from .query import QueryError
from .schema import ModelInfo, SchemaError, model_info

__all__ = ["ApiError", "BadRequest", "NotFound", "UnknownApi", "api_params", "ApiHandler"]


class ApiError(Exception):
    """Why an API call failed; the host turns it into an HTTP error.

    `kind` is `bad-request` (400), `not-found` (404) or `failed` (500); raise
    `BadRequest` or `NotFound` from a handler. A `QueryError` raised by a handler
    becomes the API's query error.
    """

    kind = "failed"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(ApiError):
    """The parameters are invalid (HTTP 400)."""

    kind = "bad-request"


class NotFound(ApiError):
    """Nothing matches (HTTP 404)."""

    kind = "not-found"


class UnknownApi(ApiError):
    """No API of that name."""

    kind = "unknown-api"


_NUMBERS = {"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float32", "float64"}


def _is_number(param: ApiParam) -> bool:
    return not param.data_type.wrappers and param.data_type.leaf.kind in _NUMBERS


def _is_boolean(param: ApiParam) -> bool:
    return not param.data_type.wrappers and param.data_type.leaf.kind == "boolean"


def _text_value(param: ApiParam, text: str) -> Any:
    """`text` (query-string form) as the JSON value of `param`'s type."""
    if _is_number(param):
        try:
            value = json.loads(text.strip())
        except ValueError:
            value = None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
        raise BadRequest(f"`{param.name}` must be a number, got {text!r}")
    if _is_boolean(param):
        if text.strip() in ("true", "1"):
            return True
        if text.strip() in ("false", "0"):
            return False
        raise BadRequest(f"`{param.name}` must be true or false, got {text!r}")
    return text


def _default_text(info: ModelInfo, attr: str, value: Any) -> Optional[str]:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)) and not isinstance(value, enum.Enum):
        return str(value)
    field = next(f for f in info.fields if f.attr == attr)
    dumped = field.info.dump(value)
    if not isinstance(dumped, str):
        raise SchemaError(f"parameter `{field.column}`: default {value!r} has no query-string form")
    return dumped


def api_params(params: type) -> list[ApiParam]:
    """The declared parameters of dataclass `params`, in declaration order."""
    info = model_info(params)
    result = []
    for f in info.fields:
        data_type = f.info.data_type
        if f.info.optional:
            data_type = DataType(data_type.wrappers[1:], data_type.leaf)
        if f.default_factory is not dataclasses.MISSING:
            default = _default_text(info, f.attr, f.default_factory())
        elif f.default is not dataclasses.MISSING:
            default = _default_text(info, f.attr, f.default)
        else:
            default = None
        has_default = f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
        param = ApiParam(
            f.column,
            data_type,
            not (f.info.optional or has_default),
            default,
            None if f.options.min is None else float(f.options.min),
            None if f.options.max is None else float(f.options.max),
            f.options.doc or f.info.doc,
        )
        if default is not None:
            try:
                _text_value(param, default)
            except BadRequest as e:
                raise SchemaError(f"default of {e}") from None
        result.append(param)
    return result


class ApiHandler:
    """A registered API: its declared parameters, converters and handler."""

    def __init__(self, params: type, response: type, handler: Callable[[Any], Any]) -> None:
        self.params = api_params(params)
        self.params_info = model_info(params)
        self.response_info = model_info(response)
        self.handler = handler

    def _prepare(self, body: bytes) -> dict[str, Any]:
        if body.strip():
            try:
                obj = json.loads(body)
            except ValueError as e:
                raise BadRequest(f"parameters are not a JSON object: {e}") from None
            if not isinstance(obj, dict):
                raise BadRequest("parameters are not a JSON object")
        else:
            obj = {}
        for param in self.params:
            value = obj.get(param.name)
            if value is None:
                if param.default is None:
                    continue
                value = _text_value(param, param.default)
            elif isinstance(value, str) and (_is_number(param) or _is_boolean(param)):
                value = _text_value(param, value)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                if param.min is not None and value < param.min:
                    raise BadRequest(f"parameter `{param.name}` must be at least {_num(param.min)}, got {value}")
                if param.max is not None and value > param.max:
                    raise BadRequest(f"parameter `{param.name}` must be at most {_num(param.max)}, got {value}")
            obj[param.name] = value
        return obj

    def call(self, body: bytes) -> bytes:
        """Runs the handler on the JSON `body` of parameters; the JSON response body.

        Raises `ApiError` or `QueryError`.
        """
        obj = self._prepare(body)
        try:
            typed = self.params_info.parse(obj)
        except Exception:  # noqa: BLE001 - reported as the parameter at fault
            raise BadRequest(f"invalid parameters: {self.params_info.diagnose(obj)}") from None
        try:
            rows = self.handler(typed)
        except (ApiError, QueryError):
            raise
        except Exception as e:  # noqa: BLE001 - user code
            raise ApiError(error_message(e)) from None
        dump, cls = self.response_info.dump, self.response_info.cls
        try:
            return json.dumps(
                [dump(r if isinstance(r, cls) else _wrong_row(r, cls)) for r in rows],
                ensure_ascii=False,
                separators=(",", ":"),
                allow_nan=False,
            ).encode()
        except (TypeError, ValueError) as e:
            raise ApiError(f"cannot serialize response: {error_message(e)}") from None


def _wrong_row(row: Any, cls: type) -> Any:
    raise TypeError(f"the handler returned a {type(row).__name__} row; expected {cls.__name__}")


def _num(value: float) -> str:
    return str(int(value)) if math.isfinite(value) and value == int(value) else str(value)
