"""A client that sends faster than its handlers run hurts nobody.

A Flask app whose ``flood`` handler takes 2 ms, in a child process, in each
async mode. One python-socketio client, in a process of its own
(:mod:`tests.support.flooder`), emits a flood of events without waiting;
another calls ``echo`` all along. The server stops reading the
flooding client while ``max_pending_events`` (128 here) of its events wait (on
WebSocket, TCP then holds the client back; on polling, its next POST waits
for the answer to the last), so:

- every event of the flood is handled, once and in order;
- the healthy client's calls are all answered meanwhile;
- on WebSocket the server's peak RSS grows by a bounded amount, although the
  flood is several times larger (read whole, it would hold all of it).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from tests.support.flood_clients import flood_stats, ordered_client
from tests.support.servers import ROOT, ServerProcess

MODES = ["threading", "eventlet", "gevent"]


@pytest.fixture(params=MODES)
def server(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    options = {"max_http_buffer_size": 16_000_000, "max_pending_events": 128}
    started = ServerProcess("tests.support.flood_app:create_app", request.param, options).start()
    yield started
    started.stop()


class Healthy:
    """A client calling ``echo`` every 20 ms until stopped; its round trips."""

    def __init__(self, url: str) -> None:
        self.client = ordered_client(url, "websocket")
        self.times: list[float] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        n = 0
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                assert self.client.call("echo", n, timeout=10) == n
            except Exception as exc:
                self.failures.append(repr(exc))
            self.times.append(time.monotonic() - started)
            n += 1
            time.sleep(0.02)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(15)
        self.client.disconnect()


def _flood(server: ServerProcess, transport: str, count: int, size: int) -> dict[str, object]:
    healthy = Healthy(server.url)
    time.sleep(1.5)  # its round trips before the flood
    quiet = sorted(healthy.times)
    flooding_from = len(healthy.times)
    flooder = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.support.flooder",
            server.url,
            transport,
            str(count),
            str(size),
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert flooder.stdout is not None
        sid = flooder.stdout.readline().strip()
        assert sid, "the flooder did not connect"
        before = flood_stats(server.url, sid)
        deadline = time.monotonic() + 120
        stats = flood_stats(server.url, sid)
        while stats["handled"] != count and time.monotonic() < deadline:
            time.sleep(0.2)
            stats = flood_stats(server.url, sid)
        healthy.stop()
        assert flooder.poll() is None, "the flooding client was not disconnected"
    finally:
        flooder.kill()
        flooder.wait(10)
    assert stats["handled"] == count, stats
    assert stats["out_of_order"] == [], stats
    assert healthy.failures == [] and len(healthy.times) > 10, healthy.failures
    times = sorted(healthy.times[flooding_from:])
    stats["echo_p99_before_ms"] = round(quiet[int(len(quiet) * 0.99)] * 1000, 1)
    stats["grew_kib"] = int(stats["peak_rss_kib"]) - int(before["peak_rss_kib"])  # type: ignore[call-overload]
    stats["echo_p99_during_ms"] = round(times[int(len(times) * 0.99)] * 1000, 1)
    print(f"{server.mode} {transport}: {stats}")
    return stats


def test_a_websocket_flood_is_held_back(server: ServerProcess) -> None:
    # 64 MiB of events, of which at most 128 (4 MiB) wait at any time: the
    # server's peak grows by less than half the flood (read whole, by all of
    # it: checked by hand with max_pending_events=10**9, 64 to 70 MiB).
    stats = _flood(server, "websocket", count=2000, size=32 * 1024)
    assert int(stats["grew_kib"]) < 32 * 1024, stats  # type: ignore[call-overload]


def test_a_polling_flood_is_held_back(server: ServerProcess) -> None:
    _flood(server, "polling", count=2000, size=1024)
