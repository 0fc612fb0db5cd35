"""Apps instrumented for the Socket.IO Admin UI (``instrument()``).

``sio_admin`` is the bare :class:`realtime.Server`, ``flask_admin`` the
Flask extension; both serve "/" with:

- ``join`` (room): the sender joins ``room``; ``leave`` (room) leaves it;
- ``echo`` (*args): acks its arguments and emits ``echoed`` with them to
  the sender;
- ``rooms``: acks the sender's rooms.

Options: ``auth`` (default ``{"username": "admin", "password":
"s3cret"}``; ``"callable"`` for a function that accepts the password
``"open sesame"``), ``read_only``, ``admin_mode`` (``"development"`` or
``"production"``), ``server_id``, ``stats_interval`` (default 0.5 s); the
others go to the server. The admin UI's page, served by the test on another
port, needs CORS: every origin is allowed.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, request

import realtime
from realtime.flask_integration import Realtime, emit, join_room, leave_room, rooms

CREDENTIALS = {"username": "admin", "password": "s3cret"}


def _instrument_options(options: dict[str, Any]) -> dict[str, Any]:
    auth = options.pop("auth", CREDENTIALS)
    if auth == "callable":

        def auth(given: Any) -> bool:
            return isinstance(given, dict) and given.get("password") == "open sesame"

    return {
        "auth": auth,
        "read_only": options.pop("read_only", False),
        "mode": options.pop("admin_mode", "development"),
        "server_id": options.pop("server_id", None),
        "server_stats_interval": options.pop("stats_interval", 0.5),
    }


def sio_admin(mode: str, **options: Any) -> realtime.Server:
    admin = _instrument_options(options)
    options.setdefault("cors_allowed_origins", "*")
    sio = realtime.Server(async_mode=mode, **options)

    @sio.event
    def join(sid: str, room: str) -> None:
        sio.enter_room(sid, room)

    @sio.event
    def leave(sid: str, room: str) -> None:
        sio.leave_room(sid, room)

    @sio.on("rooms")
    def my_rooms(sid: str) -> Any:
        return sio.rooms(sid)

    @sio.event
    def echo(sid: str, *args: Any) -> Any:
        sio.emit("echoed", tuple(args), to=sid)
        return list(args)

    sio.instrument(**admin)
    return sio


def flask_admin(mode: str, **options: Any) -> Flask:
    admin = _instrument_options(options)
    options.setdefault("cors_allowed_origins", "*")
    app = Flask(__name__)
    app.config["SECRET_KEY"] = "admin tests"
    rt = Realtime(app, async_mode=mode, **options)

    @rt.on("join")
    def join(room: str) -> None:
        join_room(room)

    @rt.on("leave")
    def leave(room: str) -> None:
        leave_room(room)

    @rt.on("rooms")
    def my_rooms() -> Any:
        return rooms()

    @rt.on("echo")
    def echo(*args: Any) -> Any:
        emit("echoed", args, to=request.sid)  # type: ignore[attr-defined]
        return list(args)

    rt.instrument(**admin)
    return app
