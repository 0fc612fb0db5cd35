"""An open WebSocket carrying one session's packets: reading, buffered writing, closing.

Frames are read and written by :mod:`.frames_fastpath` when they are whole,
unfragmented, uncompressed data frames, and by the ``websockets`` package's
sans-I/O protocol otherwise (control frames, fragments, the close,
permessage-deflate); this module moves their bytes between that and the
socket the WSGI server handed over, and decides which of the two reads.

Writes never block the caller. In a cooperative async mode (eventlet,
gevent) what is written to a connection during one turn of the event loop
is buffered and goes to the kernel in one ``send()`` once the writing tasks
have yielded: a broadcast then costs one system call per socket for all the
frames of that turn, not one per frame (TCP_NODELAY is on, so the kernel
does not coalesce them). With threads, and for a turn that buffers more than
:data:`FLUSH_AT` bytes, the bytes go out at once. Only when the kernel does
not take them all is a task started to drain the rest; a client that stops
reading until ``slow_client_limit`` bytes pile up is disconnected, or has
messages dropped (:mod:`realtime.engine.slow_client`).

No section of a connection under its lock blocks: its sends are
non-blocking (``MSG_DONTWAIT`` on the OS socket; the drain task's
``sendall`` runs outside the lock), and starting a task or a flush only
schedules one. In a cooperative mode green threads switch only where they
block, so each section is atomic as it is, and the two that run for every
message (:meth:`WebSocketConnection.write_outgoing` and the end-of-turn
flush, which only a :class:`Flusher` does) skip the lock there: a ``with``
on a green lock is two Python calls. The others keep it (they are rare,
and it costs nothing to be sure). Only a logging handler doing green I/O
could make a section yield (a report of a failed or too slow client); a
write then in between sees the same failure and reports it again, nothing
worse.

Spec: engine.io-protocol v4, "Transports / WebSocket"; RFC 6455 5 and 7.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from websockets.exceptions import InvalidState
from websockets.frames import CloseCode, Frame, Opcode
from websockets.protocol import State
from websockets.server import ServerProtocol

from realtime.engine.slow_client import DEFAULT as DEFAULT_SLOW_CLIENT
from realtime.engine.slow_client import DropLog, SlowClient
from realtime.engine.transports.websocket.frames_fastpath import (
    client_frame_size,
    frame_for,
    frames_for,
    whole_data_frames,
)
from realtime.exceptions import PacketDecodeError
from realtime.protocol.engineio import MESSAGE_PREFIX, Packet, PacketType

if TYPE_CHECKING:
    from websockets.extensions import Extension

    from realtime.async_modes import AsyncMode
    from realtime.async_modes.base import HandedOverSocket, Lock
    from realtime.engine.outgoing import Outgoing
    from realtime.engine.scheduler import Scheduler

__all__ = [
    "CLOSE_TIMEOUT",
    "FLUSH_AT",
    "NOTHING_YET",
    "Flusher",
    "WebSocketConnection",
    "frame_protocol",
]


#: Bytes buffered in one turn past which they are written without waiting
#: for the end of the turn.
FLUSH_AT = 64 * 1024
#: Seconds a peer has to answer our close frame before the socket is cut.
CLOSE_TIMEOUT = 5.0
_RECV_SIZE = 65536
_MESSAGE_PREFIX = MESSAGE_PREFIX.encode("ascii")
_FRAME_LOGGER = logging.getLogger("realtime.engine.websocket")


class _FrameProtocol(ServerProtocol):
    """``websockets``' server protocol, with a close between fragments answered.

    RFC 6455 5.4 lets control frames come between the fragments of a
    message, and 5.5.1 has a close frame answered with the code it carries.
    ``websockets`` fails the connection with 1002 ("incomplete fragmented
    message") instead; Node's ``ws`` echoes the close, and so does this:
    the unfinished message is dropped, as the peer is done sending.
    """

    def recv_frame(self, frame: Frame) -> None:
        if frame.opcode is Opcode.CLOSE:
            self.current_size = None
        super().recv_frame(frame)


def frame_protocol(max_size: int | None, extensions: Sequence[Extension] = ()) -> ServerProtocol:
    """A ``websockets`` protocol past the handshake, to read and write frames.

    Args:
        max_size: the largest message accepted, in bytes.
        extensions: what the handshake negotiated (permessage-deflate).
    """
    proto = _FrameProtocol(state=State.OPEN, max_size=max_size, logger=_FRAME_LOGGER)
    if extensions:
        proto.extensions = list(extensions)
    return proto


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
            # The connection's own flush, written out (it runs for every
            # message), with no lock: a cooperative mode (module docstring).
            connection._flush_planned = False
            connection._flush_locked()


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
        slow_client: SlowClient = DEFAULT_SLOW_CLIENT,
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
        # The lock of the sections that run for every message: none in a
        # cooperative mode (see the module's docstring).
        self._hot_lock: Lock | None = None if mode.cooperative else self._lock
        self._flusher = flusher
        # Bytes not yet given to the kernel, in order: buffered for the end
        # of the turn, or waiting for the drain task once the kernel refused.
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._slow = slow_client
        # A message can be dropped only whole, and not from a compressed stream.
        self._may_drop = slow_client.policy == "drop" and not compressed
        self._drops: DropLog | None = None
        self._flush_planned = False
        self._draining = False
        self._closed = False
        self._shut = False
        self._eof = False
        self._nowait = False
        # The last read (without waiting) took all the socket had.
        self._drained = False
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
            proto = self._proto_or_none = frame_protocol(self._max_size)
        return proto

    # -- writing ------------------------------------------------------------

    @property
    def writable(self) -> bool:
        """Whether a write would go out now: open, and the kernel took
        everything so far (volatile messages are dropped otherwise)."""
        return not self._closed and not self._draining

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
        frames = outgoing.wire("websocket", frames_for)
        lock = self._hot_lock
        if lock is None:
            if not self._closed:
                self._write_locked(frames)
            return
        with lock:
            if not self._closed:
                self._write_locked(frames)

    def write_raw(self, data: bytes) -> None:
        """Write bytes already in wire form (the handshake response), in order."""
        with self._lock:
            self._write_locked(data)

    def _write_locked(self, data: bytes) -> None:
        if not data or self._shut:
            return
        if self._draining:
            waiting = self._pending_bytes + len(data)
            if waiting > self._slow.limit:
                if self._may_drop:
                    if self._drops is None:
                        self._drops = DropLog(self._log, self._slow.limit)
                    self._drops.dropped(self.label, self._pending_bytes)
                    return
                self._pending_bytes = waiting
                self._too_slow_locked()
                return
            self._pending.append(data)
            self._pending_bytes = waiting
            return
        self._pending.append(data)
        self._pending_bytes += len(data)
        flusher = self._flusher
        if flusher is None or self._pending_bytes >= FLUSH_AT:
            self._flush_locked()
        elif not self._flush_planned:
            self._flush_planned = True
            flusher.add(self)

    def _flush_locked(self) -> None:
        pending = self._pending
        if not pending or self._draining or self._shut:
            return
        data = b"".join(pending)  # (one item: that very object, no copy)
        pending.clear()
        self._pending_bytes = 0
        try:
            sent = self._raw.send(data, socket.MSG_DONTWAIT)
        except BlockingIOError:
            sent = 0
        except OSError as exc:
            self._write_failed_locked(exc)
            return
        if sent < len(data):
            pending.append(data[sent:])
            self._pending_bytes = len(data) - sent
            if self._pending_bytes > self._slow.limit and not self._may_drop:
                self._too_slow_locked()
                return
            self._draining = True
            self._mode.spawn(self._drain)

    def _write_failed_locked(self, exc: OSError) -> None:
        # The client is gone (a reset, a broken pipe), or the socket was shut
        # down under the write: the reading side sees the end and closes.
        self._log.debug("%s: write failed (%s: %s)", self.label, type(exc).__name__, exc)
        self._pending.clear()
        self._pending_bytes = 0
        self._shutdown_locked()

    def _too_slow_locked(self) -> None:
        self._slow.disconnect_report(self._log, self.label, self._pending_bytes)
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
            except OSError as exc:
                with self._lock:
                    self._write_failed_locked(exc)

    # -- closing ------------------------------------------------------------

    def close(self, graceful: bool, code: int | None = CloseCode.NORMAL_CLOSURE) -> None:
        """Send a close frame; cut the connection now unless ``graceful``.

        A graceful close lets queued frames drain and waits up to
        :data:`CLOSE_TIMEOUT` for the client to answer the close frame.
        ``code=None`` sends a close frame with no status code (what ``ws``'s
        ``close()`` sends; the client reports 1005, "no status received").
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
        # A fragmented message grows in one buffer: however many fragments
        # it comes in (empty ones included), it holds no more than its bytes,
        # which websockets' parser keeps under the limit.
        message = bytearray()
        opcode: Opcode | None = None
        while True:
            try:
                frames = self._receive()
            except _Closing:
                return
            if frames is None:
                yield NOTHING_YET
                continue
            drained = self._drained
            for frame in frames:
                if isinstance(frame, tuple):  # a whole message, from whole_data_frames
                    is_text, payload = frame
                    if is_text and payload[:1] == _MESSAGE_PREFIX:
                        # A message packet, the common case, decoded here
                        # (what Packet.decode makes of it); anything else,
                        # and invalid UTF-8, by _decode.
                        try:
                            text = payload.decode("utf-8")
                        except UnicodeDecodeError:
                            pass
                        else:
                            yield Packet(PacketType.MESSAGE, text[1:])
                            continue
                    yield self._decode(payload, is_text)
                    continue
                if frame.opcode in (Opcode.TEXT, Opcode.BINARY):
                    if frame.fin:
                        yield self._decode(bytes(frame.data), frame.opcode is Opcode.TEXT)
                        continue
                    opcode, message = frame.opcode, bytearray(frame.data)
                elif frame.opcode is Opcode.CONT and opcode is not None:
                    message += frame.data
                    if frame.fin:
                        is_text, opcode = opcode is Opcode.TEXT, None
                        data, message = bytes(message), bytearray()
                        yield self._decode(data, is_text)
            if drained:
                # The read took all there was: the next would find nothing.
                yield NOTHING_YET

    def read_nowait(self) -> None:
        """Make :meth:`packets` yield :data:`NOTHING_YET` rather than wait."""
        self._nowait = True

    def _receive(self) -> list[Frame | tuple[bool, bytes]] | None:
        if self._eof:
            raise _Closing
        try:
            if self._nowait:
                received = self._handed.recv_nowait(_RECV_SIZE)
                if received is None:
                    return None
                data = received
                # Less than asked: the socket is drained, as far as we know,
                # and the handed-over socket answers the next read with None
                # until it turns readable again (recv_nowait).
                self._drained = 0 < len(data) < _RECV_SIZE
            else:
                data = self._handed.recv(_RECV_SIZE)
        except OSError as exc:
            # A reset: the client went away, which is no one's error.
            self._log.debug(
                "%s: the client went away (%s: %s)", self.label, type(exc).__name__, exc
            )
            data = b""
        simple: list[tuple[bool, bytes]] = []
        proto = self._proto_or_none
        if data and self._at_boundary and (proto is None or proto.state is State.OPEN):
            # websockets' parser waits for a frame header: the simple frames
            # can skip it. No lock: only this reader parses (and moves
            # _at_boundary), and the fast path changes nothing a writer
            # reads; a close() racing with it is as if it came just after.
            simple, used = whole_data_frames(data, self._max_size)
            if used == len(data):
                return [*simple]
            data = data[used:]
        with self._lock:
            events, ended = self._parse_locked(data)
        failure = self._proto.parser_exc
        if failure is not None and self.error is None and not isinstance(failure, EOFError):
            # EOFError only means the connection ended without a close frame.
            self.error = f"WebSocket protocol violation ({type(failure).__name__}: {failure})"
        frames: list[Frame | tuple[bool, bytes]] = [*simple, *events]
        if ended:
            # Deliver what arrived along with the close, then stop.
            self._eof = True
            self._drained = False
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
            self._unparsed += len(data) - sum(client_frame_size(f) for f in frames)
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
