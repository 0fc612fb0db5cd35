"""A Flask app with ``async def`` handlers, as Flask-SocketIO users write them.

``create_app(mode)`` for ``tests.support.serve_app``. Events:

- ``async_echo(data)``: awaits, emits ``async_echo`` with what the handler's
  contexts say (sid, app, a value from ``g``), and answers ``data``;
- in the namespace ``/ns`` (a class-based namespace), ``async_ping()``
  answers ``"pong"`` after awaiting.
"""

from __future__ import annotations

import asyncio
from typing import Any

from flask import Flask, current_app, g, request

from realtime.flask_integration import Namespace, SocketIO, emit

socketio = SocketIO()


@socketio.event
async def async_echo(data: Any) -> Any:
    g.seen = "from g"
    await asyncio.sleep(0.01)
    emit(
        "async_echo",
        {"data": data, "sid": request.sid, "app": current_app.name, "g": g.seen},  # type: ignore[attr-defined]
    )
    return data


class Pings(Namespace):
    async def on_async_ping(self) -> str:
        await asyncio.sleep(0)
        return "pong"


socketio.on_namespace(Pings("/ns"))


def create_app(mode: str | None = None, **options: Any) -> Flask:
    app = Flask(__name__)
    socketio.init_app(app, async_mode=mode, **options)
    return app
