"""RabbitMQ for tests: the machine's shared one, and private nodes to stop and restart.

A private node is a second ``rabbitmq-server`` on loopback ports of its own,
with its own node name, data, logs, config and Erlang cookie under a
temporary directory; nothing of the shared node (``rabbit@localhost`` on
5672) is read or touched. Booting one takes 5 to 10 s.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.ports import free_port

#: The machine's RabbitMQ, as ``make prereqs`` starts it.
SHARED_URL = "amqp://guest:guest@127.0.0.1:5672//"

# The Debian package's /usr/sbin/rabbitmq-server switches to the rabbitmq
# user when run by root and refuses anyone else; the script it wraps runs
# the node as the caller.
_SCRIPTS = ("/usr/lib/rabbitmq/bin/rabbitmq-server", "/usr/local/lib/rabbitmq/bin/rabbitmq-server")
_BOOT_TIMEOUT = 60.0


def rabbitmq_server_path() -> str | None:
    for script in _SCRIPTS:
        if os.access(script, os.X_OK):
            return script
    return shutil.which("rabbitmq-server")


def amqp_answers(host: str = "127.0.0.1", port: int = 5672, timeout: float = 1.0) -> bool:
    """True when an AMQP 0-9-1 broker answers on (host, port)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"AMQP\x00\x00\x09\x01")
            # connection.start: a method frame (type 1) on channel 0.
            return sock.recv(3) == b"\x01\x00\x00"
    except OSError:
        return False


@dataclass
class RabbitMQServer:
    """A private RabbitMQ node; :meth:`stop` and :meth:`start` keep its port."""

    port: int = field(default_factory=free_port)
    dist_port: int = field(default_factory=free_port)
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="realtime-rmq-")))
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    @property
    def node_name(self) -> str:
        return f"realtime-test-{self.port}@localhost"

    def ctl(self, *args: str) -> str:
        """Run ``rabbitmqctl`` against this node; its output."""
        script = rabbitmq_server_path()
        assert script is not None
        done = subprocess.run(
            [
                str(Path(script).with_name("rabbitmqctl")),
                "-n",
                self.node_name,
                "-q",
                *args[:1],
                "--no-table-headers",
                *args[1:],
            ],
            env=self._environment(),
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        return done.stdout

    def _write_config(self) -> None:
        work = self.workdir
        (work / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\nlog.console = false\n"
        )
        (work / "enabled_plugins").write_text("[].\n")
        (work / "rabbitmq-env.conf").write_text("")

    def _environment(self) -> dict[str, str]:
        work = self.workdir
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("RABBITMQ_", "ERL_"))
        }
        env.update(
            HOME=str(work),  # the Erlang cookie goes here
            RABBITMQ_NODENAME=self.node_name,
            RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
            RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_DIST_PORT=str(self.dist_port),
            RABBITMQ_CONF_ENV_FILE=str(work / "rabbitmq-env.conf"),
            RABBITMQ_CONFIG_FILE=str(work / "rabbitmq.conf"),
            RABBITMQ_ADVANCED_CONFIG_FILE=str(work / "advanced.config"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(work / "enabled_plugins"),
            RABBITMQ_MNESIA_BASE=str(work / "mnesia"),
            RABBITMQ_LOG_BASE=str(work / "log"),
            RABBITMQ_PID_FILE=str(work / "node.pid"),
            RABBITMQ_PLUGINS_EXPAND_DIR=str(work / "plugins-expand"),
            ERL_EPMD_ADDRESS="127.0.0.1",
        )
        return env

    def start(self) -> RabbitMQServer:
        script = rabbitmq_server_path()
        if script is None:
            raise RuntimeError("rabbitmq-server is not installed")
        self._write_config()
        self.process = subprocess.Popen(
            [script],
            env=self._environment(),
            cwd=self.workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + _BOOT_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            if amqp_answers(port=self.port, timeout=0.5):
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"rabbitmq-server did not start; see {self.workdir / 'log'}")

    def stop(self) -> None:
        """Stop the node (the script passes SIGTERM on to it)."""
        process, self.process = self.process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            # The script and the Erlang VM it started share the session
            # started for them; nothing else is in it.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)
