#!/usr/bin/env python3
"""The ClickHouse HTTP interface over a persistent chDB database.

The moose host embeds this file, writes it to the app's state directory and runs it with
the Python that has `chdb-core` (see scripts/setup-olap.sh). Standard library and chdb only.

    chdb_server.py --data DIR [--host 127.0.0.1] [--port 0] [--port-file FILE] [--log FILE]
                   [--parent-pid PID] [--watch-stdin]

Serves `/ping`, `/replicas_status` and queries on `/` (GET and POST) like a ClickHouse
server: the query in the URL or the body, data for `INSERT ... FORMAT X` in the body
after a URL query or after the query in the body (binary formats included), `database`,
`default_format`, `query_id`, `param_<name>` bound to `{name:Type}`, any other URL
parameter applied as a setting of that query only, HTTP sessions (`session_id`,
`session_timeout`, `session_check`), request and response bodies compressed by HTTP
(`Content-Encoding` / `Accept-Encoding` with `enable_http_compression=1`: gzip, deflate,
lz4, zstd) or in ClickHouse's own blocks (`decompress=1` for the request, `compress=1`
for the response: LZ4 or ZSTD blocks with CityHash128 checksums), credentials by basic
auth, `X-ClickHouse-User` / `X-ClickHouse-Key` headers or `user` / `password`
parameters, and errors as ClickHouse reports them (`Code: N. DB::Exception: ...`,
`X-ClickHouse-Exception-Code`, the HTTP status ClickHouse maps the code to).

An insert into a table that materialized views read goes through a temporary table and
`INSERT ... SELECT`: chDB's streaming insert does not report a view's failure, and the
client must see it as ClickHouse reports it. A client of ClickHouse's native TCP protocol
(clickhouse-client) that connects to this port gets an exception packet at once saying
that only HTTP is served, instead of waiting for an HTTP request line.

Credentials are checked only when MOOSE_CHDB_PASSWORD is set in the environment (the user
is MOOSE_CHDB_USER, `default` when unset); otherwise any credentials are accepted.

The server stops on SIGTERM/SIGINT, when its parent process exits (polled with getppid),
and with --watch-stdin when its standard input reaches end of file: a host that dies,
even by SIGKILL, never leaves it holding the data directory. Each request runs on its own
chDB connection (a session of the one embedded engine), so requests run in parallel and
settings never leak from one request into another.

Exit codes: 0 stopped, 2 bad arguments, 3 chdb is not installed, 4 the engine could not
open the data directory, 5 the port could not be bound.

Besides chdb it needs the PyPI packages lz4, zstandard and clickhouse-cityhash (compressed
bodies); scripts/setup-olap.sh installs all of them.
"""

import argparse
import base64
import json
import logging
import os
import re
import signal
import sys
import threading
import time
import traceback
import uuid
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

try:
    import lz4.block
    import lz4.frame
    import zstandard
    from clickhouse_cityhash.cityhash import CityHash128
except ImportError as missing:  # reported by main()
    MISSING_PACKAGE = missing
else:
    MISSING_PACKAGE = None
from urllib.parse import parse_qsl, urlsplit

EXIT_NO_CHDB = 3
EXIT_ENGINE = 4
EXIT_BIND = 5

LOG = logging.getLogger("chdb_server")

# Request parameters of the HTTP interface that are not settings.
NOT_SETTINGS = {
    "query",
    "database",
    "default_format",
    "user",
    "password",
    "query_id",
    "session_id",
    "session_timeout",
    "session_check",
    "compress",
    "decompress",
    "buffer_size",
    "wait_end_of_query",
    "quota_key",
    "stacktrace",
    "role",
    "client_protocol_version",
}

# Exception codes this server raises itself, and the ones `status_for` maps.
CODE_NAMES = {
    36: "BAD_ARGUMENTS",
    40: "CHECKSUM_DOESNT_MATCH",
    48: "NOT_IMPLEMENTED",
    62: "SYNTAX_ERROR",
    89: "UNKNOWN_COMPRESSION_METHOD",
    115: "UNKNOWN_SETTING",
    164: "READONLY",
    194: "REQUIRED_PASSWORD",
    236: "ABORTED",
    354: "ZLIB_INFLATE_FAILED",
    358: "INTO_OUTFILE_NOT_ALLOWED",
    372: "SESSION_NOT_FOUND",
    373: "SESSION_IS_LOCKED",
    432: "UNKNOWN_CODEC",
    381: "HTTP_LENGTH_REQUIRED",
    516: "AUTHENTICATION_FAILED",
    1001: "STD_EXCEPTION",
}

# ClickHouse's mapping of exception codes to HTTP statuses
# (src/Server/HTTP/exceptionCodeToHTTPStatus.cpp); every other code is 500.
STATUS_BY_CODE = {}
for _code in (194,):  # REQUIRED_PASSWORD
    STATUS_BY_CODE[_code] = 401
# UNKNOWN_USER, WRONG_PASSWORD, ACCESS_DENIED, AUTHENTICATION_FAILED, SET_NON_GRANTED_ROLE
for _code in (192, 193, 497, 516, 512):
    STATUS_BY_CODE[_code] = 403
