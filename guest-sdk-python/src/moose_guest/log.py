"""Structured logs, attributed to the component by the host.

`moose_guest.log.info("loaded %d rows", n)`; outside a component they go to stderr.
"""

from __future__ import annotations

import sys
from typing import Any

from ._host import wit_host

__all__ = ["trace", "debug", "info", "warn", "error"]


def _log(level: str, message: str, args: tuple[Any, ...]) -> None:
    text = message % args if args else message
    if wit_host is not None:
        wit_host.log(getattr(wit_host.LogLevel, level.upper()), text)
    else:
        print(f"[{level}] {text}", file=sys.stderr)


def trace(message: str, *args: Any) -> None:
    """Logs at trace level (`%`-style `args`)."""
    _log("trace", message, args)


def debug(message: str, *args: Any) -> None:
    """Logs at debug level."""
    _log("debug", message, args)


def info(message: str, *args: Any) -> None:
    """Logs at info level."""
    _log("info", message, args)


def warn(message: str, *args: Any) -> None:
    """Logs at warn level."""
    _log("warn", message, args)


def error(message: str, *args: Any) -> None:
    """Logs at error level."""
    _log("error", message, args)
