"""The SQL chdb_server.py reads and writes: statements it recognizes, identifier and
string quoting."""

import re

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


def quote_ident(name):
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def quote_string(value):
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def unquote_ident(name):
    if name.startswith("`") and name.endswith("`"):
        return re.sub(r"\\(.)", r"\1", name[1:-1])
    return name
