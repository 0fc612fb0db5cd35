"""The slice of HTTP the engine needs: a parsed request and WSGI responses."""

from __future__ import annotations

import enum
import gzip
import logging
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import orjson

from realtime.protocol.engineio import ErrorCode

__all__ = ["Refusal", "Request", "Response", "WarningThrottle", "error_response"]

StartResponse = Callable[..., Any]


def _environ_key(name: str) -> str:
    """The WSGI environ key of request header ``name`` (PEP 3333, CGI's names)."""
    key = name.upper().replace("-", "_")
    return key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + key


#: Environ keys of the header names the engine asks for on every request.
_ENVIRON_KEYS = {
    name: _environ_key(name)
    for name in (
        "Origin",
        "Host",
        "Upgrade",
        "Accept-Encoding",
        "X-Forwarded-Proto",
        "X-Forwarded-Host",
        "Access-Control-Request-Headers",
        "If-None-Match",
    )
}


def _parse_query(query: str) -> dict[str, str]:
    """The parameters of a query string, the first value of each.

    What ``urllib.parse.parse_qs(query, keep_blank_values=True)`` reads,
    first values only; a query with nothing to decode (no ``%``, no ``+``,
    as Engine.IO clients send theirs) is split here without it.
    """
    if "%" in query or "+" in query:
        parsed = parse_qs(query, keep_blank_values=True)
        return {key: values[0] for key, values in parsed.items()}
    params: dict[str, str] = {}
    for pair in query.split("&"):
        if pair:
            key, _, value = pair.partition("=")
            if key not in params:
                params[key] = value
    return params


class Request:
    """A WSGI request, read lazily.

    Args:
        environ: the WSGI environment.
    """

    __slots__ = ("_method", "_query", "environ")

    def __init__(self, environ: dict[str, Any]) -> None:
        self.environ = environ
        self._query: dict[str, str] | None = None
        self._method: str | None = None

    @property
    def method(self) -> str:
        method = self._method
        if method is None:
            method = self._method = str(self.environ.get("REQUEST_METHOD", "GET")).upper()
        return method

    @property
    def query(self) -> dict[str, str]:
        """Query parameters, first value of each."""
        query = self._query
        if query is None:
            query = self._query = _parse_query(self.environ.get("QUERY_STRING", ""))
        return query

    def header(self, name: str) -> str | None:
        """A request header by its HTTP name (``Origin``, ``Accept-Encoding``)."""
        key = _ENVIRON_KEYS.get(name) or _environ_key(name)
        value = self.environ.get(key)
        return None if value is None else str(value)

    @property
    def remote_addr(self) -> str:
        return str(self.environ.get("REMOTE_ADDR", "?"))

    @property
    def is_websocket(self) -> bool:
        """True for a WebSocket opening handshake."""
        upgrade = (self.header("Upgrade") or "").lower()
        return upgrade == "websocket"

    def content_length(self) -> int | None:
        """The declared body length; None when absent or not a number."""
        raw = self.environ.get("CONTENT_LENGTH")
        if raw in (None, ""):
            return None
        try:
            length = int(str(raw))
        except ValueError:
            return None
        return length if length >= 0 else None

    def read_body(self, limit: int) -> bytes | None:
        """Read the request body; None when it is longer than ``limit`` bytes.

        A body without Content-Length is read as the server hands it over
        (chunked transfer encoding), up to the same limit.
        """
        stream = self.environ["wsgi.input"]
        length = self.content_length()
        if length is not None:
            if length > limit:
                return None
            return _read_exactly(stream, length)
        data = stream.read(limit + 1)
        if len(data) > limit:
            return None
        return bytes(data)

    def describe(self) -> str:
        """A short description for log lines: method, path and client."""
        path = self.environ.get("PATH_INFO", "")
        return f"{self.method} {path} from {self.remote_addr}"