# BAD_ARGUMENTS, CANNOT_COMPILE_REGEXP, CANNOT_PARSE_TEXT, CANNOT_PARSE_ESCAPE_SEQUENCE,
# CANNOT_PARSE_QUOTED_STRING, CANNOT_PARSE_DATE, CANNOT_PARSE_DATETIME, CANNOT_PARSE_NUMBER,
# CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING, CANNOT_PARSE_IPV4, CANNOT_PARSE_IPV6,
# CANNOT_PARSE_INPUT_ASSERTION_FAILED, CANNOT_PARSE_UUID, DUPLICATE_COLUMN, ILLEGAL_COLUMN,
# UNKNOWN_ELEMENT_IN_AST, UNKNOWN_TYPE_OF_AST_NODE, THERE_IS_NO_COLUMN, TOO_DEEP_AST,
# TOO_BIG_AST, UNEXPECTED_AST_STRUCTURE, SYNTAX_ERROR, INCORRECT_DATA, TYPE_MISMATCH,
# VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
for _code in (36, 427, 6, 25, 26, 38, 41, 72, 441, 675, 676, 27, 376, 15, 44, 37, 123, 8, 167, 168, 223, 62, 117, 53, 321):
    STATUS_BY_CODE[_code] = 400
# UNKNOWN_TABLE, UNKNOWN_FUNCTION, UNKNOWN_IDENTIFIER, UNKNOWN_TYPE, UNKNOWN_STORAGE,
# UNKNOWN_DATABASE, UNKNOWN_SETTING, UNKNOWN_DIRECTION_OF_SORTING, UNKNOWN_AGGREGATE_FUNCTION,
# UNKNOWN_FORMAT, UNKNOWN_DATABASE_ENGINE, UNKNOWN_TYPE_OF_QUERY, UNKNOWN_ROLE
for _code in (60, 46, 47, 50, 56, 81, 115, 152, 63, 73, 336, 78, 511):
    STATUS_BY_CODE[_code] = 404
STATUS_BY_CODE.update({
    372: 404,  # SESSION_NOT_FOUND
    373: 423,  # SESSION_IS_LOCKED
    229: 413,  # QUERY_IS_TOO_LARGE
    48: 501,  # NOT_IMPLEMENTED
    209: 503,  # SOCKET_TIMEOUT
    76: 503,  # CANNOT_OPEN_FILE
    381: 411,  # HTTP_LENGTH_REQUIRED
    159: 408,  # TIMEOUT_EXCEEDED
    439: 503,  # CANNOT_SCHEDULE_TASK
    779: 415,  # UNSUPPORTED_MEDIA_TYPE
})

READ_CHUNK = 1 << 20
MAX_LINE = 65536
DEFAULT_SESSION_TIMEOUT = 60
MAX_SESSION_TIMEOUT = 3600

CODE_RE = re.compile(r"Code: (\d+)\. ")
SETTING_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
INSERT_FORMAT_RE = re.compile(
    r"^\s*(INSERT\s+INTO\s.*?)\s+FORMAT\s+([A-Za-z][A-Za-z0-9_]*)\s*;?\s*$",
    re.IGNORECASE | re.DOTALL,
)
# An INSERT at the start of a body, and where its data begins: after the format's name,
# spaces and one line break.
BODY_INSERT_RE = re.compile(
    rb"^\s*(INSERT\s+INTO\s.*?)\s+FORMAT\s+([A-Za-z][A-Za-z0-9_]*)[ \t]*(?:\r?\n)?",
    re.IGNORECASE | re.DOTALL,
)
IDENT = r"(?:`(?:[^`\\]|\\.)*`|[A-Za-z_][A-Za-z0-9_]*)"
# The table of `INSERT INTO [TABLE] [db.]table ...` and the rest of the statement.
INSERT_TARGET_RE = re.compile(
    rf"^\s*INSERT\s+INTO\s+(?:TABLE\s+)?(?!FUNCTION\b)({IDENT})(?:\s*\.\s*({IDENT}))?(.*)$",
    re.IGNORECASE | re.DOTALL,
)
OUTPUT_FORMAT_RE = re.compile(r"\bFORMAT\s+([A-Za-z][A-Za-z0-9_]*)", re.IGNORECASE)
INTO_OUTFILE_RE = re.compile(r"\bINTO\s+OUTFILE\b", re.IGNORECASE)
SET_RE = re.compile(r"^\s*SET\s", re.IGNORECASE)
VERSION_SUFFIX_RE = re.compile(r"\(version [0-9.]+[^)]*\)\s*$")


