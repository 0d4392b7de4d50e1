"""The standard library modules Python authors reach for, each used the way a function
would: the conformance test compares `probe()` run inside the component with the same
call on native CPython. Plain Python: no SDK imports, so it runs natively as is."""

from __future__ import annotations

import base64
import collections
import dataclasses
import datetime
import decimal
import hashlib
import json
import math
import re
import statistics
import uuid
import zoneinfo
from typing import Any


@dataclasses.dataclass(frozen=True)
class Point:
    x: int
    y: int


def probe() -> dict[str, Any]:
    """One JSON-ready result per module."""
    paris = zoneinfo.ZoneInfo("Europe/Paris")
    new_york = zoneinfo.ZoneInfo("America/New_York")
    noon_utc = datetime.datetime(2024, 7, 1, 12, 0, tzinfo=datetime.timezone.utc)
    winter = datetime.datetime(2024, 1, 15, 9, 30, tzinfo=paris)
    money = decimal.Decimal("19.99") * 3
    return {
        "zoneinfo": [
            noon_utc.astimezone(paris).isoformat(),
            noon_utc.astimezone(new_york).isoformat(),
            winter.utcoffset().total_seconds() if winter.utcoffset() else None,
            "Europe/Paris" in zoneinfo.available_timezones(),
        ],
        "decimal": [
            str(money),
            str(money.quantize(decimal.Decimal("0.1"), rounding=decimal.ROUND_HALF_UP)),
        ],
        "re": re.sub(r"(\d+)", r"<\1>", "order 12 of 345"),
        "dataclasses": dataclasses.asdict(dataclasses.replace(Point(1, 2), y=5)),
        "collections": collections.Counter("abracadabra").most_common(2),
        "datetime": [
            (datetime.date(2024, 2, 28) + datetime.timedelta(days=1)).isoformat(),
            datetime.datetime.fromisoformat("2024-03-10T08:00:00+01:00").timestamp(),
        ],
        "json": json.dumps({"b": [1, 2.5, None], "a": "é"}, sort_keys=True),
        "math": [math.isqrt(10**12 + 7), math.comb(10, 3), round(math.log2(1024), 9)],
        "statistics": [statistics.median([3, 1, 4, 1, 5]), statistics.mean([1, 2, 3, 4])],
        "hashlib": hashlib.sha256(b"moose").hexdigest(),
        "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, "https://example.com/moose")),
        "base64": base64.b64encode("moose ✓".encode()).decode(),
    }
