"""A real push service emulator for the Web Push tests: npm's ``web-push-testing``.

The emulator (tests/push/node_modules, installed by tests/support/prereqs.sh)
issues subscriptions, checks each push's VAPID signature against the key the
subscription was made with, decrypts the aes128gcm payload with Node's
``http_ece`` and keeps the plaintext, and answers 410 for a subscription
expired on request.

It runs behind a recording front on loopback, :class:`PushService`, which
hands subscriptions out with the front's endpoints, keeps every push request
it saw (headers and body) for the tests to inspect, and passes the request
on with ``Content-Type: application/octet-stream``: the emulator's body
parser (express.raw) reads nothing without it, while RFC 8291 asks for none.
"""

from __future__ import annotations

import http.client
import json
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require
from tests.support.ports import free_port

__all__ = ["PushService", "SeenPush", "push_service"]

EMULATOR = (
    Path(__file__).resolve().parents[1]
    / "push"
    / "node_modules"
    / "web-push-testing"
    / "src"
    / "bin"
    / "server.js"
)


@dataclass(frozen=True)
class SeenPush:
    """A push request as it reached the front: path, headers, body, answer."""

    client_hash: str
    headers: dict[str, str]
    body: bytes
    status: int


class PushService:
    """The emulator on one port, behind the recording front on another."""

    def __init__(self, node: str) -> None:
        self.emulator_port = free_port()
        self._log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (closed in close())
        self._process = subprocess.Popen(
            [node, str(EMULATOR), str(self.emulator_port)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.seen: list[SeenPush] = []
        self._lock = threading.Lock()
        self._front = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._front.daemon_threads = True
        self.port = self._front.server_address[1]
        threading.Thread(target=self._front.serve_forever, daemon=True).start()
        self._wait_ready()

    # -- the emulator's API --------------------------------------------------

    def _call(self, path: str, payload: dict[str, Any] | None = None) -> tuple[int, Any]:
        connection = http.client.HTTPConnection("127.0.0.1", self.emulator_port, timeout=10)
        try:
            body = json.dumps(payload or {}).encode()
            connection.request("POST", path, body, {"Content-Type": "application/json"})
            response = connection.getresponse()
            data = response.read()
            return response.status, json.loads(data) if data.startswith(b"{") else data
        finally:
            connection.close()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self._log.seek(0)
                raise RuntimeError(f"web-push-testing exited: {self._log.read()}")
            try:
                if self._call("/status")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("web-push-testing did not answer in 20 s")

    def subscribe(self, application_server_key: str) -> dict[str, Any]:
        """A new browser subscription (its JSON, with the front's endpoint)."""
        status, answer = self._call(
            "/subscribe",
            {"userVisibleOnly": "true", "applicationServerKey": application_server_key},
        )
        assert status == 200, answer
        data: dict[str, Any] = answer["data"]
        client_hash = data["clientHash"]
        return {
            "endpoint": f"http://127.0.0.1:{self.port}/notify/{client_hash}",
            "keys": data["keys"],
        }

    @staticmethod
    def client_hash(subscription: dict[str, Any]) -> str:
        return str(subscription["endpoint"]).rsplit("/", 1)[1]

    def messages(self, subscription: dict[str, Any]) -> list[str]:
        """The plaintexts the emulator decrypted for ``subscription``."""
        status, answer = self._call(
            "/get-notifications", {"clientHash": self.client_hash(subscription)}
        )
        assert status == 200, answer
        return list(answer["data"]["messages"])

    def expire(self, subscription: dict[str, Any]) -> None:
        """The browser unsubscribed: pushes to it are answered 410 from now on."""
        status, answer = self._call(f"/expire-subscription/{self.client_hash(subscription)}")
        assert status == 200, answer

    def seen_for(self, subscription: dict[str, Any]) -> list[SeenPush]:
        with self._lock:
            wanted = self.client_hash(subscription)
            return [push for push in self.seen if push.client_hash == wanted]

    # -- the front -----------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        service = self

        class Front(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                forwarded = {**headers, "Content-Type": "application/octet-stream"}
                upstream = http.client.HTTPConnection(
                    "127.0.0.1", service.emulator_port, timeout=10
                )
                try:
                    upstream.request("POST", self.path, body, forwarded)
                    answer = upstream.getresponse()
                    status, data = answer.status, answer.read()
                finally:
                    upstream.close()
                with service._lock:
                    service.seen.append(
                        SeenPush(self.path.rsplit("/", 1)[1], headers, body, status)
                    )
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Front

    def close(self) -> None:
        self._front.shutdown()
        self._front.server_close()
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._log.close()


@pytest.fixture(scope="module")
def push_service() -> Iterator[PushService]:
    """The push service emulator behind its recording front, for a module's tests."""
    found = shutil.which("node")
    require(found is not None, "node (Node.js 20+) on PATH")
    require(
        EMULATOR.is_file(),
        "tests/push/node_modules/web-push-testing (run: npm ci --prefix tests/push)",
    )
    assert found is not None
    service = PushService(found)
    yield service
    service.close()
