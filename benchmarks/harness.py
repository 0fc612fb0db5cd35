"""Processes of a benchmark run: servers, load clients, profilers, and their cleanup.

Every child starts in its own process group and is registered here, so that
:func:`stop_all` can end it (and whatever it spawned) on any exit: a normal
end, an exception, Ctrl-C or SIGTERM. Every wait has a timeout.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
NODE_DIR = BENCH / "node"
SERVER_CORE = 0
CLIENT_CORE = 1

_children: list[subprocess.Popen[bytes]] = []
_log_dir = Path(tempfile.mkdtemp(prefix="realtime-bench-"))


class BenchError(Exception):
    """A scenario could not be run or measured; the run goes on without it."""


def log_dir() -> Path:
    return _log_dir


def pinning_available() -> bool:
    return shutil.which("taskset") is not None and (os.cpu_count() or 1) >= 2


def pinned(command: Sequence[str], core: int) -> list[str]:
    """``command`` run on ``core`` alone, when the machine has the cores."""
    if pinning_available():
        return ["taskset", "-c", str(core), *command]
    return list(command)


def raise_fd_limit() -> int:
    """Raise the soft open-files limit to the hard one; children inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


_source: Path | None = None


def snapshot_source() -> Path:
    """Copy realtime's package aside; the Python servers of the run import the copy.

    Others may edit the checkout while a run goes on: every round then still
    measures the code as it was when the run started.
    """
    global _source
    if _source is None:
        target = _log_dir / "src"
        shutil.copytree(
            ROOT / "realtime", target / "realtime", ignore=shutil.ignore_patterns("__pycache__")
        )
        _source = target
    return _source


def spawn(
    command: Sequence[str], *, log_name: str, stdout: bool = True, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start a registered child in its own process group, stderr to a log file.

    ``cwd`` comes first on a ``python -m`` child's path: the source snapshot
    for the Python servers, so that they import realtime from it.
    """
    stderr = (_log_dir / f"{log_name}.log").open("ab")
    try:
        process = subprocess.Popen(
            list(command),
            cwd=cwd or ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if stdout else subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )
    finally:
        stderr.close()
    _children.append(process)
    return process


def stop(process: subprocess.Popen[bytes], grace: float = 3.0) -> None:
    """End ``process`` and its group: SIGTERM, then SIGKILL after ``grace`` seconds."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(grace)
    else:
        # The leader is gone; make sure nothing it started lingers.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
    if process.stdout is not None:
        process.stdout.close()
    if process in _children:
        _children.remove(process)


def stop_all() -> None:
    for process in list(_children):
        stop(process, grace=2.0)


def _on_signal(signum: int, frame: Any) -> None:
    stop_all()
    raise SystemExit(128 + signum)


def install_cleanup() -> None:
    """Stop every child on exit, SIGTERM and SIGHUP (Ctrl-C raises KeyboardInterrupt)."""
    atexit.register(stop_all)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)


def read_lines(
    process: subprocess.Popen[bytes], deadline: float, on_line: Callable[[str], bool]
) -> None:
    """Feed ``process``'s stdout lines to ``on_line`` until it returns True or EOF.

    Raises:
        BenchError: the deadline passed first.
    """
    assert process.stdout is not None
    fd = process.stdout.fileno()
    buffer = b""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise BenchError("timed out")
        ready, _, _ = select.select([fd], [], [], min(remaining, 0.5))
        if not ready:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            if buffer and on_line(buffer.decode(errors="replace")):
                return
            return
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            if on_line(line.decode(errors="replace")):
                return


def log_tail(log_name: str, lines: int = 15) -> str:
    path = _log_dir / f"{log_name}.log"
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


# -- servers -----------------------------------------------------------------------


@dataclass(frozen=True)
class ServerSpec:
    """One implementation under test, and how to start it."""

    key: str
    label: str
    command: tuple[str, ...]
    transports: tuple[str, ...] = ("polling", "websocket")
    family: str = "realtime"
    #: The scenarios it runs (key prefixes); None: every one.
    only: tuple[str, ...] | None = None
    #: Where a realtime server imports the package from (default: the run's
    #: snapshot of the checkout); set for an A/B baseline (``--baseline``).
    source: Path | None = None


@dataclass
class RunningServer:
    spec: ServerSpec
    process: subprocess.Popen[bytes]
    port: int
    log_name: str
    #: The process that serves, when the server said it is not the one started
    #: (a gunicorn worker): what is measured and profiled.
    serving_pid: int | None = None

    @property
    def pid(self) -> int:
        return self.serving_pid or self.process.pid


@contextlib.contextmanager
def running_server(
    spec: ServerSpec, log_name: str, timeout: float = 30.0
) -> Iterator[RunningServer]:
    """Start ``spec`` pinned to the server core; stop it when the block ends."""
    cwd = (spec.source or snapshot_source()) if spec.family == "realtime" else None
    process = spawn(pinned(spec.command, SERVER_CORE), log_name=log_name, cwd=cwd)
    try:
        port, serving_pid = 0, None

        def listening(line: str) -> bool:
            nonlocal port, serving_pid
            if line.startswith("LISTENING "):
                words = line.split()
                port = int(words[1])
                serving_pid = int(words[2]) if len(words) > 2 else None
                return True
            return False

        try:
            read_lines(process, time.monotonic() + timeout, listening)
        except BenchError:
            raise BenchError(f"{spec.key} did not start in {timeout:.0f} s") from None
        if not port:
            raise BenchError(f"{spec.key} exited at start:\n{log_tail(log_name)}")
        yield RunningServer(spec, process, port, log_name, serving_pid)
    finally:
        stop(process)


# -- the load client ---------------------------------------------------------------


@dataclass
class ClientRun:
    """One run of ``benchmarks/node/client.js`` against a running server."""

    server: RunningServer
    params: dict[str, Any]
    timeout: float
    log_name: str
    on_phase: Callable[[str], None] | None = None
    result: dict[str, Any] = field(default_factory=dict)

    def run(self) -> dict[str, Any]:
        spec = {
            **self.params,
            "port": self.server.port,
            "serverPid": self.server.pid,
            "clkTck": os.sysconf("SC_CLK_TCK"),
            "serverCore": SERVER_CORE,
            "clientCore": CLIENT_CORE,
            "timeoutMs": int(self.timeout * 1000),
        }
        command = pinned(["node", str(NODE_DIR / "client.js"), json.dumps(spec)], CLIENT_CORE)
        process = spawn(command, log_name=self.log_name)
        outcome: dict[str, Any] = {}

        def line(text: str) -> bool:
            if text.startswith("PHASE ") and self.on_phase is not None:
                self.on_phase(text[6:].strip())
            elif text.startswith("RESULT "):
                outcome["result"] = json.loads(text[7:])
                return True
            elif text.startswith("FAILED "):
                outcome["error"] = json.loads(text[7:])
                return True
            return False

        try:
            read_lines(process, time.monotonic() + self.timeout + 5, line)
        except BenchError:
            raise BenchError(f"the load client timed out after {self.timeout:.0f} s") from None
        finally:
            stop(process)
        if "result" in outcome:
            return dict(outcome["result"])
        if self.server.process.poll() is not None:
            raise BenchError(f"the server died during the run:\n{log_tail(self.server.log_name)}")
        error = str(outcome.get("error") or log_tail(self.log_name) or "no result")
        raise BenchError(f"the load client failed: {error.splitlines()[0]}")


def node_version() -> str:
    try:
        return subprocess.run(
            ["node", "--version"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "missing"


def python_command() -> list[str]:
    return [sys.executable]