def _read_exactly(stream: Any, length: int) -> bytes:
    chunks: list[bytes] = []
    remaining = length
    while remaining > 0:
        chunk = stream.read(min(remaining, 65536))
        if not chunk:
            raise ConnectionError("request body ended early")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


class Refusal(enum.StrEnum):
    """Why the engine refused a request, as those who count refusals see it.

    The first six are the error codes of the response, named as Node's
    engine.io names them (:class:`~realtime.protocol.engineio.ErrorCode`);
    the others tell apart what the wire does not.
    """

    UNKNOWN_TRANSPORT = "UNKNOWN_TRANSPORT"
    UNKNOWN_SID = "UNKNOWN_SID"
    BAD_HANDSHAKE_METHOD = "BAD_HANDSHAKE_METHOD"
    BAD_REQUEST = "BAD_REQUEST"
    #: The application's connect handler refused the client.
    FORBIDDEN = "FORBIDDEN"
    UNSUPPORTED_PROTOCOL_VERSION = "UNSUPPORTED_PROTOCOL_VERSION"
    #: An origin CORS does not allow (the response is a ``FORBIDDEN``).
    BAD_ORIGIN = "BAD_ORIGIN"
    #: A body over ``max_http_buffer_size`` (``413``).
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    #: The connect handler raised (``500``).
    HANDLER_ERROR = "HANDLER_ERROR"


@dataclass
class Response:
    """A complete HTTP response, ready to hand to WSGI."""

    status: str
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    #: Why the request was refused; None for an answer that is no refusal.
    refusal: Refusal | None = None

    def __call__(self, start_response: StartResponse) -> Iterable[bytes]:
        headers = [*self.headers, ("Content-Length", str(len(self.body)))]
        start_response(self.status, headers)
        return [self.body]

    def compress(self, accept_encoding: str | None, threshold: int) -> None:
        """Compress the body with gzip or deflate when the client accepts it."""
        if len(self.body) < threshold or not accept_encoding:
            return
        accepted = {part.split(";")[0].strip().lower() for part in accept_encoding.split(",")}
        if "gzip" in accepted:
            self.body = gzip.compress(self.body, compresslevel=6, mtime=0)
            self.headers.append(("Content-Encoding", "gzip"))
        elif "deflate" in accepted:
            self.body = zlib.compress(self.body, 6)
            self.headers.append(("Content-Encoding", "deflate"))
        else:
            return
        self.headers.append(("Vary", "Accept-Encoding"))


TEXT_PLAIN = ("Content-Type", "text/plain; charset=UTF-8")
NO_CACHE = ("Cache-Control", "no-store")


def error_response(code: ErrorCode, message: str | None = None) -> Response:
    """The JSON error response of the reference server for ``code``.

    Body: ``{"code": <code>, "message": <message>}``, status 400 (403 for
    :attr:`ErrorCode.FORBIDDEN`).
    """
    body = orjson.dumps({"code": int(code), "message": message or code.message})
    status = "403 Forbidden" if code.http_status == 403 else "400 Bad Request"
    headers = [("Content-Type", "application/json"), NO_CACHE]
    return Response(status, body, headers, Refusal(code.name))


class WarningThrottle:
    """Logs a warning once per key, then at most once a minute with a count.

    A client that retries a bad request every second must not flood the log;
    its operator still needs to learn about it.
    """

    def __init__(self, logger: logging.Logger, interval: float = 60.0) -> None:
        self._logger = logger
        self._interval = interval
        self._seen: dict[str, tuple[float, int]] = {}

    def warning(self, key: str, message: str, *args: Any) -> None:
        now = time.monotonic()
        last, suppressed = self._seen.get(key, (-self._interval, 0))
        if now - last < self._interval:
            self._seen[key] = (last, suppressed + 1)
            return
        if len(self._seen) > 1024:
            self._seen.clear()
        self._seen[key] = (now, 0)
        if suppressed:
            message += " (%d similar warnings suppressed)"
            args = (*args, suppressed)
        self._logger.warning(message, *args)
