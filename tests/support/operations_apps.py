"""Apps with the health checks and Prometheus metrics on (``health_path="/health"``,
``metrics_path="/metrics"``).

``sio_ops`` is the bare :class:`realtime.Server`, ``flask_ops`` the Flask
extension; both serve "/" with:

- ``echo`` (*args): acks its arguments;
- ``shout`` (text): emits ``shouted`` with it to everyone;
- ``ask``: asks the sender ``question`` with a callback, and acks once the
  answer came (the ack latency histogram then has it);
- ``bye``: the server disconnects the sender;
- ``pid``: acks the process id (which gunicorn worker serves the client).

The options go to the server.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, request

import realtime
from realtime.flask_integration import Realtime, disconnect, emit

OPTIONS = {"health_path": "/health", "metrics_path": "/metrics"}


def sio_ops(mode: str, **options: Any) -> realtime.Server:
    sio = realtime.Server(async_mode=mode, **{**OPTIONS, **options})

    @sio.event
    def echo(sid: str, *args: Any) -> Any:
        return list(args)

    @sio.event
    def shout(sid: str, text: str) -> None:
        sio.emit("shouted", text)

    @sio.event
    def ask(sid: str) -> Any:
        return sio.call("question", "how long?", to=sid, timeout=10)

    @sio.event
    def bye(sid: str) -> None:
        sio.disconnect(sid)

    @sio.event
    def pid(sid: str) -> int:
        return os.getpid()

    return sio


def flask_ops(mode: str, **options: Any) -> Flask:
    app = Flask(__name__)
    rt = Realtime(app, async_mode=mode, **{**OPTIONS, **options})

    @rt.on("echo")
    def echo(*args: Any) -> Any:
        return list(args)

    @rt.on("shout")
    def shout(text: str) -> None:
        emit("shouted", text, broadcast=True)

    @rt.on("ask")
    def ask() -> Any:
        return rt.call("question", "how long?", to=request.sid, timeout=10)  # type: ignore[attr-defined]

    @rt.on("bye")
    def bye() -> None:
        disconnect()

    @rt.on("pid")
    def pid() -> int:
        return os.getpid()

    return app
