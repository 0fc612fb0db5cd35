"""A Redis Sentinel deployment on loopback, for tests: a primary, a replica, three sentinels.

Every process is ``redis-server`` (a sentinel is ``redis-server <conf>
--sentinel``), on loopback ports of its own, keeping nothing on disk but the
sentinels' configuration files (which Sentinel rewrites as it learns), in a
temporary directory. Failure detection is quick: a primary that does not
answer for :data:`DOWN_AFTER_MS` is down, and a failover may take
:data:`FAILOVER_TIMEOUT_MS`.

    with SentinelDeployment() as deployment:
        deployment.url  # redis+sentinel://127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3/0/mymaster
        deployment.kill_primary()
        deployment.wait_for_failover()
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from tests.support.ports import free_port
from tests.support.redis_server import redis_server_path

__all__ = ["DOWN_AFTER_MS", "FAILOVER_TIMEOUT_MS", "SERVICE", "SentinelDeployment"]

SERVICE = "mymaster"
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 3000
SENTINELS = 3
QUORUM = 2


def _command(port: int, *args: str, timeout: float = 2.0) -> object:
    """One command to a Redis or a sentinel on loopback, with redis-py; its reply."""
    import redis

    client = redis.Redis(
        host="127.0.0.1", port=port, socket_timeout=timeout, socket_connect_timeout=timeout
    )
    try:
        return client.execute_command(*args)
    finally:
        client.close()


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class SentinelDeployment:
    """A primary, a replica of it and three sentinels watching it, as :data:`SERVICE`."""

    def __init__(self) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="realtime-sentinel-"))
        self.primary_port = free_port()
        self.replica_port = free_port()
        self.sentinel_ports = [free_port() for _ in range(SENTINELS)]
        self._processes: dict[int, subprocess.Popen[bytes]] = {}

    @property
    def url(self) -> str:
        """The deployment in python-socketio's form: ``redis+sentinel://h:p,.../db/service``."""
        hosts = ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)
        return f"redis+sentinel://{hosts}/0/{SERVICE}"

    def __enter__(self) -> SentinelDeployment:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- starting and stopping ----------------------------------------------------

    def start(self, timeout: float = 30) -> SentinelDeployment:
        try:
            self._start_redis(self.primary_port)
            self._start_redis(self.replica_port, "--replicaof", "127.0.0.1", str(self.primary_port))
            for port in self.sentinel_ports:
                self._start_sentinel(port)
            self.wait_until_ready(timeout)
        except Exception:
            self.stop()
            raise
        return self

    def _binary(self) -> str:
        binary = redis_server_path()
        if binary is None:
            raise RuntimeError("redis-server is not installed")
        return binary

    def _start_redis(self, port: int, *extra: str) -> None:
        data = self.workdir / f"redis-{port}"
        data.mkdir(exist_ok=True)
        self._spawn(
            port,
            [
                self._binary(),
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(data),
                *extra,
            ],
        )

    def _start_sentinel(self, port: int) -> None:
        conf = self.workdir / f"sentinel-{port}.conf"
        conf.write_text(
            "\n".join(
                [
                    f"port {port}",
                    "bind 127.0.0.1",
                    f"dir {self.workdir}",
                    f"sentinel monitor {SERVICE} 127.0.0.1 {self.primary_port} {QUORUM}",
                    f"sentinel down-after-milliseconds {SERVICE} {DOWN_AFTER_MS}",
                    f"sentinel failover-timeout {SERVICE} {FAILOVER_TIMEOUT_MS}",
                    f"sentinel parallel-syncs {SERVICE} 1",
                    "",
                ]
            )
        )
        self._spawn(port, [self._binary(), str(conf), "--sentinel"])

    def _spawn(self, port: int, command: list[str]) -> None:
        log = open(self.workdir / f"{port}.log", "ab")  # noqa: SIM115 - the child owns it
        try:
            self._processes[port] = subprocess.Popen(command, stdout=log, stderr=log)
        finally:
            log.close()
        deadline = time.monotonic() + 10
        while not _answers(port):
            if self._processes[port].poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server on {port} did not start: {command}")
            time.sleep(0.05)

    def wait_until_ready(self, timeout: float = 30) -> None:
        """Wait until the replica is in sync and every sentinel knows the others and it.

        A failover needs a quorum of sentinels that agree the primary is
        down, and a majority that knows each other to elect a leader.
        """
        deadline = time.monotonic() + timeout
        while True:
            if self._ready():
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the Sentinel deployment was not ready; see {self.workdir}")
            time.sleep(0.2)

    def _ready(self) -> bool:
        try:
            info = _command(self.replica_port, "INFO", "replication")
            if _pairs(info).get("master_link_status") != "up":
                return False
            for port in self.sentinel_ports:
                fields = _pairs(_command(port, "SENTINEL", "MASTER", SERVICE))
                if int(fields.get("num-slaves", 0)) < 1:
                    return False
                if int(fields.get("num-other-sentinels", 0)) < SENTINELS - 1:
                    return False
        except Exception:
            return False
        return True

    def stop(self) -> None:
        for process in self._processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self._processes.values():
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        self._processes.clear()
        shutil.rmtree(self.workdir, ignore_errors=True)

    # -- what the tests do to it --------------------------------------------------------

    def primary_address(self, sentinel_port: int | None = None) -> tuple[str, int] | None:
        """Where a sentinel says the primary is; None if it cannot be asked."""
        port = sentinel_port if sentinel_port is not None else self.sentinel_ports[0]
        try:
            reply = _command(port, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", SERVICE)
        except Exception:
            return None
        if not reply:
            return None
        host, found = reply  # type: ignore[misc]
        return _text(host), int(found)

    def kill_primary(self) -> int:
        """SIGKILL the current primary; its port."""
        address = self.primary_address()
        assert address is not None, "no sentinel names a primary"
        port = address[1]
        process = self._processes[port]
        process.send_signal(signal.SIGKILL)
        process.wait(5)
        return port

    def wait_for_failover(self, old_port: int, timeout: float = 20) -> tuple[str, int]:
        """Wait until every sentinel names a primary other than ``old_port``; its address."""
        deadline = time.monotonic() + timeout
        while True:
            addresses = {self.primary_address(port) for port in self.sentinel_ports}
            if len(addresses) == 1:
                (address,) = addresses
                if address is not None and address[1] != old_port:
                    with contextlib.suppress(Exception):
                        role = _command(address[1], "ROLE")
                        if _text(role[0]) == "master":  # type: ignore[index]
                            return address
            if time.monotonic() > deadline:
                raise TimeoutError(f"no failover within {timeout} s: sentinels say {addresses}")
            time.sleep(0.1)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _pairs(reply: object) -> dict[str, str]:
    """A reply of fields, as redis-py parses it (a dict) or not (a flat list), as strings."""
    if isinstance(reply, dict):
        return {_text(k): _text(v) for k, v in reply.items()}
    items = list(reply)  # type: ignore[call-overload]
    return {_text(items[i]): _text(items[i + 1]) for i in range(0, len(items) - 1, 2)}