class ClickHouseError(Exception):
    """An exception as ClickHouse reports it: a code and the full `Code: N. ...` text."""

    def __init__(self, code, message, status=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def ch_error(code, text, status=None):
    """An error of this server, worded like ClickHouse's own."""
    name = CODE_NAMES.get(code, "UNKNOWN_EXCEPTION")
    return ClickHouseError(code, f"Code: {code}. DB::Exception: {text}. ({name})", status)


def from_engine_error(error):
    """The ClickHouse exception inside an error raised by chdb."""
    text = str(error)
    match = CODE_RE.search(text)
    if match:
        return ClickHouseError(int(match.group(1)), text[match.start():].strip())
    return ch_error(1001, text.strip() or type(error).__name__)


def status_for(code):
    return STATUS_BY_CODE.get(code, 500)


def quote_ident(name):
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def quote_string(value):
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def unquote_ident(name):
    if name.startswith("`") and name.endswith("`"):
        return re.sub(r"\\(.)", r"\1", name[1:-1])
    return name


class BytesData:
    """Insert data that was read with the query, in the body after it."""

    def __init__(self, data):
        self.data = data

    def pieces(self):
        if self.data:
            yield self.data

    def read_all(self):
        return self.data


class Session:
    """An HTTP session: one chDB connection kept between requests, used by one request at
    a time, closed once idle for its timeout."""

    def __init__(self, conn, timeout):
        self.conn = conn
        self.timeout = timeout
        self.lock = threading.Lock()
        self.last_used = time.monotonic()

    def expired(self, now):
        return not self.lock.locked() and now - self.last_used > self.timeout


def truthy(value):
    return value is not None and value.strip().lower() in ("1", "true", "yes", "on")


NATIVE_REFUSAL = (
    "Port {port} serves the ClickHouse HTTP interface of moose's embedded engine (chDB), not "
    "ClickHouse's native protocol: use an HTTP client here (curl, clickhouse-connect, "
    "or @clickhouse/client)"
)


def native_exception(message):
    """A native-protocol Exception packet (code 48, NOT_IMPLEMENTED) with `message`."""
    def varint(n):
        out = bytearray()
        while True:
            byte = n & 0x7F
            n >>= 7
            out.append(byte | (0x80 if n else 0))
            if not n:
                return bytes(out)

    def string(text):
        data = text.encode("utf-8")
        return varint(len(data)) + data

    return varint(2) + (48).to_bytes(4, "little") + string("DB::Exception") + string(message) + string("") + b"\x00"


def session_state(conn, settings):
    """The statements that bring back a session's current database and `settings`."""
    statements = [f"USE {quote_ident(conn.query('SELECT currentDatabase()', 'TabSeparated').bytes().decode().strip())}"]
    if settings:
        names = ", ".join(quote_string(name) for name in settings)
        rows = conn.query(f"SELECT name, value FROM system.settings WHERE name IN ({names})", "JSONEachRow").bytes()
        values = [json.loads(line) for line in rows.splitlines() if line.strip()]
        if values:
            statements.append("SET " + ", ".join(f"{v['name']} = {quote_string(v['value'])}" for v in values))
    return statements


def content_type_for(fmt):
    f = fmt.lower()
    if "eachrow" in f or f in ("ndjson", "jsonlines"):
        return "application/x-ndjson; charset=UTF-8"
    if f.startswith("json"):
        return "application/json; charset=UTF-8"
    if f.startswith("tabseparated") or f.startswith("tsv"):
        return "text/tab-separated-values; charset=UTF-8"
    if f.startswith("csv"):
        return "text/csv; charset=UTF-8; header=" + ("present" if "names" in f else "absent")
    if f.startswith("rowbinary") or f in ("native", "parquet", "arrow", "arrowstream", "orc", "avro", "msgpack", "protobuf"):
        return "application/octet-stream"
    return "text/plain; charset=UTF-8"


def parse_multipart(body, content_type):
    """Fields of a multipart/form-data body, as (name, value) pairs."""
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not match:
        raise ch_error(36, "multipart/form-data request has no boundary")
    delimiter = b"--" + match.group(1).encode("latin-1")
    fields = []
    for part in body.split(delimiter)[1:]:
        if part.startswith(b"--"):
            break
        part = part[2:] if part.startswith(b"\r\n") else part
        if part.endswith(b"\r\n"):
            part = part[:-2]
        head, sep, value = part.partition(b"\r\n\r\n")
        if not sep:
            raise ch_error(36, "malformed multipart/form-data part")
        disposition = ""
        for line in head.decode("latin-1").split("\r\n"):
            key, _, rest = line.partition(":")
            if key.strip().lower() == "content-disposition":
                disposition = rest
        name = re.search(r'\bname="([^"]*)"', disposition)
        if not name:
            continue
        if re.search(r'\bfilename="', disposition):
            raise ch_error(48, "external tables (file parts of a multipart request) are not supported by the embedded engine")
        fields.append((name.group(1), value.decode("utf-8", "replace")))
    return fields


def identity_decoded(pieces):
    yield from pieces


def zlib_decoded(pieces):
    # 32 + MAX_WBITS accepts both gzip and zlib framing.
    decoder = zlib.decompressobj(32 + zlib.MAX_WBITS)
    try:
        for raw in pieces:
            data = decoder.decompress(raw)
            if data:
                yield data
        tail = decoder.flush()
    except zlib.error as error:
        raise ch_error(354, f"inflate failed: {error}")
    if tail:
        yield tail


def lz4_decoded(pieces):
    decoder = lz4.frame.LZ4FrameDecompressor()
    try:
        for raw in pieces:
            while raw:
                data = decoder.decompress(raw)
                if data:
                    yield data
                raw = decoder.unused_data if decoder.eof else b""
                if decoder.eof:
                    decoder = lz4.frame.LZ4FrameDecompressor()
    except RuntimeError as error:
        raise ch_error(432, f"LZ4 frame decompression failed: {error}")


def zstd_decoded(pieces):
    decoder = zstandard.ZstdDecompressor().decompressobj()
    try:
        for raw in pieces:
            data = decoder.decompress(raw)
            if data:
                yield data
    except zstandard.ZstdError as error:
        raise ch_error(432, f"ZSTD decompression failed: {error}")


# Request `Content-Encoding`s and their decoders.
HTTP_DECODERS = {
    "": identity_decoded,
    "identity": identity_decoded,
    "gzip": zlib_decoded,
    "x-gzip": zlib_decoded,
    "deflate": zlib_decoded,
    "lz4": lz4_decoded,
    "zstd": zstd_decoded,
}

# ClickHouse's compressed block: checksum (16 bytes), method (1), compressed size with the
# 9 header bytes (4, LE), uncompressed size (4, LE), data.
BLOCK_CHECKSUM = 16
BLOCK_HEADER = 9
METHOD_NONE = 0x02
METHOD_LZ4 = 0x82
METHOD_ZSTD = 0x90
# Uncompressed bytes per block this server writes (ClickHouse's buffer size).
BLOCK_BYTES = 1 << 20


def block_checksum(header_and_data):
    """CityHash128 (v1.0.2) of a block, as the 16 bytes ClickHouse writes: the hash's two
    64-bit halves swapped, little-endian."""
    value = CityHash128(header_and_data)
    return ((value >> 64) | ((value & 0xFFFFFFFFFFFFFFFF) << 64)).to_bytes(16, "little")


def native_blocks_decoded(pieces):
    """The data of ClickHouse-compressed blocks arriving in `pieces`."""
    buffer = bytearray()
    for piece in pieces:
        buffer += piece
        while len(buffer) >= BLOCK_CHECKSUM + BLOCK_HEADER:
            method = buffer[BLOCK_CHECKSUM]
            compressed = int.from_bytes(buffer[BLOCK_CHECKSUM + 1:BLOCK_CHECKSUM + 5], "little")
            size = int.from_bytes(buffer[BLOCK_CHECKSUM + 5:BLOCK_CHECKSUM + 9], "little")
            if compressed < BLOCK_HEADER or size > 1 << 30:
                raise ch_error(432, f"malformed compressed block (compressed size {compressed}, size {size})")
            if len(buffer) < BLOCK_CHECKSUM + compressed:
                break
            block = bytes(buffer[BLOCK_CHECKSUM:BLOCK_CHECKSUM + compressed])
            if block_checksum(block) != bytes(buffer[:BLOCK_CHECKSUM]):
                raise ch_error(40, "Checksum doesn't match: corrupted data in a compressed block")
            del buffer[:BLOCK_CHECKSUM + compressed]
            data = block[BLOCK_HEADER:]
            if method == METHOD_LZ4:
                data = lz4.block.decompress(data, uncompressed_size=size)
            elif method == METHOD_ZSTD:
                data = zstandard.ZstdDecompressor().decompress(data, max_output_size=size)
            elif method != METHOD_NONE:
                raise ch_error(432, f"unknown compression method 0x{method:02x} of a compressed block")
            yield data
    if buffer:
        raise ch_error(432, f"the body ends inside a compressed block ({len(buffer)} bytes left)")


def native_blocks(payload):
    """`payload` as ClickHouse LZ4-compressed blocks (`compress=1`)."""
    out = bytearray()
    for start in range(0, len(payload), BLOCK_BYTES):
        chunk = payload[start:start + BLOCK_BYTES]
        data = lz4.block.compress(chunk, store_size=False)
        header = bytes([METHOD_LZ4]) + (BLOCK_HEADER + len(data)).to_bytes(4, "little") + len(chunk).to_bytes(4, "little")
        out += block_checksum(header + data) + header + data
    return bytes(out)


# Response encodings this server writes when asked (`enable_http_compression=1`).
def http_encoded(encoding, payload, level):
    if encoding == "lz4":
        return lz4.frame.compress(payload)
    if encoding == "zstd":
        return zstandard.ZstdCompressor(level=min(level, 19)).compress(payload)
    wbits = 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS
    compressor = zlib.compressobj(level, zlib.DEFLATED, wbits)
    return compressor.compress(payload) + compressor.flush()


HTTP_ENCODERS = ("gzip", "deflate", "lz4", "zstd")


class Body:
    """A request body read in pieces, decoded per Content-Encoding."""

    def __init__(self, handler):
        self.rfile = handler.rfile
        headers = handler.headers
        self.chunked = "chunked" in (headers.get("Transfer-Encoding") or "").lower()
        self.remaining = 0
        self.chunk_left = 0
        self.finished = False
        if not self.chunked:
            length = headers.get("Content-Length")
            if length is not None:
                try:
                    self.remaining = int(length)
                except ValueError:
                    raise ch_error(36, f"invalid Content-Length {length!r}", 400)
                if self.remaining < 0:
                    raise ch_error(36, f"invalid Content-Length {length!r}", 400)
            self.finished = self.remaining == 0
        encoding = (headers.get("Content-Encoding") or "").strip().lower()
        self.encoding = encoding
        self.supported_encoding = encoding in HTTP_DECODERS
        self.present = self.chunked or self.remaining > 0
        # ClickHouse's own compressed blocks inside (`decompress=1`).
        self.native_blocks = False

    def raw_pieces(self):
        """The body's bytes as they arrive. The position in the body (and in the current
        chunk) lives in the object, so an abandoned generator can be resumed by `drain`."""
        while not self.finished:
            if self.chunked:
                if self.chunk_left == 0:
                    line = self.rfile.readline(MAX_LINE)
                    if not line:
                        raise ch_error(36, "unexpected end of a chunked request body", 400)
                    try:
                        size = int(line.split(b";", 1)[0].strip(), 16)
                    except ValueError:
                        raise ch_error(36, "malformed chunk in a chunked request body", 400)
                    if size == 0:
                        while self.rfile.readline(MAX_LINE) not in (b"\r\n", b"\n", b""):
                            pass
                        self.finished = True
                        return
                    self.chunk_left = size
                data = self.rfile.read(min(self.chunk_left, READ_CHUNK))
                if not data:
                    raise ch_error(36, "unexpected end of a chunked request body", 400)
                self.chunk_left -= len(data)
                if self.chunk_left == 0:
                    self.rfile.readline(MAX_LINE)  # the CRLF that ends the chunk
                yield data
            else:
                if self.remaining == 0:
                    self.finished = True
                    return
                data = self.rfile.read(min(self.remaining, READ_CHUNK))
                if not data:
                    raise ch_error(36, "unexpected end of the request body", 400)
                self.remaining -= len(data)
                yield data

    def pieces(self):
        """Decoded pieces of the body: HTTP content encoding first, then ClickHouse's
        blocks when the request said `decompress=1`."""
        if not self.supported_encoding:
            raise ch_error(89, f"Content-Encoding {self.encoding!r} is not supported by the embedded engine (use {', '.join(sorted(e for e in HTTP_DECODERS if e))})")
        pieces = HTTP_DECODERS[self.encoding](self.raw_pieces())
        if self.native_blocks:
            pieces = native_blocks_decoded(pieces)
        yield from pieces

    def read_all(self):
        return b"".join(self.pieces())

    def drain(self):
        """Reads what is left of the body, so the connection can serve the next request."""
        try:
            for _ in self.raw_pieces():
                pass
        except Exception:
            return False
        return True


class Request:
    """What one HTTP request asks the engine to do."""

    def __init__(self, method, params, headers):
        self.method = method
        self.params = params
        self.headers = headers

    def param(self, name):
        return self.params.get(name)

    def settings(self):
        return [(k, v) for k, v in self.params.items() if k not in NOT_SETTINGS and not k.startswith("param_")]

    def query_params(self):
        return {k[len("param_"):]: v for k, v in self.params.items() if k.startswith("param_")}

    def credentials(self):
        user = self.headers.get("X-ClickHouse-User")
        password = self.headers.get("X-ClickHouse-Key")
        auth = self.headers.get("Authorization") or ""
        if user is None and auth.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(auth[6:].strip()).decode("utf-8")
            except Exception:
                raise ch_error(516, "Authentication failed: malformed basic authorization header", 403)
            user, _, password = decoded.partition(":")
        if user is None:
            user = self.params.get("user")
        if password is None:
            password = self.params.get("password")
        supplied = user is not None or password is not None
        return (user or "default"), (password or ""), supplied


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address, chdb_state, data_dir, version, credentials):
        super().__init__(address, Handler)
        self.chdb_state = chdb_state
        self.data_dir = data_dir
        self.version = version
        self.credentials = credentials
        self.stopping = threading.Event()
        self.in_flight = 0
        self.in_flight_lock = threading.Condition()
        self.sessions = {}
        self.sessions_lock = threading.Lock()
        # (database, table) -> (has materialized views reading it, when checked).
        self.views_read = {}

    def connect(self):
        return self.chdb_state.connect(self.data_dir)

    def session(self, session_id, timeout, check):
        """The session `session_id`, created unless `check` is set; its timeout is reset
        to `timeout` seconds when given."""
        with self.sessions_lock:
            session = self.sessions.get(session_id)
            if session is None:
                if check:
                    raise ch_error(372, f"Session {session_id} not found")
                session = Session(self.connect(), DEFAULT_SESSION_TIMEOUT)
                self.sessions[session_id] = session
            if timeout is not None:
                try:
                    seconds = int(timeout)
                except ValueError:
                    raise ch_error(36, f"Invalid session timeout: '{timeout}'")
                if not 0 < seconds <= MAX_SESSION_TIMEOUT:
                    raise ch_error(36, f"Session timeout {seconds} is not in 1..{MAX_SESSION_TIMEOUT} seconds")
                session.timeout = seconds
            return session

    def expire_sessions(self):
        now = time.monotonic()
        with self.sessions_lock:
            expired = [key for key, session in self.sessions.items() if session.expired(now)]
            closed = [self.sessions.pop(key) for key in expired]
        for session in closed:
            try:
                session.conn.close()
            except Exception:
                pass

    def has_views(self, conn, database, table):
        """Whether materialized views read `database.table` (cached for a second)."""
        key = (database, table)
        cached = self.views_read.get(key)
        if cached is not None and time.monotonic() - cached[1] < 1.0:
            return cached[0]
        rows = conn.query(
            "SELECT length(dependencies_table) FROM system.tables WHERE database = {db:String} AND name = {table:String}",
            "TabSeparated",
            params={"db": database, "table": table},
        ).bytes().split()
        found = bool(rows) and rows[0] != b"0"
        self.views_read[key] = (found, time.monotonic())
        return found

    def begin(self):
        with self.in_flight_lock:
            self.in_flight += 1

    def end(self):
        with self.in_flight_lock:
            self.in_flight -= 1
            self.in_flight_lock.notify_all()

    def wait_idle(self, timeout):
        deadline = time.monotonic() + timeout
        with self.in_flight_lock:
            while self.in_flight > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.in_flight_lock.wait(left)
        return True


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Idle keep-alive connections are closed after this many seconds.
    timeout = 60
    # Headers and body go out in separate writes: without TCP_NODELAY the body waits for
    # the client's delayed ACK (40 ms per request).
    disable_nagle_algorithm = True

    def version_string(self):
        return "chdb-moose"

    def log_message(self, format, *args):
        LOG.debug("%s %s", self.address_string(), format % args)

    def log_request(self, code="-", size="-"):
        pass  # `serve` logs every request itself

    def handle_one_request(self):
        # An HTTP request starts with a method in capitals; a client of the native protocol
        # starts with its Hello packet and would otherwise wait for an answer forever.
        try:
            first = self.rfile.peek(1)[:1]
        except (OSError, ValueError):
            self.close_connection = True
            return
        if first and not b"A" <= first <= b"Z":
            LOG.info("%s: refused a native-protocol client", self.address_string())
            try:
                self.wfile.write(native_exception(NATIVE_REFUSAL.format(port=self.server.server_address[1])))
            except OSError:
                pass
            self.close_connection = True
            return
        super().handle_one_request()

    def do_GET(self):
        self.serve("GET")

    def do_POST(self):
        self.serve("POST")

    def do_HEAD(self):
        self.serve("HEAD")

    def do_OPTIONS(self):
        self.send_response(204)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Allow-Headers", "origin, x-requested-with, x-clickhouse-format, x-clickhouse-user, x-clickhouse-key, Authorization")
        self.send_header("Access-Control-Allow-Methods", "POST, GET, OPTIONS")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def serve(self, method):
        server = self.server
        started = time.monotonic()
        split = urlsplit(self.path)
        params = dict(parse_qsl(split.query, keep_blank_values=True))
        query_id = params.get("query_id") or str(uuid.uuid4())
        request = Request(method, params, self.headers)
        self.query_text = params.get("query") or ""
        body = None
        summary = {}
        status = 200
        server.begin()
        try:
            body = Body(self)
            if server.stopping.is_set():
                raise ch_error(236, "the server is shutting down", 503)
            if split.path in ("/ping", "/replicas_status"):
                body.drain()
                self.reply(200, b"Ok.\n", "text/plain; charset=UTF-8", query_id, None, {})
                return
            if split.path != "/":
                body.drain()
                raise ClickHouseError(
                    0,
                    f"There is no handle {split.path}\n\nUse / or /ping for health checks.\nOr /replicas_status for more sophisticated health checks.",
                    404,
                )
            output, fmt, summary = self.run(request, body, query_id)
            body.drain()
            self.reply(200, output, content_type_for(fmt), query_id, fmt, summary, request)
        except ClickHouseError as error:
            status = self.fail(error, body, query_id)
        except Exception as error:  # a bug here, not a ClickHouse error: report it, keep serving
            LOG.error("request failed: %s", traceback.format_exc())
            status = self.fail(ch_error(1001, f"{type(error).__name__}: {error}"), body, query_id)
        finally:
            server.end()
            LOG.log(
                logging.INFO if status >= 400 else logging.DEBUG,
                "%s %s status=%d rows_written=%s ms=%.1f query_id=%s query=%r",
                method,
                split.path,
                status,
                summary.get("written_rows", "0"),
                (time.monotonic() - started) * 1000,
                query_id,
                self.query_text[:200],
            )

    def run(self, request, body, query_id):
        """Runs the request's query; returns the output, its format and the summary."""
        server = self.server
        method = request.method
        user, password, supplied = request.credentials()
        expected = server.credentials
        if expected is not None:
            expected_user, expected_password = expected
            if not supplied and expected_password:
                raise ch_error(194, f"{user}: Authentication failed: password is required")
            if user != expected_user or password != expected_password:
                raise ch_error(516, f"{user}: Authentication failed: password is incorrect, or there is no user with such name")

        content_type = (request.headers.get("Content-Type") or "").lower()
        if method == "POST" and content_type.startswith("multipart/form-data"):
            for name, value in parse_multipart(body.read_all(), request.headers.get("Content-Type")):
                request.params[name] = value
        body.native_blocks = truthy(request.param("decompress"))

        database = request.param("database") or request.headers.get("X-ClickHouse-Database")
        default_format = request.param("default_format") or request.headers.get("X-ClickHouse-Format") or "TabSeparated"
        settings = request.settings()
        readonly = None
        other_settings = []
        for name, value in settings:
            if not SETTING_NAME_RE.match(name):
                raise ch_error(115, f"Setting {name} is neither a builtin setting nor started with the prefix 'custom_' registered for user-defined settings")
            if name == "readonly":
                readonly = value
            else:
                other_settings.append((name, value))
        if method in ("GET", "HEAD") and (readonly is None or readonly.strip() in ("", "0")):
            readonly = "2"
        readonly_level = int(readonly) if readonly is not None and readonly.strip().isdigit() else 0

        url_query = request.param("query")
        data = None
        if url_query is None:
            if method in ("GET", "HEAD"):
                return b"Ok.\n", "TabSeparated", {}
            raw = body.read_all()
            insert = BODY_INSERT_RE.match(raw)
            if insert:
                # Binary formats follow the query: only the query is text.
                text = raw[:insert.end()].decode("utf-8", "replace")
                data = BytesData(raw[insert.end():])
            else:
                text = raw.decode("utf-8", "replace")
            self.query_text = text
        else:
            text = url_query
            if method == "POST" and body.present and not body.finished:
                data = body

        session = None
        if request.param("session_id"):
            session = server.session(request.param("session_id"), request.param("session_timeout"), truthy(request.param("session_check")))
            if not session.lock.acquire(blocking=False):
                raise ch_error(373, f"Session {request.param('session_id')} is locked by a concurrent client")
        conn = session.conn if session is not None else server.connect()
        restore = []
        try:
            if session is not None and (database or other_settings):
                # In a session, the request's own settings and database last for it only.
                restore = session_state(conn, [name for name, _ in other_settings])
            if database:
                conn.query(f"USE {quote_ident(database)}")
            if other_settings:
                conn.query("SET " + ", ".join(f"{name} = {quote_string(value)}" for name, value in other_settings))
            # A session keeps `readonly` once set; the check below enforces it instead.
            if readonly is not None and session is None:
                conn.query(f"SET readonly = {quote_string(readonly)}")

            info = conn._conn.classify_query(text)
            count = info["statement_count"]
            kind = info["query_class"].name
            if count == 0 and not text.strip():
                raise ch_error(62, "Empty query")
            if count > 1:
                raise ch_error(62, "Syntax error (Multi-statements are not allowed)")
            if kind == "CONTROL" and INTO_OUTFILE_RE.search(text):
                raise ch_error(358, "INTO OUTFILE is not allowed")
            if readonly_level >= 1 and kind not in ("READ_ONLY", "UNKNOWN"):
                if not (readonly_level == 2 and SET_RE.match(text)):
                    raise ch_error(164, f"{user}: Cannot execute query in readonly mode")

            insert = INSERT_FORMAT_RE.match(text) if data is not None else None
            if insert:
                return self.insert(conn, insert.group(1), insert.group(2), data)
            if data is not None:
                rest = data.read_all()
                if rest:
                    text = text + "\n" + rest.decode("utf-8", "replace")
            output_format = default_format
            if not text.lstrip()[:6].upper().startswith("INSERT"):
                formats = OUTPUT_FORMAT_RE.findall(text)
                if formats:
                    output_format = formats[-1]
            result = conn.query(text, default_format, params=request.query_params())
            summary = {
                "read_rows": str(result.storage_rows_read()),
                "read_bytes": str(result.storage_bytes_read()),
                "written_rows": str(result.rows_written()),
                "written_bytes": str(result.bytes_written()),
                "total_rows_to_read": "0",
                "result_rows": str(result.rows_read()),
                "result_bytes": str(result.bytes_read()),
                "elapsed_ns": str(int(result.elapsed() * 1e9)),
            }
            return result.bytes(), output_format, summary
        except ClickHouseError:
            raise
        except Exception as error:
            raise from_engine_error(error)
        finally:
            if session is None:
                try:
                    conn.close()
                except Exception:
                    pass
            else:
                try:
                    for statement in restore:
                        conn.query(statement)
                except Exception:
                    LOG.warning("restoring the settings of a session failed: %s", traceback.format_exc())
                session.last_used = time.monotonic()
                session.lock.release()

    def insert(self, conn, statement, fmt, data):
        """Streams the body into `statement` (an INSERT without its FORMAT clause); through
        a temporary table when materialized views read the target (see the module's
        documentation)."""
        target = INSERT_TARGET_RE.match(statement)
        if target:
            first, second, rest = target.groups()
            database, table = (unquote_ident(first), unquote_ident(second)) if second else (None, unquote_ident(first))
            if database is None:
                database = conn.query("SELECT currentDatabase()", "TabSeparated").bytes().decode().strip()
            if self.server.has_views(conn, database, table):
                return self.insert_through_views(conn, f"{quote_ident(database)}.{quote_ident(table)}", rest, fmt, data)
        return self.stream_insert(conn, statement, fmt, data)

    def insert_through_views(self, conn, table, rest, fmt, data):
        """Inserts into `table` (read by materialized views) so that a view's failure is
        reported: the data goes into a temporary copy of the table first, then
        `INSERT INTO table SELECT * FROM` the copy runs as a query."""
        started = time.monotonic()
        scratch = f"_moose_insert_{uuid.uuid4().hex}"
        conn.query(f"CREATE TEMPORARY TABLE {scratch} AS {table}")
        try:
            summary = self.stream_insert(conn, f"INSERT INTO {scratch} {rest}", fmt, data)[2]
            result = conn.query(f"INSERT INTO {table} SELECT * FROM {scratch}")
            summary["written_rows"] = str(result.rows_written())
            summary["written_bytes"] = str(result.bytes_written())
            summary["elapsed_ns"] = str(int((time.monotonic() - started) * 1e9))
            return b"", fmt, summary
        finally:
            try:
                conn.query(f"DROP TEMPORARY TABLE IF EXISTS {scratch}")
            except Exception:
                pass

    def stream_insert(self, conn, statement, fmt, data):
        """Streams the body into `statement` (an INSERT without its FORMAT clause)."""
        started = time.monotonic()
        inserter = conn.send_insert(statement, fmt)
        try:
            for piece in data.pieces():
                inserter.append(piece)
            result = inserter.finish()
        except BaseException:
            try:
                inserter.cancel()
            except Exception:
                pass
            raise
        summary = {
            "read_rows": "0",
            "read_bytes": "0",
            "written_rows": str(result.rows_written),
            "written_bytes": str(result.bytes_written),
            "total_rows_to_read": "0",
            "result_rows": str(result.rows_written),
            "result_bytes": str(result.bytes_written),
            "elapsed_ns": str(int((result.elapsed or (time.monotonic() - started)) * 1e9)),
        }
        return b"", fmt, summary

    def fail(self, error, body, query_id):
        # Read the rest of the body first: a client still sending it would otherwise see a
        # broken connection instead of this error.
        if body is None or not body.drain():
            self.close_connection = True
        message = error.message
        if error.code and not VERSION_SUFFIX_RE.search(message):
            message = f"{message} (version {self.server.version})"
        status = error.status or status_for(error.code)
        payload = (message.rstrip("\n") + "\n").encode("utf-8", "replace")
        try:
            self.send_response(status)
            if error.code:
                self.send_header("X-ClickHouse-Exception-Code", str(error.code))
            if status == 401:
                self.send_header("WWW-Authenticate", 'Basic realm="ClickHouse server HTTP API"')
            self.send_header("X-ClickHouse-Query-Id", query_id)
            self.send_header("X-ClickHouse-Server-Display-Name", "chdb")
            self.send_header("Content-Type", "text/plain; charset=UTF-8")
            self.send_header("Content-Length", str(len(payload)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
        except OSError:
            self.close_connection = True
        return status

    def reply(self, status, payload, content_type, query_id, fmt, summary, request=None):
        encoding = None
        if request is not None and truthy(request.param("compress")):
            payload = native_blocks(payload)
        elif request is not None and truthy(request.param("enable_http_compression")):
            accepted = [token.split(";")[0].strip().lower() for token in (self.headers.get("Accept-Encoding") or "").split(",")]
            encoding = next((e for e in accepted if e in HTTP_ENCODERS), None)
        if encoding is not None:
            level = request.param("http_zlib_compression_level")
            level = int(level) if level is not None and level.strip().isdigit() else 3
            level = max(1, min(level, 9))
            payload = http_encoded(encoding, payload, level)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if fmt is not None:
            self.send_header("X-ClickHouse-Format", fmt)
        self.send_header("X-ClickHouse-Query-Id", query_id)
        self.send_header("X-ClickHouse-Timezone", time.tzname[0] if time.tzname else "UTC")
        self.send_header("X-ClickHouse-Server-Display-Name", "chdb")
        if summary:
            self.send_header("X-ClickHouse-Summary", json.dumps(summary, separators=(",", ":")))
        if encoding is not None:
            self.send_header("Content-Encoding", encoding)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Keep-Alive", f"timeout={self.timeout}")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)


def expire_sessions(server):
    while not server.stopping.is_set():
        time.sleep(1)
        server.expire_sessions()


def watch_parent(parent, stop):
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            LOG.warning("parent process %d exited; stopping", parent)
            stop()
            return


def watch_stdin(stop):
    try:
        while sys.stdin.buffer.read(1024):
            pass
    except Exception:
        pass
    LOG.info("standard input closed; stopping")
    stop()


def main():
    parser = argparse.ArgumentParser(description="ClickHouse HTTP interface over chDB")
    parser.add_argument("--data", required=True, help="chDB data directory")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--port-file", help="written with the bound port once the server is ready")
    parser.add_argument("--log", help="log file (default: standard error)")
    parser.add_argument("--parent-pid", type=int, help="stop when this process is no longer the parent")
    parser.add_argument("--watch-stdin", action="store_true", help="stop when standard input is closed")
    parser.add_argument("--verbose", action="store_true", help="log every request, not only failed ones")
    args = parser.parse_args()

    handlers = [logging.FileHandler(args.log)] if args.log else [logging.StreamHandler(sys.stderr)]
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(levelname)s %(message)s", handlers=handlers)

    try:
        if MISSING_PACKAGE is not None:
            raise MISSING_PACKAGE
        import chdb
        import chdb.state as chdb_state
    except ImportError as error:
        message = f"chdb or a package this server needs is not installed for {sys.executable} ({error}); run scripts/setup.sh"
        LOG.error("%s", message)
        print(message, file=sys.stderr)
        return EXIT_NO_CHDB

    os.makedirs(args.data, exist_ok=True)
    try:
        root = chdb_state.connect(args.data)
        version = root.query("SELECT version()", "TabSeparated").bytes().decode().strip()
        if not hasattr(root._conn, "classify_query"):
            raise RuntimeError(f"chdb {getattr(chdb, '__version__', '?')} lacks classify_query; install chdb-core==26.9.0 with scripts/setup.sh")
    except Exception as error:
        message = f"the chDB engine could not open {args.data}: {error}"
        LOG.error("%s", message)
        print(message, file=sys.stderr)
        return EXIT_ENGINE

    credentials = None
    if "MOOSE_CHDB_PASSWORD" in os.environ:
        credentials = (os.environ.get("MOOSE_CHDB_USER") or "default", os.environ["MOOSE_CHDB_PASSWORD"])

    try:
        server = Server((args.host, args.port), chdb_state, args.data, version, credentials)
    except OSError as error:
        message = f"cannot listen on {args.host}:{args.port}: {error}"
        LOG.error("%s", message)
        print(message, file=sys.stderr)
        return EXIT_BIND
    port = server.server_address[1]

    stopping = threading.Lock()

    def stop():
        if stopping.acquire(blocking=False):
            server.stopping.set()
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, lambda *_: stop())
    signal.signal(signal.SIGINT, lambda *_: stop())
    parent = args.parent_pid if args.parent_pid else os.getppid()
    threading.Thread(target=watch_parent, args=(parent, stop), daemon=True).start()
    threading.Thread(target=expire_sessions, args=(server,), daemon=True).start()
    if args.watch_stdin:
        threading.Thread(target=watch_stdin, args=(stop,), daemon=True).start()

    if args.port_file:
        temporary = args.port_file + ".tmp"
        with open(temporary, "w") as f:
            f.write(f"{port}\n")
        os.replace(temporary, args.port_file)
    LOG.info("ClickHouse %s (chDB) serves http://%s:%d/ over %s", version, args.host, port, args.data)

    server.serve_forever(poll_interval=0.2)
    if not server.wait_idle(30):
        LOG.warning("stopping with queries still running")
    server.server_close()
    try:
        root.close()
    except Exception:
        pass
    LOG.info("stopped")
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    # The engine's background threads are not joined: the data is on disk already.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
