"""instrument() on two processes sharing Redis: an admin connected to one
sees and acts on the sockets of both, as the Admin UI shows a cluster of
Node servers (each process reports itself with its own server_id)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import socketio

from tests.cluster.test_engine_forwarding import REDIS, redis_answers
from tests.conftest import require
from tests.support.servers import ServerProcess

APP = "tests.support.admin_apps:sio_admin"
CREDENTIALS = {"username": "admin", "password": "s3cret"}

pytestmark = pytest.mark.xdist_group("admin-cluster")


@pytest.fixture(scope="module")
def servers() -> Iterator[list[ServerProcess]]:
    require(redis_answers(), "a Redis server on 127.0.0.1:6379 (make prereqs starts one)")
    channel = f"admin-{uuid.uuid4().hex[:8]}"
    started = []
    try:
        for name, mode in (("a", "threading"), ("b", "gevent")):
            options = {"message_queue": REDIS, "channel": channel, "server_id": name}
            env = {"REALTIME_TEST_MONKEY_PATCH": "1"} if mode == "gevent" else {}
            started.append(ServerProcess(APP, mode, options, env=env).start())
        yield started
    finally:
        for server in started:
            server.stop()


def until(check: Callable[[], bool], what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def user(url: str) -> socketio.Client:
    made = socketio.Client(reconnection=False)
    made.connect(url, wait_timeout=10)
    return made


def test_an_admin_on_one_process_sees_and_acts_on_both(servers: list[ServerProcess]) -> None:
    a, b = servers
    here, there = user(a.url), user(b.url)
    admin = socketio.Client(reconnection=False)
    log: list[tuple[str, tuple[Any, ...]]] = []
    admin.on("*", lambda event, *args: log.append((event, args)), "/admin")

    def events(name: str) -> list[tuple[Any, ...]]:
        return [args for event, args in log if event == name]

    try:
        there.call("join", "lobby", timeout=10)
        admin.connect(a.url, namespaces=["/admin"], auth=CREDENTIALS, wait_timeout=10)
        until(lambda: events("all_sockets"), "all_sockets")
        listed = {s["id"]: s for s in events("all_sockets")[0][0]}
        assert here.get_sid() in listed
        assert listed[there.get_sid()]["rooms"] == [there.get_sid(), "lobby"]
        assert listed[there.get_sid()]["clientId"] == there.eio.sid
        assert isinstance(listed[there.get_sid()]["handshake"]["issued"], int)
        until(
            lambda: {s[0]["serverId"] for s in events("server_stats")} >= {"a", "b"},
            "the stats of both processes",
        )

        # What happens on the other process reaches the admin.
        late = user(b.url)
        until(
            lambda: any(s[0]["id"] == late.get_sid() for s in events("socket_connected")),
            "socket_connected from the other process",
        )
        late.call("echo", "from b", timeout=10)
        until(
            lambda: any(e[1] == late.get_sid() for e in events("event_received")),
            "event_received from the other process",
        )

        # The admin's actions reach the other process's sockets.
        admin.emit("join", ("/", "vip", there.get_sid()), namespace="/admin")
        until(lambda: "vip" in there.call("rooms", timeout=10), "the join on the other process")
        until(
            lambda: any(e[1] == "vip" and e[2] == there.get_sid() for e in events("room_joined")),
            "room_joined",
        )
        gone = there.get_sid()
        admin.emit("_disconnect", ("/", False, gone), namespace="/admin")
        until(lambda: not there.connected, "the disconnect on the other process")
        until(
            lambda: any(e[1] == gone for e in events("socket_disconnected")), "socket_disconnected"
        )
        assert here.connected and late.connected
        late.disconnect()
    finally:
        for client in (here, there, admin):
            client.disconnect()
