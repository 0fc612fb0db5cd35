"""Talking to push services: retries after 429 and 503, kept-alive connections.

The emulator answers neither 429 nor keeps connections alive (its front
speaks HTTP/1.0), so these tests run a small HTTP/1.1 push service of their
own on loopback: it answers what each test scripts, counts the TCP
connections it accepts and notes when each request came.
"""

from __future__ import annotations

import email.utils
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from realtime.push import VapidKey, WebPush
from realtime.push.delivery import parse_retry_after
from tests.support.push_service import PushService

SUBJECT = "mailto:ops@example.com"


class ScriptedService:
    """A push service on 127.0.0.1 that answers from a script, keeping connections alive."""

    def __init__(self, idle_timeout: float | None = None) -> None:
        #: Answers still to give, as (status, headers); then 201.
        self.script: list[tuple[int, dict[str, str]]] = []
        self.connections = 0
        self.requests: list[tuple[str, float]] = []
        self._lock = threading.Lock()
        service = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Seconds an idle connection is kept before the service closes it.
            timeout = idle_timeout

            def setup(self) -> None:
                super().setup()
                with service._lock:
                    service.connections += 1

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with service._lock:
                    service.requests.append((self.path, time.monotonic()))
                    status, headers = service.script.pop(0) if service.script else (201, {})
                body = b"" if status == 201 else b"slow down"
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def service() -> Iterator[ScriptedService]:
    running = ScriptedService()
    yield running
    running.close()


@pytest.fixture
def push(push_service: PushService) -> Iterator[WebPush]:
    sender = WebPush(VapidKey.generate(), SUBJECT, timeout=5, max_retry_wait=3)
    yield sender
    sender.close()


def subscription(push_service: PushService, push: WebPush, endpoint: str) -> dict[str, Any]:
    keys = push_service.subscribe(push.public_key)["keys"]
    return {"endpoint": endpoint, "keys": keys}


def test_a_429_is_sent_again_after_its_retry_after(
    service: ScriptedService, push_service: PushService, push: WebPush
) -> None:
    service.script = [(429, {"Retry-After": "1"})]
    push.subscribe("ada", subscription(push_service, push, service.base + "/push/a"))
    (result,) = push.send("ada", {"n": 1})
    assert (result.status, result.ok, result.attempts) == (201, True, 2)
    assert len(service.requests) == 2
    (_, first), (_, second) = service.requests
    # The service saw the second request no sooner than it asked for.
    assert second - first >= 1.0


def test_a_503_without_retry_after_is_retried_with_a_backoff_then_reported(
    service: ScriptedService, push_service: PushService, push: WebPush
) -> None:
    service.script = [(503, {}), (503, {}), (503, {}), (503, {})]
    sub = subscription(push_service, push, service.base + "/push/b")
    result = push.send_to(sub, {"n": 2})
    # Two retries (the default), then the last answer is the result.
    assert (result.status, result.ok, result.attempts) == (503, False, 3)
    assert result.reason is not None and result.reason.startswith("503")
    assert len(service.requests) == 3


def test_a_service_asking_for_longer_than_the_cap_is_not_retried(
    service: ScriptedService, push_service: PushService, push: WebPush
) -> None:
    service.script = [(429, {"Retry-After": "3600"})]
    sub = subscription(push_service, push, service.base + "/push/c")
    result = push.send_to(sub, {"n": 3})
    assert (result.status, result.attempts, result.retry_after) == (429, 1, 3600.0)
    assert len(service.requests) == 1


def test_retry_after_as_seconds_or_an_http_date() -> None:
    now = time.time()
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    later = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after(later, now=now) == pytest.approx(30, abs=1)
    earlier = email.utils.formatdate(now - 30, usegmt=True)
    assert parse_retry_after(earlier, now=now) == 0.0


def test_pushes_to_one_service_share_kept_alive_connections(
    service: ScriptedService, push_service: PushService
) -> None:
    push = WebPush(VapidKey.generate(), SUBJECT, timeout=5, max_subscriptions=20)
    other = WebPush(push.key, SUBJECT, timeout=5)
    try:
        keys = push_service.subscribe(push.public_key)["keys"]
        for n in range(20):
            push.subscribe("ada", {"endpoint": f"{service.base}/push/{n}", "keys": keys})
        # Twenty subscriptions sent to at once, twice: forty pushes on at most
        # eight connections (the default max_connections, open at once).
        assert all(r.ok for r in push.send("ada", {"round": 1}))
        assert all(r.ok for r in push.send("ada", {"round": 2}))
        assert len(service.requests) == 40
        first_rounds = service.connections
        assert 1 <= first_rounds <= 8
        # One after the other: one connection, used again each time.
        for n in range(10):
            assert other.send_to({"endpoint": f"{service.base}/push/x{n}", "keys": keys}, [n]).ok
        assert service.connections == first_rounds + 1
    finally:
        other.close()
        push.close()


def test_a_connection_the_service_closed_while_idle_is_replaced(
    push_service: PushService, push: WebPush
) -> None:
    service = ScriptedService(idle_timeout=0.2)
    try:
        sub = subscription(push_service, push, service.base + "/push/d")
        assert push.send_to(sub, [1]).ok
        # The service closes the kept connection; the next push finds it
        # dead and goes on a new one, once.
        time.sleep(0.6)
        result = push.send_to(sub, [2])
        assert (result.ok, result.attempts) == (True, 1)
        assert service.connections == 2
        assert len(service.requests) == 2
    finally:
        service.close()
