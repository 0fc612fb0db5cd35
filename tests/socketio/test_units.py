"""Messaging-layer pieces in-process, no sockets: handler lookup, rooms, acks, the local client."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any

import pytest

import realtime
from realtime.async_modes.threading_mode import ThreadingMode
from realtime.engine.outgoing import Outgoing
from realtime.exceptions import AckTimeout, ConfigurationError
from realtime.protocol.engineio import EngineSid
from realtime.protocol.parsers import Parser, get_parser
from realtime.protocol.socketio import SocketSid
from realtime.socketio.acks import AckRegistry, Waiter
from realtime.socketio.handlers import HandlerRegistry, fit_arguments
from realtime.socketio.managers import MemoryManager
from realtime.socketio.testing import LocalClient


class TestHandlerRegistry:
    def test_exact_then_pattern_then_any(self) -> None:
        registry = HandlerRegistry()
        registry.add("/exact", "ev", lambda sid: "exact")
        registry.add(re.compile(r"/p-\d+"), "ev", lambda ns, sid: "pattern")
        registry.add("*", "ev", lambda ns, sid: "any")
        exact = registry.resolve("/exact")
        pattern = registry.resolve("/p-7")
        anything = registry.resolve("/other")
        assert exact is not None and pattern is not None and anything is not None
        assert (exact.dynamic, pattern.dynamic, anything.dynamic) == (False, True, True)
        handler, prefix = pattern.find("ev")  # type: ignore[misc]
        assert prefix == ("/p-7",) and handler("/p-7", "sid") == "pattern"
        fallback = registry.resolve("/p-x")
        assert fallback is not None and fallback.handlers is anything.handlers

    def test_handlers_added_after_a_resolve_are_found(self) -> None:
        # resolve() remembers exact namespaces; registering anything forgets.
        from realtime.socketio.namespace import Namespace

        class Chat(Namespace):
            def on_hello(self, sid: str) -> str:
                return "from the class"

        registry = HandlerRegistry()
        registry.add_instance(Chat("/chat"))
        first = registry.resolve("/chat")
        assert first is not None and registry.resolve("/chat") is first
        assert first.find("late") is None
        registry.add("/chat", "late", lambda sid: "late")
        later = registry.resolve("/chat")
        assert later is not None and later.find("late") is not None
        assert later.find("hello") is not None

    def test_nothing_registered_resolves_to_none(self) -> None:
        assert HandlerRegistry().resolve("/") is None

    def test_catch_all_event_gets_the_event_name_but_not_connect(self) -> None:
        registry = HandlerRegistry()
        registry.add("/", "*", lambda event, sid, *args: (event, args))
        resolved = registry.resolve("/")
        assert resolved is not None
        _handler, prefix = resolved.find("anything")  # type: ignore[misc]
        assert prefix == ("anything",)
        assert resolved.find("connect") is None and resolved.find("disconnect") is None

    def test_the_lookup_order_of_python_socketio(self) -> None:
        # Own handler, own catch-all, the every-namespace handler, its
        # catch-all, then a class-based namespace: python-socketio's order.
        class Chat(realtime.Namespace):
            def on_wildcard(self, sid: str) -> str:
                return "class"

        registry = HandlerRegistry()
        registry.add("/chat", "own", lambda sid: "own")
        registry.add("*", "wildcard", lambda ns, sid: f"everywhere {ns}")
        registry.add("*", "*", lambda event, ns, sid: f"everywhere catch-all {event} {ns}")
        registry.add("*", "connect", lambda ns, sid: f"connect {ns}")
        registry.add_instance(Chat("/chat"))

        def call(namespace: str, event: str) -> Any:
            resolved = registry.resolve(namespace)
            assert resolved is not None
            found = resolved.find(event)
            assert found is not None, (namespace, event)
            handler, prefix = found
            return handler(*prefix, "sid")

        # A namespace with handlers of its own still reaches the "*" ones.
        assert call("/chat", "own") == "own"
        assert call("/chat", "wildcard") == "everywhere /chat"
        assert call("/chat", "other") == "everywhere catch-all other /chat"
        assert call("/chat", "connect") == "connect /chat"
        assert call("/elsewhere", "wildcard") == "everywhere /elsewhere"
        registry.add("/chat", "*", lambda event, sid: f"own catch-all {event}")
        assert call("/chat", "wildcard") == "own catch-all wildcard"
        resolved = registry.resolve("/chat")
        assert resolved is not None and resolved.find("disconnect") is None

    def test_class_namespace_answers_what_decorators_do_not(self) -> None:
        class Chat(realtime.Namespace):
            def on_hello(self, sid: str) -> str:
                return "from class"

        registry = HandlerRegistry()
        registry.add("/chat", "bye", lambda sid: "from decorator")
        registry.add_instance(Chat("/chat"))
        resolved = registry.resolve("/chat")
        assert resolved is not None
        hello, _ = resolved.find("hello")  # type: ignore[misc]
        bye, _ = resolved.find("bye")  # type: ignore[misc]
        assert (hello("s"), bye("s")) == ("from class", "from decorator")
        assert resolved.find("missing") is None

    def test_overridden_trigger_event_gets_every_event(self) -> None:
        class Router(realtime.Namespace):
            def trigger_event(self, event: str, *args: Any) -> Any:
                return ("routed", event, args)

        registry = HandlerRegistry()
        registry.add_instance(Router("/r"))
        resolved = registry.resolve("/r")
        assert resolved is not None
        handler, prefix = resolved.find("anything")  # type: ignore[misc]
        assert handler(*prefix, "sid", 1) == ("routed", "anything", ("sid", 1))

    @pytest.mark.parametrize("bad", ["chat", "/a,b", ""])
    def test_bad_namespace_names(self, bad: str) -> None:
        with pytest.raises(ConfigurationError):
            HandlerRegistry().add(bad, "ev", lambda sid: None)


class TestFitArguments:
    def test_trims_to_what_the_handler_takes(self) -> None:
        assert fit_arguments(lambda sid: None, ("s", "env", "auth")) == ("s",)
        assert fit_arguments(lambda sid, env: None, ("s", "env", "auth")) == ("s", "env")
        assert fit_arguments(lambda *a: None, ("s", "env", "auth")) == ("s", "env", "auth")
        assert fit_arguments(lambda ns, sid: None, ("s", "env"), ("/ns",)) == ("s",)

    def test_bound_methods(self) -> None:
        class Handlers:
            def connect(self, sid: str, environ: dict[str, Any]) -> None:
                pass

        assert fit_arguments(Handlers().connect, ("s", "env", "auth")) == ("s", "env")


class _Host:
    """The least a manager needs from its server: local delivery."""

    def __init__(self, deliver: Callable[[str, EngineSid, Outgoing], bool]) -> None:
        self.deliver = deliver

    @property
    def parser(self) -> Parser:
        return get_parser()

    def ask(self, *args: Any) -> None:
        raise AssertionError("not asked in these tests")

    def disconnect(self, sid: str, namespace: str) -> None:
        raise AssertionError("not asked in these tests")


class TestMemoryManager:
    def manager(self) -> tuple[MemoryManager, list[tuple[str, Outgoing]]]:
        delivered: list[tuple[str, Outgoing]] = []
        manager = MemoryManager()
        manager.bind(
            _Host(lambda ns, eio_sid, outgoing: delivered.append((eio_sid, outgoing)) or True)
        )
        for n in range(4):
            manager.add("/", SocketSid(f"s{n}"), EngineSid(f"e{n}"))
        return manager, delivered

    def test_every_observer_hears_of_room_changes(self) -> None:
        # Connection state recovery and the admin UI both watch memberships.
        manager, _ = self.manager()
        heard: list[tuple[str, str, str]] = []

        class Observer:
            def __init__(self, name: str) -> None:
                self.name = name

            def rooms_changed(self, namespace: str, sid: SocketSid) -> None:
                heard.append((self.name, namespace, sid))

        manager.observe(Observer("recovery"))
        manager.observe(Observer("admin"))
        manager.enter_room("/", SocketSid("s1"), "r")
        manager.leave_room("/", SocketSid("s1"), "r")
        manager.enter_room("/", SocketSid("s2"), "q")
        manager.close_room("/", "q")
        assert heard == [
            (name, "/", sid) for sid in ("s1", "s1", "s2", "s2") for name in ("recovery", "admin")
        ]

    def test_every_sid_is_in_its_own_room(self) -> None:
        manager, _ = self.manager()
        assert manager.rooms("/", SocketSid("s1")) == ["s1"]
        manager.enter_room("/", SocketSid("s1"), "r")
        assert manager.rooms("/", SocketSid("s1")) == ["s1", "r"]

    def test_emit_to_rooms_once_each_with_exclusions(self) -> None:
        manager, delivered = self.manager()
        for sid in ("s0", "s1", "s2"):
            manager.enter_room("/", SocketSid(sid), "a")
        manager.enter_room("/", SocketSid("s2"), "b")
        manager.enter_room("/", SocketSid("s3"), "b")
        outgoing = Outgoing(['2["x"]'])
        sent = manager.broadcast("/", outgoing, ["a", "b"], exclude={"s1"})
        assert sorted(sent) == ["s0", "s2", "s3"]
        assert all(o is outgoing for _, o in delivered)

    def test_leave_close_and_remove(self) -> None:
        manager, _ = self.manager()
        manager.enter_room("/", SocketSid("s0"), "r")
        manager.enter_room("/", SocketSid("s1"), "r")
        manager.leave_room("/", SocketSid("s0"), "r")
        assert [m[0] for m in manager.members("/", ["r"])] == ["s1"]
        manager.close_room("/", "r")
        assert manager.members("/", ["r"]) == []
        assert manager.rooms("/", SocketSid("s1")) == ["s1"]
        manager.remove("/", SocketSid("s1"))
        assert manager.members("/", ["s1"]) == []
        manager.enter_room("/", SocketSid("s1"), "late")  # unknown now: ignored
        assert manager.members("/", ["late"]) == []

    def test_namespaces_are_separate(self) -> None:
        manager, _ = self.manager()
        manager.add("/other", SocketSid("x"), EngineSid("ex"))
        assert [m[0] for m in manager.members("/other")] == ["x"]
        assert len(manager.members("/")) == 4


class TestAcks:
    def test_waiter_gets_the_answer(self) -> None:
        mode = ThreadingMode()
        acks = AckRegistry(mode)
        waiter = Waiter(mode)
        ack_id = acks.new_id()
        acks.expect([SocketSid("s")], ack_id, waiter)
        threading.Timer(0.05, acks.resolve, (SocketSid("s"), ack_id, ["yes"])).start()
        assert acks.wait(waiter, SocketSid("s"), ack_id, "/", 5) == ["yes"]

    def test_timeout_is_both_ours_and_a_timeout_error(self) -> None:
        mode = ThreadingMode()
        acks = AckRegistry(mode)
        waiter = Waiter(mode)
        acks.expect([SocketSid("s")], 1, waiter)
        with pytest.raises(TimeoutError) as info:
            acks.wait(waiter, SocketSid("s"), 1, "/", 0.05)
        assert isinstance(info.value, AckTimeout) and not info.value.disconnected
        assert acks.resolve(SocketSid("s"), 1, ["late"]) is None  # forgotten

    def test_disconnect_wakes_waiters(self) -> None:
        mode = ThreadingMode()
        acks = AckRegistry(mode)
        waiter = Waiter(mode)
        acks.expect([SocketSid("s")], 1, waiter)
        threading.Timer(0.05, acks.drop, (SocketSid("s"),)).start()
        with pytest.raises(AckTimeout) as info:
            acks.wait(waiter, SocketSid("s"), 1, "/", 5)
        assert info.value.disconnected

    def test_ids_are_unique(self) -> None:
        acks = AckRegistry(ThreadingMode())
        assert len({acks.new_id() for _ in range(1000)}) == 1000


class TestLocalClient:
    def server(self) -> realtime.Server:
        sio = realtime.Server(async_mode="threading")

        @sio.on("connect")
        def connect(sid: str, environ: dict[str, Any], auth: Any) -> bool:
            if auth == {"no": True}:
                raise realtime.ConnectionRefused("nope", {"code": 7})
            sio.emit("welcome", sid, to=sid)
            return True

        @sio.event
        def echo(sid: str, *args: Any) -> tuple[Any, ...]:
            sio.emit("echoed", args, to=sid)
            return args

        @sio.event
        def binary(sid: str, data: bytes) -> bytes:
            return data[::-1]

        return sio

    def test_connect_emit_ack_and_receive(self) -> None:
        client = LocalClient(self.server())
        assert client.is_connected()
        assert client.get_received() == [
            {"name": "welcome", "args": [client.sid()], "namespace": "/"}
        ]
        assert client.emit("echo", 1, "two", callback=True) == [1, "two"]
        assert client.emit("echo", "one", callback=True) == "one"
        assert client.get_received() == [
            {"name": "echoed", "args": [1, "two"], "namespace": "/"},
            {"name": "echoed", "args": ["one"], "namespace": "/"},
        ]
        assert client.emit("binary", b"\x01\x02", callback=True) == b"\x02\x01"

    def test_refusal_and_disconnect(self) -> None:
        sio = self.server()
        refused = LocalClient(sio, auth={"no": True})
        assert not refused.is_connected()
        assert refused.connect_errors["/"] == {"message": "nope", "data": {"code": 7}}
        client = LocalClient(sio)
        sid = client.sid()
        assert sid is not None and sio.rooms(sid) == [sid]
        client.disconnect()
        assert not client.connected
        with pytest.raises(KeyError):
            sio.get_session(sid)

    def test_encode_once_for_a_broadcast(self) -> None:
        sio = self.server()
        clients = [LocalClient(sio) for _ in range(3)]
        for client in clients:
            client.get_received()
        seen: list[Outgoing] = []
        host = sio.manager._host
        assert host is not None

        def spy(namespace: str, eio_sid: EngineSid, outgoing: Outgoing) -> bool:
            seen.append(outgoing)
            return host.deliver(namespace, eio_sid, outgoing)

        sio.manager.bind(_Host(spy))
        sio.emit("news", {"big": "x" * 1000})
        assert len(seen) == 3 and seen[0] is seen[1] is seen[2]
        assert all(c.get_received()[0]["args"] == [{"big": "x" * 1000}] for c in clients)


class TestClientFiles:
    def test_served_with_etag_gzip_and_revalidation(self) -> None:
        import gzip
        from importlib import resources

        from werkzeug.test import Client

        client = Client(realtime.Server(async_mode="threading"))
        source = resources.files("realtime").joinpath("static", "realtime.js").read_bytes()
        plain = client.get("/socket.io/realtime.js")
        assert plain.status_code == 200
        assert plain.data == source
        assert plain.headers["Content-Type"] == "text/javascript; charset=utf-8"
        etag = plain.headers["ETag"]
        zipped = client.get("/socket.io/realtime.js", headers={"Accept-Encoding": "gzip, br"})
        assert zipped.headers["Content-Encoding"] == "gzip"
        assert gzip.decompress(zipped.data) == source
        assert len(zipped.data) < len(source) / 2
        again = client.get("/socket.io/realtime.js", headers={"If-None-Match": etag})
        assert (again.status_code, again.data) == (304, b"")
        module = client.get("/socket.io/realtime.esm.js")
        assert module.status_code == 200 and b"export" in module.data
        head = client.head("/socket.io/realtime.js")
        assert head.status_code == 200 and head.headers["Content-Length"] == str(len(source))
        assert client.post("/socket.io/realtime.js").status_code == 405

    def test_follows_the_path_option(self) -> None:
        from werkzeug.test import Client

        client = Client(realtime.Server(async_mode="threading", path="/rt/"))
        assert client.get("/rt/realtime.js").status_code == 200
        assert client.get("/socket.io/realtime.js").status_code == 404


class TestServerRules:
    """Rules the server enforces on the application, checked in-process."""

    @pytest.mark.parametrize("name", ["connect", "disconnect", "connect_error", "newListener"])
    def test_reserved_event_names_are_refused(self, name: str) -> None:
        sio = realtime.Server(async_mode="threading")

        class Room(realtime.Namespace):
            pass

        room = Room("/")
        sio.register_namespace(room)
        client = LocalClient(sio)
        sid = client.sid()
        assert sid is not None
        with pytest.raises(ConfigurationError, match="reserved"):
            sio.emit(name, "x", to=sid)
        with pytest.raises(ConfigurationError, match="reserved"):
            sio.call(name, "x", to=sid, timeout=0.1)
        with pytest.raises(ConfigurationError, match="reserved"):
            room.emit(name, "x", to=sid)
        assert client.get_received() == [] and client.is_connected()

    def test_namespaces_option_as_one_name(self) -> None:
        sio = realtime.Server(async_mode="threading", namespaces="/chat")
        client = LocalClient(sio, namespace=None)
        assert client.connect("/") and client.connect("/chat")
        assert not client.connect("/other")
        assert client.connect_errors["/other"] == {"message": "Invalid namespace"}

    def test_leaving_the_room_of_ones_own_sid_is_ignored(self) -> None:
        sio = realtime.Server(async_mode="threading")
        client = LocalClient(sio)
        sid = client.sid()
        assert sid is not None
        sio.enter_room(sid, "lobby")
        sio.leave_room(sid, sid)
        assert sorted(sio.rooms(sid)) == sorted([sid, "lobby"])
        sio.emit("direct", to=sid)
        assert [event["name"] for event in client.get_received()] == ["direct"]

    def test_connect_method_with_fewer_arguments_under_an_overridden_trigger_event(
        self,
    ) -> None:
        calls: list[tuple[str, tuple[Any, ...]]] = []

        class Audited(realtime.Namespace):
            def trigger_event(self, event: str, *args: Any) -> Any:
                calls.append((event, args[:1]))
                return super().trigger_event(event, *args)

            def on_connect(self, sid: str) -> None:
                self.enter_room(sid, "audited")

            def on_disconnect(self, sid: str) -> None:
                calls.append(("left", (sid,)))

        sio = realtime.Server(async_mode="threading")
        sio.register_namespace(Audited("/a"))
        client = LocalClient(sio, namespace="/a")
        sid = client.sid("/a")
        assert sid is not None and "audited" in sio.rooms(sid, namespace="/a")
        client.disconnect("/a")
        assert calls == [("connect", (sid,)), ("disconnect", (sid,)), ("left", (sid,))]

    def test_helpers_of_a_pattern_namespace_find_the_clients_namespace(self) -> None:
        class Game(realtime.Namespace):
            def on_connect(self, sid: str) -> None:
                self.enter_room(sid, "players")
                self.emit("welcome", self.server.namespace_of(sid), to=sid)

            def on_play(self, sid: str, move: str) -> list[str]:
                with self.session(sid) as session:
                    session["moves"] = [*session.get("moves", []), move]
                return list(self.get_session(sid)["moves"])

        sio = realtime.Server(async_mode="threading")
        game = Game(re.compile(r"/game-\d+"))
        sio.register_namespace(game)
        one, two = LocalClient(sio, namespace="/game-1"), LocalClient(sio, namespace="/game-2")
        assert one.get_received() == [
            {"name": "welcome", "args": ["/game-1"], "namespace": "/game-1"}
        ]
        assert one.emit("play", "e4", namespace="/game-1", callback=True) == ["e4"]
        assert two.emit("play", "d4", namespace="/game-2", callback=True) == ["d4"]
        # A room exists per namespace: players of game 1 only.
        game.emit("news", "for game 1", to="players", namespace="/game-1")
        assert [e["args"] for e in one.get_received()] == [["for game 1"]]
        assert two.get_received() == [
            {"name": "welcome", "args": ["/game-2"], "namespace": "/game-2"}
        ]
        with pytest.raises(ConfigurationError, match="pattern"):
            game.emit("news", "to whom?", to="players")


class TestCoroutinesRefused:
    """realtime.Server runs handlers on eventlet, gevent or threads: it would
    call an async def function and never await what it returns, so it says
    so when one is registered (the Flask extension runs them)."""

    def test_handlers_methods_callbacks_and_tasks(self) -> None:
        sio = realtime.Server(async_mode="threading")

        async def handler(sid: str) -> None:
            pass

        with pytest.raises(ConfigurationError, match=r"coroutine function \(async def\)"):
            sio.on("chat", handler)
        with pytest.raises(ConfigurationError, match="write it with def"):
            sio.event(handler)

        class Chat(realtime.Namespace):
            async def on_message(self, sid: str) -> None:
                pass

        with pytest.raises(ConfigurationError, match="the method on_message"):
            sio.register_namespace(Chat("/chat"))

        async def answered(*args: Any) -> None:
            pass

        with pytest.raises(ConfigurationError, match="the callback"):
            sio.emit("x", callback=answered)
        with pytest.raises(ConfigurationError, match="the background task"):
            sio.start_background_task(answered)
        sio.shutdown()
