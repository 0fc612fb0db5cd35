"""Issue 13, item 2: clients of a dead owner are told, not left hanging until their ping timeout.

Two processes of the Flask app share a private Redis, with the default
heartbeat (25 s interval, 20 s timeout: a client cut off silently finds out
by itself only after 45 s). Sessions are opened on process A and then served
through process B, as a balancer with no sticky sessions does: a WebSocket
relayed by B to A (the upgrade lands on B), and long polls B forwards to A.
A is SIGKILLed. B holds their connections and knows A is gone, so the
clients must learn it within seconds (a disconnect, after which they
reconnect), and a forwarded long poll must be answered within seconds.
When issue 13 was filed, the relayed client heard nothing more while its
``connected`` stayed true, until its own ping timeout (44.5 s), and the
long poll waited 55 s. The long
poll is also tried with A killed a moment after B started: B must not need
to have heard from A before to find out that it is gone.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.support.faults import freeze_server, sigkill_server
from tests.support.redis_server import RedisServer
from tests.support.reliability_clients import NodeReceivers
from tests.support.routing_proxy import RoutingProxy
from tests.support.servers import ServerProcess

APP = "tests.support.reliability_app:create_app"
MONKEY = {"REALTIME_TEST_MONKEY_PATCH": "1"}
#: Seconds within which a client must learn that its session's owner died:
#: a few, well below the 45 s of its own heartbeat.
NOTICE = 5.0
#: Seconds the test waits before it reports how late they were.
GIVE_UP = 10.0
#: Seconds both processes run before A is killed: a deployment in its steady
#: state, not one whose processes are still finding each other.
SETTLED = 5.0

pytestmark = [
    pytest.mark.node,
]


@pytest.fixture
def pair(redis: RedisServer, tmp_path: Path) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """Processes A and B, default heartbeat."""
    options = {"message_queue": redis.url}
    a = ServerProcess(APP, "gevent", dict(options), env=MONKEY, log_path=str(tmp_path / "a.log"))
    b = ServerProcess(APP, "gevent", dict(options), env=MONKEY, log_path=str(tmp_path / "b.log"))
    try:
        yield a.start(), b.start()
    finally:
        a.stop()
        b.stop()


def stats(server: ServerProcess) -> dict[str, int]:
    return dict(requests.get(f"{server.url}/_test/pid", timeout=5).json())


@pytest.mark.timeout(90)
@pytest.mark.parametrize("how", ["killed", "frozen"])
def test_relayed_and_forwarded_clients_learn_their_owner_died(
    node: str, pair: tuple[ServerProcess, ServerProcess], tmp_path: Path, how: str
) -> None:
    """``killed``: SIGKILL (its Redis subscription ends with it); ``frozen``:
    SIGSTOP, its connections left open, as when its host vanished: only its
    silence tells."""
    a, b = pair
    started = time.monotonic()

    def route(method: str, target: str, headers: dict[str, str]) -> int:
        # The handshake reaches A; everything after it, B: a WebSocket B
        # relays to A, polling requests B forwards to A.
        return b.port if "sid=" in target or "transport=websocket" in target else a.port

    proxy = RoutingProxy(route).start()
    clients = [
        ("relayed-websocket", proxy.url, "upgrade"),
        ("forwarded-polling", proxy.url, "polling"),
    ]
    receivers = NodeReceivers(node, clients, tmp_path / "node.log")
    try:
        joined = receivers.ready()
        assert {e["pid"] for e in joined} == {a.process.pid}  # type: ignore[union-attr]
        assert receivers.wait_for(lambda events: any(e["ev"] == "upgrade" for e in events), 10), (
            f"the upgrade did not happen: {receivers.tail()}"
        )
        time.sleep(0.5)
        served = stats(b)
        assert served["relayed"] >= 1 and served["forwarded"] >= 1, served
        time.sleep(max(0.0, SETTLED - (time.monotonic() - started)))
        if how == "killed":
            sigkill_server(a)
        else:
            freeze_server(a)
        killed_at = time.monotonic()
        receivers.wait_for(
            lambda events: all(
                any(e["ev"] == "disconnect" and e.get("name") == name for e in events)
                for name, _, _ in clients
            ),
            GIVE_UP,
        )
        noticed = {}
        for name, _, _ in clients:
            drops = receivers.of(name, "disconnect")
            noticed[name] = (
                f"{drops[0]['t'] - killed_at:.1f} s ({drops[0]['reason']})"
                if drops
                else f"not within {GIVE_UP:.0f} s"
            )
    finally:
        receivers.close()
        proxy.close()
        if how == "frozen" and a.alive():
            sigkill_server(a)
    late = {
        name: when
        for name, when in noticed.items()
        if when.startswith("not") or float(when.split()[0]) > NOTICE
    }
    assert not late, f"learnt that A was {how}: {noticed} (must be within {NOTICE:.0f} s)"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("when", ["settled", "just-started"])
def test_a_forwarded_long_poll_to_a_dead_owner_is_answered_within_seconds(
    pair: tuple[ServerProcess, ServerProcess], when: str
) -> None:
    """``settled``: A dies after both processes ran for a while; ``just-started``:
    A dies a moment after B started, before B may have heard from it at all."""
    a, b = pair
    started = time.monotonic()
    handshake = requests.get(f"{a.url}/socket.io/?EIO=4&transport=polling", timeout=5)
    assert handshake.status_code == 200 and handshake.text.startswith("0"), handshake.text
    sid = json.loads(handshake.text[1:])["sid"]
    settle = SETTLED - (time.monotonic() - started) if when == "settled" else 0.0
    settle = max(0.2, settle)
    answer: dict[str, object] = {}

    def long_poll() -> None:
        try:
            response = requests.get(
                f"{b.url}/socket.io/?EIO=4&transport=polling&sid={sid}",
                timeout=settle + GIVE_UP,
            )
            answer["status"] = response.status_code
        except requests.RequestException as exc:
            answer["error"] = repr(exc)
        answer["at"] = time.monotonic()

    poll = threading.Thread(target=long_poll, daemon=True)
    poll.start()
    time.sleep(settle)
    assert not answer, f"the long poll was answered before the owner died: {answer}"
    sigkill_server(a)
    killed_at = time.monotonic()
    poll.join(GIVE_UP + 5)
    took = float(answer["at"]) - killed_at if "at" in answer else float("inf")  # type: ignore[arg-type]
    assert "status" in answer and took <= NOTICE, (
        f"a long poll forwarded to the dead owner: {answer}, {took:.1f} s after the kill "
        f"(must be answered within {NOTICE:.0f} s)"
    )
