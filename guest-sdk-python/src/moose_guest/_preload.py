"""Standard library modules that other standard modules import only when a function
first needs them (`collections.Counter.most_common` imports `heapq`,
`datetime.strptime` imports `_strptime`, `hashlib` its built-in hashes, `bytes.decode`
its codec). A component cannot load modules at run time, only while it is
pre-initialised, so such a call would fail inside a component with
`ModuleNotFoundError` while it works natively. The entry imports this module during
pre-initialisation, which loads them and looks up the common codecs. Never imported
outside a component."""

from __future__ import annotations

import codecs
import importlib

MODULES = (
    "heapq",
    "bisect",
    "_strptime",
    "copy",
    "unicodedata",
    "random",
    "fractions",
    "statistics",
    "binascii",
    "_md5",
    "_sha1",
    "_sha2",
    "_sha256",
    "_sha512",
    "_sha3",
    "_blake2",
    "textwrap",
    "traceback",
    "linecache",
    "warnings",
    "locale",
    "calendar",
    "string",
    "typing",
)

CODECS = ("ascii", "latin-1", "utf-16", "utf-32", "cp1252", "idna", "base64", "hex")

for _name in MODULES:
    try:
        importlib.import_module(_name)
    except ImportError:
        pass  # not built into this interpreter (e.g. `_sha256` became `_sha2`)

for _name in CODECS:
    try:
        codecs.lookup(_name)
    except LookupError:
        pass
