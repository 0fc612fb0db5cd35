"""The deployment's sockets and server events (realtime/socketio/deployment.py)
in one process: the in-memory manager, the bare server and the Flask
extension. Across processes: tests/cluster/test_socket4_cluster*.py."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask, current_app

import realtime
from realtime.flask_integration import Realtime
from realtime.socketio.testing import LocalClient


def server() -> realtime.Server:
    return realtime.Server(async_mode="threading")


def test_fetch_sockets_sees_rooms_data_and_the_handshake() -> None:
    sio = server()
    environ = {
        "QUERY_STRING": "EIO=4&transport=polling&user=ann",
        "PATH_INFO": "/socket.io/",
        "REMOTE_ADDR": "10.0.0.7",
        "HTTP_X_TRACE": "t1",
        "wsgi.url_scheme": "https",
    }
    a = LocalClient(sio, environ=environ, auth={"token": "x"})
    b = LocalClient(sio)
    sid_a, sid_b = str(a.sid()), str(b.sid())
    sio.enter_room(sid_a, "red")
    sio.save_session(sid_a, {"team": "t"})
    views = {v.sid: v for v in sio.fetch_sockets()}
    assert set(views) == {sid_a, sid_b}
    view = views[sid_a]
    assert view.rooms == [sid_a, "red"]
    assert view.data == {"team": "t"}
    assert view.local is True
    handshake = view.handshake
    assert handshake["auth"] == {"token": "x"}
    assert handshake["query"]["user"] == ["ann"]
    assert handshake["headers"]["x-trace"] == "t1"
    assert handshake["address"] == "10.0.0.7"
    assert handshake["secure"] is True
    assert handshake["time"].endswith("+00:00") and isinstance(handshake["issued"], int)
    assert [v.sid for v in sio.fetch_sockets("red")] == [sid_a]
    assert [v.sid for v in sio.fetch_sockets(exclude="red")] == [sid_b]
    assert sio.fetch_sockets("red", namespace="/other") == []


def test_a_view_acts_on_its_socket() -> None:
    sio = server()
    client = LocalClient(sio)
    sid = str(client.sid())
    (view,) = sio.fetch_sockets(sid)
    view.emit("hi", 1, 2)
    assert client.get_received() == [{"name": "hi", "args": [1, 2], "namespace": "/"}]
    view.join(["a", "b"])
    assert sio.rooms(sid) == [sid, "a", "b"]
    view.leave("a")
    assert sio.rooms(sid) == [sid, "b"]
    view.disconnect()
    assert not client.is_connected()
    assert client.connected  # only the namespace: close=True ends the connection


def test_bulk_room_changes_and_disconnections() -> None:
    sio = server()
    clients = [LocalClient(sio) for _ in range(3)]
    sids = [str(c.sid()) for c in clients]
    sio.enter_room(sids[0], "vip")
    sio.sockets_join("lobby")
    assert all("lobby" in sio.rooms(s) for s in sids)
    sio.sockets_leave(["lobby"], to="vip")
    assert "lobby" not in sio.rooms(sids[0]) and "lobby" in sio.rooms(sids[1])
    sio.sockets_join("quiet", exclude="vip")
    assert [v.sid for v in sio.fetch_sockets("quiet")] == sids[1:]
    sio.disconnect_sockets("vip", close=True)
    assert not clients[0].connected and clients[1].connected
    sio.disconnect_sockets()
    assert not clients[1].is_connected() and not clients[2].is_connected()


def test_server_side_emit_with_no_other_process() -> None:
    sio = server()
    heard: list[Any] = []
    sio.on_server("hello")(lambda *args: heard.append(args))
    assert sio.server_side_emit("hello", 1) is None
    assert sio.server_side_emit("hello", 1, timeout=1) == []
    assert heard == []  # never this process's own handlers


def test_the_flask_extension_offers_the_same() -> None:
    app = Flask(__name__)
    socketio = Realtime(app, async_mode="threading")

    @socketio.on_server("ping")
    def ping() -> str:
        return str(current_app.name)

    client = socketio.test_client(app)
    sid = client.get_sid()
    with app.app_context():
        socketio.sockets_join("room")
        (view,) = socketio.fetch_sockets("room")
        assert view.sid == sid
        assert socketio.server_side_emit("ping", timeout=1) == []
        socketio.disconnect_sockets("room")
    assert not client.is_connected()


def test_exceptions_name_what_timed_out() -> None:
    exc = realtime.ProcessesTimeout("fetch_sockets", ["n1"], 2, 1, [])
    assert isinstance(exc, TimeoutError)
    assert str(exc) == "fetch_sockets: 1 of 2 other processes answered in time; no answer from n1"


@pytest.mark.parametrize("bad", [42, None])
def test_an_on_server_handler_must_be_callable(bad: Any) -> None:
    with pytest.raises(realtime.ConfigurationError):
        server().on_server("x")(bad)


def test_volatile_takes_no_callback() -> None:
    with pytest.raises(realtime.ConfigurationError, match="callback"):
        server().emit("tick", 1, volatile=True, callback=lambda *a: None)


def test_a_class_based_namespace_emits_with_exclude() -> None:
    sio = server()

    class Room(realtime.Namespace):
        def on_shout(self, sid: str, text: str) -> None:
            self.emit("heard", text, exclude="deaf")

    sio.register_namespace(Room("/r"))
    hearing, deaf = LocalClient(sio, namespace="/r"), LocalClient(sio, namespace="/r")
    sio.enter_room(str(deaf.sid("/r")), "deaf", namespace="/r")
    hearing.emit("shout", "hey", namespace="/r")
    assert [e["args"] for e in hearing.get_received("/r")] == [["hey"]]
    assert deaf.get_received("/r") == []
