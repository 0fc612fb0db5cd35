"""Clients of the reliability tests, and what they check.

- :class:`Producer`: a python-socketio client that emits ``produce(n)`` with
  an acknowledgement, one number after another, and remembers which were
  acknowledged (the server promised to broadcast them) and which were not
  (the call failed or timed out: they may or may not go out).
- :class:`NodeReceivers`: official socket.io-client sockets in a Node
  process (``tests/reliability/receivers.js``), each on its transport.
- :class:`PyReceiver`: a python-socketio client receiving the broadcasts.
  It cannot recover (python-socketio's client sends no ``pid``), so it is
  held to what a client that reconnects fresh can expect.
- :func:`delivery`: what one receiver got, against what the producer had
  acknowledged: missing, duplicated, out of order.

Every receiver joins the app's room (:data:`tests.support.reliability_app.ROOM`).
"""

from __future__ import annotations

import collections
import itertools
import json
import os
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import socketio

from tests.support.peer import InOrder
from tests.support.reliability_app import ROOM

__all__ = [
    "Delivery",
    "NodeReceivers",
    "Producer",
    "PyReceiver",
    "delivery",
    "render",
]

RECEIVERS_JS = Path(__file__).resolve().parents[1] / "reliability" / "receivers.js"


# -- the producer ----------------------------------------------------------------


class Producer:
    """Emits ``produce(n)`` every ``interval`` s, waiting for each acknowledgement.

    The next number goes out once the previous one was acknowledged or given
    up, so the acknowledged numbers are broadcast in increasing order.
    Reconnects by itself (with a new session: it is in no room).

    Args:
        url: the deployment.
        interval: seconds between two emits.
        ack_timeout: seconds to wait for an acknowledgement before giving up.
        transport: ``websocket`` or ``polling``.
    """

    def __init__(
        self,
        url: str,
        interval: float = 0.02,
        ack_timeout: float = 3.0,
        transport: str = "websocket",
    ) -> None:
        self.url = url
        self.interval = interval
        self.ack_timeout = ack_timeout
        self.transports = ["websocket"] if transport == "websocket" else ["polling"]
        self.client = socketio.Client(
            reconnection=True, reconnection_delay=0.1, reconnection_delay_max=1
        )
        #: n -> (sent, acknowledged) times (time.monotonic()).
        self.acked: dict[int, tuple[float, float]] = {}
        #: n -> sent time, for the numbers whose acknowledgement never came.
        self.unacked: dict[int, float] = {}
        #: Why calls failed, by exception class name.
        self.failures: collections.Counter[str] = collections.Counter()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: The process that served the producer first.
        self.pid = 0

    def start(self, avoid: int | None = None) -> Producer:
        """Connect and start producing; with ``avoid``, on a process other than that pid.

        A deployment's processes take connections as they come: the producer
        reconnects until another one took it (a fault inflicted on that
        process then hits receivers only).
        """
        for _ in range(30):
            self.client.connect(self.url, transports=self.transports, wait_timeout=10)
            self.pid = int(self.client.call("whoami", timeout=10)["pid"])
            if self.pid != avoid:
                break
            self.client.disconnect()
        else:
            raise AssertionError(f"the producer kept landing on process {avoid}")
        self._thread = threading.Thread(target=self._run, name="producer", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        n = 0
        while not self._stop.is_set():
            if not self.client.connected:
                time.sleep(0.02)
                continue
            sent = time.monotonic()
            try:
                answer = self.client.call("produce", n, timeout=self.ack_timeout)
            except Exception as exc:
                self.unacked[n] = sent
                self.failures[type(exc).__name__] += 1
            else:
                if isinstance(answer, dict) and answer.get("n") == n:
                    self.acked[n] = (sent, time.monotonic())
                else:
                    self.unacked[n] = sent
                    self.failures["wrong answer"] += 1
            n += 1
            time.sleep(self.interval)

    @property
    def sent(self) -> set[int]:
        return set(self.acked) | set(self.unacked)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.ack_timeout + 5)
        self.client.disconnect()


# -- receivers -------------------------------------------------------------------


