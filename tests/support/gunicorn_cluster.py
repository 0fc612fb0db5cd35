"""gunicorn with several workers, whose workers a test can kill.

The app is :mod:`tests.support.reliability_wsgi` unless told otherwise. The
master and its workers run in a process group of their own, so that
:meth:`GunicornCluster.stop` ends every process it started, and nothing
else. gunicorn 26 dropped the eventlet worker: for ``-k eventlet`` the last
release that had it comes from ``.cache/gunicorn-legacy`` (installed by
``tests/support/prereqs.sh``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.conftest import require
from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
LEGACY = ROOT / ".cache" / "gunicorn-legacy"

__all__ = ["GunicornCluster"]


class GunicornCluster:
    """``gunicorn -k <worker> -w <workers>`` on a loopback port.

    Args:
        worker: ``gevent`` or ``eventlet``.
        workers: how many workers.
        env: the app's environment (``REALTIME_TEST_*``).
        log_path: where gunicorn's and the workers' stderr go.
        app: the WSGI app, ``module:variable``.
    """

    def __init__(
        self,
        worker: str,
        workers: int,
        env: dict[str, str],
        log_path: Path,
        app: str = "tests.support.reliability_wsgi:app",
    ) -> None:
        self.worker = worker
        self.workers = workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        path = [str(ROOT)]
        if worker == "eventlet":
            require((LEGACY / "gunicorn").is_dir(), f"gunicorn<26 in {LEGACY} (make prereqs)")
            path.insert(0, str(LEGACY))
        self._env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(path),
            "REALTIME_TEST_MODE": worker,
            **env,
        }
        self._app = app
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30) -> GunicornCluster:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "-k",
                    self.worker,
                    "-w",
                    str(self.workers),
                    "-b",
                    f"127.0.0.1:{self.port}",
                    "--graceful-timeout",
                    "2",
                    "--log-level",
                    "warning",
                    self._app,
                ],
                cwd=ROOT,
                env=self._env,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        try:
            self.wait_for_workers(timeout)
        except Exception:
            self.stop()
            raise
        return self

    def worker_pids(self) -> list[int]:
        """The master's children: its workers (as the kernel lists them now)."""
        assert self.process is not None
        pid = self.process.pid
        try:
            text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
        except OSError:
            return []
        return [int(child) for child in text.split()]

    def answering(self, tries: int = 40) -> set[int]:
        """The pids of the workers that answer HTTP (new connections, any worker)."""
        seen: set[int] = set()
        for _ in range(tries):
            with contextlib.suppress(requests.RequestException, ValueError):
                seen.add(int(requests.get(f"{self.url}/_test/pid", timeout=3).json()["pid"]))
            if len(seen) >= self.workers:
                break
        return seen

    def wait_for_workers(self, timeout: float = 30) -> set[int]:
        """Wait until ``workers`` live workers answer; their pids."""
        deadline = time.monotonic() + timeout
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited; see {self.log_path}")
            live = set(self.worker_pids())
            if len(live) == self.workers and self.answering() >= live:
                return live
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"gunicorn ({self.worker}) did not start {self.workers} workers; "
                    f"see {self.log_path}"
                )
            time.sleep(0.2)

    def kill_worker(self, pid: int) -> None:
        """SIGKILL one worker (gunicorn's master then starts another)."""
        assert pid in self.worker_pids(), f"{pid} is not a worker of this gunicorn"
        os.kill(pid, signal.SIGKILL)

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(8)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        # Workers the master did not take down with it (their group is ours).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process = None
