"""Which browser origins may talk to the server, and the CORS headers they get.

The check covers every request that carries an ``Origin`` header: polling
GETs and POSTs, and WebSocket handshakes (browsers send ``Origin`` there too
but never enforce CORS on WebSocket, so the server must).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from realtime.engine.http import Request, Response
from realtime.exceptions import ConfigurationError

__all__ = ["CorsOrigins", "CorsPolicy"]

#: The values ``cors_allowed_origins`` accepts. None allows the server's own
#: origin only; ``"*"`` any origin; a string one origin; a list those origins
#: (``[]`` turns CORS handling off); a callable ``(origin)`` or
#: ``(origin, environ)`` returns True to allow.
CorsOrigins = (
    None | str | Sequence[str] | Callable[[str], bool] | Callable[[str, dict[str, Any]], bool]
)

_DEFAULT_PORTS = {"http": "80", "https": "443", "ws": "80", "wss": "443"}


def normalize_origin(origin: str) -> str:
    """``scheme://host[:port]`` in lower case, default ports dropped."""
    parts = urlsplit(origin.strip().rstrip("/"))
    if not parts.scheme or not parts.hostname:
        return origin.strip().lower()
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    port = str(parts.port) if parts.port is not None else ""
    if port and port != _DEFAULT_PORTS.get(parts.scheme.lower()):
        host = f"{host}:{port}"
    return f"{parts.scheme.lower()}://{host}"


def _first(value: str | None) -> str | None:
    if not value:
        return None
    return value.split(",")[0].strip() or None


def own_origins(request: Request) -> set[str]:
    """The origins this request would have if it came from a page of this server.

    Both the scheme and host the server saw and those a proxy forwarded
    (``X-Forwarded-Proto``, ``X-Forwarded-Host``) count.
    """
    environ = request.environ
    schemes = {str(environ.get("wsgi.url_scheme", "http"))}
    forwarded_proto = _first(request.header("X-Forwarded-Proto"))
    if forwarded_proto:
        schemes.add(forwarded_proto.lower())
    hosts = set()
    host = request.header("Host")
    if host:
        hosts.add(host)
    else:
        hosts.add(f"{environ.get('SERVER_NAME', '')}:{environ.get('SERVER_PORT', '')}")
    forwarded_host = _first(request.header("X-Forwarded-Host"))
    if forwarded_host:
        hosts.add(forwarded_host)
    return {normalize_origin(f"{scheme}://{h}") for scheme in schemes for h in hosts}


class CorsPolicy:
    """The origin check and CORS headers for one server.

    Args:
        allowed: the ``cors_allowed_origins`` option (see :data:`CorsOrigins`).
        credentials: send ``Access-Control-Allow-Credentials: true``.
    """

    def __init__(self, allowed: CorsOrigins, credentials: bool = True) -> None:
        self.credentials = credentials
        self.disabled = False
        self.allow_all = False
        self.same_origin_only = allowed is None
        self._origins: frozenset[str] = frozenset()
        self._predicate: Callable[[str, dict[str, Any]], bool] | None = None
        if allowed is None:
            return
        if isinstance(allowed, str):
            if allowed == "*":
                self.allow_all = True
            else:
                self._origins = frozenset({normalize_origin(allowed)})
        elif callable(allowed):
            self._predicate = _two_argument(allowed)
        elif isinstance(allowed, Sequence):
            if not allowed:
                self.disabled = True
            elif "*" in allowed:
                self.allow_all = True
            else:
                self._origins = frozenset(normalize_origin(o) for o in allowed)
        else:
            raise ConfigurationError(
                "cors_allowed_origins must be None, '*', an origin, a list of "
                f"origins or a callable, not {type(allowed).__name__}"
            )

    def describe(self) -> str:
        """The policy in words, for log lines."""
        if self.disabled:
            return "CORS handling disabled"
        if self.allow_all:
            return "all origins"
        if self._predicate is not None:
            return "origins accepted by the cors_allowed_origins callable"
        if self._origins:
            return "origins " + ", ".join(sorted(self._origins))
        return "same origin only"

    def allows(self, request: Request) -> bool:
        """True when the request's ``Origin`` (if any) may use the server."""
        origin = request.header("Origin")
        if origin is None or self.disabled or self.allow_all:
            return True
        normalized = normalize_origin(origin)
        if normalized in own_origins(request):
            return True
        if self._predicate is not None:
            return bool(self._predicate(origin, request.environ))
        return normalized in self._origins

    def headers(self, request: Request) -> list[tuple[str, str]]:
        """CORS response headers for an allowed request."""
        origin = request.header("Origin")
        if origin is None or self.disabled:
            return []
        headers = [("Access-Control-Allow-Origin", origin), ("Vary", "Origin")]
        if self.credentials:
            headers.append(("Access-Control-Allow-Credentials", "true"))
        return headers

    def preflight(self, request: Request) -> Response:
        """The answer to an ``OPTIONS`` preflight request."""
        if not self.allows(request):
            return Response("403 Forbidden")
        headers = self.headers(request)
        headers.append(("Access-Control-Allow-Methods", "OPTIONS, GET, POST"))
        requested = request.header("Access-Control-Request-Headers")
        if requested:
            headers.append(("Access-Control-Allow-Headers", requested))
        headers.append(("Access-Control-Max-Age", "86400"))
        return Response("204 No Content", b"", headers)


def _two_argument(
    fn: Callable[..., bool],
) -> Callable[[str, dict[str, Any]], bool]:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return lambda origin, environ: bool(fn(origin))
    positional = [
        p
        for p in params
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
    ]
    if len(positional) >= 2 or any(p.kind is p.VAR_POSITIONAL for p in positional):
        return lambda origin, environ: bool(fn(origin, environ))
    return lambda origin, environ: bool(fn(origin))
