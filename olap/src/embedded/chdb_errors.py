"""Errors of chdb_server.py as ClickHouse reports them: codes, their HTTP statuses, the
`Code: N. DB::Exception: ...` text, and the exception packet a native-protocol client gets."""

import re

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

CODE_RE = re.compile(r"Code: (\d+)\. ")


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
