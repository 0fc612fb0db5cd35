"""WebSocketConnection.writable: False while the kernel refuses what was
written (volatile messages are then dropped), True again once the client
read it all."""

from __future__ import annotations

import logging
import socket
import time

from realtime.async_modes import get_async_mode
from realtime.async_modes.base import HandedOverSocket
from realtime.engine.scheduler import Scheduler
from realtime.engine.transports.websocket.connection import WebSocketConnection
from realtime.protocol.engineio import Packet, PacketType

SIZE = 2_000_000  # more than a socket pair's buffers hold, less than the write limit


def test_a_connection_is_writable_until_the_client_stops_reading() -> None:
    mode = get_async_mode("threading")
    ours, peer = socket.socketpair()
    connection = WebSocketConnection(
        mode,
        Scheduler(mode),
        HandedOverSocket(ours, ours, lambda start_response: []),
        None,
        max_size=None,
        compressed=False,
        log=logging.getLogger("tests.websocket"),
        label="test",
    )
    try:
        assert connection.writable
        connection.write_packets([Packet(PacketType.MESSAGE, "x" * SIZE)])
        assert not connection.writable  # the client has not read: backed up
        received = 0
        peer.settimeout(10)
        while received < SIZE:
            received += len(peer.recv(1 << 20))
        deadline = time.monotonic() + 10
        while not connection.writable and time.monotonic() < deadline:
            time.sleep(0.01)
        assert connection.writable
    finally:
        peer.close()
        ours.close()
