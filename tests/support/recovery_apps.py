"""A Socket.IO app with connection state recovery, for the recovery tests."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import parse_qs

import orjson

import realtime


def sio_recovery(mode: str, **options: Any) -> realtime.Server:
    """Recovery on (``recovery``: its options, default True).

    Events: ``join`` (room), ``to`` (target, event, *args: emit, offsets
    added), ``burst`` (target, count: ``n`` events numbered 0..count-1),
    ``remember`` / ``recall`` (the session), ``whoami`` (sid, recovered,
    rooms, pid of the process), ``count`` (n: True if the n-th event this
    client sent, from 0), ``counted`` (every n ``count`` got, in order),
    ``kick``, ``put`` (sid, room: that client, maybe
    served by another process, enters the room). ``GET /_test/state?sid=``
    lists the connect and disconnect handler calls of that sid.
    """
    recovery = options.pop("recovery", True)
    sio = realtime.Server(async_mode=mode, connection_state_recovery=recovery, **options)
    calls: dict[str, list[Any]] = {}

    @sio.on("connect")
    def connect(sid: str, environ: dict[str, Any], auth: Any) -> bool:
        calls.setdefault(sid, []).append(["connect", sio.recovered(sid), auth])
        return not (isinstance(auth, dict) and auth.get("refuse"))

    @sio.on("disconnect")
    def disconnect(sid: str, reason: str) -> None:
        calls.setdefault(sid, []).append(["disconnect", str(reason)])

    @sio.event
    def join(sid: str, room: str) -> list[str]:
        sio.enter_room(sid, room)
        return sio.rooms(sid)

    @sio.event
    def to(sid: str, target: Any, event: str, *args: Any) -> None:
        sio.emit(event, tuple(args), to=target)

    @sio.event
    def volatile_to(sid: str, target: Any, event: str, *args: Any) -> None:
        sio.emit(event, tuple(args), to=target, volatile=True)

    @sio.event
    def burst(sid: str, target: Any, count: int) -> None:
        for n in range(count):
            sio.emit("n", n, to=target)

    @sio.event
    def put(sid: str, other: str, room: str) -> None:
        sio.enter_room(other, room)

    @sio.event
    def remember(sid: str, value: Any) -> None:
        sio.get_session(sid)["value"] = value

    @sio.event
    def recall(sid: str) -> Any:
        return sio.get_session(sid).get("value")

    @sio.event
    def whoami(sid: str) -> dict[str, Any]:
        return {
            "sid": sid,
            "recovered": sio.recovered(sid),
            "rooms": sio.rooms(sid),
            "pid": os.getpid(),
        }

    @sio.event
    def count(sid: str, n: int) -> bool:
        session = sio.get_session(sid)
        expected = session.get("next", 0)
        session["next"] = n + 1
        session.setdefault("counted", []).append(n)
        return n == expected

    @sio.event
    def counted(sid: str) -> list[int]:
        return list(sio.get_session(sid).get("counted", []))

    @sio.event
    def kick(sid: str) -> None:
        sio.disconnect(sid)

    def state(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        sid = parse_qs(environ.get("QUERY_STRING", "")).get("sid", [""])[0]
        start_response("200 OK", [("Content-Type", "application/json")])
        return [orjson.dumps({"calls": calls.get(sid, [])})]

    sio.wsgi_app = state
    return sio
