"""The quickstart's enrich_order in plain CPython, as the native baseline of the component
benchmark (bench/src/bin/components.rs): NDJSON batches in, NDJSON batches out.

Usage: python3 enrich.py ORDERS.ndjson BATCH_SIZE  -> prints records/s
"""

import json
import math
import sys
import time
from datetime import datetime, timezone


def enrich(order):
    amount = order["amount"]
    if not amount > 0 or order["customer"].strip() == "":
        return None
    tier = "small" if amount < 100 else "medium" if amount < 1000 else "large"
    ts = datetime.fromisoformat(order["ts"]).astimezone(timezone.utc)
    cents = amount * 100
    return {
        "id": order["id"],
        "customer": order["customer"],
        "amount": amount,
        "amount_cents": int(math.copysign(math.floor(abs(cents) + 0.5), cents)),
        "tier": tier,
        "day": ts.date().isoformat(),
        "ts": ts.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def main():
    path, size = sys.argv[1], int(sys.argv[2])
    with open(path, encoding="utf-8") as f:
        lines = [line for line in f.read().split("\n") if line]
    batches = ["\n".join(lines[i : i + size]) for i in range(0, len(lines), size)]
    started = time.perf_counter()
    out = 0
    for batch in batches:
        output = []
        for line in batch.split("\n"):
            enriched = enrich(json.loads(line))
            if enriched is not None:
                output.append(json.dumps(enriched, separators=(",", ":")))
        out += len("\n".join(output))
    seconds = time.perf_counter() - started
    print(json.dumps({"records_per_s": len(lines) / seconds, "bytes": out}))


main()
