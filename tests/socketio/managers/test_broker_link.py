"""The link between processes on a real Redis: liveness, and questions to every process."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from realtime.async_modes.threading_mode import ThreadingMode
from realtime.exceptions import BrokerUnavailable, ConfigurationError
from realtime.socketio.managers.broker_link import NODE_TIMEOUT, BrokerLink
from realtime.socketio.managers.brokers import open_broker
from realtime.socketio.managers.brokers.redis_broker import parse_sentinel_url
from realtime.socketio.managers.queries import Queries
from tests.conftest import require
from tests.support.redis_server import RedisServer, redis_server_path

logger = logging.getLogger("tests.link")


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    require(redis_server_path() is not None, "redis-server (Debian's redis-server package)")
    server = RedisServer().start()
    yield server
    server.stop()


class Watcher:
    """Records what a link tells the engine (the ClusterEvents side)."""

    def __init__(self) -> None:
        self.lost: list[str] = []
        self.link_losses = 0
        self.event = threading.Event()

    def node_lost(self, node: str) -> None:
        self.lost.append(node)
        self.event.set()

    def link_lost(self) -> None:
        self.link_losses += 1
        self.event.set()


def link(url: str, channel: str) -> BrokerLink:
    return BrokerLink(open_broker(url, ThreadingMode(), logger), channel, fanout=True)


def wire(link: BrokerLink, queries: Queries) -> None:
    """Route the link's questions and answers as a manager does (its own questions skipped)."""

    def route(message: dict[str, Any]) -> None:
        if message["op"] == "m.query" and message["from"] != link.node_id:
            queries.on_query(message)
        elif message["op"] == "m.reply":
            queries.on_reply(message)

    link.on_manager_message(route)


def heard(a: BrokerLink, b: BrokerLink, timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if b.node_id in a.peers() and a.node_id in b.peers():
            return True
        time.sleep(0.05)
    return False


def test_a_process_that_says_goodbye_is_lost_at_once(redis_server: RedisServer) -> None:
    a, b = link(redis_server.url, "bye"), link(redis_server.url, "bye")
    watcher = Watcher()
    b.watch(watcher)
    assert heard(a, b)
    a.close()
    assert watcher.event.wait(2)
    assert watcher.lost == [a.node_id]
    b.close()


def test_a_process_whose_subscription_ends_is_found_gone(redis_server: RedisServer) -> None:
    a, b = link(redis_server.url, "probe"), link(redis_server.url, "probe")
    watcher = Watcher()
    b.watch(watcher)
    assert heard(a, b)
    # As a killed process: its connections end, it says nothing.
    time.sleep(NODE_TIMEOUT)  # b judges only once its own subscription is settled
    started = time.monotonic()
    a.broker.close()
    assert watcher.event.wait(5)
    assert watcher.lost == [a.node_id]
    assert time.monotonic() - started < 2.0
    b.close()


def test_a_message_that_reaches_no_one_is_false(redis_server: RedisServer) -> None:
    a = link(redis_server.url, "nobody")
    assert not a.send("nobody00", {"op": "x"})
    a.close()


def test_losing_the_broker_is_told(redis_server: RedisServer) -> None:
    a = link(redis_server.url, "outage")
    watcher = Watcher()
    a.watch(watcher)
    redis_server.stop()
    assert watcher.event.wait(5)
    assert watcher.link_losses == 1 and not a.connected
    a.close()


def test_questions_to_every_process(redis_server: RedisServer) -> None:
    a, b, c = (link(redis_server.url, "ask") for _ in range(3))
    mode = ThreadingMode()
    qa, qb, qc = (Queries(x, mode, logger) for x in (a, b, c))
    for x, q in ((a, qa), (b, qb), (c, qc)):
        wire(x, q)
    qb.serve("where", lambda q: {"here": q["pid"]} if q["pid"] == "p1" else None)
    qc.serve("where", lambda q: None)
    answers = qa.ask_all("where", {"pid": "p1"}, timeout=5)
    assert answers.complete and answers.nodes == {b.node_id, c.node_id}
    assert [x.answer for x in answers.answers if x.node == b.node_id] == [{"here": "p1"}]
    enough = qa.ask_all("where", {"pid": "p1"}, timeout=5, enough=lambda x: x.answer is not None)
    assert any(x.answer for x in enough.answers)
    for x in (a, b, c):
        x.close()


def test_an_answer_that_finds_no_asker_is_taken_back(redis_server: RedisServer) -> None:
    a, b = link(redis_server.url, "back"), link(redis_server.url, "back")
    mode = ThreadingMode()
    qa, qb = Queries(a, mode, logger), Queries(b, mode, logger)
    for x, q in ((a, qa), (b, qb)):
        wire(x, q)
    taken_back: list[dict[str, Any]] = []
    release = threading.Event()

    def slow(question: dict[str, Any]) -> dict[str, Any]:
        release.wait(5)
        return {"state": question["pid"]}

    qb.serve("slow", slow, taken_back.append)
    answers = qa.ask_all("slow", {"pid": "p9"}, timeout=0.2)
    assert answers.answers == []
    a.close()  # the asker is gone when the answer comes
    release.set()
    deadline = time.monotonic() + 5
    while not taken_back and time.monotonic() < deadline:
        time.sleep(0.05)
    assert taken_back == [{"state": "p9"}]
    b.close()


def test_no_question_while_this_process_hears_nobody(redis_server: RedisServer) -> None:
    a = link(redis_server.url, "deaf")
    queries = Queries(a, ThreadingMode(), logger)
    redis_server.stop()
    deadline = time.monotonic() + 5
    while a.connected and time.monotonic() < deadline:
        time.sleep(0.05)
    with pytest.raises(BrokerUnavailable):
        queries.ask_all("where", {}, timeout=1)
    a.close()


def test_sentinel_urls_as_python_socketio_writes_them() -> None:
    assert parse_sentinel_url("redis+sentinel://h1:26379,h2:26380/2/mymaster") == (
        [("h1", 26379), ("h2", 26380)],
        "mymaster",
        {"db": 2},
    )
    assert parse_sentinel_url("redis+sentinel://u:p%40ss@h:1") == (
        [("h", 1)],
        None,
        {"username": "u", "password": "p@ss"},
    )
    for bad in ("redis+sentinel://h1,h2:1/0", "redis+sentinel://h:1/x/s"):
        with pytest.raises(ConfigurationError):
            parse_sentinel_url(bad)
