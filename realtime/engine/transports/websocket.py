"""WebSocket: one Engine.IO packet per frame, in both directions.

RFC 6455 framing, the opening handshake and permessage-deflate come from the
``websockets`` package's sans-I/O protocol; this module only moves its bytes
between a socket handed over by the WSGI server and a session.

Writes never block the caller. In a cooperative async mode (eventlet,
gevent) what is written to a connection during one turn of the event loop
is buffered and goes to the kernel in one ``send()`` once the writing tasks
have yielded: a broadcast then costs one system call per socket for all the
frames of that turn, not one per frame (TCP_NODELAY is on, so the kernel
does not coalesce them). With threads, and for a turn that buffers more than
:data:`FLUSH_AT` bytes, the bytes go out at once. Only when the kernel does
not take them all is a task started to drain the rest, and a client that
stops reading until :data:`WRITE_BUFFER_LIMIT` bytes pile up is disconnected.

Spec: engine.io-protocol v4, "Transports / WebSocket" and "Protocol / Upgrade".
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import logging
import socket
import struct
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from websockets.datastructures import Headers
from websockets.exceptions import InvalidState
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.frames import CloseCode, Frame, Opcode
from websockets.http11 import Request as WSRequest
from websockets.protocol import State
from websockets.server import ServerProtocol

from realtime.async_modes.base import no_delay
from realtime.engine.forwarding import RelayBuffer
from realtime.engine.http import Request, Response, error_response
from realtime.engine.outgoing import Outgoing
from realtime.engine.session import DisconnectReason, Session
from realtime.engine.transports.base import StartResponse, Transport, WSGIResult
from realtime.exceptions import PacketDecodeError
from realtime.protocol.engineio import PROBE, ErrorCode, Packet, PacketType

try:  # websockets' C extension, as its own parser uses
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover - a build without it
    from websockets.utils import apply_mask

if TYPE_CHECKING:
    from realtime.async_modes import AsyncMode
    from realtime.async_modes.base import HandedOverSocket
    from realtime.engine.forwarding import Forwarder
    from realtime.engine.scheduler import Scheduler

__all__ = ["WebSocketConnection", "WebSocketTransport", "frame_for"]


#: Bytes a client may leave unread before it is disconnected as too slow.
WRITE_BUFFER_LIMIT = 8 * 1024 * 1024
#: Bytes buffered in one turn past which they are written without waiting
#: for the end of the turn.
FLUSH_AT = 64 * 1024
#: Seconds a peer has to answer our close frame before the socket is cut.
CLOSE_TIMEOUT = 5.0
_RECV_SIZE = 65536
_FRAME_LOGGER = logging.getLogger("realtime.engine.websocket")


def frame_for(packet: Packet) -> bytes:
    """The complete, unmasked server frame for ``packet`` (no compression)."""
    data = packet.encode()
    if isinstance(data, str):
        payload = data.encode("utf-8")
        first = 0x81  # FIN, text
    else:
        payload = data
        first = 0x82  # FIN, binary
    size = len(payload)
    # RFC 6455 5.2: a 7-bit length, or 126 and 16 bits, or 127 and 64 bits.
    if size < 126:
        return bytes((first, size)) + payload
    if size < 65536:
        return _HEAD16.pack(first, 126, size) + payload
    return _HEAD64.pack(first, 127, size) + payload


_SIMPLE = frozenset((0x81, 0x82))
_HEAD16 = struct.Struct("!BBH")
_HEAD64 = struct.Struct("!BBQ")
_LENGTH16 = struct.Struct("!H")


def _simple_frames(data: bytes, max_size: int | None) -> tuple[list[tuple[bool, bytes]], int]:
    """The client's complete, unfragmented data frames at the start of ``data``.

    Returns ``(is_text, payload)`` for each, and how many bytes they took.
    Stops at the first frame that is anything else (a control frame, a
    fragment, reserved bits, a missing mask, a 64-bit length, a message
    over ``max_size``) or not all there: the ``websockets`` protocol takes
    over from that byte, with all its checks. Most messages are small and
    whole, and this skips its parser's generators for them.
    """
    messages: list[tuple[bool, bytes]] = []
    pos = 0
    end_of_data = len(data)
    while end_of_data - pos >= 6:
        first = data[pos]
        second = data[pos + 1]
        # FIN set, no reserved bits, text or binary; masked (RFC 6455 5.1).
        if first not in _SIMPLE or second < 0x80:
            break
        size = second & 0x7F
        start = pos + 2
        if size == 126:
            if end_of_data - start < 2:
                break
            (size,) = _LENGTH16.unpack_from(data, start)
            start += 2
        elif size == 127:
            break
        if max_size is not None and size > max_size:
            break
        end = start + 4 + size
        if end > end_of_data:
            break
        messages.append((first == 0x81, apply_mask(data[start + 4 : end], data[start : start + 4])))
        pos = end
    return messages, pos


def _wire_size(frame: Frame) -> int:
    """Bytes a masked client frame with ``frame``'s payload took on the wire."""
    size = len(frame.data)
    return 6 + size + (0 if size < 126 else 2 if size < 65536 else 8)


