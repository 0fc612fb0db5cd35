"""The offline fallback waits for connection state recovery to give up.

A push for a user whose connection dropped is held while that connection
may still be recovered: a client back in time gets the event replayed and no
notification; one that never comes back gets the notification once its
window closed. The client is the official one, socket.io-client under Node
(python-socketio's client does not do connection state recovery), through a
TCP proxy that cuts its connection; the push service is the emulator of
tests/push; across processes, two servers share a real Redis.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

import realtime
from realtime.push import VapidKey
from realtime.push.held import GRACE
from tests.conftest import require
from tests.support.embedded import embedded_server
from tests.support.node import NODE_MODULES, node
from tests.support.push_service import PushService, push_service
from tests.support.redis_server import RedisServer, redis_server_path
from tests.support.tcp_proxy import TcpProxy

__all__ = ["node", "push_service"]

pytestmark = pytest.mark.node

SUBJECT = "mailto:ops@example.com"
#: The recovery window of these tests' servers, in seconds.
WINDOW = 3.0
MESSAGE = {"title": "Grace", "body": "Lunch?"}

CLIENT = """
const { io } = require("socket.io-client");
const socket = io(process.argv[1], {
  auth: { user: "ada" }, transports: ["websocket"],
  reconnectionDelay: 100, reconnectionDelayMax: 200, randomizationFactor: 0,
});
const say = (o) => process.stdout.write(JSON.stringify(o) + "\\n");
socket.on("connect", () => say({ connect: socket.id, recovered: socket.recovered }));
socket.on("chat", (text) => say({ chat: text }));
"""


class NodeClient:
    """socket.io-client in a Node process; what it reports, line by line."""

    def __init__(self, node: str, url: str) -> None:
        env = dict(os.environ, NODE_PATH=str(NODE_MODULES))
        self._process = subprocess.Popen(
            [node, "-e", CLIENT, url], stdout=subprocess.PIPE, text=True, env=env
        )
        self.seen: list[dict[str, Any]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            self.seen.append(json.loads(line))

    def connects(self) -> list[bool]:
        """``recovered`` of each connect so far."""
        return [bool(s["recovered"]) for s in list(self.seen) if "connect" in s]

    def chats(self) -> list[str]:
        return [s["chat"] for s in list(self.seen) if "chat" in s]

    def kill(self) -> None:
        """The tab is closed: the process dies, its connection with it."""
        self._process.kill()
        self._process.wait(timeout=10)


def until(check: Any, timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def push_server(key: str, **options: Any) -> realtime.Server:
    """A server with recovery (``WINDOW`` s) that ties each client to its auth's user."""
    sio = realtime.Server(
        async_mode="threading",
        web_push={"private_key": key, "subject": SUBJECT},
        connection_state_recovery={"max_disconnection_duration": WINDOW},
        **options,
    )

    @sio.on("connect")
    def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        if isinstance(auth, dict) and auth.get("user"):
            sio.set_user(sid, auth["user"])

    return sio


@pytest.fixture
def single(push_service: PushService) -> Iterator[tuple[realtime.Server, TcpProxy]]:
    sio = push_server(VapidKey.generate().private_key)
    with embedded_server(sio, "threading") as base:
        proxy = TcpProxy(int(base.rsplit(":", 1)[1])).start()
        yield sio, proxy
        proxy.close()
    sio.shutdown()


def connected(sio: realtime.Server, client: NodeClient, count: int = 1) -> None:
    assert until(lambda: len(client.connects()) >= count)
    assert until(lambda: sio.user_is_connected("ada"))


def test_a_client_back_within_its_window_gets_the_event_and_no_push(
    single: tuple[realtime.Server, TcpProxy], push_service: PushService, node: str
) -> None:
    sio, proxy = single
    subscription = push_service.subscribe(sio.push.public_key)
    sio.push.subscribe("ada", subscription)
    client = NodeClient(node, proxy.url)
    try:
        connected(sio, client)
        proxy.outage(1.0)
        assert until(lambda: not sio.user_is_connected("ada"))
        held_at = time.monotonic()
        assert sio.emit_to_user("ada", "chat", "while away", push=MESSAGE) is False
        # Back, recovered, with the event replayed...
        assert until(lambda: client.connects() == [False, True])
        assert until(lambda: client.chats() == ["while away"])
        # ...and gone for good before the held push is due: it was answered
        # by the comeback, and is not sent.
        client.kill()
        time.sleep(max(0.0, held_at + WINDOW + GRACE + 1.5 - time.monotonic()))
        assert push_service.messages(subscription) == []
    finally:
        client.kill()


