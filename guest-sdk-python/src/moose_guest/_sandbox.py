"""What a component cannot do, made to fail like Python does: components have no network,
and the engine's socket layer fails in ways that name something else (a missing `idna`
codec). Name lookups and connections raise `PermissionError` saying so instead, an
ordinary exception that fails just the record. Imported by the component's entry before
the app; never outside a component."""

from __future__ import annotations

import socket
from typing import Any, NoReturn

_MESSAGE = "network access is not available in Moose components"


def _denied(*_args: Any, **_kwargs: Any) -> NoReturn:
    raise PermissionError(_MESSAGE)


socket.getaddrinfo = _denied  # type: ignore[assignment]
socket.create_connection = _denied  # type: ignore[assignment]
socket.socket.connect = _denied  # type: ignore[method-assign]
socket.socket.connect_ex = _denied  # type: ignore[method-assign]
