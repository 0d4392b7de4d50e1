"""What a request to chdb_server.py carries and what it answers: URL parameters and
credentials, bodies read by Content-Length or chunked, HTTP content encodings (gzip,
deflate, lz4, zstd), ClickHouse's own compressed blocks (CityHash128 checksums, LZ4 or
ZSTD), multipart forms and the content type of a format."""

import base64
import re
import zlib

try:
    import lz4.block
    import lz4.frame
    import zstandard
    from clickhouse_cityhash.cityhash import CityHash128
except ImportError as missing:  # reported by chdb_server.main()
    MISSING_PACKAGE = missing
else:
    MISSING_PACKAGE = None

from chdb_errors import ch_error

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


def truthy(value):
    return value is not None and value.strip().lower() in ("1", "true", "yes", "on")


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

READ_CHUNK = 1 << 20
MAX_LINE = 65536


class BytesData:
    """Insert data that was read with the query, in the body after it."""

    def __init__(self, data):
        self.data = data

    def pieces(self):
        if self.data:
            yield self.data

    def read_all(self):
        return self.data


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