@dataclass
class Received:
    """What one receiver reported."""

    name: str
    transport: str
    #: (n, offset) in the order received.
    ticks: list[tuple[int, str | None]]
    #: Each (re)connection: sid, recovered.
    connects: list[dict[str, Any]]
    #: Each join (or whoami after a recovery): pid, sid, transport.
    joins: list[dict[str, Any]]
    disconnects: list[dict[str, Any]]
    errors: list[str]
    echo: dict[str, Any]
    #: Whether the client can recover (python-socketio's cannot).
    recovers: bool = True
    #: Numbers broadcast before this time (the producer's clock) need not
    #: have reached it: a client that reconnects fresh lost them.
    expect_from: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def first_pid(self) -> int | None:
        return self.joins[0]["pid"] if self.joins else None


class NodeReceivers:
    """Official socket.io-client sockets in a Node process (``receivers.js``).

    Args:
        node: the ``node`` executable.
        clients: ``(name, url, transport)`` of each socket.
        log_path: where Node's stderr goes.
        options: extra ``io()`` options.
    """

    def __init__(
        self,
        node: str,
        clients: list[tuple[str, str, str]],
        log_path: Path,
        options: dict[str, Any] | None = None,
    ) -> None:
        env = {
            **os.environ,
            "RELIABILITY_CLIENTS": json.dumps(
                [{"name": n, "url": u, "transport": t} for n, u, t in clients]
            ),
            "RELIABILITY_ROOM": ROOM,
            "RELIABILITY_OPTIONS": json.dumps(options or {}),
        }
        self.log_path = log_path
        self._stderr = open(log_path, "ab")  # noqa: SIM115 - closed in close()
        self.process = subprocess.Popen(
            [node, RECEIVERS_JS.name],
            cwd=RECEIVERS_JS.parent,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        #: Every happening, with the time this process read it (time.monotonic()).
        self.events: list[dict[str, Any]] = []
        self._changed = threading.Condition()
        self._report: list[dict[str, Any]] | None = None
        threading.Thread(target=self._read, name="node-receivers", daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            event["t"] = time.monotonic()
            with self._changed:
                self.events.append(event)
                if event.get("ev") == "report":
                    self._report = event["clients"]
                self._changed.notify_all()
        with self._changed:
            self.events.append({"ev": "exit", "t": time.monotonic()})
            self._changed.notify_all()

    def wait_for(self, predicate: Any, timeout: float) -> bool:
        """Wait until ``predicate(events)`` holds; whether it did."""
        with self._changed:
            return bool(self._changed.wait_for(lambda: predicate(self.events), timeout))

    def ready(self, timeout: float = 30) -> list[dict[str, Any]]:
        """Wait until every socket joined; the ``joined`` events."""
        ok = self.wait_for(
            lambda events: any(e["ev"] in ("ready", "exit") for e in events), timeout
        )
        ready = any(e["ev"] == "ready" for e in self.events)
        assert ok and ready, f"the Node receivers did not join: {self.tail()}"
        return [e for e in self.events if e["ev"] == "joined"]

    def of(self, name: str, kind: str) -> list[dict[str, Any]]:
        """The happenings of one kind (``connect``, ``disconnect``...) of one socket."""
        with self._changed:
            return [e for e in self.events if e.get("name") == name and e["ev"] == kind]

    def report(self, expect: list[int], settle: float) -> list[Received]:
        """Ask each socket for its account, once it has ``expect`` or ``settle`` s passed."""
        assert self.process.stdin is not None
        command = {"cmd": "report", "expect": expect, "settle": int(settle * 1000)}
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        self.wait_for(
            lambda events: any(e["ev"] in ("report", "exit") for e in events), settle + 30
        )
        assert self._report is not None, f"the Node receivers gave no report: {self.tail()}"
        return [
            Received(
                name=c["name"],
                transport=c["transport"],
                ticks=[(int(n), offset) for n, offset in c["ticks"]],
                connects=c["connects"],
                joins=c["joins"],
                disconnects=c["disconnects"],
                errors=c["errors"],
                echo=c["echo"],
                extra={"finalTransport": c["finalTransport"], "connected": c["connected"]},
            )
            for c in self._report
        ]

    def tail(self) -> str:
        try:
            err = self.log_path.read_text()[-3000:]
        except OSError:
            err = ""
        return f"events: {self.events[-20:]}\nstderr: {err}"

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(5)
        self._stderr.close()


class PyReceiver:
    """A python-socketio client in the room, reconnecting (fresh) when it drops.

    python-socketio's client has no connection state recovery: each
    reconnection is a new session, which joins the room again. What it may
    miss is what was broadcast before its last join; after that, nothing.
    With recovery on the server appends offsets, which its handler drops.
    """

    def __init__(self, name: str, url: str, transport: str) -> None:
        self.name = name
        self.transport = transport
        self.client = socketio.Client(
            reconnection=True, reconnection_delay=0.1, reconnection_delay_max=1
        )
        # The order checked is the server's, not the client's thread scheduling.
        InOrder(self.client)
        self.ticks: list[tuple[int, str | None]] = []
        self.connects: list[dict[str, Any]] = []
        self.joins: list[dict[str, Any]] = []
        self.disconnects: list[dict[str, Any]] = []
        self.errors: list[str] = []
        #: time.monotonic() of the last successful join.
        self.joined_at = 0.0
        self._lock = threading.Lock()
        self._joined = threading.Event()
        self.client.on("tick", self._tick)
        self.client.on("connect", self._connected)
        self.client.on("disconnect", self._disconnected)
        self.client.on("connect_error", self._refused)
        transports = {"polling": ["polling"], "websocket": ["websocket"]}.get(
            transport, ["polling", "websocket"]
        )
        self.client.connect(url, transports=transports, wait_timeout=10)
        assert self._joined.wait(10), f"{name} did not join: {self.errors}"

    def _tick(self, data: Any, *offset: Any) -> None:
        with self._lock:
            self.ticks.append((int(data["n"]), offset[-1] if offset else None))

    def _connected(self) -> None:
        sid = self.client.get_sid()
        self.connects.append({"sid": sid, "recovered": False, "at": time.monotonic()})
        # Not on the client's reading task: the join waits for an answer.
        threading.Thread(target=self._join, daemon=True).start()

    def _join(self) -> None:
        try:
            me = self.client.call("join", ROOM, timeout=10)
        except Exception as exc:
            self.errors.append(f"join: {exc!r}")
            return
        self.joins.append({**me, "transport": self.client.transport()})
        self.joined_at = time.monotonic()
        self._joined.set()

    def _disconnected(self, reason: Any = None) -> None:
        self.disconnects.append({"reason": str(reason), "at": time.monotonic()})

    def _refused(self, data: Any = None) -> None:
        self.errors.append(f"connect_error: {data!r}")

    def report(self, producer: Producer, settle: float) -> Received:
        """Its account, once it has every acknowledged number sent after its last join."""
        deadline = time.monotonic() + settle
        due = {n for n, (sent, _) in producer.acked.items() if sent >= self.joined_at}
        while time.monotonic() < deadline:
            with self._lock:
                got = {n for n, _ in self.ticks}
            if got >= due:
                break
            time.sleep(0.05)
        time.sleep(0.3)
        started = time.monotonic()
        try:
            answer = self.client.call("echo", self.name, timeout=8)
            echo = {"ok": answer.get("echo") == self.name, "ms": 0.0, "pid": answer.get("pid")}
        except Exception as exc:
            echo = {"ok": False, "error": repr(exc)}
        echo["ms"] = round((time.monotonic() - started) * 1000)
        with self._lock:
            ticks = list(self.ticks)
        return Received(
            name=self.name,
            transport=self.transport,
            ticks=ticks,
            connects=list(self.connects),
            joins=list(self.joins),
            disconnects=list(self.disconnects),
            errors=list(self.errors),
            echo=echo,
            recovers=False,
            expect_from=self.joined_at,
        )

    def close(self) -> None:
        self.client.disconnect()


# -- checking ----------------------------------------------------------------------


@dataclass
class Delivery:
    """One receiver's account against the producer's."""

    received: Received
    missing: list[int]
    duplicated: dict[int, list[str | None]]
    out_of_order: list[tuple[int, int]]
    unexpected: list[int]
    #: Reconnections that were not recovered (a new sid, no missed events).
    not_recovered: int
    #: Reconnections that said they recovered, with another sid.
    sid_changed: int
    reconnects: int
    #: How many acknowledged numbers it had to get.
    due: int

    @property
    def ok(self) -> bool:
        r = self.received
        recovery_ok = (self.not_recovered == 0 and self.sid_changed == 0) if r.recovers else True
        return (
            not self.missing
            and not self.duplicated
            and not self.out_of_order
            and not self.unexpected
            and recovery_ok
            and bool(r.echo.get("ok"))
        )


def delivery(received: Received, producer: Producer) -> Delivery:
    """Check one receiver against the producer.

    - every acknowledged number reaches it (for a client that cannot
      recover: every one sent after its last join);
    - none twice, none that was never sent;
    - the acknowledged ones in increasing order (the producer sent each
      after the previous one was acknowledged);
    - every reconnection of a client that can recover was recovered, with
      the sid it had.
    """
    counts = collections.Counter(n for n, _ in received.ticks)
    acked = producer.acked
    due = {n for n, (sent, _) in acked.items() if sent >= received.expect_from}
    offsets: dict[int, list[str | None]] = collections.defaultdict(list)
    for n, offset in received.ticks:
        offsets[n].append(offset)
    first: list[int] = []
    seen: set[int] = set()
    for n, _ in received.ticks:
        if n not in seen:
            seen.add(n)
            if n in acked:
                first.append(n)
    reconnects = received.connects[1:]
    # A recovered socket has the sid it had before the drop.
    changed = [
        now
        for before, now in itertools.pairwise(received.connects)
        if now["recovered"] and now["sid"] != before["sid"]
    ]
    return Delivery(
        received=received,
        missing=sorted(due - counts.keys()),
        duplicated={n: offsets[n] for n, count in sorted(counts.items()) if count > 1},
        out_of_order=[(a, b) for a, b in itertools.pairwise(first) if b <= a],
        unexpected=sorted(counts.keys() - producer.sent),
        not_recovered=sum(1 for c in reconnects if not c["recovered"]),
        sid_changed=len(changed),
        reconnects=len(reconnects),
        due=len(due),
    )


def _runs(numbers: list[int]) -> str:
    """``[1, 2, 3, 7]`` as ``1-3, 7``."""
    out: list[str] = []
    start = prev = None
    for n in numbers:
        if start is not None and prev is not None and n == prev + 1:
            prev = n
            continue
        if start is not None:
            out.append(f"{start}-{prev}" if prev != start else f"{start}")
        start = prev = n
    if start is not None:
        out.append(f"{start}-{prev}" if prev != start else f"{start}")
    return ", ".join(out)


def _pids(received: Received) -> list[Any]:
    """The processes that served a receiver, in order (each once per stay)."""
    pids: list[Any] = []
    for join in received.joins:
        if not pids or pids[-1] != join.get("pid"):
            pids.append(join.get("pid"))
    return pids


def render(results: list[Delivery], producer: Producer, notes: str = "") -> str:
    """A table of every receiver's account, for an assertion message."""
    lines = [
        f"producer: {len(producer.acked)} acknowledged, {len(producer.unacked)} not "
        f"({dict(producer.failures)}); {notes}",
    ]
    for d in results:
        r = d.received
        pids = _pids(r)
        lines.append(
            f"  {'ok  ' if d.ok else 'FAIL'} {r.name:<14} {r.transport:<9} "
            f"pids {pids} reconnects {d.reconnects} "
            f"(not recovered {d.not_recovered}, recovered with another sid {d.sid_changed}) "
            f"got {len(r.ticks)} of {d.due} due, missing {len(d.missing)} "
            f"duplicated {len(d.duplicated)} out of order {len(d.out_of_order)} "
            f"unexpected {len(d.unexpected)} echo {r.echo}"
        )
        if d.missing:
            lines.append(f"       missing: {_runs(d.missing)[:300]}")
        if d.duplicated:
            shown = list(d.duplicated.items())[:5]
            lines.append(f"       duplicated (n: offsets): {shown}")
        if d.out_of_order:
            lines.append(f"       out of order: {d.out_of_order[:5]}")
        if r.disconnects:
            lines.append(f"       disconnects: {[x.get('reason') for x in r.disconnects][:6]}")
        if r.errors:
            lines.append(f"       errors: {r.errors[:4]}")
    return "\n".join(lines)
