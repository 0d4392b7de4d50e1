"""An outside peer of the embedded engine: PyPI clickhouse-connect, with its defaults
(a session per client, LZ4 request bodies, compressed answers) and without compression.

Usage: python peer.py <url> <database>. Prints one JSON object with what it saw; exits
non-zero if a step fails. Run by host/tests/olap.rs (`outside_peer_clickhouse_connect`).
"""

import json
import sys
import urllib.parse
import urllib.request
from datetime import datetime

import clickhouse_connect
import lz4.block
import pandas as pd
from clickhouse_cityhash.cityhash import CityHash128

url, database = sys.argv[1:3]
parts = urllib.parse.urlsplit(url)
report = {}
for compress in (True, False):
    name = "compressed" if compress else "plain"
    client = clickhouse_connect.get_client(host=parts.hostname, port=parts.port, compress=compress)
    client.command(f"CREATE DATABASE IF NOT EXISTS {database}")
    client.command(f"DROP TABLE IF EXISTS {database}.events_{name}")
    client.command(
        f"CREATE TABLE {database}.events_{name} (id UInt32, name String, at DateTime, score Float64) "
        "ENGINE = MergeTree ORDER BY id"
    )
    client.insert(
        f"{database}.events_{name}",
        [[1, "one", datetime(2024, 5, 1, 12), 1.5], [4_000_000_000, "é€\xff", datetime(2024, 5, 2), -2.0]],
        column_names=["id", "name", "at", "score"],
    )
    client.insert_df(
        f"{database}.events_{name}",
        pd.DataFrame({"id": [7, 8], "name": ["df", "frame"], "at": pd.to_datetime(["2024-05-03", "2024-05-04"]), "score": [0.25, 0.5]}),
    )
    rows = client.query(
        f"SELECT id, name, toString(at), score FROM {database}.events_{name} WHERE id > {{min:UInt32}} ORDER BY id",
        parameters={"min": 1},
    ).result_rows
    frame = client.query_df(f"SELECT sum(score) AS total FROM {database}.events_{name}")
    # The client's session keeps settings and temporary tables between requests.
    client.command("SET max_threads = 3")
    client.command("CREATE TEMPORARY TABLE IF NOT EXISTS scratch (x UInt8)")
    client.insert("scratch", [[1], [2]], column_names=["x"])
    report[name] = {
        "rows": [list(r) for r in rows],
        "total": float(frame["total"][0]),
        "session_setting": client.query("SELECT getSetting('max_threads')").result_rows[0][0],
        "session_table": client.query("SELECT sum(x) FROM scratch").result_rows[0][0],
    }
    try:
        client.query("SELEC 1")
        report[name]["bad_query"] = "no error"
    except clickhouse_connect.driver.exceptions.DatabaseError as error:
        report[name]["bad_query"] = "SYNTAX_ERROR" in str(error)
    client.close()

# `compress=1`: the answer in ClickHouse's LZ4 blocks, each checked against its CityHash128.
query = urllib.parse.urlencode({"query": "SELECT number FROM numbers(300000) FORMAT TSV", "compress": "1"})
body = urllib.request.urlopen(f"{url}/?{query}").read()
data, blocks = b"", 0
while body:
    size = int.from_bytes(body[17:21], "little")
    raw = int.from_bytes(body[21:25], "little")
    block = body[16 : 16 + size]
    value = CityHash128(block)
    checksum = ((value >> 64) | ((value & (2**64 - 1)) << 64)).to_bytes(16, "little")
    assert checksum == body[:16], "checksum"
    assert block[0] == 0x82, "LZ4 block"
    data += lz4.block.decompress(block[9:], uncompressed_size=raw)
    body = body[16 + size :]
    blocks += 1
lines = data.split(b"\n")
report["compress_1"] = {"blocks": blocks > 1, "rows": len(lines) - 1, "last": lines[-2].decode()}
print(json.dumps(report))
