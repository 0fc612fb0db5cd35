"""POSTing one encrypted push message to a push service (RFC 8030 section 5).

The HTTP client is the standard library's ``http.client``, loaded through the
async mode so its sockets are cooperative (eventlet's green sockets, gevent's
in a monkey-patched process, plain sockets in threading mode); in gevent
without monkey patching, each exchange runs on a native thread of the hub's
pool instead. Each request has a socket timeout and, in the green modes, a
deadline over the whole exchange.

Connections are kept alive and reused, per push service origin
(:class:`ConnectionPool`): a message to many subscriptions of one service
opens one TCP (and TLS) connection per concurrent request, not one per
message. A push service that answers 429 or 503 is asked again after the
``Retry-After`` it sent (RFC 8030 section 8.4, RFC 9110 section 10.2.3), a
bounded number of times and never after waiting longer than a cap.
"""

from __future__ import annotations

import email.utils
import http.client
import logging
import queue
import time
from dataclasses import dataclass, replace
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

from realtime.async_modes import AsyncMode, short_lock
from realtime.exceptions import ConfigurationError

__all__ = ["ConnectionPool", "Poster", "PushRequest", "PushResult", "parse_retry_after"]

logger = logging.getLogger("realtime.push")

#: Of a push service's answer, what is read and kept for :attr:`PushResult.reason`.
_MAX_ANSWER = 2048
#: The answers that ask to try again later (RFC 8030 section 8.4; RFC 9110).
RETRY_STATUSES = frozenset({429, 503})
#: Seconds before a retry when the answer said nothing of when (then doubled).
_FIRST_BACKOFF = 1.0
#: Idle connections kept per push service origin.
MAX_IDLE_PER_ORIGIN = 8
#: Connections open at once per push service origin, by default: more
#: concurrent pushes to one service wait for one of them.
MAX_CONNECTIONS_PER_ORIGIN = 8
#: Seconds an idle connection is kept: services close theirs after a while,
#: and a connection reused after that fails (it is then retried on a new one).
MAX_IDLE_SECONDS = 30.0


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
        attempts: how many times it was sent (more than one after a 429 or
            503 answer that was retried); ``status`` is the last answer's.
        retry_after: seconds the push service last asked to wait before
            trying again (its ``Retry-After``), when it did.
    """

    endpoint: str
    status: int | None
    reason: str | None = None
    removed: bool = False
    attempts: int = 1
    retry_after: float | None = None

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


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from now a ``Retry-After`` value asks for (RFC 9110 section 10.2.3).

    It is either whole seconds or an HTTP date; None when absent or neither.
    """
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class ConnectionPool:
    """Idle keep-alive connections, per push service origin, safe across tasks.

    A connection is taken out for one exchange and given back once its
    answer was read to the end and the service did not close it; at most
    :data:`MAX_IDLE_PER_ORIGIN` wait per origin, none longer than
    :data:`MAX_IDLE_SECONDS`. The lock guards only the dictionary (no I/O
    under it), so it never holds up a green thread's hub, and it is a real
    lock for the native threads gevent's unpatched mode sends on.

    Args:
        http: the ``http.client`` module whose connections are made.
        timeout: each connection's socket timeout.
    """

    def __init__(self, http: ModuleType, timeout: float) -> None:
        self._http = http
        self._timeout = timeout
        self._lock = short_lock()
        self._idle: dict[tuple[str, str, int | None], list[tuple[float, Any]]] = {}
        #: Connections made so far (a test reads it).
        self.opened = 0

    def take(self, scheme: str, host: str, port: int | None) -> tuple[Any, bool]:
        """A connection to the origin, and whether it was used before."""
        key, now, stale = (scheme, host, port), time.monotonic(), []
        with self._lock:
            idle = self._idle.get(key, [])
            while idle:
                since, connection = idle.pop()
                if now - since < MAX_IDLE_SECONDS:
                    break
                stale.append(connection)
            else:
                connection = None
            self.opened += connection is None
        for old in stale:
            old.close()
        if connection is not None:
            return connection, True
        return self._new(scheme, host, port), False

    def take_new(self, scheme: str, host: str, port: int | None) -> Any:
        """A new connection to the origin (the one taken was closed by the service)."""
        with self._lock:
            self.opened += 1
        return self._new(scheme, host, port)

    def _new(self, scheme: str, host: str, port: int | None) -> Any:
        kind = self._http.HTTPSConnection if scheme == "https" else self._http.HTTPConnection
        return kind(host, port, timeout=self._timeout)

    def give_back(self, scheme: str, host: str, port: int | None, connection: Any) -> None:
        """Keep ``connection`` for the next exchange with its origin (or close it)."""
        with self._lock:
            idle = self._idle.setdefault((scheme, host, port), [])
            if len(idle) < MAX_IDLE_PER_ORIGIN:
                idle.append((time.monotonic(), connection))
                return
        connection.close()

    def close(self) -> None:
        """Close every idle connection."""
        with self._lock:
            idle, self._idle = self._idle, {}
        for connections in idle.values():
            for _, connection in connections:
                connection.close()


