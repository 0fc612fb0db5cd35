"""POSTing one encrypted push message to a push service (RFC 8030 section 5).

The HTTP client is the standard library's ``http.client``, loaded through the
async mode so its sockets are cooperative (eventlet's green sockets, gevent's
in a monkey-patched process, plain sockets in threading mode); in gevent
without monkey patching, each exchange runs on a native thread of the hub's
pool instead. Each request has a socket timeout and, in the green modes, a
deadline over the whole exchange.
"""

from __future__ import annotations

import http.client
import logging
from dataclasses import dataclass
from types import ModuleType
from urllib.parse import urlsplit

from realtime.async_modes import AsyncMode
from realtime.exceptions import ConfigurationError

__all__ = ["Poster", "PushRequest", "PushResult"]

logger = logging.getLogger("realtime.push")

#: Of a push service's answer, what is read and kept for :attr:`PushResult.reason`.
_MAX_ANSWER = 2048


@dataclass(frozen=True)
class PushResult:
    """What one push service answered for one subscription.

    Attributes:
        endpoint: the subscription's endpoint.
        status: the HTTP status, or None when no answer came (network error,
            timeout).
        reason: why it failed (the status line and the start of the body, or
            the network error), or None when it was accepted.
        removed: the subscription was forgotten, as the push service said it
            is gone (404 or 410, RFC 8030 section 7.3).
    """

    endpoint: str
    status: int | None
    reason: str | None = None
    removed: bool = False

    @property
    def ok(self) -> bool:
        """The push service took the message (a 2xx answer, 201 in RFC 8030)."""
        return self.status is not None and 200 <= self.status < 300

    @property
    def gone(self) -> bool:
        """The subscription no longer exists (404 or 410)."""
        return self.status in {404, 410}


@dataclass(frozen=True)
class PushRequest:
    """One POST to a push resource.

    Attributes:
        endpoint: the push resource URL.
        body: the encrypted message.
        headers: TTL, Urgency, Content-Encoding, Authorization...
    """

    endpoint: str
    body: bytes
    headers: dict[str, str]


class Poster:
    """Sends :class:`PushRequest` objects with timeouts, in one async mode.

    Args:
        mode: the async mode whose sockets are used.
        timeout: seconds allowed for connecting, and for each read and write;
            in the green modes also for the whole exchange.
    """

    def __init__(self, mode: AsyncMode, timeout: float = 10.0) -> None:
        self._mode = mode
        self._timeout = timeout
        # Its own default TLS context, from the ssl module it was loaded with
        # (green under eventlet), verifying certificates as browsers do.
        try:
            self._http: ModuleType = mode.import_blocking("http.client")
            self._in_thread = False
        except ConfigurationError:
            # gevent without monkey patching: the blocking client, on a
            # native thread of the hub's pool.
            self._http = http.client
            self._in_thread = True

    def post(self, request: PushRequest) -> PushResult:
        """POST ``request``; a result in every case, never an exception for the network."""
        try:
            if self._in_thread:
                status, answer = self._mode.run_in_thread(self._exchange, request)
            else:
                with self._mode.deadline(self._timeout):
                    status, answer = self._exchange(request)
        except (OSError, TimeoutError, self._http.HTTPException) as exc:
            what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            logger.info("push to %s failed: %s", request.endpoint, what)
            return PushResult(request.endpoint, None, what)
        if 200 <= status < 300:
            return PushResult(request.endpoint, status)
        logger.info("push to %s refused: %s", request.endpoint, answer)
        return PushResult(request.endpoint, status, answer)

    def _exchange(self, request: PushRequest) -> tuple[int, str]:
        parts = urlsplit(request.endpoint)
        if parts.scheme == "https":
            connection = self._http.HTTPSConnection(
                parts.hostname, parts.port, timeout=self._timeout
            )
        else:
            connection = self._http.HTTPConnection(
                parts.hostname, parts.port, timeout=self._timeout
            )
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            connection.request("POST", target, body=request.body, headers=request.headers)
            response = connection.getresponse()
            body: bytes = response.read(_MAX_ANSWER)
            status: int = response.status
            text = body.decode("utf-8", "replace").strip()
            answer = f"{status} {response.reason}" + (f": {text}" if text else "")
            return status, answer
        finally:
            connection.close()
