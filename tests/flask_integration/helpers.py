"""Helpers for the Flask extension's tests: real clients, free ports, programs."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

from tests.support.peer import TRANSPORTS, Peer, connect_peer
from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[2]

__all__ = [
    "PYTHON",
    "ROOT",
    "TRANSPORTS",
    "Peer",
    "Program",
    "connect_peer",
    "free_port",
    "wait_for_http",
]


def wait_for_http(url: str, timeout: float = 30.0) -> None:
    """Until ``url`` answers at all (any status)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=2)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise AssertionError(f"nothing answered at {url} within {timeout} s")


class Program:
    """A program started in its own process group, stopped with its children."""

    def __init__(self, command: list[str], cwd: Path = ROOT, env: dict[str, str] | None = None):
        self.command = command
        environment = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
        environment.pop("WERKZEUG_RUN_MAIN", None)
        environment.pop("WERKZEUG_SERVER_FD", None)
        self.process = subprocess.Popen(
            command,
            cwd=cwd,
            env={**environment, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.output: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)

    def text(self) -> str:
        return "".join(self.output)

    def wait(self, timeout: float) -> int:
        code = self.process.wait(timeout)
        self._reader.join(5)
        return code

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        else:
            # The program is done; make sure nothing it started lingers.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self._reader.join(5)


PYTHON = sys.executable
