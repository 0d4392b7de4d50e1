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
import json
import logging
import os
import signal
import sys
import threading
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from chdb_request import (
    HTTP_ENCODERS,
    MISSING_PACKAGE,
    Body,
    BytesData,
    Request,
    content_type_for,
    http_encoded,
    native_blocks,
    parse_multipart,
    truthy,
)
from chdb_errors import NATIVE_REFUSAL, ClickHouseError, ch_error, from_engine_error, native_exception, status_for
from chdb_sessions import DEFAULT_SESSION_TIMEOUT, MAX_SESSION_TIMEOUT, Session, session_state
from chdb_sql import (
    BODY_INSERT_RE,
    INSERT_FORMAT_RE,
    INSERT_TARGET_RE,
    INTO_OUTFILE_RE,
    OUTPUT_FORMAT_RE,
    SET_RE,
    SETTING_NAME_RE,
    VERSION_SUFFIX_RE,
    quote_ident,
    quote_string,
    unquote_ident,
)

EXIT_NO_CHDB = 3
EXIT_ENGINE = 4
EXIT_BIND = 5

LOG = logging.getLogger("chdb_server")

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
        message = f"chdb or a package this server needs is not installed for {sys.executable} ({error}): install engine-requirements.txt (beside this program) into it"
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
