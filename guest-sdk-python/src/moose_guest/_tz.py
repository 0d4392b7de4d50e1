"""The IANA time zone database inside a component. `zoneinfo` reads zone files when a
zone is first used, and a component has no files at run time; so the build packs the
database (`tzdata`, else the build machine's) into `_moose_tzdata.bin` beside the entry
module, and the entry calls `install` while the component is pre-initialised: the zones
are then read from memory, `ZoneInfo("Europe/Paris")` works as natively, and
`zoneinfo.available_timezones()` lists them. Never imported outside a component."""

from __future__ import annotations

import io
import os
import struct
import zoneinfo
from typing import IO

from zoneinfo import _common

FILE_NAME = "_moose_tzdata.bin"
MAGIC = b"MOOSETZ1"


def pack(zones: dict[str, bytes]) -> bytes:
    """The database file: `MAGIC`, then per zone its UTF-8 key and its TZif bytes, each
    after its length (u16 and u32, big-endian)."""
    out = bytearray(MAGIC)
    for key, data in sorted(zones.items()):
        name = key.encode()
        out += struct.pack(">H", len(name)) + name + struct.pack(">I", len(data)) + data
    return bytes(out)


def unpack(blob: bytes) -> dict[str, bytes]:
    """The zones of a file written by `pack`."""
    if not blob.startswith(MAGIC):
        raise ValueError("not a time zone database written by moose_guest.build")
    zones: dict[str, bytes] = {}
    at = len(MAGIC)
    while at < len(blob):
        (size,) = struct.unpack_from(">H", blob, at)
        key = blob[at + 2 : at + 2 + size].decode()
        at += 2 + size
        (size,) = struct.unpack_from(">I", blob, at)
        zones[key] = blob[at + 4 : at + 4 + size]
        at += 4 + size
    return zones


def install(directory: str) -> None:
    """Serves `zoneinfo` from the database in `directory`, if the build packed one."""
    try:
        with open(os.path.join(directory, FILE_NAME), "rb") as file:
            zones = unpack(file.read())
    except FileNotFoundError:
        return
    fallback = _common.load_tzdata

    def load_tzdata(key: str) -> IO[bytes]:
        data = zones.get(key)
        return fallback(key) if data is None else io.BytesIO(data)

    _common.load_tzdata = load_tzdata
    zoneinfo.available_timezones = lambda: set(zones)
