"""The Python part of the hostile test app: the same function as `../rs/src/lib.rs` (see
the table there), as `hostile_py` from ingest `HostilePy` to `HostilePyOut`."""

from __future__ import annotations

import socket
from dataclasses import dataclass

from moose_guest import App, Key, PipelineConfig, UInt64, log


@dataclass
class HostilePy:
    id: Key[str]
    op: str
    n: UInt64
    size: UInt64


@dataclass
class HostilePyOut:
    id: str
    i: UInt64
    payload: str


def recurse(depth: int) -> int:
    return 0 if depth == 0 else recurse(depth - 1) + 1


def hostile(record: HostilePy) -> list[HostilePyOut]:
    rid = record.id
    if record.op == "echo":
        return [HostilePyOut(rid, 0, "")]
    if record.op == "big":
        return [HostilePyOut(rid, 0, "x" * record.n)]
    if record.op == "many":
        return [HostilePyOut(rid, i, "") for i in range(record.n)]
    if record.op == "log":
        line = "l" * record.size
        for _ in range(record.n):
            log.info(line)
        return [HostilePyOut(rid, 0, "")]
    if record.op == "print":
        line = "p" * record.size
        for _ in range(record.n):
            print(line)
        return [HostilePyOut(rid, 0, "")]
    if record.op == "panic":
        raise RuntimeError(f"boom {rid}")
    if record.op == "recurse":
        return [HostilePyOut(rid, recurse(record.n), "")]
    if record.op == "net":
        socket.create_connection(("127.0.0.1", 9), timeout=1)
        return [HostilePyOut(rid, 0, "connected")]
    raise ValueError(f"unknown op `{record.op}`")


app = App()
source = app.ingest_pipeline("HostilePy", HostilePy, PipelineConfig(table=None))
out = app.stream_pipeline("HostilePyOut", HostilePyOut, PipelineConfig(table=None))
app.transform("hostile_py", source.stream, out.stream, hostile)
