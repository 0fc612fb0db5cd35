"""Metrics of the engine and of the broker, scraped from running servers.

Refused requests are raw HTTP requests, each wrong in one way; upgrades are
python-socketio's (polling, then WebSocket) and raw WebSocket probes that
fail, time out or lose their session; the broker's are two server
processes sharing Redis (or RabbitMQ), a client on each, and a private
Redis stopped under one of them. Servers are tests/support/operations_apps.py's.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import requests
import socketio
import websocket

import realtime
from tests.cluster.test_engine_forwarding import REDIS, redis_answers
from tests.conftest import require
from tests.socketio.test_operations import APPS, client, scrape, until, value
from tests.support.embedded import embedded_server
from tests.support.rabbitmq_server import SHARED_URL, amqp_answers
from tests.support.redis_server import RedisServer, redis_server_path
from tests.support.servers import ServerProcess

REFUSED = "realtime_refused_requests_total"
UPGRADES = "realtime_upgrades_total"


@pytest.fixture(params=[("server", "threading"), ("flask", "gevent")], ids="-".join)
def server(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    app, mode = request.param
    options = {"max_http_buffer_size": 1000, "upgrade_timeout": 1}
    started = ServerProcess(APPS[app], mode, options).start()
    yield started
    started.stop()


def _url(base: str, **query: str) -> str:
    return f"{base}/socket.io/?" + "&".join(f"{k}={v}" for k, v in query.items())


def _open(base: str) -> str:
    """A raw polling session: its id."""
    answer = requests.get(_url(base, EIO="4", transport="polling"), timeout=10)
    assert answer.status_code == 200, answer.text
    sid: str = json.loads(answer.text[1:])["sid"]
    return sid


def _code(answer: requests.Response) -> int:
    code: int = answer.json()["code"]
    return code


def test_refused_requests_are_counted_by_reason(server: ServerProcess) -> None:
    base = server.url
    get, post = requests.get, requests.post
    assert _code(get(_url(base, EIO="4", transport="pigeon"), timeout=10)) == 0
    assert _code(post(_url(base, EIO="4", transport="polling"), timeout=10)) == 2
    assert _code(get(_url(base, EIO="3", transport="polling"), timeout=10)) == 5
    assert _code(get(_url(base, EIO="4", transport="polling", sid="made-up"), timeout=10)) == 1
    # transport=websocket without a WebSocket handshake
    assert _code(get(_url(base, EIO="4", transport="websocket"), timeout=10)) == 3
    # An origin the server does not allow (by default, its own only): the
    # handshake, and a CORS preflight.
    elsewhere = {"Origin": "http://elsewhere.example"}
    handshake = _url(base, EIO="4", transport="polling")
    refused = get(handshake, headers=elsewhere, timeout=10)
    assert (refused.status_code, _code(refused)) == (403, 4)
    preflight = {**elsewhere, "Access-Control-Request-Method": "GET"}
    assert requests.options(handshake, headers=preflight, timeout=10).status_code == 403
    # A body over max_http_buffer_size (1000 bytes)
    sid = _open(base)
    too_large = post(
        _url(base, EIO="4", transport="polling", sid=sid), data="4" + "x" * 2000, timeout=10
    )
    assert too_large.status_code == 413
    # And what is no refusal: a session opened, a client that connects.
    # Scraped while it is connected: python-engineio's polling client may
    # send one more request after it disconnects, which is refused
    # (UNKNOWN_SID), and counted, as it should be.
    connected = client(base, "polling")
    try:
        samples = scrape(base)
    finally:
        connected.disconnect()
    counted = {
        dict(labels)["reason"]: count
        for (name, labels), count in samples.items()
        if name == REFUSED
    }
    assert counted == {
        "UNKNOWN_TRANSPORT": 1,
        "BAD_HANDSHAKE_METHOD": 1,
        "UNSUPPORTED_PROTOCOL_VERSION": 1,
        "UNKNOWN_SID": 1,
        "BAD_REQUEST": 1,
        "BAD_ORIGIN": 2,
        "PAYLOAD_TOO_LARGE": 1,
    }


def test_methods_a_transport_refuses_are_counted() -> None:
    # Refused by the transport itself, after the engine found the session:
    # a PUT on polling, a WebSocket upgrade that is not a GET, a PUT for an
    # SSE stream. Each is a BAD_REQUEST, as the wire says, with the CORS
    # headers of any answer, and counted.
    options = {"transports": ["polling", "websocket", "sse"], "cors_allowed_origins": "*"}
    server = ServerProcess(APPS["server"], "threading", options).start()
    try:
        base = server.url
        sid = _open(base)
        origin = {"Origin": "http://elsewhere.example"}
        answers = [
            requests.put(
                _url(base, EIO="4", transport="polling", sid=sid), headers=origin, timeout=10
            ),
            requests.post(
                _url(base, EIO="4", transport="websocket", sid=sid),
                headers={
                    **origin,
                    "Upgrade": "websocket",
                    "Connection": "Upgrade",
                    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                    "Sec-WebSocket-Version": "13",
                },
                timeout=10,
            ),
            requests.put(_url(base, EIO="4", transport="sse", sid=sid), headers=origin, timeout=10),
        ]
        for answer in answers:
            assert (answer.status_code, _code(answer)) == (400, 3), answer.text
            assert answer.headers.get("Access-Control-Allow-Origin") == origin["Origin"]
        samples = scrape(base)
        # The session was not harmed: it still polls.
        alive = requests.post(
            _url(base, EIO="4", transport="polling", sid=sid), data="6", timeout=10
        )
        assert alive.status_code == 200, alive.text
    finally:
        server.stop()
    assert value(samples, REFUSED, reason="BAD_REQUEST") == 3


def _probe(server: ServerProcess) -> tuple[str, websocket.WebSocket]:
    """A raw polling session with a WebSocket probing it (``2probe``
    answered ``3probe``): the session id and the WebSocket."""
    sid = _open(server.url)
    ws_url = server.ws_url + "/socket.io/?EIO=4&transport=websocket&sid=" + sid
    ws = websocket.create_connection(ws_url, timeout=10)
    ws.send("2probe")
    assert ws.recv() == "3probe"
    return sid, ws


def test_upgrades_are_counted_by_outcome(server: ServerProcess) -> None:
    base = server.url
    # python-socketio's client: polling, then the upgrade to WebSocket.
    upgraded = socketio.Client(reconnection=False)
    upgraded.connect(base, transports=["polling", "websocket"], wait_timeout=10)
    until(lambda: upgraded.transport() == "websocket", "the client's upgrade")
    upgraded.disconnect()

    # A probe whose client sends a message instead of the upgrade packet.
    _, failed = _probe(server)
    failed.send("4not an upgrade")
    # A probe that never completes (upgrade_timeout is 1 s).
    _, stalled = _probe(server)
    # A probe whose session the client closes meanwhile (a close packet).
    sid, orphan = _probe(server)
    closing = _url(base, EIO="4", transport="polling", sid=sid)
    assert requests.post(closing, data="1", timeout=10).text == "ok"
    try:
        expected = {"succeeded": 1, "failed": 1, "timed out": 1, "aborted": 1}

        def outcomes() -> dict[str, float]:
            samples = scrape(base)
            return {
                outcome: value(samples, UPGRADES, transport="websocket", outcome=outcome)
                for outcome in expected
            }

        until(lambda: outcomes() == expected, f"the upgrades counted: {expected}")
    finally:
        for ws in (failed, stalled, orphan):
            ws.close()
    samples = scrape(base)
    assert sum(c for (name, _), c in samples.items() if name == UPGRADES) == 4


BROKER_METRICS = (
    "realtime_broker_published_total",
    "realtime_broker_received_total",
    "realtime_broker_published_bytes_total",
    "realtime_broker_received_bytes_total",
    "realtime_broker_lag_seconds_count",
)


@pytest.fixture(params=["redis", "rabbitmq"])
def pair(request: pytest.FixtureRequest) -> Iterator[list[ServerProcess]]:
    """Two server processes of one deployment, on Redis or RabbitMQ."""
    if request.param == "redis":
        require(redis_answers(), "a Redis server on 127.0.0.1:6379 (make prereqs starts one)")
        url = REDIS
    else:
        require(amqp_answers(), "RabbitMQ on 127.0.0.1:5672 (make prereqs starts it)")
        url = SHARED_URL
    options = {"message_queue": url, "channel": f"ops-{uuid.uuid4().hex[:8]}"}
    started: list[ServerProcess] = []
    try:
        for app, mode in (("server", "threading"), ("flask", "gevent")):
            # gevent needs the process patched for the redis and kombu clients.
            env = {"REALTIME_TEST_MONKEY_PATCH": "1"} if mode == "gevent" else {}
            started.append(ServerProcess(APPS[app], mode, dict(options), env=env).start())
        yield started
    finally:
        for each in started:
            each.stop()


def _broker(base: str) -> dict[str, float]:
    samples = scrape(base)
    return {name: value(samples, name) for name in BROKER_METRICS}


def test_broker_publishes_receives_and_lag(pair: list[ServerProcess]) -> None:
    first, second = pair
    sender = client(first.url, "websocket")
    receiver = client(second.url, "websocket")
    got: list[str] = []
    receiver.on("shouted", got.append)
    try:
        # Heartbeats cross the broker every second: both processes publish,
        # receive and time them.
        until(
            lambda: all(_broker(s.url)["realtime_broker_lag_seconds_count"] > 0 for s in pair),
            "heartbeats received and timed",
        )
        before = {s.url: _broker(s.url) for s in pair}
        shout = "x" * 20_000
        sender.emit("shout", shout)
        until(lambda: got == [shout], "the shout through the broker")
        sent, heard = _broker(first.url), _broker(second.url)
        was_sent, was_heard = before[first.url], before[second.url]
        # The broadcast went out as one message of at least its text's size...
        published = "realtime_broker_published_bytes_total"
        assert sent[published] - was_sent[published] >= 20_000
        assert sent["realtime_broker_published_total"] > was_sent["realtime_broker_published_total"]
        # ... and came in on the other process.
        received = "realtime_broker_received_bytes_total"
        assert heard[received] - was_heard[received] >= 20_000
        assert heard["realtime_broker_received_total"] > was_heard["realtime_broker_received_total"]
        samples = scrape(second.url)
        count = value(samples, "realtime_broker_lag_seconds_count")
        assert value(samples, "realtime_broker_lag_seconds_bucket", le="+Inf") == count
        assert value(samples, "realtime_broker_lag_seconds_sum") >= 0
        for operation in ("publish", "subscription", "receive"):
            assert value(samples, "realtime_broker_errors_total", operation=operation) == 0
    finally:
        sender.disconnect()
        receiver.disconnect()


def test_broker_errors_are_counted() -> None:
    require(redis_server_path() is not None, "redis-server (make prereqs installs it)")
    private = RedisServer().start()
    channel = f"ops-{uuid.uuid4().hex[:8]}"
    server = None
    try:
        options = {"message_queue": private.url, "channel": channel}
        server = ServerProcess(APPS["server"], "threading", options).start()
        base = server.url
        errors = "realtime_broker_errors_total"
        until(lambda: value(scrape(base), "realtime_broker_received_total") > 0, "a heartbeat")
        # Something on the deployment's channel that is no message of ours.
        redis.Redis.from_url(private.url).publish(channel, b"not msgpack \xc1")
        until(lambda: value(scrape(base), errors, operation="receive") == 1, "the unreadable one")
        private.stop()
        until(
            lambda: value(scrape(base), errors, operation="subscription") == 1,
            "the subscription lost",
            timeout=30,
        )
        # A broadcast while the broker is away waits in the outbox, which
        # tries to publish it.
        sender = client(base, "polling")
        try:
            sender.emit("shout", "while away")
            until(lambda: value(scrape(base), errors, operation="publish") >= 1, "a publish failed")
        finally:
            sender.disconnect()
    finally:
        if server is not None:
            server.stop()
        private.stop()


def test_sockets_refused_are_counted_by_namespace() -> None:
    sio = realtime.Server(async_mode="threading", metrics_path="/metrics")

    @sio.on("connect", namespace="/chat")
    def connect(sid: str, environ: dict[str, Any], auth: Any) -> bool:
        return auth == {"token": "good"}

    def members_only(sid: str, environ: dict[str, Any], auth: Any) -> None:
        if auth != {"token": "good"}:
            raise ConnectionRefusedError("members only")

    sio.use(members_only, namespace="/club")
    sio.on("connect", lambda sid, environ, auth: None, namespace="/club")

    def refused(base: str, namespace: str, token: str) -> bool:
        made = socketio.Client(reconnection=False)
        try:
            made.connect(base, namespaces=[namespace], auth={"token": token}, wait_timeout=10)
        except socketio.exceptions.ConnectionError:
            return True
        made.disconnect()
        return False

    with embedded_server(sio, "threading") as base:
        assert not refused(base, "/chat", "good")
        assert refused(base, "/chat", "bad")  # by its connect handler
        assert refused(base, "/club", "bad")  # by a middleware
        assert not refused(base, "/club", "good")
        assert refused(base, "/nowhere", "good")  # a namespace not served
        samples = scrape(base)
    sio.shutdown()
    refusals = "realtime_socket_refusals_total"
    assert value(samples, refusals, namespace="/chat", reason="refused") == 1
    assert value(samples, refusals, namespace="/club", reason="refused") == 1
    assert value(samples, refusals, namespace="", reason="invalid namespace") == 1
    assert value(samples, "realtime_socket_connects_total", namespace="/chat") == 1
    assert value(samples, "realtime_socket_connects_total", namespace="/club") == 1
