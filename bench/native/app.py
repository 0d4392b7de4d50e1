"""The Python quickstart app itself, with the Python SDK, run on plain CPython: the
second native baseline of the component benchmark (bench/src/bin/components.rs). Against
enrich.py it shows what the SDK's typed models cost; against the component, what running
in WebAssembly costs.

Usage: python3 app.py ORDERS.ndjson BATCH_SIZE  -> prints records/s
"""

import importlib.util
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
QUICKSTART = REPO / "examples" / "quickstart-python"
sys.path[:0] = [str(REPO / "guest-sdk-python" / "src"), str(QUICKSTART)]


def main():
    path, size = sys.argv[1], int(sys.argv[2])
    spec = importlib.util.spec_from_file_location("quickstart_app", QUICKSTART / "app.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    with open(path, encoding="utf-8") as f:
        lines = [line for line in f.read().split("\n") if line]
    batches = [("\n".join(lines[i : i + size]).encode(), len(lines[i : i + size])) for i in range(0, len(lines), size)]
    started = time.perf_counter()
    out = 0
    for data, count in batches:
        out += len(module.app.process("enrich_order", data, count).output.data)
    seconds = time.perf_counter() - started
    print(json.dumps({"records_per_s": len(lines) / seconds, "bytes": out}))


main()
