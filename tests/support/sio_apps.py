"""Socket.IO apps the messaging tests serve (see ``tests.support.serve_app``)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs

import orjson

import realtime
from realtime import AckTimeout, ConnectionRefused, Namespace


def sio_echo(mode: str, **options: Any) -> realtime.Server:
    """The reference server of the Socket.IO v5 conformance suite, and more.

    "/" and "/custom" emit ``auth`` with the CONNECT payload; ``message`` is
    echoed as ``message-back``; ``message-with-ack`` acks its arguments. Auth
    ``{"refuse": m}`` is refused with message m and data ``{"why": m}``;
    ``{"refuse_false": true}`` by returning False. Events ``join``, ``leave``,
    ``rooms``, ``to_room`` (room, event, *args: everyone in the room but the
    sender), ``to_all``, ``to_room_except`` (room, skip_sid), ``ask`` (call
    the sender back), ``ask_room`` (call a room), ``ask_with_timeout``,
    ``emit_with_callback``, ``kick`` (server disconnect), ``session_set`` /
    ``session_get`` and ``binary_back``. The "/chat" namespace is class based;
    namespaces matching ``/dyn-<n>`` are dynamic. ``GET /_test/state`` reports
    disconnect reasons and callback results.
    """
    options.setdefault("connect_timeout", 2)
    sio = realtime.Server(async_mode=mode, **options)
    reasons: dict[str, str] = {}
    callbacks: dict[str, Any] = {}

    def on_connect(sid: str, environ: dict[str, Any], auth: Any) -> bool:
        if isinstance(auth, dict):
            if "refuse" in auth:
                raise ConnectionRefused(auth["refuse"], {"why": auth["refuse"]})
            if auth.get("refuse_false"):
                return False
        return True

    @sio.on("connect")
    def connect(sid: str, environ: dict[str, Any], auth: Any) -> bool:
        accepted = on_connect(sid, environ, auth)
        if accepted:
            sio.emit("auth", auth if auth is not None else {}, to=sid)
        return accepted

    @sio.on("connect", namespace="/custom")
    def connect_custom(sid: str, environ: dict[str, Any], auth: Any) -> None:
        sio.emit("auth", auth if auth is not None else {}, to=sid, namespace="/custom")

    @sio.on("message")
    def message(sid: str, *args: Any) -> None:
        sio.emit("message-back", tuple(args), to=sid)

    @sio.on("message", namespace="/custom")
    def message_custom(sid: str, *args: Any) -> None:
        sio.emit("message-back", tuple(args), to=sid, namespace="/custom")

    @sio.on("message-with-ack")
    def message_with_ack(sid: str, *args: Any) -> tuple[Any, ...]:
        return args

    @sio.on("join")
    def join(sid: str, room: str) -> list[str]:
        sio.enter_room(sid, room)
        return sio.rooms(sid)

    @sio.on("leave")
    def leave(sid: str, room: str) -> list[str]:
        sio.leave_room(sid, room)
        return sio.rooms(sid)

    @sio.on("close_room")
    def close_room(sid: str, room: str) -> None:
        sio.close_room(room)

    @sio.on("to_room")
    def to_room(sid: str, room: str, event: str, *args: Any) -> None:
        sio.emit(event, tuple(args), to=room, skip_sid=sid)

    @sio.on("to_room_except")
    def to_room_except(sid: str, room: str, skip: str, event: str, *args: Any) -> None:
        sio.emit(event, tuple(args), to=room, skip_sid=skip)

    @sio.on("to_rooms")
    def to_rooms(sid: str, rooms: list[str], event: str, *args: Any) -> None:
        sio.emit(event, tuple(args), to=rooms)

    @sio.on("to_all")
    def to_all(sid: str, event: str, *args: Any) -> None:
        sio.emit(event, tuple(args))

    @sio.on("ask")
    def ask(sid: str, *args: Any) -> Any:
        return sio.call("question", tuple(args), to=sid, timeout=5)

    @sio.on("ask_with_timeout")
    def ask_with_timeout(sid: str, timeout: float) -> str:
        try:
            sio.call("silent", to=sid, timeout=timeout)
        except AckTimeout as exc:
            return f"timeout {isinstance(exc, TimeoutError)}"
        return "answered"

    @sio.on("ask_room")
    def ask_room(sid: str, room: str, timeout: float) -> dict[str, Any]:
        answers = sio.call("question", "room?", to=room, timeout=timeout)
        return {
            member: ("timeout" if isinstance(answer, AckTimeout) else answer)
            for member, answer in answers.items()
        }

    @sio.on("emit_with_callback")
    def emit_with_callback(sid: str, key: str) -> None:
        def callback(*args: Any) -> None:
            callbacks[key] = list(args)

        sio.emit("question", "callback?", to=sid, callback=callback)

    @sio.on("kick")
    def kick(sid: str) -> None:
        sio.disconnect(sid)

    @sio.on("session_set")
    def session_set(sid: str, value: Any) -> None:
        with sio.session(sid) as session:
            session["value"] = value

    @sio.on("session_get")
    def session_get(sid: str) -> Any:
        return sio.get_session(sid).get("value")

    @sio.on("binary_back")
    def binary_back(sid: str, data: Any) -> Any:
        return {"got": data, "extra": b"\x00\xff"}

    @sio.on("transport")
    def transport(sid: str) -> str:
        return sio.transport(sid)

    @sio.on("disconnect")
    def disconnect(sid: str, reason: str) -> None:
        reasons[sid] = str(reason)

    @sio.on("disconnect", namespace="/custom")
    def disconnect_custom(sid: str, reason: str) -> None:
        reasons[sid] = str(reason)

    class Chat(Namespace):
        def on_connect(self, sid: str, environ: dict[str, Any]) -> None:
            self.enter_room(sid, "lobby")

        def on_say(self, sid: str, text: str) -> str:
            self.emit("said", text, to="lobby", skip_sid=sid)
            return "ok"

        def on_disconnect(self, sid: str, reason: str) -> None:
            reasons[sid] = str(reason)

    sio.register_namespace(Chat("/chat"))

    @sio.on("connect", namespace=re.compile(r"/dyn-\d+"))
    def connect_dynamic(namespace: str, sid: str, environ: dict[str, Any]) -> None:
        sio.emit("welcome", namespace, to=sid, namespace=namespace)

    @sio.on("*", namespace=re.compile(r"/dyn-\d+"))
    def any_dynamic(event: str, namespace: str, sid: str, *args: Any) -> tuple[Any, ...]:
        return (event, namespace, *args)

    def state(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        sid = query.get("sid", [""])[0]
        key = query.get("callback", [""])[0]
        body = orjson.dumps({"reason": reasons.get(sid), "callback": callbacks.get(key)})
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]

    sio.wsgi_app = state
    return sio


def sio_semantics(mode: str, **options: Any) -> realtime.Server:
    """What the messaging layer promises around handlers, beyond the wire format.

    Connecting to "/" with auth ``{"early": delay}`` makes the connect
    handler emit ``early`` to the client, then wait ``delay`` seconds, then
    refuse it if auth also has ``refuse`` (``"unencodable"``: with data JSON
    cannot carry). Events: ``join`` (room), ``work`` (delay, tag: sleeps,
    then acks tag), ``ask_inline`` (calls the client back and acks what
    that raised, if anything), ``kick``. The disconnect handler broadcasts
    ``gone`` (sid, rooms) to the rooms the client was in, and ``GET
    /_test/state?sid=`` reports the rooms and transport it saw there. "/side"
    acks ``ping`` with ``pong``.
    """
    sio = realtime.Server(async_mode=mode, **options)
    seen: dict[str, Any] = {}

    @sio.on("connect")
    def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        if not isinstance(auth, dict) or "early" not in auth:
            return
        sio.emit("early", sid, to=sid)
        sio.sleep(auth["early"])
        if auth.get("refuse") == "unencodable":
            raise ConnectionRefused("unencodable", {"what": object()})
        if auth.get("refuse"):
            raise ConnectionRefused("refused")

    @sio.on("join")
    def join(sid: str, room: str) -> list[str]:
        sio.enter_room(sid, room)
        return sio.rooms(sid)

    @sio.on("work")
    def work(sid: str, delay: float, tag: str) -> str:
        sio.sleep(delay)
        return tag

    @sio.on("ask_inline")
    def ask_inline(sid: str) -> str:
        try:
            sio.call("question", to=sid, timeout=2)
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"
        return "answered"

    @sio.on("kick")
    def kick(sid: str) -> None:
        sio.disconnect(sid)

    @sio.on("disconnect")
    def disconnect(sid: str, reason: str) -> None:
        rooms = sio.rooms(sid)
        seen[sid] = {"rooms": rooms, "transport": sio.transport(sid), "reason": str(reason)}
        sio.emit("gone", (sid, rooms), to=[room for room in rooms if room != sid])

    @sio.on("ping", namespace="/side")
    def side_ping(sid: str) -> str:
        return "pong"

    def state(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        sid = parse_qs(environ.get("QUERY_STRING", "")).get("sid", [""])[0]
        start_response("200 OK", [("Content-Type", "application/json")])
        return [orjson.dumps(seen.get(sid))]

    sio.wsgi_app = state
    return sio
