"""Start test servers in child processes, one per app, async mode and options."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class ServerProcess:
    """A test app served by ``tests.support.serve_app`` in a child process."""

    app: str
    mode: str
    options: dict[str, object] = field(default_factory=dict)
    http_timeout: float = 60.0
    env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    process: subprocess.Popen[str] | None = None
    #: A file to write the server's log (stderr) to, instead of the test's stderr.
    log_path: str | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> ServerProcess:
        command = [
            sys.executable,
            "-m",
            "tests.support.serve_app",
            "--app",
            self.app,
            "--mode",
            self.mode,
            "--options",
            json.dumps(self.options),
            "--http-timeout",
            str(self.http_timeout),
        ]
        if self.port:
            command += ["--port", str(self.port)]
        env = {**os.environ, "PYTHONPATH": str(ROOT), **self.env}
        log = open(self.log_path, "a") if self.log_path else None  # noqa: SIM115 - the child owns it
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        if log is not None:
            log.close()
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.process.stdout], [], [], 0.2)
            if ready:
                line = self.process.stdout.readline()
                if line.startswith("LISTENING "):
                    self.port = int(line.split()[1])
                    return self
                if not line and self.process.poll() is not None:
                    break
            elif self.process.poll() is not None:
                break
        self.stop()
        raise RuntimeError(f"test server {self.app} ({self.mode}) did not start")

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.process = None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


class ServerPool:
    """Keeps one running server per (app, mode, options) for a test session."""

    def __init__(self) -> None:
        self._servers: dict[str, ServerProcess] = {}

    def get(
        self,
        app: str,
        mode: str,
        http_timeout: float = 60.0,
        monkey_patch: bool = False,
        **options: object,
    ) -> ServerProcess:
        key = json.dumps([app, mode, http_timeout, monkey_patch, options], sort_keys=True)
        server = self._servers.get(key)
        if server is None or not server.alive():
            env = {"REALTIME_TEST_MONKEY_PATCH": "1"} if monkey_patch else {}
            server = ServerProcess(app, mode, dict(options), http_timeout, env).start()
            self._servers[key] = server
        return server

    def stop_all(self) -> None:
        for server in self._servers.values():
            server.stop()
        self._servers.clear()
