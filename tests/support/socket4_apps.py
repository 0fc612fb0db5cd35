"""Apps with Node's socket.io 4 server tools: middlewares, on_any, disconnecting.

``sio_socket4`` is the bare :class:`realtime.Server`, ``flask_socket4`` the
same behaviour on the Flask extension. Both:

- connection middlewares on "/": auth ``{"mw_refuse": m}`` is refused by the
  first with message m and data ``{"by": "middleware"}``; ``{"mw_false":
  true}`` by returning False; otherwise each adds its name to the socket's
  ``trail`` (kept in the session), and the connect handler adds
  ``"connect"``. Auth ``{"handler_refuse": m}`` is refused by the connect
  handler (which then never sees a middleware refusal). "/other" has a
  middleware of its own, registered for ``"*"``, that records the namespace.
- an event middleware: ``secret`` is refused with the ack ``{"error":
  "forbidden"}``, ``hush`` refused with no ack, ``shout`` becomes ``echo``
  with its string arguments upper-cased; ``echo`` acks its arguments.
- ``on_any`` records every incoming event (name and arguments) per client,
  ``on_any_outgoing`` every outgoing one; ``seen`` and ``seen_out`` ack them.
- ``join`` (room); ``disconnecting`` and ``disconnect`` record the rooms
  they see, which ``exits`` (sid) acks.
- ``trail`` acks the trail; ``ping_me`` emits ``pong`` to the sender.
- ``to_except`` (target, exclude, event, *args): emit with ``exclude=``;
  ``volatile_all`` and ``plain_all`` (event, *args): to everyone, volatile or
  not.

``flask_socket4`` has ``fetch``, ``join_all`` and ``ask_servers`` too (its
``hello`` handler answers the app's name, read from ``current_app``).
``sio_socket4`` also acts on the whole deployment (run it as several
processes with a ``message_queue``): ``save`` (key, value) in the session,
``save_odd`` (a set, which cannot cross the broker);
``fetch`` (to, exclude) acks the sockets ``fetch_sockets`` finds (sid,
rooms, data, handshake, local, and this process's pid); ``view_emit`` (sid,
event, *args), ``view_join``/``view_leave`` (sid, room) and
``view_disconnect`` (sid, close) act through a fetched socket;
``join_all``/``leave_all`` (rooms, to), ``kick_all`` (to, close);
``ask_servers`` (timeout, *args) acks what ``server_side_emit("hello",
...)`` returns (or ``{"timeout": missing processes}``), whose handler
answers its pid and arguments; ``slow_servers`` (timeout): the same with a
handler that takes 3 s; ``tell_servers`` (*args): ``note``, without
waiting; ``notes`` acks the notes this process got.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, current_app, request, session

import realtime
from realtime import ConnectionRefused, EventRefused, ProcessesTimeout
from realtime.flask_integration import Realtime, emit, join_room, rooms


def sio_socket4(mode: str, **options: Any) -> realtime.Server:
    sio = realtime.Server(async_mode=mode, **options)
    incoming: dict[str, list[Any]] = {}
    outgoing: dict[str, list[Any]] = {}
    exits: dict[str, dict[str, list[str]]] = {}

    @sio.use
    def first(sid: str, environ: dict[str, Any], auth: Any) -> Any:
        if isinstance(auth, dict) and "mw_refuse" in auth:
            raise ConnectionRefusedError(auth["mw_refuse"], {"by": "middleware"})
        if isinstance(auth, dict) and auth.get("mw_false"):
            return False
        sio.save_session(sid, {"trail": ["first"]})
        return None

    @sio.use
    def second(sid: str) -> None:
        with sio.session(sid) as data:
            data["trail"].append("second")

    @sio.use(namespace="*")
    def everywhere(namespace: str, sid: str) -> None:
        if namespace != "/":
            sio.save_session(sid, {"trail": [f"everywhere {namespace}"]}, namespace)

    @sio.on("connect")
    def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        if isinstance(auth, dict) and "handler_refuse" in auth:
            raise ConnectionRefused(auth["handler_refuse"])
        with sio.session(sid) as data:
            data["trail"].append("connect")

    @sio.on("connect", namespace="/other")
    def connect_other(sid: str) -> None:
        pass

    @sio.on("trail", namespace="/other")
    def trail_other(sid: str) -> Any:
        return sio.get_session(sid, "/other").get("trail")

    @sio.event_middleware
    def screen(sid: str, event: str, args: list[Any]) -> Any:
        if event == "secret":
            raise EventRefused({"error": "forbidden"})
        if event == "hush":
            raise EventRefused()
        if event == "shout":
            return "echo", [a.upper() if isinstance(a, str) else a for a in args]
        return None

    @sio.on_any
    def any_in(sid: str, event: str, *args: Any) -> None:
        incoming.setdefault(sid, []).append([event, *args])

    @sio.on_any_outgoing
    def any_out(sid: str, event: str, *args: Any) -> None:
        outgoing.setdefault(sid, []).append([event, *args])

    @sio.event
    def trail(sid: str) -> Any:
        return sio.get_session(sid).get("trail")

    @sio.event
    def echo(sid: str, *args: Any) -> Any:
        return args

    @sio.event
    def secret(sid: str) -> str:
        return "leaked"

    @sio.event
    def seen(sid: str) -> Any:
        return incoming.get(sid, [])

    @sio.event
    def seen_out(sid: str) -> Any:
        return outgoing.get(sid, [])

    @sio.event
    def ping_me(sid: str) -> None:
        sio.emit("pong", ("a", 1), to=sid)

    @sio.event
    def join(sid: str, room: str) -> None:
        sio.enter_room(sid, room)

    @sio.on("disconnecting")
    def disconnecting(sid: str, reason: Any) -> None:
        exits.setdefault(sid, {})["disconnecting"] = sio.rooms(sid)

    @sio.on("disconnect")
    def disconnect(sid: str, reason: Any) -> None:
        exits.setdefault(sid, {})["disconnect"] = sio.rooms(sid)

    @sio.event
    def exits_of(sid: str, other: str) -> Any:
        return exits.get(other)

    @sio.event
    def to_except(sid: str, target: Any, exclude: Any, event: str, *args: Any) -> None:
        sio.emit(event, tuple(args), to=target, exclude=exclude)

    @sio.event
    def volatile_all(sid: str, event: str, *args: Any) -> None:
        sio.emit(event, tuple(args), volatile=True)

    @sio.event
    def plain_all(sid: str, event: str, *args: Any) -> None:
        sio.emit(event, tuple(args))

    notes: list[Any] = []

    @sio.event
    def save(sid: str, key: str, value: Any) -> None:
        with sio.session(sid) as data:
            data[key] = value

    @sio.event
    def save_odd(sid: str) -> None:
        with sio.session(sid) as data:
            data["odd"] = {1, 2}  # msgpack cannot carry a set

    @sio.event
    def fetch(sid: str, to: Any = None, exclude: Any = None) -> Any:
        return [
            {
                "sid": view.sid,
                "rooms": view.rooms,
                "data": view.data,
                "handshake": sorted(view.handshake),
                "auth": view.handshake["auth"],
                "address": view.handshake["address"],
                "local": view.local,
                "pid": os.getpid(),
            }
            for view in sio.fetch_sockets(to, exclude=exclude)
        ]

    def view(other: str) -> Any:
        (found,) = sio.fetch_sockets(other)
        return found

    @sio.event
    def view_emit(sid: str, other: str, event: str, *args: Any) -> None:
        view(other).emit(event, *args)

    @sio.event
    def view_join(sid: str, other: str, room: str) -> None:
        view(other).join(room)

    @sio.event
    def view_leave(sid: str, other: str, room: str) -> None:
        view(other).leave(room)

    @sio.event
    def view_disconnect(sid: str, other: str, close: bool) -> None:
        view(other).disconnect(close)

    @sio.event
    def join_all(sid: str, rooms: Any, to: Any = None) -> None:
        sio.sockets_join(rooms, to)

    @sio.event
    def leave_all(sid: str, rooms: Any, to: Any = None) -> None:
        sio.sockets_leave(rooms, to)

    @sio.event
    def kick_all(sid: str, to: Any = None, close: bool = False) -> None:
        sio.disconnect_sockets(to, close=close)

    @sio.on_server("hello")
    def hello(*args: Any) -> Any:
        return {"pid": os.getpid(), "args": list(args)}

    @sio.on_server("slow")
    def slow(*args: Any) -> Any:
        sio.sleep(3)
        return "late"

    @sio.on_server("note")
    def note(*args: Any) -> None:
        notes.append(list(args))

    @sio.event
    def ask_servers(sid: str, timeout: float, *args: Any) -> Any:
        return sio.server_side_emit("hello", *args, timeout=timeout)

    @sio.event
    def slow_servers(sid: str, timeout: float) -> Any:
        try:
            return sio.server_side_emit("slow", timeout=timeout)
        except ProcessesTimeout as exc:
            return {"timeout": exc.missing, "message": str(exc)}

    @sio.event
    def tell_servers(sid: str, *args: Any) -> None:
        sio.server_side_emit("note", *args)

    @sio.on("notes")
    def get_notes(sid: str) -> Any:
        return notes

    return sio


def flask_socket4(mode: str, **options: Any) -> Flask:
    app = Flask(__name__)
    app.config["SECRET_KEY"] = "socket4"
    socketio = Realtime(app, async_mode=mode, **options)
    incoming: dict[str, list[Any]] = {}
    outgoing: dict[str, list[Any]] = {}
    exits: dict[str, dict[str, list[str]]] = {}

    @socketio.use
    def first(auth: Any) -> Any:
        if isinstance(auth, dict) and "mw_refuse" in auth:
            raise ConnectionRefused(auth["mw_refuse"], {"by": "middleware"})
        if isinstance(auth, dict) and auth.get("mw_false"):
            return False
        session["trail"] = [f"first {request.sid}"]  # type: ignore[attr-defined]
        return None

    @socketio.use
    def second() -> None:
        session["trail"] = [*session["trail"], "second"]

    @socketio.use(namespace="*")
    def everywhere() -> None:
        namespace = request.namespace  # type: ignore[attr-defined]
        if namespace != "/":
            session["trail"] = [f"everywhere {namespace}"]

    @socketio.on("connect", namespace="/other")
    def connect_other() -> None:
        pass

    @socketio.on("trail", namespace="/other")
    def trail_other() -> Any:
        return session.get("trail")

    @socketio.on("connect")
    def connect(auth: Any) -> None:
        if isinstance(auth, dict) and "handler_refuse" in auth:
            raise ConnectionRefused(auth["handler_refuse"])
        session["trail"] = [*session["trail"], "connect"]

    @socketio.event_middleware
    def screen(event: str, args: list[Any]) -> Any:
        if event == "secret":
            raise EventRefused({"error": "forbidden", "sid": request.sid})  # type: ignore[attr-defined]
        if event == "hush":
            raise EventRefused()
        if event == "shout":
            return "echo", [a.upper() if isinstance(a, str) else a for a in args]
        return None

    @socketio.on_any
    def any_in(event: str, *args: Any) -> None:
        incoming.setdefault(request.sid, []).append([event, *args])  # type: ignore[attr-defined]

    @socketio.on_any_outgoing
    def any_out(event: str, *args: Any) -> None:
        outgoing.setdefault(request.sid, []).append([event, *args])  # type: ignore[attr-defined]

    @socketio.event
    def trail() -> Any:
        return session.get("trail")

    @socketio.event
    def echo(*args: Any) -> Any:
        return args

    @socketio.event
    def secret() -> str:
        return "leaked"

    @socketio.event
    def seen() -> Any:
        return incoming.get(request.sid, [])  # type: ignore[attr-defined]

    @socketio.event
    def seen_out() -> Any:
        return outgoing.get(request.sid, [])  # type: ignore[attr-defined]

    @socketio.event
    def ping_me() -> None:
        emit("pong", ("a", 1))

    @socketio.event
    def join(room: str) -> None:
        join_room(room)

    @socketio.on("disconnecting")
    def disconnecting(reason: Any) -> None:
        exits.setdefault(request.sid, {})["disconnecting"] = rooms()  # type: ignore[attr-defined]

    @socketio.on("disconnect")
    def disconnect(reason: Any) -> None:
        exits.setdefault(request.sid, {})["disconnect"] = rooms()  # type: ignore[attr-defined]

    @socketio.event
    def exits_of(other: str) -> Any:
        return exits.get(other)

    @socketio.event
    def to_except(target: Any, exclude: Any, event: str, *args: Any) -> None:
        emit(event, *args, to=target, broadcast=True, exclude=exclude)

    @socketio.event
    def volatile_all(event: str, *args: Any) -> None:
        socketio.emit(event, *args, volatile=True)

    @socketio.event
    def plain_all(event: str, *args: Any) -> None:
        socketio.emit(event, *args)

    @socketio.on_server("hello")
    def hello(*args: Any) -> Any:
        return {"app": current_app.name, "pid": os.getpid(), "args": list(args)}

    @socketio.event
    def ask_servers(timeout: float, *args: Any) -> Any:
        return socketio.server_side_emit("hello", *args, timeout=timeout)

    @socketio.event
    def fetch(to: Any = None) -> Any:
        return [
            {"sid": view.sid, "rooms": view.rooms, "local": view.local}
            for view in socketio.fetch_sockets(to)
        ]

    @socketio.event
    def join_all(rooms: Any, to: Any = None) -> None:
        socketio.sockets_join(rooms, to)

    return app
