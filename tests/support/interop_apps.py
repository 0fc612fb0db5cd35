"""Socket.IO apps for the Node interop suite (tests/interop), on top of ``sio_echo``."""

from __future__ import annotations

import time
from typing import Any

import realtime
from realtime.protocol.socketio import SocketSid
from tests.support.sio_apps import sio_echo

#: Most events one ``stream`` sends, whatever the client does meanwhile.
STREAM_LIMIT = 20_000
#: Events streamed after the switch to WebSocket, with ``until_websocket``.
TAIL = 20


def interop(mode: str, **options: Any) -> realtime.Server:
    """``sio_echo`` and the few events the Node interop suite needs besides.

    ``engine_sid`` (in "/" and "/custom") answers the Engine.IO sid carrying
    the socket; ``slow_ack`` (seconds) answers ``"late"`` after that long;
    ``drop`` closes the sender's whole Engine.IO session, close packet first
    (as a stock server's ``socket.conn.close()``); ``stream`` (event, count,
    until_websocket) emits ``event`` with 0, 1, 2... to the sender from a
    background task, at least ``count`` times and, with ``until_websocket``,
    until the sender is on WebSocket, then ``<event>-end`` with how many it
    sent.

    Started with ``async_handlers=False``, events run one at a time in the
    order they arrived, so an echo (``message`` -> ``message-back``) keeps
    the order of the wire; ``ask`` and the other calls then cannot be used.
    """
    sio = sio_echo(mode, **options)

    def engine_sid(sid: str, namespace: str) -> str:
        return dict(sio.manager.members(namespace, [sid]))[SocketSid(sid)]

    sio.on("engine_sid", lambda sid: engine_sid(sid, "/"))
    sio.on("engine_sid", lambda sid: engine_sid(sid, "/custom"), namespace="/custom")

    @sio.on("slow_ack")
    def slow_ack(sid: str, seconds: float) -> str:
        sio.sleep(seconds)
        return "late"

    @sio.on("drop")
    def drop(sid: str) -> None:
        sio.engine.disconnect(engine_sid(sid, "/"))

    @sio.on("stream")
    def stream(sid: str, event: str, count: int, until_websocket: bool) -> None:
        def run() -> None:
            sent = 0
            # With until_websocket, TAIL more once the session is on
            # WebSocket, so that some surely follow the switch on the client
            # too (the last poll may carry all that came before it).
            tail = 0
            deadline = time.monotonic() + 30
            while sent < STREAM_LIMIT and time.monotonic() < deadline:
                switched = not (until_websocket and _on_polling(sio, sid))
                if sent >= count and switched:
                    if not until_websocket or tail >= TAIL:
                        break
                    tail += 1
                sio.emit(event, sent, to=sid)
                sent += 1
                if sent % 5 == 0:
                    sio.sleep(0.002)
            sio.emit(f"{event}-end", sent, to=sid)

        sio.start_background_task(run)

    return sio


def _on_polling(sio: realtime.Server, sid: str) -> bool:
    try:
        return sio.transport(sid) == "polling"
    except KeyError:  # gone: stop streaming
        return False
