"""HTTP sessions of chdb_server.py (`session_id`): a chDB connection kept between requests."""

import json
import threading
import time

from chdb_sql import quote_ident, quote_string

DEFAULT_SESSION_TIMEOUT = 60
MAX_SESSION_TIMEOUT = 3600


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
