"""One Engine.IO session: its state, its outbound queue and its heartbeat.

The session sequences every packet it sends, whatever transport carries it:

* On a *pull* transport (polling) packets wait in the session's queue until a
  request takes them.
* On a *push* transport (WebSocket) they are written at once, in the order
  :meth:`Session.send` was called.

States and what moves between them::

    OPEN ──probe acknowledged──► UPGRADING ──upgrade packet──► OPEN (new transport)
      │                             │ probe fails / times out
      │                             └──────────────────────────► OPEN (same transport)
      ├──app disconnects, pull transport──► CLOSING ──close packet taken──► CLOSED
      └──anything else that ends it──────────────────────────────────────► CLOSED

Spec: https://github.com/socketio/engine.io-protocol (v4: Heartbeat, Upgrade).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from realtime.engine.outgoing import Outgoing
from realtime.engine.slow_client import DEFAULT as DEFAULT_SLOW_CLIENT
from realtime.engine.slow_client import DEFAULT_LIMIT, DropLog, SlowClient
from realtime.protocol.engineio import PROBE, EngineSid, Packet, PacketType

if TYPE_CHECKING:
    from realtime.async_modes import AsyncMode
    from realtime.engine.scheduler import Scheduler, TimerHandle

#: ``backlogged(resume)``: whether a client's messages wait for its handlers
#: beyond the bound. True pauses reading from that client; ``resume()`` is
#: then called once (from a worker) when the handlers caught up.
Backlogged = Callable[[Callable[[], None]], bool]

__all__ = [
    "MAX_PACKETS_PER_POLL",
    "OUTBOX_LIMIT",
    "Backlogged",
    "DisconnectReason",
    "DuplicateRequestError",
    "Heartbeat",
    "HeartbeatAction",
    "PushChannel",
    "Session",
    "SessionHost",
    "SessionState",
    "UpgradeOutcome",
]


class DisconnectReason(enum.StrEnum):
    """Why a session ended (the values python-engineio and python-socketio use)."""

    CLIENT_DISCONNECT = "client disconnect"
    SERVER_DISCONNECT = "server disconnect"
    PING_TIMEOUT = "ping timeout"
    TRANSPORT_CLOSE = "transport close"
    TRANSPORT_ERROR = "transport error"


class UpgradeOutcome(enum.StrEnum):
    """How an upgrade ended, once its probe began (see :meth:`Session.begin_probe`)."""

    #: The client sent the upgrade packet: the session moved.
    SUCCEEDED = "succeeded"
    #: The probe's connection closed, or the client sent something else.
    FAILED = "failed"
    #: No upgrade packet within ``upgrade_timeout``.
    TIMED_OUT = "timed out"
    #: The session closed during the probe.
    ABORTED = "aborted"


class SessionState(enum.Enum):
    OPEN = "open"
    UPGRADING = "upgrading"
    CLOSING = "closing"
    CLOSED = "closed"


class HeartbeatAction(enum.Enum):
    WAIT = "wait"
    PING = "ping"
    TIMEOUT = "timeout"


@dataclass
class Heartbeat:
    """The server side of the v4 heartbeat, with the clock passed in.

    The server pings ``interval`` seconds after the session opens and after
    each pong; a ping not answered within ``timeout`` seconds ends the session.

    Attributes:
        deadline: when :meth:`check` next has something to do.
        awaiting_pong: a ping is out and its pong has not come back.
    """

    interval: float
    timeout: float
    deadline: float
    awaiting_pong: bool = False

    @classmethod
    def start(cls, interval: float, timeout: float, now: float) -> Heartbeat:
        return cls(interval, timeout, now + interval)

    def check(self, now: float) -> HeartbeatAction:
        """What is due at ``now``: nothing, a ping, or the end of the session."""
        if now < self.deadline:
            return HeartbeatAction.WAIT
        if self.awaiting_pong:
            return HeartbeatAction.TIMEOUT
        self.awaiting_pong = True
        self.deadline = now + self.timeout
        return HeartbeatAction.PING

    def pong(self, now: float) -> None:
        """Record a pong; the next ping is due ``interval`` from now."""
        if self.awaiting_pong:
            self.awaiting_pong = False
            self.deadline = now + self.interval


class DuplicateRequestError(Exception):
    """A second GET (or POST) arrived while one was still in progress."""


class PushChannel(Protocol):
    """A transport connection the session writes packets to directly.

    One may also have a ``writable`` property, False while it is backed up
    (volatile messages are then dropped); without one it always is.
    """

    name: str

    def write_packets(self, packets: Sequence[Packet]) -> None:
        """Queue packets for writing, in order, without blocking."""

    def write_outgoing(self, outgoing: Outgoing) -> None:
        """Like :meth:`write_packets`, reusing bytes the message already holds."""

    def close(self, graceful: bool) -> None:
        """Close the connection; ``graceful`` first flushes what is queued."""


class SessionHost(Protocol):
    """What a session needs from the server that owns it."""

    mode: AsyncMode
    scheduler: Scheduler
    logger: logging.Logger

    def session_message(self, sid: EngineSid, data: str | bytes) -> None:
        """A message arrived from the client of session ``sid``.

        Called for every message: the server makes it the listener's own
        method, with no call of its own around it.
        """

    def session_flow_control(self, session: Session) -> Backlogged | None:
        """See :meth:`Session.flow_control`."""

    def session_closed(self, session: Session, reason: DisconnectReason) -> None:
        """The session ended (the app is told once); it may linger while closing."""

    def session_released(self, session: Session) -> None:
        """A session that lingered while closing is gone for good."""

    def upgrade_ended(self, session: Session, transport: str, outcome: UpgradeOutcome) -> None:
        """An upgrade to ``transport`` whose probe began ended so (told once per probe)."""


#: Most packets one polling response carries. python-engineio's client (and
#: server) refuse a payload of more than 16 packets; the rest waits for the
#: next GET, which the client sends at once.
MAX_PACKETS_PER_POLL = 16
#: Bytes of messages a polling session holds by default for a client that
#: does not come to fetch them (the ``slow_client_limit`` option).
OUTBOX_LIMIT = DEFAULT_LIMIT

_NOOP = Packet(PacketType.NOOP)
_CLOSE = Packet(PacketType.CLOSE)
_PING = Packet(PacketType.PING)
_PONG_PROBE = Packet(PacketType.PONG, PROBE)


class Session:
    """An Engine.IO session, whichever transport carries it.

    Args:
        host: the server that owns the session.
        sid: the session id.
        environ: the WSGI environ of the request that opened the session.
        transport: the name of the transport it opened on.
        ping_interval: seconds between pings.
        ping_timeout: seconds a pong may take.
    """

    def __init__(
        self,
        host: SessionHost,
        sid: EngineSid,
        environ: dict[str, Any],
        transport: str,
        *,
        ping_interval: float,
        ping_timeout: float,
        slow_client: SlowClient = DEFAULT_SLOW_CLIENT,
    ) -> None:
        self.sid = sid
        self.environ = environ
        self.transport = transport
        self.state = SessionState.OPEN
        self._host = host
        self._lock = host.mode.lock()
        self._wake = host.mode.event()
        self._outbox: list[Packet] = []
        self._outbox_bytes = 0
        self._slow = slow_client
        self._drops: DropLog | None = None
        self._push: PushChannel | None = None
        self._probe: PushChannel | None = None
        self._polling = False
        self._posting = False
        self._close_reason: DisconnectReason | None = None
        self._heartbeat = Heartbeat.start(ping_interval, ping_timeout, host.mode.monotonic())
        self._heartbeat_timer: TimerHandle | None = None
        self._probe_timer: TimerHandle | None = None
        #: Runs this session's handlers one at a time, in arrival order.
        self.executor = host.mode.serial()
        self._log = host.logger

    def __repr__(self) -> str:
        return f"<Session {self.sid} {self.transport} {self.state.value}>"

    @property
    def probe_channel(self) -> PushChannel | None:
        """The transport connection being probed as this session's next one."""
        return self._probe

    @property
    def upgrading(self) -> bool:
        return self.state is SessionState.UPGRADING

    @property
    def closed(self) -> bool:
        """True once the session no longer sends or receives."""
        return self.state in (SessionState.CLOSING, SessionState.CLOSED)

    # -- starting -------------------------------------------------------------

    def start(self, push: PushChannel | None = None, *, heartbeat: bool = True) -> None:
        """Start the heartbeat, and attach the push channel the session opened on.

        Packets queued before this (the open packet, anything the connect
        handler sent) go out first, in order. ``heartbeat=False`` is for
        in-process sessions, whose peer cannot vanish.
        """
        with self._lock:
            if push is not None:
                self._push = push
                self._flush_to(push)
            deadline = self._heartbeat.deadline
        if heartbeat:
            self._heartbeat_timer = self._host.scheduler.call_at(deadline, self._on_heartbeat)

    # -- sending --------------------------------------------------------------

    def send(self, outgoing: Outgoing) -> bool:
        """Send a message to the client, after everything sent before it.

        A volatile message is dropped unless the transport can take it at
        once: a push channel that is not backed up, or a polling GET that
        waits with nothing queued before it.

        Returns False if the session is closed, or a volatile message was dropped.
        """
        with self._lock:
            state = self.state
            if state is SessionState.OPEN and self._push is not None:
                if outgoing.volatile and not getattr(self._push, "writable", True):
                    return False
                self._push.write_outgoing(outgoing)
                return True
            if state is SessionState.CLOSING or state is SessionState.CLOSED:
                return False
            if outgoing.volatile and not (
                state is SessionState.OPEN and self._polling and not self._outbox
            ):
                return False
            size = sum(len(p.data) for p in outgoing.packets)
            waiting = self._outbox_bytes + size
            slow = self._slow
            if waiting > slow.limit and slow.policy == "drop" and self._outbox:
                if self._drops is None:
                    self._drops = DropLog(self._log, slow.limit)
                self._drops.dropped(f"session {self.sid}", self._outbox_bytes)
                return False
            self._outbox.extend(outgoing.packets)
            self._outbox_bytes = waiting
            self._wake.set()
        if waiting > slow.limit and slow.policy != "drop":
            slow.disconnect_report(self._log, f"session {self.sid}", waiting)
            self.close(DisconnectReason.TRANSPORT_ERROR)
            return False
        return True

    def _send_locked(self, packets: Iterable[Packet]) -> None:
        if self._push is not None and self.state is SessionState.OPEN:
            self._push.write_packets(list(packets))
        else:
            self._outbox.extend(packets)
            self._wake.set()

    def _flush_to(self, channel: PushChannel) -> None:
        if self._outbox:
            pending = list(self._outbox)
            self._outbox.clear()
            self._outbox_bytes = 0
            channel.write_packets(pending)

    # -- long polling ---------------------------------------------------------

    def poll(self, wait: float) -> list[Packet]:
        """Take the packets waiting for a polling GET, waiting up to ``wait`` s.

        Returns at once during an upgrade (a noop when nothing waits), so the
        client can finish switching. A session closed by the client answers
        with a noop, one closed by the server with a close packet.

        Raises:
            DuplicateRequestError: another GET is already waiting.
        """
        with self._lock:
            if self._polling:
                raise DuplicateRequestError("overlapping GET requests")
            self._polling = True
        try:
            return self._wait_for_packets(wait)
        finally:
            with self._lock:
                self._polling = False

    def _wait_for_packets(self, wait: float) -> list[Packet]:
        mode = self._host.mode
        deadline = mode.monotonic() + wait
        while True:
            with self._lock:
                if self._outbox:
                    outbox = self._outbox
                    count = min(len(outbox), MAX_PACKETS_PER_POLL)
                    packets = outbox[:count]
                    del outbox[:count]
                    self._outbox_bytes = (
                        self._outbox_bytes - sum(len(p.data) for p in packets) if outbox else 0
                    )
                    if self.state is SessionState.CLOSING and not outbox:
                        self._finish_closing()
                    return packets
                if self.state is SessionState.CLOSED:
                    client_closed = self._close_reason is DisconnectReason.CLIENT_DISCONNECT
                    return [_NOOP if client_closed else _CLOSE]
                if self.state is SessionState.UPGRADING or self._push is not None:
                    return [_NOOP]
                self._wake.clear()
            remaining = deadline - mode.monotonic()
            if remaining <= 0:
                return [_NOOP]
            self._wake.wait(remaining)

    def begin_post(self) -> None:
        """Mark a POST as in progress.

        Raises:
            DuplicateRequestError: another POST is already in progress.
        """
        with self._lock:
            if self._posting:
                raise DuplicateRequestError("overlapping POST requests")
            self._posting = True

    def end_post(self) -> None:
        with self._lock:
            self._posting = False

    # -- receiving ------------------------------------------------------------

    def receive(self, packet: Packet) -> None:
        """Handle a packet that arrived on the session's current transport."""
        kind = packet.type
        if kind is PacketType.MESSAGE:
            state = self.state  # (not self.closed: a call less per message)
            if state is not SessionState.CLOSED and state is not SessionState.CLOSING:
                self._host.session_message(self.sid, packet.data)
        elif kind is PacketType.PONG:
            with self._lock:
                self._heartbeat.pong(self._host.mode.monotonic())
        elif kind is PacketType.CLOSE:
            self.close(DisconnectReason.CLIENT_DISCONNECT)
        elif kind is PacketType.UPGRADE:
            # Only meaningful on a transport being probed; a client that sends
            # it on its current transport is confused, not hostile.
            self._log.debug("session %s: ignored an upgrade packet on %s", self.sid, self.transport)
        # PING from a client (v3 habit) and NOOP need no answer.

    def flow_control(self) -> Backlogged | None:
        """``backlogged(resume)``, which a transport calls after each message
        it passed on (None: nothing to ask).

        When it returns true the transport reads nothing more from the
        client until ``resume()`` is called (from a worker, once the
        handlers caught up): a client that sends faster than its handlers
        run is held back by TCP, or by its polling requests waiting, instead
        of filling the server's memory.
        """
        return self._host.session_flow_control(self)

    # -- upgrading ------------------------------------------------------------

    def begin_probe(self, channel: PushChannel, timeout: float) -> bool:
        """Start probing ``channel`` as the session's next transport.

        Returns False when the session cannot upgrade now (closed, already
        upgrading, or already on a push transport).
        """
        with self._lock:
            if (
                self.state is not SessionState.OPEN
                or self._push is not None
                or self._probe is not None
            ):
                return False
            self._probe = channel
        self._probe_timer = self._host.scheduler.call_later(timeout, self._on_probe_timeout)
        return True

    def probe_ping(self, channel: PushChannel) -> None:
        """The client pinged the probed channel: answer, and pause polling."""
        with self._lock:
            if channel is not self._probe or self.closed:
                return
            channel.write_packets([_PONG_PROBE])
            self.state = SessionState.UPGRADING
            self._wake.set()

    def complete_upgrade(self, channel: PushChannel) -> bool:
        """The client sent the upgrade packet: switch to ``channel``.

        Everything still queued goes out on the new transport before anything
        sent later. Returns False when the probe is no longer current.
        """
        with self._lock:
            if channel is not self._probe or self.closed:
                return False
            self._probe = None
            self._push = channel
            self.transport = channel.name
            self.state = SessionState.OPEN
            self._flush_to(channel)
            self._wake.set()
        self._log.debug("session %s upgraded to %s", self.sid, channel.name)
        self._host.upgrade_ended(self, channel.name, UpgradeOutcome.SUCCEEDED)
        return True

    def abandon_probe(
        self, channel: PushChannel, outcome: UpgradeOutcome = UpgradeOutcome.FAILED
    ) -> None:
        """The probe failed or its connection closed: stay on the old transport."""
        with self._lock:
            if channel is not self._probe:
                return
            self._probe = None
            if self.state is SessionState.UPGRADING:
                self.state = SessionState.OPEN
        channel.close(graceful=False)
        self._host.upgrade_ended(self, channel.name, outcome)

    def _on_probe_timeout(self, now: float) -> None:
        probe = self._probe
        if probe is not None:
            self._log.info("session %s: upgrade to %s timed out", self.sid, probe.name)
            self.abandon_probe(probe, UpgradeOutcome.TIMED_OUT)

    # -- heartbeat ------------------------------------------------------------

    def _on_heartbeat(self, now: float) -> None:
        with self._lock:
            if self.closed:
                return
            action = self._heartbeat.check(now)
            if action is HeartbeatAction.PING:
                self._send_locked([_PING])
            deadline = self._heartbeat.deadline
        if action is HeartbeatAction.TIMEOUT:
            self._log.info("session %s: no pong within the ping timeout, closing", self.sid)
            self.close(DisconnectReason.PING_TIMEOUT)
            return
        self._heartbeat_timer = self._host.scheduler.call_at(deadline, self._on_heartbeat)

    # -- closing --------------------------------------------------------------

    def close(self, reason: DisconnectReason, *, close_timeout: float = 30.0) -> None:
        """End the session; the disconnect handler runs once, whatever the path.

        A server-side close is graceful: what is queued is still delivered,
        followed by a close packet. Any other reason ends the session at once.
        """
        with self._lock:
            if self.state is SessionState.CLOSED or (
                self.state is SessionState.CLOSING and self._close_reason is not None
            ):
                return
            self._close_reason = reason
            push, probe = self._push, self._probe
            self._probe = None
            graceful = reason is DisconnectReason.SERVER_DISCONNECT
            if graceful and push is None:
                # The close packet rides the next GET; the session lingers
                # until then, or until close_timeout.
                self._outbox.append(_CLOSE)
                self.state = SessionState.CLOSING
            else:
                if graceful and push is not None:
                    push.write_packets([_CLOSE])
                self.state = SessionState.CLOSED
            self._wake.set()
            closing = self.state is SessionState.CLOSING
        for timer in (self._heartbeat_timer, self._probe_timer):
            if timer is not None:
                timer.cancel()
        if probe is not None:
            probe.close(graceful=False)
            self._host.upgrade_ended(self, probe.name, UpgradeOutcome.ABORTED)
        if push is not None:
            push.close(graceful=graceful)
        if closing:
            self._host.scheduler.call_later(close_timeout, self._on_close_timeout)
        self._host.session_closed(self, reason)

    def _finish_closing(self) -> None:
        # Called with the lock held: the close packet was taken, or never will be.
        self.state = SessionState.CLOSED
        self._outbox.clear()
        self._wake.set()
        self._host.session_released(self)

    def _on_close_timeout(self, now: float) -> None:
        with self._lock:
            if self.state is SessionState.CLOSING:
                self._finish_closing()
