"""Server-Sent Events and HTTP streaming: downstream as one long response.

Both rungs of the transport ladder below WebSocket work alike: a session
moves to them from long polling with the same probe-and-switch as WebSocket,
packets flow down one long-lived HTTP response, and come up in POSTs
(exactly as with polling). They differ only in framing:

* ``sse``: a ``text/event-stream`` read by the browser's ``EventSource``;
  each packet is one event whose data is the packet in polling form (binary
  as ``b`` + base64). A packet holding a line break goes as an event of type
  ``json`` whose data is the packet as a JSON string, since SSE would fold
  the break.
* ``streaming``: a chunked ``text/plain`` response read with ``fetch``
  streams; each packet in polling form followed by the record separator.
  A record of only whitespace is padding, ignored by the client.

Both start with 2 KB of padding, so that proxies and browsers that hold the
first bytes of a response let the stream through, and send
``X-Accel-Buffering: no`` and ``Cache-Control: no-cache, no-transform``.
They are advertised only to clients that ask for the ladder (``ext=ladder``
in the handshake): a stock Engine.IO client sees ``["websocket"]`` alone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Sequence
from typing import TYPE_CHECKING, ClassVar

import orjson

from realtime.engine.http import Request, Response, error_response
from realtime.engine.session import DisconnectReason, Session
from realtime.engine.slow_client import DEFAULT as DEFAULT_SLOW_CLIENT
from realtime.engine.slow_client import DropLog, SlowClient
from realtime.engine.transports.base import StartResponse, Transport, WSGIResult
from realtime.engine.transports.upstream import receive_post
from realtime.protocol.engineio import PROBE, RECORD_SEPARATOR, ErrorCode, Packet, PacketType

if TYPE_CHECKING:
    from realtime.async_modes import AsyncMode
    from realtime.async_modes.base import HangupWatch
    from realtime.engine.forwarding import Forwarder
    from realtime.engine.outgoing import Outgoing

__all__ = ["SseTransport", "StreamChannel", "StreamTransport", "StreamingTransport"]

#: Bytes waiting past which the channel counts as backed up (volatile
#: messages are dropped).
BACKED_UP = 64 * 1024
_PADDING = 2048
_NO_TRANSFORM = ("Cache-Control", "no-cache, no-transform")
_NO_BUFFERING = ("X-Accel-Buffering", "no")

Framer = Callable[[Sequence[Packet]], bytes]


class StreamChannel:
    """A push channel whose bytes leave as the body of one long response.

    The session writes to it without blocking; :meth:`body` is the response
    iterator the WSGI server drains, one chunk per batch of packets.

    Args:
        name: the transport's name.
        mode: the async mode (lock and event).
        framer: turns packets into this transport's bytes.
        log: where to report a client that stops reading.
        label: who the client is, for that report.
        slow_client: what may wait for it, and what happens past that.
    """

    def __init__(
        self,
        name: str,
        mode: AsyncMode,
        framer: Framer,
        log: logging.Logger,
        label: str,
        slow_client: SlowClient = DEFAULT_SLOW_CLIENT,
    ) -> None:
        self.name = name
        self._framer = framer
        self._lock = mode.lock()
        self._ready = mode.event()
        self._chunks: list[bytes] = []
        self._pending = 0
        self._closed = False
        self._log = log
        self.label = label
        self._slow = slow_client
        self._drops: DropLog | None = None

    @property
    def writable(self) -> bool:
        """Open, with less than :data:`BACKED_UP` bytes waiting for the
        response to take them (volatile messages are dropped otherwise)."""
        return not self._closed and self._pending < BACKED_UP

    def write_packets(self, packets: Sequence[Packet]) -> None:
        self._put(self._framer(packets))

    def write_outgoing(self, outgoing: Outgoing) -> None:
        self._put(outgoing.wire(self.name, self._framer))

    def _put(self, data: bytes) -> None:
        with self._lock:
            if self._closed:
                return
            slow = self._slow
            if self._pending + len(data) > slow.limit and slow.policy == "drop" and self._chunks:
                # (A chunk alone over the limit still goes: nothing waits before it.)
                if self._drops is None:
                    self._drops = DropLog(self._log, slow.limit)
                self._drops.dropped(self.label, self._pending)
                return
            self._chunks.append(data)
            self._pending += len(data)
            if self._pending > slow.limit and slow.policy != "drop":
                slow.disconnect_report(self._log, self.label, self._pending)
                self._closed = True
                self._chunks.clear()
            self._ready.set()

    def close(self, graceful: bool) -> None:
        """End the response, after what is queued when ``graceful``."""
        with self._lock:
            self._closed = True
            if not graceful:
                self._chunks.clear()
            self._ready.set()

    def body(self, prelude: bytes) -> Generator[bytes, None, None]:
        """The response body: ``prelude``, then packets as they are written."""
        yield prelude
        while True:
            with self._lock:
                data = b"".join(self._chunks)
                self._chunks.clear()
                self._pending = 0
                closed = self._closed
                if not data and not closed:
                    self._ready.clear()
            if data:
                yield data
            elif closed:
                return
            else:
                self._ready.wait()


def sse_frame(packets: Sequence[Packet]) -> bytes:
    """Packets as Server-Sent Events (see the module docstring)."""
    events: list[bytes] = []
    for packet in packets:
        text = packet.encode_text()
        if "\n" in text or "\r" in text:
            events.append(b"event: json\ndata: " + orjson.dumps(text) + b"\n\n")
        else:
            events.append(b"data: " + text.encode("utf-8") + b"\n\n")
    return b"".join(events)


def stream_frame(packets: Sequence[Packet]) -> bytes:
    """Packets as records of an HTTP stream (see the module docstring)."""
    return "".join([p.encode_text() + RECORD_SEPARATOR for p in packets]).encode("utf-8")


class StreamTransport(Transport):
    """What SSE and HTTP streaming share: a long GET down, POSTs up."""

    accepts_upgrades: ClassVar[bool] = True
    content_type: ClassVar[str]
    prelude: ClassVar[bytes]
    framer: ClassVar[Framer]

    def handshake(self, request: Request, start_response: StartResponse) -> WSGIResult:
        return self.host.reject(
            request,
            None,
            DisconnectReason.TRANSPORT_ERROR,
            f"a session opens on polling or websocket, then may move to {self.name}",
            error_response(ErrorCode.BAD_REQUEST),
        )(start_response)

    def handle(
        self, request: Request, session: Session, start_response: StartResponse
    ) -> WSGIResult:
        if request.method == "POST":
            return receive_post(self.host, request, session)(start_response)
        return self.host.reject(
            request,
            None,
            DisconnectReason.TRANSPORT_ERROR,
            f"session {session.sid} already has its {self.name} stream",
            error_response(ErrorCode.BAD_REQUEST),
        )(start_response)

    def upgrade(
        self, request: Request, session: Session, start_response: StartResponse
    ) -> WSGIResult:
        if request.method == "POST":
            return self._probe_post(request, session)(start_response)
        if request.method != "GET":
            return self.host.refuse(request, error_response(ErrorCode.BAD_REQUEST))(start_response)
        host = self.host
        channel = StreamChannel(
            self.name,
            host.mode,
            type(self).framer,
            host.logger,
            f"session {session.sid} ({self.name} from {request.remote_addr})",
            host.options.slow_client,
        )
        pending = session.probe_channel
        if pending is not None and pending.name != self.name:
            # Clients probe one rung at a time and try the next only once the
            # last failed: this probe is one the client gave up without the
            # server noticing (a WebSocket a middlebox keeps open), and must
            # not block the ladder until upgrade_timeout.
            host.logger.info(
                "session %s: %s probe superseded by %s", session.sid, pending.name, self.name
            )
            session.abandon_probe(pending)
        if not session.begin_probe(channel, host.options.upgrade_timeout):
            return host.reject(
                request,
                None,
                DisconnectReason.TRANSPORT_ERROR,
                f"session {session.sid} cannot move to {self.name} now",
                error_response(ErrorCode.BAD_REQUEST),
            )(start_response)
        request.environ["eventlet.minimum_write_chunk_size"] = 0
        start_response("200 OK", self._headers(request))
        return _Stream(channel, session, self.prelude, self._watch_hangup(request, channel))

    def relay(
        self, request: Request, sid: str, forwarder: Forwarder, start_response: StartResponse
    ) -> WSGIResult:
        host = self.host
        channel = StreamChannel(
            self.name,
            host.mode,
            type(self).framer,
            host.logger,
            f"session {sid} ({self.name} relayed from {request.remote_addr})",
            host.options.slow_client,
        )
        cid = forwarder.open_relay(sid, self.name, channel)
        if not isinstance(cid, int):
            return host.reject(
                request,
                None,
                DisconnectReason.TRANSPORT_ERROR,
                f"the process owning session {sid} is gone or refused the upgrade",
                error_response(ErrorCode.BAD_REQUEST),
            )(start_response)
        request.environ["eventlet.minimum_write_chunk_size"] = 0
        start_response("200 OK", self._headers(request))
        watch = self._watch_hangup(request, channel)
        return _RelayedStream(channel, self.prelude, lambda: forwarder.relay_ended(sid, cid), watch)

    def _watch_hangup(self, request: Request, channel: StreamChannel) -> HangupWatch | None:
        """End the stream as soon as the client hangs up, not at the next write."""
        mode = self.host.mode
        sock = mode.request_socket(request.environ)
        if sock is None:
            return None
        return mode.watch_hangup(sock, lambda: channel.close(graceful=False))

    def _headers(self, request: Request) -> list[tuple[str, str]]:
        return [
            ("Content-Type", self.content_type),
            _NO_TRANSFORM,
            _NO_BUFFERING,
            ("X-Content-Type-Options", "nosniff"),
            *self.host.response_headers(request),
        ]

    def _probe_post(self, request: Request, session: Session) -> Response:
        channel = session.probe_channel
        if channel is None or channel.name != self.name:
            return self.host.reject(
                request,
                None,
                DisconnectReason.TRANSPORT_ERROR,
                f"no {self.name} stream is being probed for session {session.sid}",
                error_response(ErrorCode.BAD_REQUEST),
            )

        def deliver(packet: Packet) -> None:
            if packet.type is PacketType.PING and packet.data == PROBE:
                session.probe_ping(channel)
            elif packet.type is PacketType.UPGRADE:
                session.complete_upgrade(channel)
            else:
                self.host.logger.info(
                    "session %s: unexpected %s packet during upgrade, staying on %s",
                    session.sid,
                    packet.type.name.lower(),
                    session.transport,
                )
                session.abandon_probe(channel)

        return receive_post(self.host, request, session, deliver)


class _Stream:
    """The WSGI response iterator of a stream; its end ends the transport."""

    def __init__(
        self,
        channel: StreamChannel,
        session: Session,
        prelude: bytes,
        watch: HangupWatch | None,
    ) -> None:
        self._channel = channel
        self._session = session
        self._body = channel.body(prelude)
        self._watch = watch

    def __iter__(self) -> _Stream:
        return self

    def __next__(self) -> bytes:
        return next(self._body)

    def close(self) -> None:
        """Called by the WSGI server when the response ends, however it ends."""
        if self._watch is not None:
            self._watch.cancel()
        self._body.close()
        channel, session = self._channel, self._session
        if session.probe_channel is channel:
            session.abandon_probe(channel)
        elif session.transport == channel.name and not session.closed:
            session.close(DisconnectReason.TRANSPORT_CLOSE)


class _RelayedStream:
    """The response iterator of a stream relayed for another process's session."""

    def __init__(
        self,
        channel: StreamChannel,
        prelude: bytes,
        on_end: Callable[[], None],
        watch: HangupWatch | None,
    ) -> None:
        self._body = channel.body(prelude)
        self._on_end = on_end
        self._watch = watch

    def __iter__(self) -> _RelayedStream:
        return self

    def __next__(self) -> bytes:
        return next(self._body)

    def close(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
        self._body.close()
        self._on_end()


class SseTransport(StreamTransport):
    """Server-Sent Events down (``EventSource``), POST up."""

    name: ClassVar[str] = "sse"
    content_type: ClassVar[str] = "text/event-stream; charset=utf-8"
    prelude: ClassVar[bytes] = b":" + b" " * _PADDING + b"\n\n"
    framer: ClassVar[Framer] = staticmethod(sse_frame)


class StreamingTransport(StreamTransport):
    """One long chunked response down (``fetch`` streams), POST up."""

    name: ClassVar[str] = "streaming"
    content_type: ClassVar[str] = "text/plain; charset=utf-8"
    prelude: ClassVar[bytes] = b" " * _PADDING + RECORD_SEPARATOR.encode("ascii")
    framer: ClassVar[Framer] = staticmethod(stream_frame)