def _frames(packets: Sequence[Packet]) -> bytes:
    return b"".join([frame_for(p) for p in packets])


#: What :meth:`WebSocketConnection.packets` yields, once reading without
#: waiting, when no packet can be read yet.
NOTHING_YET = Packet(PacketType.NOOP)


class _Closing(Exception):
    """The connection is finished; stop reading."""


class Flusher:
    """Writes what connections buffered during a turn, once the turn ends.

    A connection registers here with its first buffered write of a turn;
    the flush runs as a task of the async mode, which in a cooperative mode
    starts only after the running tasks have yielded.

    Args:
        mode: a cooperative async mode.
    """

    __slots__ = ("_dirty", "_mode")

    def __init__(self, mode: AsyncMode) -> None:
        self._mode = mode
        self._dirty: list[WebSocketConnection] = []

    def add(self, connection: WebSocketConnection) -> None:
        """Flush ``connection`` at the end of this turn."""
        if not self._dirty:
            self._mode.submit(self._flush)
        self._dirty.append(connection)

    def _flush(self) -> None:
        dirty, self._dirty = self._dirty, []
        for connection in dirty:
            connection.flush()


class WebSocketConnection:
    """An open WebSocket carrying one session's packets.

    Args:
        mode: the async mode (for locks and the drain task).
        scheduler: where the close timeout is scheduled.
        handed: the socket the WSGI server handed over.
        protocol: the ``websockets`` protocol, already past the handshake,
            or None to make one (open, no extensions) only when needed.
        max_size: the largest message accepted, in bytes.
        compressed: permessage-deflate was negotiated, so frames must be
            built by ``protocol`` rather than shared.
        log: where to report a misbehaving client.
        label: who the client is, for those reports.
        flusher: buffers writes until the end of the turn (cooperative modes);
            None writes each at once.

    Attributes:
        error: why the client broke the WebSocket protocol, if it did.
    """

    name = "websocket"

    def __init__(
        self,
        mode: AsyncMode,
        scheduler: Scheduler,
        handed: HandedOverSocket,
        protocol: ServerProtocol | None,
        *,
        max_size: int | None,
        compressed: bool,
        log: logging.Logger,
        label: str,
        flusher: Flusher | None = None,
    ) -> None:
        self._mode = mode
        self._scheduler = scheduler
        self._handed = handed
        self._sock = handed.sock
        self._raw = handed.raw
        # websockets' protocol, made when first needed (a frame other than a
        # whole data frame, or the close): most connections never need it.
        self._proto_or_none = protocol
        self._max_size = max_size
        self._compressed = compressed
        self._lock = mode.lock()
        self._flusher = flusher
        # Bytes not yet given to the kernel, in order: buffered for the end
        # of the turn, or waiting for the drain task once the kernel refused.
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._flush_planned = False
        self._draining = False
        self._closed = False
        self._shut = False
        self._eof = False
        self._nowait = False
        # Whether websockets' parser is between frames (and messages), and
        # the bytes it was given that no frame has accounted for yet.
        self._at_boundary = not compressed
        self._unparsed = 0
        self._log = log
        self.label = label
        self.error: str | None = None

    @property
    def _proto(self) -> ServerProtocol:
        proto = self._proto_or_none
        if proto is None:
            proto = self._proto_or_none = ServerProtocol(
                state=State.OPEN, max_size=self._max_size, logger=_FRAME_LOGGER
            )
        return proto

    # -- writing ------------------------------------------------------------

    def write_packets(self, packets: Sequence[Packet]) -> None:
        """Write packets as frames, in order, without blocking."""
        with self._lock:
            if self._closed:
                return
            if self._compressed:
                for packet in packets:
                    data = packet.encode()
                    if isinstance(data, str):
                        self._proto.send_text(data.encode("utf-8"))
                    else:
                        self._proto.send_binary(data)
                self._write_locked(b"".join(self._proto.data_to_send()))
            elif len(packets) == 1:
                self._write_locked(frame_for(packets[0]))
            else:
                self._write_locked(b"".join([frame_for(p) for p in packets]))

    def write_outgoing(self, outgoing: Outgoing) -> None:
        """Write a prepared message, building its frames only if no one has yet."""
        if self._compressed:
            self.write_packets(outgoing.packets)
            return
        frames = outgoing.wire("websocket", _frames)
        with self._lock:
            if not self._closed:
                self._write_locked(frames)

    def write_raw(self, data: bytes) -> None:
        """Write bytes already in wire form (the handshake response), in order."""
        with self._lock:
            self._write_locked(data)

    def _write_locked(self, data: bytes) -> None:
        if not data or self._shut:
            return
        self._pending.append(data)
        self._pending_bytes += len(data)
        if self._draining:
            if self._pending_bytes > WRITE_BUFFER_LIMIT:
                self._too_slow_locked()
            return
        flusher = self._flusher
        if flusher is None or self._pending_bytes >= FLUSH_AT:
            self._flush_locked()
        elif not self._flush_planned:
            self._flush_planned = True
            flusher.add(self)

    def flush(self) -> None:
        """Give the kernel what was buffered (the end of a turn)."""
        with self._lock:
            self._flush_planned = False
            self._flush_locked()

    def _flush_locked(self) -> None:
        pending = self._pending
        if not pending or self._draining or self._shut:
            return
        data = pending[0] if len(pending) == 1 else b"".join(pending)
        pending.clear()
        self._pending_bytes = 0
        try:
            sent = self._raw.send(data, socket.MSG_DONTWAIT)
        except BlockingIOError:
            sent = 0
        except OSError:
            self._shutdown_locked()
            return
        if sent < len(data):
            pending.append(data[sent:])
            self._pending_bytes = len(data) - sent
            if self._pending_bytes > WRITE_BUFFER_LIMIT:
                self._too_slow_locked()
                return
            self._draining = True
            self._mode.spawn(self._drain)

    def _too_slow_locked(self) -> None:
        self._log.warning(
            "%s: client is not reading (more than %d bytes waiting); disconnecting it",
            self.label,
            WRITE_BUFFER_LIMIT,
        )
        self.error = "client stopped reading"
        self._pending.clear()
        self._pending_bytes = 0
        self._shutdown_locked()

    def _drain(self) -> None:
        while True:
            with self._lock:
                if not self._pending or self._shut:
                    self._draining = False
                    self._pending.clear()
                    self._pending_bytes = 0
                    return
                data = b"".join(self._pending)
                self._pending.clear()
                self._pending_bytes = 0
            try:
                self._sock.sendall(data)
            except OSError:
                with self._lock:
                    self._shutdown_locked()

    # -- closing ------------------------------------------------------------

    def close(self, graceful: bool, code: int = CloseCode.NORMAL_CLOSURE) -> None:
        """Send a close frame; cut the connection now unless ``graceful``.

        A graceful close lets queued frames drain and waits up to
        :data:`CLOSE_TIMEOUT` for the client to answer the close frame.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._proto.state is State.OPEN:
                with contextlib.suppress(InvalidState):
                    self._proto.send_close(code)
                self._write_locked(b"".join(self._proto.data_to_send()))
            if not graceful:
                self._shutdown_locked()
                return
        self._scheduler.call_later(CLOSE_TIMEOUT, self._close_timeout)

    def _close_timeout(self, now: float) -> None:
        with self._lock:
            self._shutdown_locked()

    def _shutdown_locked(self) -> None:
        # Never close the socket here: the reading task still owns it and
        # closes it when it returns. Shutting it down wakes that task. What
        # the kernel takes of the buffered bytes still goes out before the FIN.
        self._closed = True
        if not self._shut:
            self._flush_locked()
            self._shut = True
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)

    # -- reading ------------------------------------------------------------

    def packets(self) -> Iterator[Packet]:
        """Packets from the client, until the connection ends.

        Once :meth:`read_nowait` was called, the iterator yields
        :data:`NOTHING_YET` instead of waiting when no bytes are there; it can
        be resumed once the socket is readable again.

        Raises:
            PacketDecodeError: a frame is not an Engine.IO packet (the
                connection is closed with code 1003 or 1007 first).
        """
        message: list[bytes] = []
        opcode: Opcode | None = None
        while True:
            try:
                frames = self._receive()
            except _Closing:
                return
            if frames is None:
                yield NOTHING_YET
                continue
            for frame in frames:
                if isinstance(frame, tuple):  # a whole message, from _simple_frames
                    yield self._decode(frame[1], frame[0])
                    continue
                if frame.opcode in (Opcode.TEXT, Opcode.BINARY):
                    opcode, message = frame.opcode, [bytes(frame.data)]
                elif frame.opcode is Opcode.CONT and opcode is not None:
                    message.append(bytes(frame.data))
                else:
                    continue
                if frame.fin:
                    data = b"".join(message)
                    is_text, opcode, message = opcode is Opcode.TEXT, None, []
                    yield self._decode(data, is_text)

    def read_nowait(self) -> None:
        """Make :meth:`packets` yield :data:`NOTHING_YET` rather than wait."""
        self._nowait = True

    def _receive(self) -> list[Frame | tuple[bool, bytes]] | None:
        if self._eof:
            raise _Closing
        if self._nowait:
            data = self._handed.recv_nowait(_RECV_SIZE)
            if data is None:
                return None
        else:
            try:
                data = self._handed.recv(_RECV_SIZE)
            except OSError:
                data = b""
        with self._lock:
            simple: list[tuple[bool, bytes]] = []
            proto = self._proto_or_none
            if data and self._at_boundary and (proto is None or proto.state is State.OPEN):
                # websockets' parser waits for a frame header: the simple
                # frames can skip it.
                simple, used = _simple_frames(data, self._max_size)
                if used == len(data):
                    return [*simple]
                data = data[used:]
            events, ended = self._parse_locked(data)
        failure = self._proto.parser_exc
        if failure is not None and self.error is None and not isinstance(failure, EOFError):
            # EOFError only means the connection ended without a close frame.
            self.error = f"WebSocket protocol violation ({type(failure).__name__}: {failure})"
        frames: list[Frame | tuple[bool, bytes]] = [*simple, *events]
        if ended:
            # Deliver what arrived along with the close, then stop.
            self._eof = True
            if not frames:
                raise _Closing
        return frames

    def _parse_locked(self, data: bytes) -> tuple[list[Frame], bool]:
        """Frames websockets parsed from ``data`` (b"": the end), and whether
        the connection is over."""
        proto = self._proto
        if data:
            proto.receive_data(data)
        else:
            proto.receive_eof()
        ended = not data or proto.state is State.CLOSED
        for chunk in proto.data_to_send():
            if chunk:
                self._write_locked(chunk)
            else:
                ended = True
        frames = [e for e in proto.events_received() if isinstance(e, Frame)]
        if self._at_boundary or self._unparsed:
            self._unparsed += len(data) - sum(_wire_size(f) for f in frames)
            # Between frames again, outside a fragmented message? (A peer
            # that pads its lengths keeps this false: slower, never wrong.)
            self._at_boundary = (
                not self._compressed and self._unparsed == 0 and proto.current_size is None
            )
        return frames, ended

    def _decode(self, data: bytes, is_text: bool) -> Packet:
        if not is_text:
            return Packet(PacketType.MESSAGE, data)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            self.close(graceful=False, code=CloseCode.INVALID_DATA)
            raise PacketDecodeError("text frame is not valid UTF-8") from exc
        try:
            return Packet.decode(text)
        except PacketDecodeError:
            self.close(graceful=False, code=CloseCode.UNSUPPORTED_DATA)
            raise


#: RFC 6455 1.3: appended to the client's key to make Sec-WebSocket-Accept.
_WEBSOCKET_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def _has_token(value: str, token: str) -> bool:
    return any(part.strip().lower() == token for part in value.split(","))


def _handshake_key(environ: dict[str, Any]) -> tuple[bool, str]:
    """Check an opening handshake (RFC 6455 4.2.1) the WSGI server parsed.

    Returns ``(True, the Sec-WebSocket-Accept value)``, or ``(False, what is
    wrong)``.
    """
    if not _has_token(environ.get("HTTP_UPGRADE", ""), "websocket"):
        return False, "no Upgrade: websocket header"
    if not _has_token(environ.get("HTTP_CONNECTION", ""), "upgrade"):
        return False, "no Connection: Upgrade header"
    version = str(environ.get("HTTP_SEC_WEBSOCKET_VERSION", "")).strip()
    if version != "13":
        return False, f"unsupported Sec-WebSocket-Version {version!r}"
    key = str(environ.get("HTTP_SEC_WEBSOCKET_KEY", "")).strip()
    try:
        nonce = base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError):
        nonce = b""
    if len(nonce) != 16:
        return False, "invalid Sec-WebSocket-Key"
    digest = hashlib.sha1(key.encode("ascii") + _WEBSOCKET_GUID).digest()
    return True, base64.b64encode(digest).decode("ascii")


class _SwitchingProtocols:
    """The 101 response to an opening handshake checked by :func:`_handshake_key`."""

    __slots__ = ("headers",)

    def __init__(self, accept: str) -> None:
        self.headers = {
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Accept": accept,
        }

    def serialize(self) -> bytes:
        lines = [f"{name}: {value}\r\n" for name, value in self.headers.items()]
        return ("HTTP/1.1 101 Switching Protocols\r\n" + "".join(lines) + "\r\n").encode("latin-1")


def _ws_request(request: Request) -> WSRequest:
    headers = Headers()
    for key, value in request.environ.items():
        if key.startswith("HTTP_"):
            headers[key[5:].replace("_", "-").title()] = str(value)
    path = request.environ.get("PATH_INFO", "/") or "/"
    query = request.environ.get("QUERY_STRING", "")
    return WSRequest(f"{path}?{query}" if query else path, headers)


class WebSocketTransport(Transport):
    """WebSocket, both from the start and as an upgrade from polling."""

    name: ClassVar[str] = "websocket"
    accepts_upgrades: ClassVar[bool] = True
    _flusher: Flusher | None = None

    def _accept(self, request: Request) -> tuple[ServerProtocol | None, Any] | Response:
        """Check the opening handshake; the frame protocol and the 101 response.

        Without compression the handshake is checked here (RFC 6455 4.2.1)
        and the frame protocol is made only if a connection needs it. With
        compression a ``websockets`` protocol checks it and negotiates the
        extension; it expects to parse the HTTP request itself, which the
        WSGI server already did, so frames run on a second protocol that
        starts out open, with the extensions the first one negotiated.
        """
        if request.method != "GET":
            return error_response(ErrorCode.BAD_REQUEST)
        if self.host.options.websocket_compression:
            return self._accept_with_extensions(request)
        valid, accept_or_problem = _handshake_key(request.environ)
        if not valid:
            return self._bad_handshake(request, accept_or_problem)
        return None, _SwitchingProtocols(accept_or_problem)

    def _bad_handshake(self, request: Request, problem: str) -> Response:
        return self.host.reject(
            request,
            None,
            DisconnectReason.TRANSPORT_ERROR,
            f"invalid WebSocket handshake ({problem})",
            error_response(ErrorCode.BAD_REQUEST),
        )

    def _accept_with_extensions(self, request: Request) -> tuple[ServerProtocol, Any] | Response:
        options = self.host.options
        handshake = ServerProtocol(extensions=[ServerPerMessageDeflateFactory()])
        ws_response = handshake.accept(_ws_request(request))
        if ws_response.status_code != 101:
            return self._bad_handshake(request, str(handshake.handshake_exc))
        with contextlib.suppress(KeyError):
            del ws_response.headers["Server"]
        proto = ServerProtocol(
            state=State.OPEN, max_size=options.max_http_buffer_size, logger=_FRAME_LOGGER
        )
        proto.extensions = list(handshake.extensions)
        return proto, ws_response

    def _take_over(
        self, request: Request, proto: ServerProtocol | None, ws_response: Any
    ) -> tuple[HandedOverSocket, WebSocketConnection] | None:
        mode = self.host.mode
        handed = mode.hand_over_socket(request.environ)
        if handed is None:
            return None
        handed.sock.settimeout(None)
        no_delay(handed.sock)  # whatever server took the request: frames go out at once
        if mode.cooperative and self._flusher is None:
            self._flusher = Flusher(mode)
        connection = WebSocketConnection(
            mode,
            self.host.scheduler,
            handed,
            proto,
            max_size=self.host.options.max_http_buffer_size,
            compressed=proto is not None and bool(proto.extensions),
            log=self.host.logger,
            label=f"websocket from {request.remote_addr}",
            flusher=self._flusher,
        )
        # The 101 goes out with the first frames (the open packet, what the
        # connect handler sent) in one write.
        connection.write_raw(ws_response.serialize())
        return handed, connection

    def _no_socket(self, request: Request, session: Session | None) -> Response:
        return self.host.reject(
            request,
            session,
            DisconnectReason.TRANSPORT_ERROR,
            "this WSGI server does not hand its sockets over, so WebSocket is "
            "unavailable; run the app with realtime.serve() or gunicorn, or "
            "set transports=['polling']",
            error_response(ErrorCode.BAD_REQUEST),
        )

    def handshake(self, request: Request, start_response: StartResponse) -> WSGIResult:
        accepted = self._accept(request)
        if isinstance(accepted, Response):
            return accepted(start_response)
        proto, ws_response = accepted
        if not self.host.mode.can_hand_over(request.environ):
            return self._no_socket(request, None)(start_response)
        opened = self.host.open_session(request, self.name)
        if isinstance(opened, Response):
            return opened(start_response)
        session = opened.session
        cookie = self.host.options.cookie
        if cookie is not None:
            name, value = cookie.header(session.sid)
            ws_response.headers[name] = value
        taken = self._take_over(request, proto, ws_response)
        if taken is None:
            return self._no_socket(request, session)(start_response)
        handed, connection = taken
        connection.label = f"session {session.sid} ({request.remote_addr})"
        connection.write_packets([opened.open_packet])
        session.start(push=connection)
        self._serve(session, connection, connection.packets(), handed)
        return handed.finish(start_response)

    def upgrade(
        self, request: Request, session: Session, start_response: StartResponse
    ) -> WSGIResult:
        accepted = self._accept(request)
        if isinstance(accepted, Response):
            return accepted(start_response)
        proto, ws_response = accepted
        taken = self._take_over(request, proto, ws_response)
        if taken is None:
            return self._no_socket(request, None)(start_response)
        handed, connection = taken
        connection.label = f"session {session.sid} (upgrade from {request.remote_addr})"
        if not session.begin_probe(connection, self.host.options.upgrade_timeout):
            self.host.logger.info("session %s: refused a second upgrade attempt", session.sid)
            connection.close(graceful=False)
            return handed.finish(start_response)
        packets = connection.packets()
        if self._probe(session, connection, packets):
            self._serve(session, connection, packets, handed)
        return handed.finish(start_response)

    def relay(
        self, request: Request, sid: str, forwarder: Forwarder, start_response: StartResponse
    ) -> WSGIResult:
        accepted = self._accept(request)
        if isinstance(accepted, Response):
            return accepted(start_response)
        proto, ws_response = accepted
        if not self.host.mode.can_hand_over(request.environ):
            return self._no_socket(request, None)(start_response)
        buffer = RelayBuffer()
        cid = forwarder.open_relay(sid, self.name, buffer)
        if cid is None:
            return self.host.reject(
                request,
                None,
                DisconnectReason.TRANSPORT_ERROR,
                f"the process owning session {sid} is gone or refused the upgrade",
                error_response(ErrorCode.BAD_REQUEST),
            )(start_response)
        taken = self._take_over(request, proto, ws_response)
        if taken is None:
            forwarder.relay_ended(sid, cid)
            return self._no_socket(request, None)(start_response)
        handed, connection = taken
        connection.label = f"session {sid} (relayed from {request.remote_addr})"
        buffer.attach(connection)
        try:
            for packet in connection.packets():
                if not forwarder.relay_in(sid, cid, [packet]):
                    break
        except PacketDecodeError as exc:
            self.host.logger.warning("closing %s: invalid packet (%s)", connection.label, exc)
        finally:
            forwarder.relay_ended(sid, cid)
            connection.close(graceful=False)
        return handed.finish(start_response)

    def _probe(
        self, session: Session, connection: WebSocketConnection, packets: Iterator[Packet]
    ) -> bool:
        """Run the probe until the upgrade packet; False if the upgrade failed."""
        try:
            for packet in packets:
                if packet.type is PacketType.PING and packet.data == PROBE:
                    session.probe_ping(connection)
                elif packet.type is PacketType.UPGRADE:
                    return session.complete_upgrade(connection)
                else:
                    self.host.logger.info(
                        "session %s: unexpected %s packet during upgrade, staying on %s",
                        session.sid,
                        packet.type.name.lower(),
                        session.transport,
                    )
                    break
        except PacketDecodeError as exc:
            self.host.logger.info(
                "session %s: invalid packet during upgrade (%s)", session.sid, exc
            )
        session.abandon_probe(connection)
        return False

    def _serve(
        self,
        session: Session,
        connection: WebSocketConnection,
        packets: Iterator[Packet],
        handed: HandedOverSocket,
    ) -> None:
        if handed.detachable and self.host.mode.cooperative:
            _DetachedReader(self, session, connection, packets, handed).start()
            return
        try:
            for packet in packets:
                session.receive(packet)
        except PacketDecodeError as exc:
            self._invalid(session, connection, exc)
        finally:
            self._ended(session, connection)

    def _invalid(
        self, session: Session, connection: WebSocketConnection, exc: PacketDecodeError
    ) -> None:
        self.host.logger.warning(
            "closing %s: invalid packet on websocket (%s)", connection.label, exc
        )
        session.close(DisconnectReason.TRANSPORT_ERROR)

    def _ended(self, session: Session, connection: WebSocketConnection) -> None:
        if connection.error is not None and not session.closed:
            self.host.logger.warning("closing %s: %s", connection.label, connection.error)
            session.close(DisconnectReason.TRANSPORT_ERROR)
        elif not session.closed:
            session.close(DisconnectReason.TRANSPORT_CLOSE)
        connection.close(graceful=False)

    def handle(
        self, request: Request, session: Session, start_response: StartResponse
    ) -> WSGIResult:
        # A plain HTTP request naming a session that is already on WebSocket.
        return self.host.reject(
            request,
            None,
            DisconnectReason.TRANSPORT_ERROR,
            f"session {session.sid} is on websocket; HTTP requests for it are refused",
            error_response(ErrorCode.BAD_REQUEST),
        )(start_response)


class _DetachedReader:
    """Serves a WebSocket from the hub, with no green thread of its own.

    When the socket turns readable the hub calls :meth:`_on_readable`, which
    hands a read to a worker: it reads what is there, passes the packets to
    the session and returns; a handler the packets started runs in the same
    worker afterwards (:meth:`AsyncMode.run_holding`). While a read is under
    way the socket is not watched, so a second read never runs alongside.
    An idle connection costs no stack at all, and a message costs two
    switches (to the worker and back).
    """

    __slots__ = ("_busy", "_connection", "_handed", "_mode", "_packets", "_session", "_transport")

    def __init__(
        self,
        transport: WebSocketTransport,
        session: Session,
        connection: WebSocketConnection,
        packets: Iterator[Packet],
        handed: HandedOverSocket,
    ) -> None:
        self._transport = transport
        self._session = session
        self._connection = connection
        self._packets = packets
        self._handed = handed
        self._mode = transport.host.mode
        self._busy = False

    def start(self) -> None:
        self._connection.read_nowait()
        self._handed.detach(self._on_readable, self._on_abort)
        # Bytes may already wait (in the kernel, or parsed along with the
        # upgrade): read once now.
        self._busy = True
        self._mode.submit(self._read)

    def _on_readable(self) -> None:
        # On the hub.
        if self._busy:
            self._handed.pause()  # the read under way takes it; no spinning
            return
        self._busy = True
        self._mode.submit_now(self._read)

    def _read(self) -> None:
        ended = self._mode.run_holding(self._read_available)
        if ended:
            self._finish()

    def _read_available(self) -> bool:
        """Pass on what can be read now; True once the connection is over."""
        session = self._session
        try:
            for packet in self._packets:
                if packet is NOTHING_YET:
                    # Watch again (a handler held back may run after this).
                    self._busy = False
                    self._handed.resume()
                    return False
                session.receive(packet)
        except PacketDecodeError as exc:
            self._transport._invalid(session, self._connection, exc)
        except Exception:
            self._transport.host.logger.exception(
                "closing %s: error while reading", self._connection.label
            )
        return True  # still busy: nothing reads this socket again

    def _finish(self) -> None:
        try:
            self._transport._ended(self._session, self._connection)
        finally:
            self._handed.close()

    def _on_abort(self) -> None:
        # The server is stopping.
        self._transport._ended(self._session, self._connection)