class Poster:
    """Sends :class:`PushRequest` objects with timeouts, retries and kept-alive
    connections, in one async mode.

    Args:
        mode: the async mode whose sockets are used.
        timeout: seconds allowed for connecting, and for each read and write;
            in the green modes also for each whole exchange.
        retries: how many times a 429 or 503 answer is retried.
        max_retry_wait: the longest wait before a retry, in seconds: a
            service that asks for longer is not retried (its answer is the
            result, with its ``retry_after``).
        max_connections: connections open at once to one push service; a
            push beyond waits (up to ``timeout``) for one to be free.
    """

    def __init__(
        self,
        mode: AsyncMode,
        timeout: float = 10.0,
        retries: int = 2,
        max_retry_wait: float = 10.0,
        max_connections: int = MAX_CONNECTIONS_PER_ORIGIN,
    ) -> None:
        if retries < 0 or max_retry_wait < 0 or max_connections < 1:
            raise ConfigurationError(
                "retries and max_retry_wait cannot be negative, max_connections must be 1 or more"
            )
        self._mode = mode
        self._max_connections = max_connections
        # Per origin, a queue of tokens, one per connection that may be open:
        # waiting for one is the async mode's, so it holds up no other task.
        self._slots: dict[str, Any] = {}
        self._slots_lock = short_lock()
        self._timeout = timeout
        self._retries = retries
        self._max_retry_wait = max_retry_wait
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
        self.pool = ConnectionPool(self._http, timeout)

    def post(self, request: PushRequest) -> PushResult:
        """POST ``request``, again after a 429 or 503 as the service asks (bounded).

        Waiting between attempts is a sleep of the async mode: other tasks
        run meanwhile. A result in every case, never an exception for the
        network.
        """
        attempt = 1
        while True:
            result = self._post_once(request)
            if result.status not in RETRY_STATUSES or attempt > self._retries:
                return replace(result, attempts=attempt)
            wait = result.retry_after
            if wait is None:
                wait = min(_FIRST_BACKOFF * 2 ** (attempt - 1), self._max_retry_wait)
            if wait > self._max_retry_wait:
                logger.info(
                    "push to %s: the service asks to wait %.0f s, over the %.0f s allowed",
                    request.endpoint,
                    wait,
                    self._max_retry_wait,
                )
                return replace(result, attempts=attempt)
            logger.info("push to %s: %s; again in %.1f s", request.endpoint, result.status, wait)
            self._mode.sleep(wait)
            attempt += 1

    def close(self) -> None:
        """Close the idle connections."""
        self.pool.close()

    def _slots_of(self, origin: str) -> Any:
        with self._slots_lock:
            slots = self._slots.get(origin)
            if slots is None:
                slots = self._slots[origin] = self._mode.queue()
                for _ in range(self._max_connections):
                    slots.put(None)
        return slots

    def _post_once(self, request: PushRequest) -> PushResult:
        parts = urlsplit(request.endpoint)
        slots = self._slots_of(f"{parts.scheme}://{parts.netloc}")
        try:
            slots.get(self._timeout)
        except queue.Empty:
            what = f"TimeoutError: no connection to {parts.netloc} free in {self._timeout} s"
            logger.info("push to %s failed: %s", request.endpoint, what)
            return PushResult(request.endpoint, None, what)
        try:
            return self._post_with_slot(request)
        finally:
            slots.put(None)

    def _post_with_slot(self, request: PushRequest) -> PushResult:
        try:
            if self._in_thread:
                status, answer, retry_after = self._mode.run_in_thread(self._exchange, request)
            else:
                with self._mode.deadline(self._timeout):
                    status, answer, retry_after = self._exchange(request)
        except (OSError, TimeoutError, self._http.HTTPException) as exc:
            what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            logger.info("push to %s failed: %s", request.endpoint, what)
            return PushResult(request.endpoint, None, what)
        if 200 <= status < 300:
            return PushResult(request.endpoint, status)
        logger.info("push to %s refused: %s", request.endpoint, answer)
        return PushResult(request.endpoint, status, answer, retry_after=retry_after)

    def _exchange(self, request: PushRequest) -> tuple[int, str, float | None]:
        parts = urlsplit(request.endpoint)
        scheme, host, port = parts.scheme, parts.hostname or "", parts.port
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection, reused = self.pool.take(scheme, host, port)
        try:
            response = self._request(connection, target, request)
        except (ConnectionError, self._http.BadStatusLine):
            connection.close()
            if not reused:
                raise
            # The service closed the idle connection before the request
            # reached it (RemoteDisconnected is a BadStatusLine): once more,
            # on a new connection.
            connection = self.pool.take_new(scheme, host, port)
            try:
                response = self._request(connection, target, request)
            except BaseException:
                connection.close()
                raise
        except BaseException:
            connection.close()
            raise
        try:
            body: bytes = response.read(_MAX_ANSWER)
            status: int = response.status
            retry_after = parse_retry_after(response.getheader("Retry-After"))
        except BaseException:
            connection.close()
            raise
        # Reusable once its answer was read whole and neither side closes it
        # (http.client lets go of the socket of a "Connection: close" answer).
        if response.isclosed() and not response.will_close and connection.sock is not None:
            self.pool.give_back(scheme, host, port, connection)
        else:
            connection.close()
        text = body.decode("utf-8", "replace").strip()
        answer = f"{status} {response.reason}" + (f": {text}" if text else "")
        return status, answer, retry_after

    @staticmethod
    def _request(connection: Any, target: str, request: PushRequest) -> Any:
        connection.request("POST", target, body=request.body, headers=request.headers)
        return connection.getresponse()
