"""A Socket.IO app meant to run as several processes sharing a message queue.

Every operation takes the sid or room it acts on as an argument, so a client
on one process can make its process act on clients served by another.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import parse_qs

import orjson

import realtime
from realtime import AckTimeout
from tests.support.browser_apps import HARNESS


def sio_cluster(mode: str, **options: Any) -> realtime.Server:
    """Events (each acks what it did):

    ``whoami`` (the pid and sid), ``transport`` (the sender's, as the
    process that holds it sees it), ``join``/``leave`` (room: the sender),
    ``put``/``take`` (sid, room: any client), ``to`` (target, event, *args),
    ``to_except`` (target, skip, event, *args), ``here_to`` (target, event,
    *args: ``ignore_queue=True``), ``close`` (room), ``kick`` (sid),
    ``here_kick`` (sid: ``ignore_queue=True``), ``ask_sid`` (sid, timeout:
    ``call(sid=)``), ``ask_to`` (target, timeout: ``call(to=)``),
    ``callback`` (target, key: emit with a callback whose answers ``GET
    /_test/state?key=`` reports; ``?stats`` reports the process's pid and
    cluster counters), ``count`` (n: True if n is the next number this
    client sends, counting from 0). Clients answer ``question`` events
    themselves. ``GET /harness`` is the browser tests' page
    (:data:`tests.support.browser_apps.HARNESS`), which loads the bundled
    client from the deployment itself.
    """
    sio = realtime.Server(async_mode=mode, **options)
    answers: dict[str, list[Any]] = {}

    @sio.event
    def whoami(sid: str) -> dict[str, Any]:
        return {"pid": os.getpid(), "sid": sid}

    @sio.event
    def count(sid: str, n: int) -> bool:
        with sio.session(sid) as session:
            expected = session.get("next", 0)
            session["next"] = n + 1
        return n == expected

    @sio.event
    def transport(sid: str) -> str:
        return sio.transport(sid)

    @sio.event
    def join(sid: str, room: str) -> None:
        sio.enter_room(sid, room)

    @sio.event
    def leave(sid: str, room: str) -> None:
        sio.leave_room(sid, room)

    @sio.event
    def put(sid: str, other: str, room: str) -> None:
        sio.enter_room(other, room)

    @sio.event
    def take(sid: str, other: str, room: str) -> None:
        sio.leave_room(other, room)

    @sio.event
    def to(sid: str, target: Any, event: str, *args: Any) -> None:
        sio.emit(event, tuple(args), to=target)

    @sio.event
    def to_except(sid: str, target: Any, skip: Any, event: str, *args: Any) -> None:
        sio.emit(event, tuple(args), to=target, skip_sid=skip)

    @sio.event
    def here_to(sid: str, target: Any, event: str, *args: Any) -> None:
        sio.emit(event, tuple(args), to=target, ignore_queue=True)

    @sio.event
    def here_kick(sid: str, other: str) -> None:
        sio.disconnect(other, ignore_queue=True)

    @sio.event
    def close(sid: str, room: str) -> None:
        sio.close_room(room)

    @sio.event
    def kick(sid: str, other: str) -> None:
        sio.disconnect(other)

    def outcome(answer: Any) -> Any:
        if isinstance(answer, AckTimeout):
            return {"timeout": True, "disconnected": answer.disconnected}
        return {"answer": answer}

    @sio.event
    def ask_sid(sid: str, other: str, timeout: float) -> Any:
        try:
            return outcome(sio.call("question", other, sid=other, timeout=timeout))
        except AckTimeout as exc:
            return outcome(exc)

    @sio.event
    def ask_to(sid: str, target: Any, timeout: float) -> Any:
        try:
            result = sio.call("question", "to", to=target, timeout=timeout)
        except AckTimeout as exc:
            return outcome(exc)
        if isinstance(result, dict):
            return {"each": {member: outcome(answer) for member, answer in result.items()}}
        return outcome(result)

    @sio.event
    def callback(sid: str, target: Any, key: str) -> None:
        def answered(*args: Any) -> None:
            answers.setdefault(key, []).append(list(args))

        sio.emit("question", "callback", to=target, callback=answered)

    def state(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        if environ.get("PATH_INFO") == "/harness":
            start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
            return [HARNESS]
        query = parse_qs(environ.get("QUERY_STRING", ""))
        start_response("200 OK", [("Content-Type", "application/json")])
        if "stats" in query:
            forwarder = sio.engine.forwarder
            stats = dict(forwarder.stats) if forwarder is not None else {}
            return [orjson.dumps({"pid": os.getpid(), **stats})]
        return [orjson.dumps(answers.get(query.get("key", [""])[0], []))]

    sio.wsgi_app = state
    return sio
