"""What a deployment of several processes adds to latency: measured on 127.0.0.1.

Two realtime servers (``benchmarks/servers/realtime_app.py``) share a Redis
message queue. One client at a time, each measurement compares a request or
message that stays in one process with the same one crossing to the other:

* polling echo: an acknowledged event over HTTP long polling, every request
  sent to the process that owns the session, then every request sent to the
  other one (which forwards it through Redis);
* WebSocket echo: the session's WebSocket opened on its owner, then on the
  other process (which relays its frames through Redis);
* broadcast: an event one client sends, broadcast by the server to a room,
  timed until another client receives it: the receiver on the sender's
  process, then on the other one (the broadcast crosses Redis).

Run: ``.venv/bin/python -m benchmarks.cluster_latency [--samples N] [--mode M]
[--recovery]`` (needs Redis on 127.0.0.1:6379). Prints medians and 99th
percentiles in ms. With ``--recovery`` the servers have connection state
recovery on, so broadcasts go through the Redis Stream of the recovery log,
also to the sender's own process.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import requests
import websocket

ROOT = Path(__file__).resolve().parents[1]
PATH = "/socket.io/"


@contextmanager
def servers(mode: str, queue: str, recovery: bool = False) -> Iterator[list[str]]:
    channel = f"latency-{uuid.uuid4().hex[:8]}"
    processes = []
    try:
        urls = []
        for _ in range(2):
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "benchmarks.servers.realtime_app",
                    "--mode",
                    mode,
                    "--message-queue",
                    queue,
                    "--channel",
                    channel,
                    *(["--recovery"] if recovery else []),
                ],
                cwd=ROOT,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
                stdout=subprocess.PIPE,
                text=True,
            )
            processes.append(process)
            assert process.stdout is not None
            line = process.stdout.readline()
            if not line.startswith("LISTENING "):
                raise SystemExit(f"a server did not start: {line!r}")
            urls.append(f"127.0.0.1:{line.split()[1]}")
        yield urls
    finally:
        for process in processes:
            process.terminate()
            process.wait(10)


class Polling:
    """A Socket.IO session over long polling, each request sent to ``via``."""

    def __init__(self, owner: str, via: str) -> None:
        self.http = requests.Session()
        opened = self.http.get(f"http://{owner}{PATH}?EIO=4&transport=polling", timeout=10).text
        self.sid = json.loads(opened[1:])["sid"]
        self.url = f"http://{via}{PATH}?EIO=4&transport=polling&sid={self.sid}"
        self.post("40")
        assert self.get()[0].startswith("40")

    def post(self, body: str) -> None:
        assert self.http.post(self.url, data=body, timeout=10).text == "ok"

    def get(self) -> list[str]:
        packets = self.http.get(self.url, timeout=30).text.split("\x1e")
        if "2" in packets:
            self.post("3")
        return [p for p in packets if p not in ("2", "6")]

    def echo(self, n: int) -> None:
        self.post(f'42{n}["echo",{n}]')
        while not any(p == f"43{n}[{n}]" for p in self.get()):
            pass


class WebSocketSession:
    """A Socket.IO session opened by polling on ``owner``, upgraded to a WebSocket on ``via``."""

    def __init__(self, owner: str, via: str) -> None:
        opened = requests.get(f"http://{owner}{PATH}?EIO=4&transport=polling", timeout=10).text
        sid = json.loads(opened[1:])["sid"]
        self.ws = websocket.create_connection(
            f"ws://{via}{PATH}?EIO=4&transport=websocket&sid={sid}", timeout=10
        )
        self.ws.send("2probe")
        assert self.ws.recv() == "3probe"
        self.ws.send("5")
        self.ws.send("40")
        while not str(self.recv()).startswith("40"):
            pass

    def recv(self) -> str:
        while True:
            frame = str(self.ws.recv())
            if frame == "2":
                self.ws.send("3")
            elif frame != "6":
                return frame

    def echo(self, n: int) -> None:
        self.ws.send(f'42{n}["echo",{n}]')
        while self.recv() != f"43{n}[{n}]":
            pass

    def close(self) -> None:
        self.ws.close()


def sample(run: Callable[[int], None], count: int) -> list[float]:
    for n in range(20):  # warm-up
        run(n)
    times = []
    for n in range(count):
        start = time.perf_counter()
        run(n)
        times.append((time.perf_counter() - start) * 1000)
    return times


def broadcast(sender: WebSocketSession, receiver: WebSocketSession, room: str, n: int) -> None:
    sender.ws.send(f'42["bcast",{n},"x"]')
    while True:
        frame = receiver.recv()
        if frame.startswith('42["msg",') and frame.startswith(f'42["msg",{n},'):
            return


def report(name: str, local: list[float], crossing: list[float]) -> None:
    def p99(values: list[float]) -> float:
        return sorted(values)[int(len(values) * 0.99) - 1]

    lm, cm = statistics.median(local), statistics.median(crossing)
    print(
        f"{name:<18} one process {lm:6.2f} / {p99(local):6.2f} ms   "
        f"across {cm:6.2f} / {p99(crossing):6.2f} ms   added {cm - lm:+.2f} ms (median)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--mode", default="eventlet")
    parser.add_argument("--message-queue", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--recovery", action="store_true", help="connection state recovery on")
    args = parser.parse_args()
    with servers(args.mode, args.message_queue, args.recovery) as (a, b):
        recovery = ", recovery on" if args.recovery else ""
        print(f"{args.mode}{recovery}, {args.samples} samples, median / p99")
        report(
            "polling echo",
            sample(Polling(a, a).echo, args.samples),
            sample(Polling(a, b).echo, args.samples),
        )
        direct, relayed = WebSocketSession(a, a), WebSocketSession(a, b)
        report(
            "websocket echo",
            sample(direct.echo, args.samples),
            sample(relayed.echo, args.samples),
        )
        direct.close()
        relayed.close()
        # The room of benchmarks/servers/common.py: the sender and a receiver on
        # its process, then a receiver on the other one.
        sender = WebSocketSession(a, a)
        near, far = WebSocketSession(a, a), WebSocketSession(b, b)
        for session in (sender, near, far):
            session.ws.send('421["join","bench"]')
            while not session.recv().startswith("431"):
                pass
        report(
            "broadcast",
            sample(lambda n: broadcast(sender, near, "bench", n), args.samples),
            sample(lambda n: broadcast(sender, far, "bench", n + 100_000), args.samples),
        )


if __name__ == "__main__":
    main()
