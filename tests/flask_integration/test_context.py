"""What handlers see of Flask: contexts, sessions, helpers, errors; in-process."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, copy_current_request_context, current_app, g, request, session, url_for
from flask.sessions import SessionInterface, SessionMixin

import realtime
from realtime.flask_integration import (
    Namespace,
    Realtime,
    emit,
    join_room,
    rooms,
    send,
)


@pytest.fixture
def app() -> Flask:
    app = Flask("context")
    app.config["SECRET_KEY"] = "s"
    return app


@pytest.fixture
def rt(app: Flask) -> Realtime:
    return Realtime(app, async_mode="threading")


def test_each_event_gets_a_fresh_request_context_and_its_teardown(app: Flask, rt: Realtime) -> None:
    torn_down: list[str] = []
    before: list[str] = []

    @app.teardown_request
    def teardown(exc: BaseException | None) -> None:
        torn_down.append(getattr(request, "event", {}).get("message"))

    @app.before_request
    def before_request() -> None:
        before.append("ran")

    @rt.on("mark")
    def mark() -> Any:
        seen = getattr(g, "mark", None)
        g.mark = "set"
        return seen

    client = rt.test_client(app)
    assert client.emit("mark", callback=True) == []  # None: no ack arguments
    assert client.emit("mark", callback=True) == []
    assert torn_down == ["mark", "mark"]
    assert before == []  # as in Flask-SocketIO: events are not requests


def test_what_a_handler_reads_of_its_request_as_flask_socketio_gives_it(
    app: Flask, rt: Realtime
) -> None:
    # What a connection shares is worked out once (parsed request, bound URL
    # map, what its URL matched); each call still reads what Flask would.
    @app.route("/page/<int:n>")
    def page(n: int) -> str:
        return str(n)

    seen: list[dict[str, Any]] = []

    @rt.on("look", namespace="/ns")
    def look(n: int) -> None:
        seen.append(
            {
                "sid": request.sid,  # type: ignore[attr-defined]
                "namespace": request.namespace,  # type: ignore[attr-defined]
                "event": request.event,  # type: ignore[attr-defined]
                "args": request.args.to_dict(),
                "header": request.headers.get("X-Thing"),
                "url_for": url_for("page", n=n),
                "external": url_for("page", n=n, _external=True),
                "app": current_app.name,
                "url_rule": request.url_rule,
                "routing": type(request.routing_exception).__name__,
                "g": getattr(g, "before", None),
            }
        )
        g.before = n

    client = rt.test_client(
        app, namespace="/ns", query_string="?room=7&x=1", headers={"X-Thing": "yes"}
    )
    sid = client.get_sid("/ns")
    client.emit("look", 1, namespace="/ns")
    client.emit("look", 2, namespace="/ns")
    assert seen == [
        {
            "sid": sid,
            "namespace": "/ns",
            "event": {"message": "look", "args": (n,)},  # a tuple, as Flask-SocketIO
            "args": {"room": "7", "x": "1"},
            "header": "yes",
            "url_for": f"/page/{n}",
            "external": f"http://localhost/page/{n}",
            "app": "context",
            "url_rule": None,
            "routing": "NotFound",  # the Socket.IO path is no Flask route, as there
            "g": None,  # g lives one call
        }
        for n in (1, 2)
    ]


def test_the_context_sets_what_flasks_own_sets(app: Flask, rt: Realtime) -> None:
    # Built without Flask's __init__ (which parses, binds and matches again):
    # it must hold every attribute Flask's own request context holds.
    from flask.ctx import RequestContext

    contexts: list[Any] = []

    @rt.on("ctx")
    def ctx() -> None:
        from flask.globals import _cv_request

        contexts.append(_cv_request.get())

    client = rt.test_client(app)
    client.emit("ctx")
    ours = contexts[0]
    theirs = RequestContext(app, ours.request.environ)
    assert isinstance(ours, RequestContext)
    assert set(vars(theirs)) <= set(vars(ours)), set(vars(theirs)) - set(vars(ours))


@pytest.mark.parametrize("server_name", [None, "example.test"])
def test_the_app_context_is_what_flasks_own_is(
    app: Flask, rt: Realtime, server_name: str | None
) -> None:
    # Made without AppContext's __init__ when no SERVER_NAME is set: the same
    # attributes, a fresh g per handler call, and the URL adapter Flask makes
    # (None without SERVER_NAME, bound to it with one).
    from flask.ctx import AppContext
    from flask.globals import _cv_app

    app.config["SERVER_NAME"] = server_name
    seen: list[tuple[Any, Any]] = []

    @rt.on("app_ctx")
    def app_ctx() -> None:
        seen.append((_cv_app.get(), g._get_current_object()))  # type: ignore[attr-defined]

    client = rt.test_client(app)
    client.emit("app_ctx")
    client.emit("app_ctx")
    (ours, first_g), (second, second_g) = seen
    theirs = AppContext(app)
    assert type(ours) is AppContext and ours is not second and first_g is not second_g
    assert set(vars(ours)) == set(vars(theirs))
    assert ours.app is app and type(ours.g) is type(theirs.g)
    if server_name is None:
        assert ours.url_adapter is None and theirs.url_adapter is None
    else:
        assert ours.url_adapter is not None
        assert ours.url_adapter.server_name == theirs.url_adapter.server_name == server_name


def test_contexts_are_unbound_after_each_handler_with_or_without_teardowns(
    app: Flask, rt: Realtime
) -> None:
    # With nothing registered, push and pop take a short way (no teardown to
    # run, no signal with a receiver); registered ones run as in Flask.
    from flask import appcontext_popped, appcontext_pushed, request_tearing_down
    from flask.globals import _cv_app, _cv_request

    seen: list[Any] = []

    @rt.on("look")
    def look() -> str:
        g.seen = True
        return str(current_app.name)

    client = rt.test_client(app)
    assert client.emit("look", callback=True) == "context"
    assert _cv_app.get(None) is None and _cv_request.get(None) is None

    events: list[str] = []

    def pushed(sender: Flask, **extra: Any) -> None:
        events.append("appcontext_pushed")

    def tearing(sender: Flask, **extra: Any) -> None:
        events.append(f"request_tearing_down {extra.get('exc')!r}")

    def popped(sender: Flask, **extra: Any) -> None:
        events.append("appcontext_popped")

    @app.teardown_appcontext
    def app_teardown(exc: BaseException | None) -> None:
        seen.append(("teardown_appcontext", g.get("seen")))

    with (
        appcontext_pushed.connected_to(pushed, app),
        request_tearing_down.connected_to(tearing, app),
        appcontext_popped.connected_to(popped, app),
    ):
        assert client.emit("look", callback=True) == "context"
    assert events == ["appcontext_pushed", "request_tearing_down None", "appcontext_popped"]
    assert seen == [("teardown_appcontext", True)]
    assert _cv_app.get(None) is None and _cv_request.get(None) is None


def test_flasks_contexts_are_what_the_short_push_and_pop_assume() -> None:
    # The short way is taken on Flask 3.1 only, whose contexts keep their
    # context-variable tokens as below; on any other Flask, Flask's own run.
    import importlib.metadata

    from flask.ctx import AppContext, RequestContext

    from realtime.flask_integration import context

    version = tuple(int(part) for part in importlib.metadata.version("flask").split(".")[:2])
    expected = version == (3, 1)
    assert expected == context._LEAN
    if not context._LEAN:
        return
    app = Flask("shape")
    ctx = RequestContext(
        app,
        {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": "/",
            "SERVER_NAME": "x",
            "SERVER_PORT": "80",
            "wsgi.url_scheme": "http",
        },
    )
    ctx.push()
    try:
        ((_token, app_ctx),) = ctx._cv_tokens
        assert isinstance(app_ctx, AppContext)
        assert len(app_ctx._cv_tokens) == 1
        assert context._cv_request.get() is ctx and context._cv_app.get() is app_ctx
    finally:
        ctx.pop()


def test_connect_sees_auth_and_the_event(app: Flask, rt: Realtime) -> None:
    seen: dict[str, Any] = {}

    @rt.on("connect")
    def connect(auth: Any) -> None:
        seen["event"] = request.event
        seen["sid"] = request.sid

    client = rt.test_client(app, auth={"k": 1})
    environ, auth = seen["event"]["args"]
    assert seen["event"]["message"] == "connect"
    assert auth == {"k": 1} and environ["PATH_INFO"] == "/socket.io/"
    assert seen["sid"] == client.get_sid()


def test_connect_handler_errors_go_to_the_error_handler(app: Flask, rt: Realtime) -> None:
    @rt.on("connect")
    def connect() -> None:
        raise RuntimeError("oops")

    @rt.on_error()
    def handled(exc: Exception) -> bool:
        return not isinstance(exc, RuntimeError)

    assert not rt.test_client(app).is_connected()


def test_unhandled_errors_reach_the_test(app: Flask, rt: Realtime) -> None:
    # As with Flask-SocketIO's test client: a broken handler fails its test.
    @rt.on("explode")
    def explode() -> None:
        raise LookupError("the detail")

    @rt.on("unencodable")
    def unencodable() -> None:
        emit("out", {"when": object()})

    @rt.on("unencodable_answer")
    def unencodable_answer() -> object:
        return object()

    @rt.on("fine")
    def fine() -> str:
        return "fine"

    client = rt.test_client(app)
    with pytest.raises(LookupError, match="the detail"):
        client.emit("explode", callback=True)
    with pytest.raises(TypeError):
        client.emit("unencodable")
    with pytest.raises(TypeError):
        client.emit("unencodable_answer", callback=True)
    assert client.is_connected()
    assert client.emit("fine", callback=True) == "fine"


def test_an_error_handler_still_takes_what_it_handles_under_the_test_client(
    app: Flask, rt: Realtime
) -> None:
    @rt.on("explode")
    def explode() -> None:
        raise LookupError("the detail")

    @rt.on_error()
    def handled(exc: Exception) -> str:
        return f"handled {type(exc).__name__}"

    assert rt.test_client(app).emit("explode", callback=True) == "handled LookupError"


def test_a_connect_handler_that_raises_fails_the_test_client(app: Flask, rt: Realtime) -> None:
    @rt.on("connect")
    def connect() -> None:
        raise KeyError("broken connect")

    with pytest.raises(KeyError, match="broken connect"):
        rt.test_client(app)


def test_emit_outside_a_handler_needs_a_recipient(app: Flask, rt: Realtime) -> None:
    with app.test_request_context("/"):
        with pytest.raises(realtime.ConfigurationError, match="to="):
            emit("nobody")
        with pytest.raises(realtime.ConfigurationError):
            send("nobody")
        with pytest.raises(realtime.ConfigurationError, match="sid="):
            join_room("r")
        with pytest.raises(realtime.ConfigurationError):
            rooms()
    with pytest.raises(RuntimeError):  # Flask's: no application context
        emit("x", broadcast=True)


def test_helpers_in_a_task_with_an_app_context(app: Flask, rt: Realtime) -> None:
    client = rt.test_client(app)
    sid = client.get_sid()
    assert sid is not None
    done = threading.Event()

    def task() -> None:
        with app.app_context():
            emit("from task", 1, to=sid)
            send("to all", broadcast=True)
            join_room("joined by task", sid=sid, namespace="/")
        done.set()

    rt.start_background_task(task).join(5)
    assert done.is_set()
    assert client.get_received() == [
        {"name": "from task", "args": [1], "namespace": "/"},
        {"name": "message", "args": "to all", "namespace": "/"},
    ]
    assert "joined by task" in rt.server.rooms(sid)


def test_helpers_in_a_task_carrying_the_handlers_request_context(app: Flask, rt: Realtime) -> None:
    # Flask-SocketIO's idiom: the task answers the client whose event started
    # it, with no sid passed, through the request context it carries.
    done = threading.Event()

    @rt.on("work")
    def work() -> None:
        @copy_current_request_context
        def task() -> None:
            emit("done", request.sid)
            join_room("workers")
            done.set()

        rt.start_background_task(task)

    client, other = rt.test_client(app), rt.test_client(app)
    client.emit("work")
    assert done.wait(5)
    assert client.get_received() == [{"name": "done", "args": [client.get_sid()], "namespace": "/"}]
    assert other.get_received() == []
    assert "workers" in rt.server.rooms(client.get_sid())


def test_include_self_false_and_skip_sid_both_apply(app: Flask, rt: Realtime) -> None:
    @rt.on("others")
    def others(skip: str) -> None:
        emit("news", broadcast=True, include_self=False, skip_sid=skip)

    alice, bob, carol = (rt.test_client(app) for _ in range(3))
    alice.emit("others", bob.get_sid())
    assert alice.get_received() == [] and bob.get_received() == []
    assert carol.get_received() == [{"name": "news", "args": [], "namespace": "/"}]


def test_emit_with_several_arguments_and_broadcast_keyword(app: Flask, rt: Realtime) -> None:
    client = rt.test_client(app)
    rt.emit("many", 1, "two", {"three": 3}, broadcast=True)
    rt.emit("none")
    rt.emit("tuple", (1, 2))
    assert [r["args"] for r in client.get_received()] == [[1, "two", {"three": 3}], [], [1, 2]]


def test_emit_to_another_namespace_from_a_handler(app: Flask, rt: Realtime) -> None:
    @rt.on("relay")
    def relay(text: str) -> None:
        emit("relayed", text, namespace="/side", broadcast=True)

    @rt.on("connect", namespace="/side")
    def side() -> None:
        pass

    listener = rt.test_client(app, namespace="/side")
    speaker = rt.test_client(app)
    speaker.emit("relay", "over there")
    assert listener.get_received("/side")[0]["args"] == ["over there"]
    assert speaker.get_received() == []


class _Store(SessionInterface):
    """A server-side session interface: the cookie holds a key, the data stays here."""

    def __init__(self) -> None:
        self.data: dict[str, dict[str, Any]] = {}

    def open_session(self, app: Flask, request: Any) -> SessionMixin:
        key = request.cookies.get("sid") or f"key{len(self.data)}"
        stored = _Session(self.data.get(key, {}))
        stored.key = key
        return stored

    def save_session(self, app: Flask, session: SessionMixin, response: Any) -> None:
        assert isinstance(session, _Session)
        self.data[session.key] = dict(session)
        response.set_cookie("sid", session.key)


class _Session(dict[str, Any], SessionMixin):
    key = ""


@pytest.fixture
def store(app: Flask) -> Iterator[_Store]:
    store = _Store()
    app.session_interface = store

    @app.route("/set/<value>")
    def set_value(value: str) -> str:
        session["value"] = value
        return ""

    @app.route("/get")
    def get_value() -> str:
        return str(session.get("value"))

    yield store


def test_unmanaged_server_side_session_is_shared_both_ways(app: Flask, store: _Store) -> None:
    rt = Realtime(app, async_mode="threading", manage_session=False)

    @rt.on("get")
    def get() -> Any:
        return session.get("value")

    @rt.on("set")
    def set_(value: str) -> None:
        session["value"] = value

    http = app.test_client()
    http.get("/set/from-http")
    client = rt.test_client(app, flask_test_client=http)
    assert client.emit("get", callback=True) == "from-http"
    client.emit("set", "from-socket")
    assert http.get("/get").get_data(as_text=True) == "from-socket"
    http.get("/set/from-http-again")
    assert client.emit("get", callback=True) == "from-http-again"


def test_managed_server_side_session_is_a_private_copy(app: Flask, store: _Store) -> None:
    rt = Realtime(app, async_mode="threading")

    @rt.on("set")
    def set_(value: str) -> None:
        session["value"] = value

    @rt.on("get")
    def get() -> Any:
        return session.get("value")

    http = app.test_client()
    http.get("/set/from-http")
    client = rt.test_client(app, flask_test_client=http)
    client.emit("set", "socket only")
    assert client.emit("get", callback=True) == "socket only"
    assert http.get("/get").get_data(as_text=True) == "from-http"


def test_managed_session_is_shared_by_the_namespaces_of_a_connection(
    app: Flask, rt: Realtime
) -> None:
    @rt.on("set", namespace="/a")
    def set_(value: str) -> None:
        session["value"] = value

    @rt.on("get", namespace="/b")
    def get() -> Any:
        return session.get("value")

    client = rt.test_client(app, namespace="/a")
    client.connect("/b")
    client.emit("set", 42, namespace="/a")
    assert client.emit("get", namespace="/b", callback=True) == 42


def test_overridden_trigger_event_gets_the_sid_and_can_dispatch(app: Flask, rt: Realtime) -> None:
    calls: list[tuple[str, str]] = []

    class Audited(Namespace):
        def trigger_event(self, event: str, *args: Any) -> Any:
            calls.append((event, args[0]))
            return super().trigger_event(event, *args)

        def on_hello(self, name: str) -> str:
            return f"hello {name} in {request.namespace}"

    rt.on_namespace(Audited("/audited"))
    client = rt.test_client(app, namespace="/audited")
    assert client.emit("hello", "ada", namespace="/audited", callback=True) == (
        "hello ada in /audited"
    )
    sid = client.get_sid("/audited")
    assert calls == [("connect", sid), ("hello", sid)]
    assert client.emit("unknown", namespace="/audited", callback=True) == []


def test_namespace_helpers_use_the_current_client(app: Flask, rt: Realtime) -> None:
    class Rooms(Namespace):
        def on_enter(self, room: str) -> list[str]:
            self.enter_room(request.sid, room)
            return sorted(self.rooms(request.sid))

        def on_tell(self, room: str) -> None:
            self.emit("told", room, to=room, include_self=False)

        def on_go(self) -> None:
            self.disconnect()

    rt.on_namespace(Rooms("/rooms"))
    alice = rt.test_client(app, namespace="/rooms")
    bob = rt.test_client(app, namespace="/rooms")
    assert alice.emit("enter", "r", namespace="/rooms", callback=True) == sorted(
        [alice.get_sid("/rooms"), "r"]
    )
    bob.emit("enter", "r", namespace="/rooms")
    alice.emit("tell", "r", namespace="/rooms")
    assert alice.get_received("/rooms") == []
    assert bob.get_received("/rooms") == [{"name": "told", "args": ["r"], "namespace": "/rooms"}]
    bob.emit("go", namespace="/rooms")
    assert not bob.is_connected("/rooms")


def test_events_from_another_thread_are_never_lost(app: Flask, rt: Realtime) -> None:
    @rt.on("connect", namespace="/other")
    def other() -> None:
        pass

    client = rt.test_client(app)
    client.connect("/other")
    sid = client.get_sid()
    count = 5000

    def task() -> None:
        for n in range(count):
            rt.emit("n", n, to=sid)
            if n % 3 == 0:
                rt.emit("o", n, namespace="/other")

    worker = threading.Thread(target=task)
    worker.start()
    got: list[dict[str, Any]] = []
    while worker.is_alive():
        got += client.get_received("/")
    worker.join()
    got += client.get_received("/")
    assert [r["args"][0] for r in got] == list(range(count))
    assert len(client.get_received("/other")) == len(range(0, count, 3))