def test_a_client_that_never_comes_back_gets_the_push_once_its_window_closed(
    single: tuple[realtime.Server, TcpProxy], push_service: PushService, node: str
) -> None:
    sio, proxy = single
    subscription = push_service.subscribe(sio.push.public_key)
    sio.push.subscribe("ada", subscription)
    client = NodeClient(node, proxy.url)
    connected(sio, client)
    client.kill()
    assert until(lambda: not sio.user_is_connected("ada"))
    assert sio.emit_to_user("ada", "chat", "nobody", push=MESSAGE) is False
    # Held while the connection may still be recovered...
    assert sio.push.holds.store.next_due() is not None
    time.sleep(WINDOW - 1.0)
    assert push_service.messages(subscription) == []
    # ...and sent once recovery gave up.
    assert until(lambda: push_service.messages(subscription) != [])
    assert [orjson.loads(m) for m in push_service.messages(subscription)] == [MESSAGE]
    # A user with no connection that dropped is pushed to at once.
    assert sio.emit_to_user("ada", "chat", "again", push={"n": 2}) is False
    assert sio.push.holds.store.next_due() is None
    assert until(lambda: len(push_service.messages(subscription)) == 2)


def test_delay_zero_pushes_at_once_even_while_a_window_is_open(
    single: tuple[realtime.Server, TcpProxy], push_service: PushService, node: str
) -> None:
    sio, proxy = single
    subscription = push_service.subscribe(sio.push.public_key)
    sio.push.subscribe("ada", subscription)
    client = NodeClient(node, proxy.url)
    connected(sio, client)
    client.kill()
    assert until(lambda: not sio.user_is_connected("ada"))
    assert sio.emit_to_user("ada", "chat", "now", push=MESSAGE, delay=0) is False
    assert sio.push.holds.store.next_due() is None  # not held: sent at once
    assert until(lambda: push_service.messages(subscription) != [])


@pytest.fixture
def redis_url() -> Iterator[str]:
    require(redis_server_path() is not None, "redis-server (Debian's redis-server package)")
    server = RedisServer().start()
    yield server.url
    server.stop()


def test_across_processes_a_held_push_is_sent_once_and_survives_its_holder(
    redis_url: str, push_service: PushService, node: str
) -> None:
    key = VapidKey.generate().private_key
    options = {"message_queue": redis_url, "channel": f"held-{uuid.uuid4().hex[:8]}"}
    # The client's process, and the one that emits (and holds the pushes).
    here, emitter = push_server(key, **options), push_server(key, **options)
    with embedded_server(here, "threading") as base, embedded_server(emitter, "threading"):
        proxy = TcpProxy(int(base.rsplit(":", 1)[1])).start()
        subscription = push_service.subscribe(here.push.public_key)
        here.push.subscribe("ada", subscription)
        try:
            # Held by the emitter, due while both processes look: sent once.
            client = NodeClient(node, proxy.url)
            connected(emitter, client)
            client.kill()
            assert until(lambda: not emitter.user_is_connected("ada"))
            assert emitter.emit_to_user("ada", "chat", "one", push={"n": 1}) is False
            assert until(lambda: push_service.messages(subscription) != [])
            time.sleep(2 * GRACE)
            assert push_service.messages(subscription) == ['{"n":1}']

            # Back on the client's process within its window: no push from
            # the process that held it.
            client = NodeClient(node, proxy.url)
            connected(emitter, client)
            proxy.outage(1.0)
            assert until(lambda: not emitter.user_is_connected("ada"))
            held_at = time.monotonic()
            assert emitter.emit_to_user("ada", "chat", "two", push={"n": 2}) is False
            assert until(lambda: client.chats() == ["two"])
            assert client.connects() == [False, True]
            client.kill()
            time.sleep(max(0.0, held_at + WINDOW + GRACE + 1.5 - time.monotonic()))
            assert push_service.messages(subscription) == ['{"n":1}']

            # Held by a process that stops before it is due: the other sends it.
            client = NodeClient(node, proxy.url)
            connected(emitter, client)
            client.kill()
            assert until(lambda: not emitter.user_is_connected("ada"))
            assert emitter.emit_to_user("ada", "chat", "three", push={"n": 3}) is False
            emitter.shutdown()
            assert until(lambda: len(push_service.messages(subscription)) == 2)
            time.sleep(2 * GRACE)
            assert push_service.messages(subscription) == ['{"n":1}', '{"n":3}']
        finally:
            proxy.close()
    here.shutdown()
    emitter.shutdown()
