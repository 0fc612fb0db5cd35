"""The RabbitMQ broker (kombu) against a real RabbitMQ, including losing it.

Most tests use the machine's RabbitMQ on 127.0.0.1:5672, each on channels
of its own; the one that stops the broker starts a private node.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from realtime.async_modes.threading_mode import ThreadingMode
from realtime.exceptions import BrokerUnavailable, ConfigurationError
from realtime.socketio.managers.brokers import Broker, open_broker
from realtime.socketio.managers.brokers.kombu_broker import KombuBroker
from tests.conftest import require
from tests.support.rabbitmq_server import (
    SHARED_URL,
    RabbitMQServer,
    amqp_answers,
    rabbitmq_server_path,
)
from tests.support.subscribers import CallbackSubscriber

logger = logging.getLogger("tests.broker")


@pytest.fixture(autouse=True)
def kombu_installed() -> None:
    try:
        importlib.import_module("kombu")
    except ImportError:
        require(False, "kombu (pip install -e '.[test]')")


@pytest.fixture
def shared() -> str:
    require(amqp_answers(), "RabbitMQ on 127.0.0.1:5672 (make prereqs starts one)")
    return SHARED_URL


@pytest.fixture
def prefix() -> str:
    """Channel names no other test (or test process) uses."""
    return f"test-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def brokers(shared: str) -> Iterator[list[Broker]]:
    """Brokers opened by a test, closed after it."""
    made: list[Broker] = []
    yield made
    for broker in made:
        broker.close()


def open_shared(url: str, made: list[Broker]) -> Broker:
    broker = open_broker(url, ThreadingMode(), logger)
    made.append(broker)
    return broker


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.ready = threading.Event()
        self.readies = 0
        self._arrived = threading.Condition()

    def __call__(self, channel: str, data: bytes) -> None:
        with self._arrived:
            self.messages.append((channel, data))
            self._arrived.notify_all()

    def on_ready(self) -> None:
        self.readies += 1
        self.ready.set()

    def wait(self, count: int, timeout: float = 10) -> list[tuple[str, bytes]]:
        with self._arrived:
            self._arrived.wait_for(lambda: len(self.messages) >= count, timeout)
            return list(self.messages)


def subscribed(broker: Broker, channels: list[str]) -> Inbox:
    inbox = Inbox()
    broker.subscribe(channels, CallbackSubscriber(inbox, inbox.on_ready))
    assert inbox.ready.wait(10), "the subscription never became ready"
    return inbox


def test_publish_and_subscribe_in_order(brokers: list[Broker], shared: str, prefix: str) -> None:
    broker = open_shared(shared, brokers)
    assert isinstance(broker, KombuBroker)
    a, b = f"{prefix}:a", f"{prefix}:b"
    inbox = subscribed(broker, [a, b])
    for i in range(200):
        # Routed to somebody: RabbitMQ does not say to how many.
        assert broker.publish(a if i % 2 else b, f"m{i}".encode()) is None
    received = inbox.wait(200)
    assert [data for _, data in received] == [f"m{i}".encode() for i in range(200)]
    assert [channel for channel, _ in received[:2]] == [b, a]


def test_every_subscriber_gets_every_message(
    brokers: list[Broker], shared: str, prefix: str
) -> None:
    news = f"{prefix}:news"
    inboxes = [subscribed(open_shared(shared, brokers), [news]) for _ in range(3)]
    publisher = open_shared(shared, brokers)
    for i in range(50):
        assert publisher.publish(news, bytes([i])) is None
    for inbox in inboxes:
        assert [data for _, data in inbox.wait(50)] == [bytes([i]) for i in range(50)]


def test_channels_are_isolated(brokers: list[Broker], shared: str, prefix: str) -> None:
    broker = open_shared(shared, brokers)
    only_a = subscribed(broker, [f"{prefix}:a"])
    only_b = subscribed(open_shared(shared, brokers), [f"{prefix}:b"])
    broker.publish(f"{prefix}:b", b"for b")
    broker.publish(f"{prefix}:a", b"for a")
    assert only_a.wait(1) == [(f"{prefix}:a", b"for a")]
    assert only_b.wait(1) == [(f"{prefix}:b", b"for b")]
    time.sleep(0.2)
    assert len(only_a.messages) == len(only_b.messages) == 1


def test_raw_bytes_both_ways(brokers: list[Broker], shared: str, prefix: str) -> None:
    broker = open_shared(shared, brokers)
    inbox = subscribed(broker, [f"{prefix}:bin"])
    payloads = [b"", bytes(range(256)), b"\x00" * 100_000, "é".encode()]
    for data in payloads:
        broker.publish(f"{prefix}:bin", data)
    assert [data for _, data in inbox.wait(len(payloads))] == payloads


def test_receivers_say_when_nobody_listens(brokers: list[Broker], shared: str, prefix: str) -> None:
    """0 when no process subscribes to a channel: how the cluster learns an owner is gone."""
    publisher = open_shared(shared, brokers)
    channel = f"{prefix}:node:owner"
    assert publisher.publish(channel, b"before") == 0
    owner = open_broker(shared, ThreadingMode(), logger)
    inbox = subscribed(owner, [channel])
    assert publisher.publish(channel, b"while") is None
    assert inbox.wait(1) == [(channel, b"while")]
    owner.close()
    # The queue goes with the owner's connection, once RabbitMQ sees it close.
    deadline = time.monotonic() + 5
    while publisher.publish(channel, b"after") is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert publisher.publish(channel, b"after") == 0
    assert [data for _, data in inbox.messages] == [b"while"]


def test_only_messages_published_once_ready(
    brokers: list[Broker], shared: str, prefix: str
) -> None:
    broker = open_shared(shared, brokers)
    channel = f"{prefix}:late"
    broker.publish(channel, b"too early")
    inbox = subscribed(broker, [channel])
    broker.publish(channel, b"in time")
    assert inbox.wait(1) == [(channel, b"in time")]
    assert inbox.readies == 1


def test_a_failing_handler_does_not_end_the_subscription(
    brokers: list[Broker], shared: str, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    broker = open_shared(shared, brokers)
    inbox = Inbox()

    def handler(channel: str, data: bytes) -> None:
        if data == b"bad":
            raise RuntimeError("handler bug")
        inbox(channel, data)

    broker.subscribe([f"{prefix}:x"], CallbackSubscriber(handler, inbox.on_ready))
    assert inbox.ready.wait(10)
    with caplog.at_level(logging.ERROR, logger="tests.broker"):
        broker.publish(f"{prefix}:x", b"bad")
        broker.publish(f"{prefix}:x", b"good")
        assert inbox.wait(1) == [(f"{prefix}:x", b"good")]
    assert any("error handling a broker message" in r.getMessage() for r in caplog.records)


def test_tasks_publishing_at_once_keep_their_order(shared: str, prefix: str) -> None:
    """More tasks than publishing connections: each task's messages stay in order."""
    broker = KombuBroker(shared, ThreadingMode(), logger, publishers=2)
    try:
        inbox = subscribed(broker, [f"{prefix}:busy"])

        def send(task: int) -> None:
            for i in range(50):
                assert broker.publish(f"{prefix}:busy", f"{task}:{i}".encode()) is None

        threads = [threading.Thread(target=send, args=(task,)) for task in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        received = [data.decode().split(":") for _, data in inbox.wait(300)]
        assert len(received) == 300
        for task in range(6):
            assert [int(i) for t, i in received if t == str(task)] == list(range(50))
        assert len(broker._idle) <= 2
    finally:
        broker.close()


@pytest.fixture
def tls_listener(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """A TLS server for 127.0.0.1 with a self-signed certificate: (port, certificate).

    It completes the TLS handshake and hangs up: far enough to show whether
    the client accepted the certificate.
    """
    require(shutil.which("openssl") is not None, "openssl (Debian's openssl)")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    command = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1"
    subprocess.run(
        [*command.split(), "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                client, _ = server.accept()
            except TimeoutError:
                continue
            with contextlib.suppress(OSError), context.wrap_socket(client, server_side=True):
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], cert
    stop.set()
    thread.join(5)
    server.close()


def test_amqps_checks_the_certificate(
    tls_listener: tuple[int, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, cert = tls_listener
    broker = open_broker(f"amqps://127.0.0.1:{port}//", ThreadingMode(), logger)
    with pytest.raises(BrokerUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
        broker.publish("x", b"")
    # Trusting the certificate (as a private CA would be) gets past TLS, to
    # the AMQP handshake this server does not answer.
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    with pytest.raises(BrokerUnavailable) as raised:
        broker.publish("x", b"")
    assert "CERTIFICATE" not in str(raised.value)


def test_publishing_nowhere_fails_at_once() -> None:
    broker = open_broker("amqp://guest:guest@127.0.0.1:1//", ThreadingMode(), logger)
    started = time.monotonic()
    with pytest.raises(BrokerUnavailable, match=r"127\.0\.0\.1:1/"):
        broker.publish("anything", b"x")
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    "url",
    [
        "amqp://127.0.0.1:notaport//",
        "amqps://user:secret@host:99999/",
        "amqp://[::1",
    ],
)
def test_bad_urls(url: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        open_broker(url, ThreadingMode(), logger)
    assert "secret" not in str(raised.value)


def test_names_longer_than_amqp_allows() -> None:
    broker = open_broker("amqp://127.0.0.1:1//", ThreadingMode(), logger)
    with pytest.raises(ConfigurationError):
        broker.publish("x" * 256, b"")
    with pytest.raises(ConfigurationError):
        broker.subscribe(["x" * 256], CallbackSubscriber(lambda channel, data: None))
    with pytest.raises(ConfigurationError):
        KombuBroker("amqp://127.0.0.1:1//", ThreadingMode(), logger, exchange="")


def test_schemes() -> None:
    for scheme in ("amqp", "amqps", "pyamqp"):
        broker = open_broker(f"{scheme}://u:p@127.0.0.1:1//", ThreadingMode(), logger)
        assert isinstance(broker, KombuBroker)
        assert broker.describe() == f"{scheme}://127.0.0.1:1//"
    with pytest.raises(ConfigurationError, match="amqp://"):
        open_broker("kombu+sqs://somewhere", ThreadingMode(), logger)


def test_in_every_async_mode(async_mode: str, shared: str, prefix: str) -> None:
    """Order, fan-out and counts in each mode; idle listeners let other tasks run."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.rabbitmq_probe", async_mode, shared, prefix],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=Path(__file__).resolve().parents[3],
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["ready"]
    # A task sleeping 10 ms at a time ran throughout: nothing blocked the hub.
    assert result["idle_ticks"] >= 0.5 * result["idle_seconds"] / 0.01
    assert result["counts"] == [None] * 50
    assert result["nobody"] == 0
    sent = [[f"{prefix}:{'a' if i % 2 else 'b'}", f"m{i}"] for i in range(50)]
    assert result["received"]["one"] == sent
    assert result["received"]["two"] == [m for m in sent if m[0].endswith(":a")]


# -- losing the broker -------------------------------------------------------------


@pytest.fixture
def private_node() -> Iterator[RabbitMQServer]:
    require(rabbitmq_server_path() is not None, "rabbitmq-server (Debian's rabbitmq-server)")
    server = RabbitMQServer()
    try:
        yield server.start()
    finally:
        server.remove()


@pytest.mark.xdist_group("rabbitmq-private-node")
def test_losing_and_finding_the_broker(
    private_node: RabbitMQServer, caplog: pytest.LogCaptureFixture, prefix: str
) -> None:
    news = f"{prefix}:news"
    broker = open_broker(private_node.url, ThreadingMode(), logger)
    idle = open_broker(private_node.url, ThreadingMode(), logger)
    try:
        inbox = subscribed(broker, [news])
        assert broker.publish(news, b"before") is None
        assert idle.publish(news, b"idle before") is None
        assert [data for _, data in inbox.wait(2)] == [b"before", b"idle before"]
        with caplog.at_level(logging.WARNING, logger="tests.broker"):
            private_node.stop()
            started = time.monotonic()
            with pytest.raises(BrokerUnavailable):
                broker.publish(news, b"lost")
            assert time.monotonic() - started < 3
            private_node.start()
            deadline = time.monotonic() + 40
            while inbox.readies < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert inbox.readies == 2, "the subscription did not come back"
            # A connection left idle through the restart is noticed as dead
            # before a message is lost on it.
            assert idle.publish(news, b"idle after") is None
            assert broker.publish(news, b"back") is None
            received = inbox.wait(4)
        assert [data for _, data in received] == [
            b"before",
            b"idle before",
            b"idle after",
            b"back",
        ]
        messages = [r.getMessage() for r in caplog.records]
        assert sum("lost the broker" in m for m in messages) == 1
        assert sum("reconnected to the broker" in m for m in messages) == 1
        # What lives on the broker: one durable exchange, and one queue per
        # subscription that is neither durable nor shared.
        queues = private_node.ctl("list_queues", "name", "durable", "auto_delete", "exclusive")
        assert [line.split()[1:] for line in queues.splitlines()] == [["false", "true", "true"]]
        assert "realtime\tdirect\ttrue" in private_node.ctl(
            "list_exchanges", "name", "type", "durable"
        )
    finally:
        broker.close()
        idle.close()
    # The queue goes with the connection of the process that listened.
    deadline = time.monotonic() + 5
    while private_node.ctl("list_queues", "name").strip() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert private_node.ctl("list_queues", "name").strip() == ""
