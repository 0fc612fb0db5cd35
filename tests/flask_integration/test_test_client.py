"""A Flask-SocketIO application and its tests, as its users write them.

Only the import differs from Flask-SocketIO: the app below, and the tests
driving it through ``socketio.test_client()``, are what a Flask-SocketIO
project has. The test client runs handlers on the calling thread, so what
they emit is there to read as soon as each call returns.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask, request, session

from realtime.flask_integration import (
    ConnectionRefusedError,
    Namespace,
    SocketIO,
    close_room,
    disconnect,
    emit,
    join_room,
    leave_room,
    rooms,
    send,
)

app = Flask(__name__)
app.config["SECRET_KEY"] = "secret!"
socketio = SocketIO(app)
seen: dict[str, Any] = {}


@socketio.on("connect")
def on_connect(auth):
    if auth == {"deny": "false"}:
        return False
    if request.args.get("fail"):
        raise ConnectionRefusedError("not today", {"retry": False})
    send("connected")
    send(json.dumps(request.args.to_dict(flat=False)))
    headers = {k: v for k, v in request.headers.items() if k.startswith("X-")}
    send(json.dumps(headers))
    seen["auth"] = auth
    return None


@socketio.on("disconnect")
def on_disconnect(reason):
    seen["disconnect"] = ("/", reason, request.sid)


@socketio.on("connect", namespace="/test")
def on_connect_test():
    send("connected-test")


@socketio.on("disconnect", namespace="/test")
def on_disconnect_test():
    seen["disconnect"] = ("/test",)


@socketio.on("message")
def on_message(message):
    send(message)
    if message == "store":
        session["stored"] = session.get("stored", 0) + 1
    if message != "no ack":
        return message
    return None


@socketio.on("json")
def on_json(data):
    send(data, json=True, broadcast=True)
    return data


@socketio.on("message", namespace="/test")
def on_message_test(message):
    send(message)


@socketio.event
def my_event(data):
    emit("my response", data)
    return data


@socketio.on("several")
def several(a, b, c):
    emit("several back", (a, b, c))
    return a, b, c


@socketio.on("no return")
def no_return():
    emit("nothing to ack")


@socketio.on("request info")
def request_info(*args):
    seen["event"] = request.event
    return {"sid": request.sid, "namespace": request.namespace, "path": request.path}


@socketio.on("broadcast me")
def broadcast_me(data):
    emit("broadcast", data, broadcast=True)


@socketio.on("broadcast others")
def broadcast_others(data):
    emit("broadcast", data, broadcast=True, include_self=False)


@socketio.on("broadcast me", namespace="/test")
def broadcast_me_test(data):
    emit("broadcast", data, namespace="/test", broadcast=True)


@socketio.on("join")
def on_join(room):
    join_room(room)
    return sorted(rooms())


@socketio.on("leave")
def on_leave(room):
    leave_room(room)
    return sorted(rooms())


@socketio.on("to room")
def to_room(data):
    emit("room message", data["text"], to=data["room"])


@socketio.on("send to room")
def send_to_room(data):
    send(data["text"], to=data["room"], include_self=False)


@socketio.on("close")
def on_close(room):
    close_room(room)


@socketio.on("join", namespace="/test")
def on_join_test(room):
    join_room(room)


@socketio.on("session get")
def session_get(key):
    return session.get(key)


@socketio.on("session set")
def session_set(key, value):
    session[key] = value


@socketio.on("leave me")
def leave_me():
    disconnect()


@socketio.on("bad response")
def on_bad_response():
    emit("my custom response", {"foo": socketio})


@socketio.on("bad callback")
def on_bad_callback():
    return {"foo": socketio}


@socketio.on("changing response")
def on_changing_response():
    data = {"foo": "bar"}
    emit("my custom response", data)
    data["foo"] = "baz"
    return data


@socketio.on("error please")
def error_please(kind):
    raise {"value": ValueError, "key": KeyError}[kind]("bad " + kind)


@socketio.on("error please", namespace="/test")
def error_please_test():
    raise ValueError("in /test")


@socketio.on("error please", namespace="/other")
def error_please_other():
    raise ValueError("in /other")


@socketio.on_error()
def error_handler(e):
    if isinstance(e, KeyError):
        raise e
    seen["error"] = e
    return "handled"


@socketio.on_error("/test")
def error_handler_test(e):
    return "handled in /test"


@socketio.on_error_default
def default_error_handler(e):
    return f"default handled {e}"


def other_handler(data):
    emit("other response", data, namespace="/test")


socketio.on_event("other event", other_handler, namespace="/test")


@socketio.on("bg")
def start_background():
    sid = request.sid

    def task():
        socketio.sleep(0.01)
        socketio.emit("from task", "hello", to=sid)

    socketio.start_background_task(task)


@socketio.on("*")
def catch_all(event, *args):
    emit("caught", {"event": event, "args": list(args)})


class Chat(Namespace):
    def on_connect(self, auth):
        emit("hello", auth)

    def on_disconnect(self, reason):
        seen["disconnect"] = ("/chat", reason)

    def on_say(self, text):
        emit("said", text, to="lobby")
        return "ok"

    def on_lobby(self):
        join_room("lobby")

    def on_info(self):
        seen["event"] = request.event
        return request.namespace

    def on_bye(self):
        disconnect()

    def on_broadcast(self, text):
        self.emit("announcement", text)

    def on_error(self):
        raise ValueError("class based")


socketio.on_namespace(Chat("/chat"))


@app.route("/session")
def set_session():
    session["from http"] = "yes"
    return ""


@pytest.fixture(autouse=True)
def clean() -> None:
    seen.clear()
    socketio.manage_session = True


# -- connecting ----------------------------------------------------------------


def test_connect_runs_the_connect_handler():
    client = socketio.test_client(app, auth={"token": 1})
    assert client.is_connected()
    received = client.get_received()
    assert [r["args"] for r in received] == ["connected", "{}", "{}"]
    assert seen["auth"] == {"token": 1}


def test_two_clients_have_their_own_connections():
    client1 = socketio.test_client(app)
    client2 = socketio.test_client(app)
    assert client1.eio_sid != client2.eio_sid
    assert client1.get_sid() != client2.get_sid()
    client1.disconnect()
    assert not client1.is_connected()
    assert client2.is_connected()


def test_connect_with_query_string_and_headers():
    client = socketio.test_client(app, query_string="?a=1&a=2&b=3", headers={"X-Token": "abc"})
    received = client.get_received()
    assert json.loads(received[1]["args"]) == {"a": ["1", "2"], "b": ["3"]}
    assert json.loads(received[2]["args"]) == {"X-Token": "abc"}


def test_query_string_without_question_mark():
    client = socketio.test_client(app, query_string="x=y")
    assert json.loads(client.get_received()[1]["args"]) == {"x": ["y"]}


def test_connect_refused_by_exception():
    client = socketio.test_client(app, query_string="fail=1")
    assert not client.is_connected()


def test_connect_refused_by_returning_false():
    client = socketio.test_client(app, auth={"deny": "false"})
    assert not client.is_connected()


def test_not_connected_raises_runtime_error():
    client = socketio.test_client(app, query_string="fail=1")
    with pytest.raises(RuntimeError):
        client.emit("my_event", {})
    with pytest.raises(RuntimeError):
        client.get_received()
    with pytest.raises(RuntimeError):
        client.disconnect()


def test_connect_to_a_namespace():
    client = socketio.test_client(app, namespace="/test")
    assert client.is_connected("/test")
    assert not client.is_connected()
    assert client.get_received("/test")[0]["args"] == "connected-test"


def test_connect_to_more_namespaces_later():
    client = socketio.test_client(app)
    client.connect("/test")
    assert client.is_connected("/") and client.is_connected("/test")
    assert client.eio_sid is not None
    assert [r["args"] for r in client.get_received("/test")] == ["connected-test"]
    assert len(client.get_received("/")) == 3


def test_disconnect_runs_the_handler_with_the_reason():
    client = socketio.test_client(app)
    sid = client.get_sid()
    client.disconnect()
    assert seen["disconnect"] == ("/", "client disconnect", sid)
    assert seen["disconnect"][1] == socketio.reason.CLIENT_DISCONNECT


def test_disconnect_handler_without_arguments():
    client = socketio.test_client(app, namespace="/test")
    client.disconnect("/test")
    assert seen["disconnect"] == ("/test",)
    assert not client.is_connected("/test")


def test_server_side_disconnect():
    client = socketio.test_client(app)
    client.get_received()
    client.emit("leave me")
    assert not client.is_connected()
    assert seen["disconnect"][1] == "server disconnect"
    with pytest.raises(RuntimeError):
        client.emit("my_event", {})


# -- send and emit -------------------------------------------------------------


def test_send_gets_the_message_back():
    client = socketio.test_client(app)
    client.get_received()
    client.send("echo this")
    received = client.get_received()
    assert received == [{"name": "message", "args": "echo this", "namespace": "/"}]


def test_send_json_is_broadcast():
    client1 = socketio.test_client(app)
    client2 = socketio.test_client(app)
    client1.get_received()
    client2.get_received()
    client1.send({"a": "b"}, json=True)
    assert client1.get_received() == [{"name": "json", "args": {"a": "b"}, "namespace": "/"}]
    assert client2.get_received()[0]["args"] == {"a": "b"}


def test_send_in_a_namespace():
    client = socketio.test_client(app, namespace="/test")
    client.get_received("/test")
    client.send("namespaced", namespace="/test")
    assert client.get_received("/test")[0]["args"] == "namespaced"


def test_emit_answers_the_sender():
    client1 = socketio.test_client(app)
    client2 = socketio.test_client(app)
    client1.get_received()
    client2.get_received()
    client1.emit("my_event", {"a": "b"})
    received = client1.get_received()
    assert len(received) == 1
    assert received[0]["name"] == "my response"
    assert received[0]["args"] == [{"a": "b"}]
    assert client2.get_received() == []


def test_emit_binary():
    client = socketio.test_client(app)
    client.get_received()
    client.emit("my_event", {"blob": b"\x01\x02\x03"})
    assert client.get_received()[0]["args"][0]["blob"] == b"\x01\x02\x03"


def test_emit_several_arguments():
    client = socketio.test_client(app)
    client.get_received()
    assert client.emit("several", 1, "two", [3], callback=True) == [1, "two", [3]]
    assert client.get_received()[0]["args"] == [1, "two", [3]]


def test_catch_all_handler_gets_unhandled_events():
    client = socketio.test_client(app)
    client.get_received()
    client.emit("nobody handles this", 1, 2)
    assert client.get_received()[0]["args"] == [{"event": "nobody handles this", "args": [1, 2]}]


def test_on_event_registers_without_a_decorator():
    client = socketio.test_client(app, namespace="/test")
    client.get_received("/test")
    client.emit("other event", {"x": 1}, namespace="/test")
    assert client.get_received("/test")[0] == {
        "name": "other response",
        "args": [{"x": 1}],
        "namespace": "/test",
    }


def test_unserializable_argument_raises_type_error():
    client = socketio.test_client(app)
    with pytest.raises(TypeError):
        client.emit("my_event", {"bad": object()})


# -- acknowledgements ----------------------------------------------------------


def test_callback_returns_the_ack():
    client = socketio.test_client(app)
    assert client.send("echo", callback=True) == "echo"
    assert client.send({"a": "b"}, json=True, callback=True) == {"a": "b"}
    assert client.emit("my_event", {"a": "b"}, callback=True) == {"a": "b"}


def test_handler_returning_none_acks_with_no_arguments():
    client = socketio.test_client(app)
    assert client.send("no ack", callback=True) == []
    assert client.emit("no return", callback=True) == []


def test_no_callback_no_ack():
    client = socketio.test_client(app)
    assert client.send("echo") is None
    assert client.emit("my_event", {"a": "b"}) is None


# -- broadcast and rooms -------------------------------------------------------


def test_broadcast_reaches_the_namespace_only():
    client1 = socketio.test_client(app)
    client2 = socketio.test_client(app)
    client3 = socketio.test_client(app, namespace="/test")
    for client in (client1, client2):
        client.get_received()
    client3.get_received("/test")
    client1.emit("broadcast me", {"a": "b"}, broadcast=True)
    assert client1.get_received()[0]["args"] == [{"a": "b"}]
    assert client2.get_received()[0]["args"] == [{"a": "b"}]
    assert client3.get_received("/test") == []


def test_broadcast_without_the_sender():
    client1 = socketio.test_client(app)
    client2 = socketio.test_client(app)
    client1.get_received()
    client2.get_received()
    client1.emit("broadcast others", "psst")
    assert client1.get_received() == []
    assert client2.get_received()[0]["args"] == ["psst"]


def test_broadcast_in_a_namespace():
    client1 = socketio.test_client(app, namespace="/test")
    client2 = socketio.test_client(app, namespace="/test")
    client3 = socketio.test_client(app)
    client2.get_received("/test")
    client3.get_received()
    client1.emit("broadcast me", "news", namespace="/test")
    assert client2.get_received("/test")[-1]["args"] == ["news"]
    assert client3.get_received() == []


def test_rooms():
    client1 = socketio.test_client(app)
    client2 = socketio.test_client(app)
    client3 = socketio.test_client(app, namespace="/test")
    client1.get_received()
    client2.get_received()
    client3.get_received("/test")
    assert client1.emit("join", "one", callback=True) == sorted([client1.get_sid(), "one"])
    client2.emit("join", "one")
    client3.emit("join", "one", namespace="/test")
    client1.emit("to room", {"room": "one", "text": "hi"})
    assert client1.get_received()[0]["args"] == ["hi"]
    assert client2.get_received()[0]["args"] == ["hi"]
    assert client3.get_received("/test") == []
    assert client1.emit("leave", "one", callback=True) == [client1.get_sid()]
    client2.emit("to room", {"room": "one", "text": "again"})
    assert client1.get_received() == []
    assert client2.get_received()[0]["args"] == ["again"]


def test_send_to_a_room_without_the_sender():
    client1 = socketio.test_client(app)
    client2 = socketio.test_client(app)
    for client in (client1, client2):
        client.get_received()
        client.emit("join", "two")
    client1.emit("send to room", {"room": "two", "text": "yo"})
    assert client1.get_received() == []
    assert client2.get_received() == [{"name": "message", "args": "yo", "namespace": "/"}]


def test_emit_to_a_room_from_outside():
    client1 = socketio.test_client(app)
    client2 = socketio.test_client(app)
    client1.get_received()
    client2.get_received()
    client1.emit("join", "three")
    socketio.emit("news", {"n": 1}, to="three")
    socketio.emit("news", {"n": 2}, room="three")
    assert [r["args"] for r in client1.get_received()] == [[{"n": 1}], [{"n": 2}]]
    assert client2.get_received() == []


def test_close_room():
    client1 = socketio.test_client(app)
    client2 = socketio.test_client(app)
    for client in (client1, client2):
        client.get_received()
        client.emit("join", "four")
    client1.emit("close", "four")
    client1.emit("to room", {"room": "four", "text": "anyone?"})
    assert client1.get_received() == []
    assert client2.get_received() == []
    client2.emit("join", "five")
    socketio.close_room("five")
    socketio.emit("x", to="five")
    assert client2.get_received() == []


# -- request and session -------------------------------------------------------


def test_request_carries_sid_namespace_and_event():
    client = socketio.test_client(app)
    info = client.emit("request info", "a", 2, callback=True)
    assert info == {"sid": client.get_sid(), "namespace": "/", "path": "/socket.io/"}
    assert seen["event"] == {"message": "request info", "args": ("a", 2)}


def test_managed_session_is_per_connection():
    client1 = socketio.test_client(app)
    client2 = socketio.test_client(app)
    client1.emit("session set", "color", "blue")
    assert client1.emit("session get", "color", callback=True) == "blue"
    assert client2.emit("session get", "color", callback=True) == []  # None: no ack arguments


def test_managed_session_starts_from_the_flask_session():
    flask_client = app.test_client()
    flask_client.get("/session")
    client = socketio.test_client(app, flask_test_client=flask_client)
    assert client.emit("session get", "from http", callback=True) == "yes"
    client.send("store")
    client.send("store")
    assert client.emit("session get", "stored", callback=True) == 2
    with flask_client.session_transaction() as http_session:
        assert "stored" not in http_session


def test_without_the_flask_client_there_is_no_http_session():
    flask_client = app.test_client()
    flask_client.get("/session")
    client = socketio.test_client(app)
    assert client.emit("session get", "from http", callback=True) == []


def test_unmanaged_cookie_session_is_frozen_at_connection_time():
    socketio.manage_session = False
    flask_client = app.test_client()
    flask_client.get("/session")
    client = socketio.test_client(app, flask_test_client=flask_client)
    client.emit("session set", "color", "red")
    assert client.emit("session get", "from http", callback=True) == "yes"
    assert client.emit("session get", "color", callback=True) == []


# -- errors --------------------------------------------------------------------


def test_error_handler_answers():
    client = socketio.test_client(app)
    assert client.emit("error please", "value", callback=True) == "handled"
    assert isinstance(seen["error"], ValueError)


def test_error_handler_that_reraises_fails_the_test_and_leaves_the_client_connected():
    client = socketio.test_client(app)
    with pytest.raises(KeyError, match="bad key"):
        client.emit("error please", "key", callback=True)
    assert client.is_connected()
    assert client.emit("my_event", {"ok": 1}, callback=True) == {"ok": 1}


def test_what_cannot_be_encoded_fails_the_test():
    # Flask-SocketIO's test_encode_decode and test_encode_decode_2. This app's
    # error handler takes what a handler raises (the emit inside it); the
    # acknowledgement is encoded after the handler returned, where no error
    # handler is, so that one reaches the test.
    client = socketio.test_client(app)
    with pytest.raises(TypeError):
        client.emit("my_event", {"foo": "bar", "invalid": socketio}, callback=True)
    seen.pop("error", None)
    assert client.emit("bad response", callback=True) == "handled"
    assert isinstance(seen["error"], TypeError)
    with pytest.raises(TypeError):
        client.emit("bad callback", callback=True)
    client.get_received()
    ack = client.emit("changing response", callback=True)
    received = client.get_received()
    assert [r["args"][0] for r in received] == [{"foo": "bar"}]
    assert ack == {"foo": "baz"}


def test_namespace_error_handler():
    client = socketio.test_client(app, namespace="/test")
    assert client.emit("error please", namespace="/test", callback=True) == "handled in /test"


def test_default_error_handler():
    client = socketio.test_client(app, namespace="/other")
    assert (
        client.emit("error please", namespace="/other", callback=True)
        == "default handled in /other"
    )


# -- class-based namespaces ----------------------------------------------------


def test_class_based_connect_gets_auth():
    client = socketio.test_client(app, namespace="/chat", auth={"user": "ada"})
    assert client.get_received("/chat") == [
        {"name": "hello", "args": [{"user": "ada"}], "namespace": "/chat"}
    ]


def test_class_based_events_and_rooms():
    client1 = socketio.test_client(app, namespace="/chat")
    client2 = socketio.test_client(app, namespace="/chat")
    client1.get_received("/chat")
    client2.get_received("/chat")
    client1.emit("lobby", namespace="/chat")
    client2.emit("lobby", namespace="/chat")
    assert client1.emit("say", "hi all", namespace="/chat", callback=True) == "ok"
    assert client2.get_received("/chat")[0]["args"] == ["hi all"]
    assert client1.get_received("/chat")[0]["args"] == ["hi all"]


def test_class_based_request_event():
    client = socketio.test_client(app, namespace="/chat")
    assert client.emit("info", namespace="/chat", callback=True) == "/chat"
    assert seen["event"] == {"message": "info", "args": ()}


def test_class_based_emit_goes_to_the_namespace():
    client1 = socketio.test_client(app, namespace="/chat")
    client2 = socketio.test_client(app, namespace="/chat")
    client2.get_received("/chat")
    client1.emit("broadcast", "attention", namespace="/chat")
    assert client2.get_received("/chat")[0]["name"] == "announcement"


def test_class_based_disconnect():
    client = socketio.test_client(app, namespace="/chat")
    client.emit("bye", namespace="/chat")
    assert not client.is_connected("/chat")
    assert seen["disconnect"] == ("/chat", "server disconnect")
    client = socketio.test_client(app, namespace="/chat")
    client.disconnect("/chat")
    assert seen["disconnect"] == ("/chat", "client disconnect")


def test_class_based_errors_go_to_the_default_handler():
    client = socketio.test_client(app, namespace="/chat")
    assert client.emit("error", namespace="/chat", callback=True) == "default handled class based"


# -- tasks and emits from the server -------------------------------------------


def test_background_task():
    client = socketio.test_client(app)
    client.get_received()
    client.emit("bg")
    for _ in range(100):
        socketio.sleep(0.01)
        received = client.get_received()
        if received:
            break
    assert received == [{"name": "from task", "args": ["hello"], "namespace": "/"}]


def test_server_emit_reaches_every_client():
    client1 = socketio.test_client(app)
    client2 = socketio.test_client(app, namespace="/test")
    client1.get_received()
    client2.get_received("/test")
    socketio.emit("to everyone", {"x": 1})
    assert client1.get_received() == [{"name": "to everyone", "args": [{"x": 1}], "namespace": "/"}]
    assert client2.get_received("/test") == []
    socketio.send("plain text", namespace="/test")
    assert client2.get_received("/test")[0]["args"] == "plain text"


def test_emit_from_a_view_with_the_helper():
    client = socketio.test_client(app)
    client.get_received()
    with app.test_request_context("/"):
        emit("from view", "hi", broadcast=True)
        emit("to one", "you", to=client.get_sid())
    assert [r["name"] for r in client.get_received()] == ["from view", "to one"]
