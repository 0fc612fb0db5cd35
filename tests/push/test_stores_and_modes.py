"""Subscriptions in Redis, shared by every process; sending in each async mode."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from realtime.push import VapidKey, WebPush
from tests.conftest import require
from tests.support.push_service import PushService
from tests.support.redis_server import RedisServer, redis_server_path

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    require(redis_server_path() is not None, "redis-server (Debian's redis-server package)")
    server = RedisServer().start()
    yield server
    server.stop()


def test_subscriptions_in_redis_are_seen_by_every_process(
    push_service: PushService, redis: RedisServer
) -> None:
    key = VapidKey.generate()
    # Two WebPush objects with their own connections, as two processes would have.
    one = WebPush(key, "mailto:ops@example.com", redis_url=redis.url)
    other = WebPush(key.private_key, "mailto:ops@example.com", redis_url=redis.url)
    try:
        kept = push_service.subscribe(key.public_key)
        expired = push_service.subscribe(key.public_key)
        one.subscribe("ada", kept)
        one.subscribe("ada", expired)
        one.subscribe("ada", kept)
        one.subscribe("grace", push_service.subscribe(key.public_key))
        assert sorted(s.endpoint for s in other.subscriptions("ada")) == sorted(
            [kept["endpoint"], expired["endpoint"]]
        )
        push_service.expire(expired)
        results = {r.endpoint: r for r in other.send("ada", {"from": "other"})}
        assert results[kept["endpoint"]].ok
        assert results[expired["endpoint"]].removed
        assert [s.endpoint for s in one.subscriptions("ada")] == [kept["endpoint"]]
        assert push_service.messages(kept) == ['{"from":"other"}']
        assert other.unsubscribe("ada", kept["endpoint"])
        assert one.subscriptions("ada") == []
        assert len(one.subscriptions("grace")) == 1
    finally:
        one.close()
        other.close()


SENDER = """
import sys, time
{patch}
from realtime.push import VapidKey, WebPush
import http.client, json

emulator = int(sys.argv[1])
def call(path, payload):
    c = http.client.HTTPConnection("127.0.0.1", emulator, timeout=10)
    c.request("POST", path, json.dumps(payload), {{"Content-Type": "application/json"}})
    return json.loads(c.getresponse().read())

push = WebPush(VapidKey.generate(), "mailto:ops@example.com", async_mode="{mode}", timeout=1)
assert push.mode.name == "{mode}", push.mode.name
options = {{"userVisibleOnly": "true", "applicationServerKey": push.public_key}}
subs = [call("/subscribe", options)["data"] for _ in range(3)]
for s in subs:
    # The front of the tests' PushService, which sets the Content-Type.
    s["endpoint"] = s["endpoint"].replace("localhost:%d" % emulator, "127.0.0.1:" + sys.argv[2])
    push.subscribe("ada", s)
# An endpoint that takes the connection and never answers: its push waits
# out the 1 s timeout.
import socket
silent = socket.socket()
silent.bind(("127.0.0.1", 0))
silent.listen(8)
push.subscribe("ada", dict(subs[0], endpoint="http://127.0.0.1:%d/x" % silent.getsockname()[1]))
# A task that ticks every 10 ms: while send() waits on the silent endpoint,
# it keeps ticking only if nothing blocks the other tasks.
ticks = []
def ticker():
    for _ in range(300):
        ticks.append(time.monotonic())
        push.mode.sleep(0.01)
push.mode.spawn(ticker)
push.mode.sleep(0.05)
start = time.monotonic()
results = push.send("ada", {{"mode": "{mode}"}})
end = time.monotonic()
assert sorted(r.status or 0 for r in results) == [0, 201, 201, 201], results
for s in subs:
    got = call("/get-notifications", {{"clientHash": s["clientHash"]}})["data"]["messages"]
    assert got == ['{{"mode":"{mode}"}}'], got
during = [t for t in ticks if start < t < end]
assert end - start >= 0.9, end - start
# ~100 ticks in a second; a blocked hub would let through a handful at most.
assert len(during) >= 30, (len(during), end - start)
print("OK", len(during))
"""


@pytest.mark.parametrize(
    ("mode", "patch"),
    [
        ("eventlet", ""),  # unpatched: realtime's own green sockets
        ("eventlet", "import eventlet; eventlet.monkey_patch()"),
        ("gevent", "from gevent import monkey; monkey.patch_all()"),
        ("gevent", ""),  # unpatched: each exchange on a thread of the hub's pool
        ("threading", ""),
    ],
)
def test_sending_in_each_async_mode(push_service: PushService, mode: str, patch: str) -> None:
    script = textwrap.dedent(SENDER.format(mode=mode, patch=patch))
    done = subprocess.run(
        [sys.executable, "-c", script, str(push_service.emulator_port), str(push_service.port)],
        capture_output=True,
        text=True,
        timeout=90,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("OK")
