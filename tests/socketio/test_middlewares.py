"""Middlewares and listeners (realtime/socketio/middlewares.py), in process.

The rules the wire tests (test_socket4_tools.py, test_socket4_node.py) do
not reach: errors inside middlewares, what a middleware may return, which
namespaces each applies to, what may be registered, and the recovered
socket that skips them.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

import realtime
from realtime import ConfigurationError, EventRefused
from realtime.protocol.engineio import EngineSid
from realtime.protocol.socketio import SocketSid
from realtime.socketio.clients import Socket
from realtime.socketio.middlewares import Middlewares
from realtime.socketio.testing import LocalClient


def server() -> realtime.Server:
    sio = realtime.Server(async_mode="threading")

    @sio.event
    def echo(sid: str, *args: Any) -> Any:
        return args

    return sio


def middlewares() -> Middlewares:
    """Middlewares whose errors are logged (a LocalClient makes them raise)."""
    return Middlewares(logging.getLogger("realtime.socketio"), lambda: False)


def test_a_middleware_that_raises_refuses_with_the_default_message(
    caplog: pytest.LogCaptureFixture,
) -> None:
    table = middlewares()
    later: list[str] = []

    def broken(sid: str) -> None:
        raise RuntimeError("bug")

    table.add(table.connection, "/", broken)
    table.add(table.connection, "/", later.append)
    with caplog.at_level(logging.ERROR, "realtime.socketio"):
        assert table.admit("/", "s1", {}, None) == ("Connection rejected by server", None)
    assert later == []
    assert "error in a connection middleware of /" in caplog.text


def test_under_a_test_client_what_a_middleware_raises_reaches_the_test() -> None:
    sio = server()

    @sio.use
    def broken(sid: str) -> None:
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError, match="bug"):
        LocalClient(sio)


def test_middlewares_apply_to_their_namespace_and_star_to_all() -> None:
    sio = server()
    seen: list[tuple[str, ...]] = []
    sio.on("connect", lambda sid: None, namespace="/a")
    sio.use(lambda sid: seen.append(("root", sid)))
    sio.use(lambda sid: seen.append(("a", sid)), namespace="/a")
    sio.use(lambda namespace, sid: seen.append(("*", namespace)), namespace="*")
    client = LocalClient(sio, namespace=None)
    client.connect("/")
    client.connect("/a")
    assert seen == [("root", client.sid("/")), ("*", "/"), ("a", client.sid("/a")), ("*", "/a")]


def test_an_event_middleware_error_or_bad_return_refuses_without_an_ack(
    caplog: pytest.LogCaptureFixture,
) -> None:
    table = middlewares()

    def screen(sid: str, event: str, args: list[Any]) -> Any:
        if args and args[0] == "boom":
            raise ValueError("bug")
        if args and args[0] == "odd":
            return "not a pair"
        if args and args[0] == "mutate":
            args.append("added")
        return None

    table.add(table.events, "/", screen)
    with caplog.at_level(logging.ERROR, "realtime.socketio"):
        boom = table.screen("/", "s1", "echo", ["boom"])
        odd = table.screen("/", "s1", "echo", ["odd"])
    assert isinstance(boom, EventRefused) and boom.answer == []
    assert isinstance(odd, EventRefused) and odd.answer == []
    assert "event 'echo' refused" in caplog.text
    assert table.screen("/", "s1", "echo", ["mutate"]) == ("echo", ["mutate", "added"])


def test_event_refused_carries_its_arguments_as_the_ack() -> None:
    sio = server()

    @sio.event_middleware
    def refuse(sid: str, event: str, args: list[Any]) -> None:
        raise EventRefused("no", {"code": 403})

    client = LocalClient(sio)
    assert client.emit("echo", 1, callback=True) == ["no", {"code": 403}]
    assert EventRefused("x").answer == ["x"]


def test_listeners_see_events_in_and_out() -> None:
    sio = server()
    seen: list[Any] = []

    @sio.on_any
    def listen(sid: str, event: str, *args: Any) -> None:
        seen.append(("in", event, args))

    @sio.on_any_outgoing
    def out(sid: str, event: str, *args: Any) -> None:
        seen.append(("out", event, args))

    client = LocalClient(sio)
    assert client.emit("echo", 1, callback=True) == 1
    sio.emit("news", ("a", 2))
    assert seen == [("in", "echo", (1,)), ("out", "news", ("a", 2))]


def test_a_listener_error_is_logged_and_the_event_still_handled(
    caplog: pytest.LogCaptureFixture,
) -> None:
    table = middlewares()

    def listen(sid: str, event: str, *args: Any) -> None:
        raise RuntimeError("listener bug")

    table.add(table.incoming, "/", listen)
    table.add(table.outgoing, "/", listen)
    with caplog.at_level(logging.ERROR, "realtime.socketio"):
        assert table.screen("/", "s1", "echo", [1]) == ("echo", [1])
        table.sent("/", "s1", "news", [])
    assert "error in an on_any listener of /" in caplog.text
    assert "error in an on_any_outgoing listener of /" in caplog.text


def test_an_outgoing_listener_hears_each_recipient_of_a_broadcast() -> None:
    sio = server()
    heard: list[str] = []
    sio.on_any_outgoing(lambda sid, event, *args: heard.append(sid))
    clients = [LocalClient(sio) for _ in range(3)]
    sio.emit("news", 1)
    assert sorted(heard) == sorted(str(c.sid()) for c in clients)


def test_what_cannot_be_registered() -> None:
    sio = server()
    with pytest.raises(ConfigurationError):
        sio.use("not callable")  # type: ignore[call-overload]
    with pytest.raises(ConfigurationError):
        sio.event_middleware(lambda sid: None, namespace="no-slash")

    async def coroutine(sid: str) -> None:
        pass

    with pytest.raises(ConfigurationError, match="async def"):
        sio.on_any(coroutine)


def test_disconnecting_runs_before_disconnect_and_a_catch_all_does_not_get_it() -> None:
    sio = server()
    order: list[tuple[str, list[str]]] = []
    sio.on("*", lambda event, sid, *args: order.append((f"catch-all {event}", [])))
    sio.on("disconnecting", lambda sid: order.append(("disconnecting", sio.rooms(sid))))
    sio.on("disconnect", lambda sid, reason: order.append(("disconnect", sio.rooms(sid))))
    client = LocalClient(sio)
    sid = str(client.sid())
    sio.enter_room(sid, "r")
    client.disconnect("/")
    assert order == [("disconnecting", [sid, "r"]), ("disconnect", [sid, "r"])]


@pytest.mark.parametrize("skip", [True, False])
def test_a_recovered_socket_skips_the_middlewares_unless_told_not_to(skip: bool) -> None:
    sio = realtime.Server(
        async_mode="threading", connection_state_recovery={"skip_middlewares": skip}
    )
    seen: list[str] = []

    @sio.use
    def refuse(sid: str) -> bool:
        seen.append(sid)
        return False

    recovered = Socket(SocketSid("s1"), "/", EngineSid("e1"), {}, recovered=True)
    fresh = Socket(SocketSid("s2"), "/", EngineSid("e2"), {})
    refused = ("Connection rejected by server", None)
    assert sio._dispatcher.run_connect_handler(None, recovered, None) == (None if skip else refused)
    assert sio._dispatcher.run_connect_handler(None, fresh, None) == refused
    assert seen == (["s2"] if skip else ["s1", "s2"])
