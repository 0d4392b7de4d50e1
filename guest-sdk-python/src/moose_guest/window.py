"""Event-time windows of windowed aggregations, and the encoding of their states.

A state is either JSON-able values (dicts with string keys, lists, strings, numbers,
booleans, None; stored as JSON, so tuples come back as lists) or an instance of a
dataclass declared like a model (stored with the model's converters, so its `datetime`,
`Decimal`, `UUID`, ... fields and nested dataclasses come back with their types).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Optional

from .schema import ModelInfo, model_info

__all__ = ["WindowSize", "Window", "tumbling", "hopping", "StateCodec", "StateError"]

_U32_MAX = 2**32 - 1
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _seconds(what: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= _U32_MAX:
        raise ValueError(f"{what} must be a whole number of seconds from {minimum} to {_U32_MAX}, got {value!r}")
    return value


@dataclass(frozen=True)
class WindowSize:
    """How windows tile event time: build it with `tumbling` or `hopping`."""

    size_seconds: int
    hop_seconds: int


def tumbling(size_seconds: int) -> WindowSize:
    """Back-to-back windows of `size_seconds`, aligned to the Unix epoch: each record is in one."""
    size = _seconds("a window's size", size_seconds, 1)
    return WindowSize(size, size)


def hopping(size_seconds: int, hop_seconds: int) -> WindowSize:
    """Windows of `size_seconds` starting every `hop_seconds` (overlapping when the hop is
    smaller than the size), aligned to the Unix epoch."""
    size = _seconds("a window's size", size_seconds, 1)
    hop = _seconds("a window's hop", hop_seconds, 1)
    if hop > size:
        raise ValueError(f"a window's hop ({hop} s) must not exceed its size ({size} s)")
    return WindowSize(size, hop)


def lateness(value: int) -> int:
    """`allowed_lateness` checked as a number of seconds."""
    return _seconds("allowed_lateness", value, 0)


@dataclass(frozen=True)
class Window:
    """One window of event time: `start` inclusive, `end` exclusive (UTC)."""

    start_ms: int
    end_ms: int

    @property
    def start(self) -> datetime:
        """The window's first instant."""
        return _EPOCH + timedelta(milliseconds=self.start_ms)

    @property
    def end(self) -> datetime:
        """The first instant after the window."""
        return _EPOCH + timedelta(milliseconds=self.end_ms)


class StateError(ValueError):
    """A state that cannot be encoded or decoded."""


class StateCodec:
    """Encodes a windowed aggregation's states: with the converters of `cls` when it is a
    dataclass, else as JSON values."""

    def __init__(self, cls: Optional[type]) -> None:
        self.info: Optional[ModelInfo] = model_info(cls) if cls is not None and dataclasses.is_dataclass(cls) else None

    def encode(self, state: Any) -> bytes:
        """The bytes the host keeps for `state`."""
        try:
            if self.info is not None:
                if not isinstance(state, self.info.cls):
                    raise TypeError(f"expected a {self.info.cls.__name__} state, got {type(state).__name__}")
                state = self.info.dump(state)
            return json.dumps(state, separators=(",", ":"), allow_nan=False).encode()
        except (TypeError, ValueError) as e:
            raise StateError(f"cannot encode the state: {e}") from None

    def decode(self, data: bytes) -> Any:
        """The state that `encode` turned into `data`."""
        try:
            value = json.loads(data)
        except ValueError as e:
            raise StateError(f"the state is not JSON: {e}") from None
        if self.info is None:
            return value
        try:
            return self.info.parse(value)
        except Exception:  # noqa: BLE001 - diagnosed below
            raise StateError(f"cannot decode the state as {self.info.cls.__name__}: {self.info.diagnose(value)}") from None
