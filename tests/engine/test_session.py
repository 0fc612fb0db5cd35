"""The session state machine, with the clock and timers in the test's hands."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from realtime.async_modes.threading_mode import ThreadingMode
from realtime.engine.outgoing import Outgoing
from realtime.engine.session import (
    DisconnectReason,
    DuplicateRequestError,
    Heartbeat,
    HeartbeatAction,
    Session,
    SessionState,
    UpgradeOutcome,
)
from realtime.engine.transports.sse_streaming import BACKED_UP, StreamChannel, sse_frame
from realtime.protocol.engineio import EngineSid, Packet, PacketType

MSG = PacketType.MESSAGE


class ManualClockMode(ThreadingMode):
    def __init__(self) -> None:
        super().__init__()
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


class ManualTimer:
    def __init__(self, when: float, callback: Callable[[float], None]) -> None:
        self.when, self.callback, self.cancelled = when, callback, False

    def cancel(self) -> None:
        self.cancelled = True


class ManualScheduler:
    """Timers that fire only when the test advances the clock."""

    def __init__(self, mode: ManualClockMode) -> None:
        self.mode = mode
        self.timers: list[ManualTimer] = []

    def call_at(self, when: float, callback: Callable[[float], None]) -> ManualTimer:
        timer = ManualTimer(when, callback)
        self.timers.append(timer)
        return timer

    def call_later(self, delay: float, callback: Callable[[float], None]) -> ManualTimer:
        return self.call_at(self.mode.now + delay, callback)

    def advance(self, seconds: float) -> None:
        self.mode.now += seconds
        while True:
            due = [t for t in self.timers if t.when <= self.mode.now and not t.cancelled]
            if not due:
                return
            for timer in due:
                self.timers.remove(timer)
                timer.callback(self.mode.now)


class Host:
    logger = logging.getLogger("tests.engine")

    def __init__(self) -> None:
        self.mode = ManualClockMode()
        self.scheduler = ManualScheduler(self.mode)
        self.messages: list[str | bytes] = []
        self.closed: list[DisconnectReason] = []
        self.released: list[Session] = []
        self.upgrades: list[tuple[str, UpgradeOutcome]] = []

    def session_message(self, sid: EngineSid, data: str | bytes) -> None:
        self.messages.append(data)

    def session_closed(self, session: Session, reason: DisconnectReason) -> None:
        self.closed.append(reason)

    def session_released(self, session: Session) -> None:
        self.released.append(session)

    def upgrade_ended(self, session: Session, transport: str, outcome: UpgradeOutcome) -> None:
        self.upgrades.append((transport, outcome))


class Channel:
    """A push channel that records what it was given."""

    name = "websocket"

    def __init__(self) -> None:
        self.written: list[Packet] = []
        self.closed: bool | None = None

    def write_packets(self, packets: Sequence[Packet]) -> None:
        self.written.extend(packets)

    def write_outgoing(self, outgoing: Outgoing) -> None:
        self.written.extend(outgoing.packets)

    def close(self, graceful: bool) -> None:
        self.closed = graceful


def make_session(host: Host, transport: str = "polling") -> Session:
    return Session(
        host,  # type: ignore[arg-type]
        EngineSid("sid1"),
        {},
        transport,
        ping_interval=25,
        ping_timeout=20,
    )


def msg(data: Any) -> Packet:
    return Packet(MSG, data)


def out(*packets: Packet) -> Outgoing:
    return Outgoing([p.data for p in packets])


class TestHeartbeat:
    def test_pings_after_interval_then_times_out(self) -> None:
        beat = Heartbeat.start(25, 20, now=0)
        assert beat.check(24.9) is HeartbeatAction.WAIT
        assert beat.check(25) is HeartbeatAction.PING
        assert beat.check(44.9) is HeartbeatAction.WAIT
        assert beat.check(45) is HeartbeatAction.TIMEOUT

    def test_pong_schedules_next_ping_from_pong_time(self) -> None:
        beat = Heartbeat.start(25, 20, now=0)
        beat.check(25)
        beat.pong(30)
        assert beat.deadline == 55
        assert beat.check(54) is HeartbeatAction.WAIT
        assert beat.check(55) is HeartbeatAction.PING

    def test_unsolicited_pong_changes_nothing(self) -> None:
        beat = Heartbeat.start(25, 20, now=0)
        beat.pong(10)
        assert beat.deadline == 25


class TestPolling:
    def test_queued_packets_wait_for_a_poll_in_order(self) -> None:
        host = Host()
        session = make_session(host)
        session.start()
        session.send(out(msg("a"), msg(b"b")))
        session.send(out(msg("c")))
        assert session.poll(wait=0) == [msg("a"), msg(b"b"), msg("c")]

    def test_a_poll_carries_at_most_16_packets(self) -> None:
        session = make_session(Host())
        session.start()
        session.send(out(*(msg(str(i)) for i in range(40))))
        sizes = [len(session.poll(wait=0)) for _ in range(3)]
        assert sizes == [16, 16, 8]

    def test_client_that_never_polls_is_closed_when_its_queue_is_too_big(self) -> None:
        host = Host()
        session = make_session(host)
        session.start()
        chunk = "x" * 1024 * 1024
        sent = [session.send(out(msg(chunk))) for _ in range(9)]
        assert sent == [True] * 8 + [False]
        assert host.closed == [DisconnectReason.TRANSPORT_ERROR]

    def test_empty_poll_times_out_with_noop(self) -> None:
        session = make_session(Host())
        session.start()
        assert session.poll(wait=0) == [Packet(PacketType.NOOP)]

    def test_second_concurrent_poll_is_refused(self) -> None:
        host = Host()
        session = make_session(host)
        session.start()
        results: list[Any] = []
        waiter = host.mode.spawn(lambda: results.append(session.poll(wait=5)))
        for _ in range(200):
            if session._polling:
                break
            host.mode.sleep(0.005)
        with pytest.raises(DuplicateRequestError):
            session.poll(wait=0)
        session.send(out(msg("x")))
        waiter.join(5)
        assert results == [[msg("x")]]

    def test_heartbeat_pings_then_times_out(self) -> None:
        host = Host()
        session = make_session(host)
        session.start()
        host.scheduler.advance(25)
        assert session.poll(wait=0) == [Packet(PacketType.PING)]
        session.receive(Packet(PacketType.PONG))
        host.scheduler.advance(25)
        assert session.poll(wait=0) == [Packet(PacketType.PING)]
        host.scheduler.advance(20)
        assert session.state is SessionState.CLOSED
        assert host.closed == [DisconnectReason.PING_TIMEOUT]
        assert session.poll(wait=0) == [Packet(PacketType.CLOSE)]

    def test_client_close_answers_pending_poll_with_noop(self) -> None:
        host = Host()
        session = make_session(host)
        session.start()
        session.receive(Packet(PacketType.CLOSE))
        assert host.closed == [DisconnectReason.CLIENT_DISCONNECT]
        assert session.poll(wait=0) == [Packet(PacketType.NOOP)]
        assert session.send(out(msg("late"))) is False

    def test_server_close_delivers_queue_then_close_packet(self) -> None:
        host = Host()
        session = make_session(host)
        session.start()
        session.send(out(msg("last words")))
        session.close(DisconnectReason.SERVER_DISCONNECT)
        assert session.state is SessionState.CLOSING
        assert host.closed == [DisconnectReason.SERVER_DISCONNECT]
        assert session.poll(wait=0) == [msg("last words"), Packet(PacketType.CLOSE)]
        assert session.state is SessionState.CLOSED
        assert host.released == [session]

    def test_lingering_closing_session_is_released_after_timeout(self) -> None:
        host = Host()
        session = make_session(host)
        session.start()
        session.close(DisconnectReason.SERVER_DISCONNECT, close_timeout=30)
        host.scheduler.advance(30)
        assert session.state is SessionState.CLOSED
        assert host.released == [session]

    def test_close_runs_once(self) -> None:
        host = Host()
        session = make_session(host)
        session.start()
        session.close(DisconnectReason.TRANSPORT_ERROR)
        session.close(DisconnectReason.PING_TIMEOUT)
        session.receive(Packet(PacketType.CLOSE))
        assert host.closed == [DisconnectReason.TRANSPORT_ERROR]

    def test_messages_reach_the_host_and_stop_after_close(self) -> None:
        host = Host()
        session = make_session(host)
        session.start()
        session.receive(msg("one"))
        session.receive(Packet(PacketType.NOOP))
        session.receive(Packet(PacketType.PING))
        session.close(DisconnectReason.TRANSPORT_CLOSE)
        session.receive(msg("two"))
        assert host.messages == ["one"]


class TestUpgrade:
    def upgrading(self, timeout: float = 10) -> tuple[Host, Session, Channel]:
        host = Host()
        session = make_session(host)
        session.start()
        channel = Channel()
        assert session.begin_probe(channel, timeout=timeout)
        return host, session, channel

    def test_probe_pauses_polling_and_upgrade_flushes_in_order(self) -> None:
        host, session, channel = self.upgrading()
        session.send(out(msg("before probe")))
        session.probe_ping(channel)  # type: ignore[arg-type]
        assert channel.written == [Packet(PacketType.PONG, "probe")]
        assert session.state is SessionState.UPGRADING
        # During the upgrade a poll returns at once, with what is queued.
        assert session.poll(wait=10) == [msg("before probe")]
        assert session.poll(wait=10) == [Packet(PacketType.NOOP)]
        session.send(out(msg("during")))
        assert session.complete_upgrade(channel)  # type: ignore[arg-type]
        session.send(out(msg("after")))
        assert channel.written[1:] == [msg("during"), msg("after")]
        assert session.transport == "websocket"
        assert session.state is SessionState.OPEN
        assert host.upgrades == [("websocket", UpgradeOutcome.SUCCEEDED)]

    def test_heartbeat_during_upgrade_is_queued_then_flushed(self) -> None:
        host, session, channel = self.upgrading(timeout=60)
        session.probe_ping(channel)  # type: ignore[arg-type]
        host.scheduler.advance(25)
        session.complete_upgrade(channel)  # type: ignore[arg-type]
        assert channel.written[-1] == Packet(PacketType.PING)

    def test_second_probe_is_refused(self) -> None:
        _, session, _ = self.upgrading()
        assert not session.begin_probe(Channel(), timeout=10)

    def test_probe_timeout_returns_to_polling(self) -> None:
        host, session, channel = self.upgrading()
        session.probe_ping(channel)  # type: ignore[arg-type]
        host.scheduler.advance(10)
        assert session.state is SessionState.OPEN
        assert session.transport == "polling"
        assert channel.closed is False
        session.send(out(msg("still polling")))
        assert session.poll(wait=0) == [msg("still polling")]
        assert host.upgrades == [("websocket", UpgradeOutcome.TIMED_OUT)]

    def test_abandoned_probe_cannot_complete(self) -> None:
        host, session, channel = self.upgrading()
        session.abandon_probe(channel)  # type: ignore[arg-type]
        assert not session.complete_upgrade(channel)  # type: ignore[arg-type]
        # Told once, and not again when its timer would have fired.
        host.scheduler.advance(10)
        assert host.upgrades == [("websocket", UpgradeOutcome.FAILED)]

    def test_a_session_closed_during_its_probe_aborts_the_upgrade(self) -> None:
        host, session, channel = self.upgrading()
        session.probe_ping(channel)  # type: ignore[arg-type]
        session.close(DisconnectReason.PING_TIMEOUT)
        assert not session.complete_upgrade(channel)  # type: ignore[arg-type]
        session.abandon_probe(channel)  # type: ignore[arg-type]
        host.scheduler.advance(10)
        assert host.upgrades == [("websocket", UpgradeOutcome.ABORTED)]

    def test_no_upgrade_once_on_websocket(self) -> None:
        host = Host()
        session = make_session(host, "websocket")
        channel = Channel()
        session.start(push=channel)
        assert not session.begin_probe(Channel(), timeout=10)

    def test_server_close_on_websocket_sends_close_then_closes_gracefully(self) -> None:
        host = Host()
        session = make_session(host, "websocket")
        channel = Channel()
        session.send(out(msg("queued before start")))
        session.start(push=channel)
        session.close(DisconnectReason.SERVER_DISCONNECT)
        assert channel.written == [msg("queued before start"), Packet(PacketType.CLOSE)]
        assert channel.closed is True
        assert session.state is SessionState.CLOSED


class TestVolatile:
    """Volatile messages (Socket.IO's ``volatile``): sent if the transport
    can take them at once, else dropped, never queued."""

    def test_a_polling_session_with_no_get_waiting_drops_them(self) -> None:
        session = make_session(Host())
        session.start()
        assert session.send(Outgoing([msg("v").data], volatile=True)) is False
        session.send(out(msg("kept")))
        assert session.poll(wait=0) == [msg("kept")]

    def test_a_waiting_get_takes_them(self) -> None:
        host = Host()
        session = make_session(host)
        session.start()
        results: list[Any] = []
        waiter = host.mode.spawn(lambda: results.append(session.poll(wait=5)))
        for _ in range(200):
            if session._polling:
                break
            host.mode.sleep(0.005)
        assert session.send(Outgoing([msg("v").data], volatile=True)) is True
        waiter.join(5)
        assert results == [[msg("v")]]

    def test_a_push_channel_takes_them_unless_it_says_it_is_backed_up(self) -> None:
        session = make_session(Host(), "websocket")
        channel = Channel()
        session.start(channel)
        assert session.send(Outgoing([msg("v1").data], volatile=True)) is True
        channel.writable = False  # type: ignore[attr-defined]
        assert session.send(Outgoing([msg("v2").data], volatile=True)) is False
        assert session.send(out(msg("kept"))) is True
        assert channel.written == [msg("v1"), msg("kept")]


def test_a_stream_channel_is_writable_until_backed_up() -> None:
    channel = StreamChannel("sse", ManualClockMode(), sse_frame, logging.getLogger("t"), "c")
    assert channel.writable
    channel.write_packets([msg("x" * BACKED_UP)])
    assert not channel.writable
    body = channel.body(b"")
    assert next(body) == b""
    assert next(body).startswith(b"data: 4x")  # the response took it
    assert channel.writable
    channel.close(graceful=False)
    assert not channel.writable
