"""Running streaming functions on batches of records.

A batch is newline-delimited JSON. The whole batch is parsed with one `json.loads`;
each record is converted into the function's input model, the function runs, and its
outputs are serialized into one buffer. A record that does not parse, or on which the
function raises, becomes a `RecordError`; the rest of the batch goes on.
"""

from __future__ import annotations

import json
import json.encoder
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from .schema import ModelInfo

__all__ = ["Batch", "RecordError", "ProcessOutput", "GuestError", "error_message", "encode_rows"]


@dataclass
class Batch:
    """Records encoded as one buffer of newline-delimited JSON."""

    count: int
    data: bytes

    def lines(self) -> list[str]:
        """The records' lines (empty when `count` is 0)."""
        if self.count == 0:
            return []
        return self.data.decode().removesuffix("\n").split("\n")


@dataclass
class RecordError:
    """A record of the input batch that the function rejected or failed on."""

    index: int
    message: str


@dataclass
class ProcessOutput:
    """The result of running a function on a batch."""

    output: Batch
    sources: list[int] = field(default_factory=list)
    errors: list[RecordError] = field(default_factory=list)


class GuestError(Exception):
    """An error for a whole call (`process` or a window call): `kind` is
    `unknown-function` or `failed`."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def error_message(e: BaseException) -> str:
    """`Type: message` of an exception raised by user code."""
    text = str(e)
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def _not_serializable(value: Any) -> Any:
    raise TypeError(f"a {type(value).__name__} is not JSON serializable")


def _chunk_encoder() -> Callable[[Any, int], Any]:
    """Compact, ASCII-only JSON as a sequence of chunks: the C encoder called directly
    (without `json.dumps`' per-call setup), else the pure-Python one."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is not None:
        return make(None, _not_serializable, json.encoder.encode_basestring_ascii, None, ":", ",", False, False, False)  # type: ignore[no-any-return]
    encode = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"), allow_nan=False).encode
    return lambda value, _level: (encode(value),)


_encode_chunks = _chunk_encoder()


def _split(data: bytes, count: int) -> list[Any]:
    """The batch's values: one `json.loads` for the whole batch; per line only when
    some line is not valid JSON (then an invalid line becomes an `_Invalid`)."""
    body = data[:-1] if data.endswith(b"\n") else data
    if count == 0:
        if body.strip():
            raise _count_mismatch(count, body)
        return []
    try:
        values = json.loads(b"[" + body.replace(b"\n", b",") + b"]")
        if len(values) == count:
            return values  # type: ignore[no-any-return]
    except ValueError:
        pass
    lines = body.split(b"\n")
    if len(lines) != count:
        raise _count_mismatch(count, body)
    values = []
    for line in lines:
        try:
            values.append(json.loads(line))
        except ValueError as e:
            values.append(_Invalid(f"invalid input record: {e}"))
    return values


class _Invalid:
    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        self.message = message


def _count_mismatch(count: int, body: bytes) -> GuestError:
    lines = body.count(b"\n") + 1 if body else 0
    return GuestError("failed", f"batch count is {count} but its data holds {lines} lines")


def run_transform(
    data: bytes,
    count: int,
    source: ModelInfo,
    destination: Optional[ModelInfo],
    fn: Callable[[Any], Any],
) -> ProcessOutput:
    """Runs `fn` on every record of the batch; with no `destination` its results are
    ignored (a consumer)."""
    values = _split(data, count)
    parse = source.parse
    out: list[str] = []
    sources: list[int] = []
    errors: list[RecordError] = []
    if destination is None:
        dest_cls: Any = None
        dump: Callable[[Any], Any] = source.dump
    else:
        dest_cls, dump = destination.cls, destination.dump
    encode, join = _encode_chunks, "".join
    append, add_source = out.append, sources.append
    for index, value in enumerate(values):
        try:
            record = parse(value)
        except Exception:  # noqa: BLE001 - becomes the record's error
            message = value.message if isinstance(value, _Invalid) else f"invalid input record: {source.diagnose(value)}"
            errors.append(RecordError(index, message))
            continue
        try:
            result = fn(record)
        except Exception as e:  # noqa: BLE001 - user code: the record's error
            errors.append(RecordError(index, error_message(e)))
            continue
        if dest_cls is None or result is None:
            continue
        try:
            if result.__class__ is dest_cls:
                append(join(encode(dump(result), 0)))
                add_source(index)
            elif isinstance(result, (list, tuple)):
                lines = [join(encode(dump(_check(r, destination)), 0)) for r in result]
                out.extend(lines)
                sources.extend([index] * len(lines))
            else:
                append(join(encode(dump(_check(result, destination)), 0)))
                add_source(index)
        except Exception as e:  # noqa: BLE001 - an output that does not serialize
            errors.append(RecordError(index, f"cannot serialize output record: {error_message(e)}"))
    return ProcessOutput(Batch(len(out), "\n".join(out).encode()), sources, errors)


def encode_rows(rows: Any, destination: ModelInfo) -> Batch:
    """`rows` (a record of `destination`, None or a list of them) as a JSON batch."""
    records = [] if rows is None else rows if isinstance(rows, (list, tuple)) else [rows]
    lines = []
    for i, record in enumerate(records):
        try:
            lines.append("".join(_encode_chunks(destination.dump(_check(record, destination)), 0)))
        except Exception as e:  # noqa: BLE001 - reported with the row's position
            raise ValueError(f"cannot serialize row {i}: {error_message(e)}") from None
    return Batch(len(lines), "\n".join(lines).encode())


def _check(record: Any, destination: Any) -> Any:
    if isinstance(record, destination.cls):
        return record
    raise TypeError(
        f"the function returned {type(record).__name__}; expected {destination.cls.__name__}, None or a list of them"
    )
