"""Calling handlers with the arguments they take.

python-socketio lets a connect handler take ``(sid, environ, auth)`` or fewer
and a disconnect handler ``(sid, reason)`` or ``(sid)``; the server passes
what each handler's signature accepts.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable
from typing import Any

__all__ = ["fit_arguments"]

Handler = Callable[..., Any]

_ARITY_CACHE: dict[Any, int | None] = {}


def fit_arguments(
    handler: Handler, args: tuple[Any, ...], prefix: tuple[Any, ...] = ()
) -> tuple[Any, ...]:
    """Drop trailing arguments ``handler`` cannot take (for connect and disconnect).

    A connect handler may take ``(sid, environ, auth)`` or fewer; a disconnect
    handler ``(sid, reason)`` or ``(sid)``, as python-socketio allows.
    ``prefix`` are the arguments that go before these (the namespace, for
    handlers of many namespaces).
    """
    key = getattr(handler, "__func__", handler)
    try:
        limit = _ARITY_CACHE[key]
    except (KeyError, TypeError):
        limit = _positional_limit(handler)
        with contextlib.suppress(TypeError):
            _ARITY_CACHE[key] = limit
    if limit is not None:
        limit -= len(prefix)
    if limit is None or limit >= len(args):
        return args
    return args[: max(limit, 0)]


def _positional_limit(handler: Handler) -> int | None:
    try:
        parameters = inspect.signature(handler).parameters.values()
    except (TypeError, ValueError):
        return None
    count = 0
    for parameter in parameters:
        if parameter.kind is parameter.VAR_POSITIONAL:
            return None
        if parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
            count += 1
    return count
