"""Measure what docs/reliability.md quotes: delivery and detection under faults.

Runs the chaos scenario of tests/reliability/test_chaos.py several times per
gunicorn worker class (two workers, a private Redis, ten official Node
clients on polling, WebSocket and the upgrade, a producer emitting an
acknowledged broadcast every 20 ms; the worker holding most clients is
SIGKILLed, then Redis is SIGKILLed and restarted empty) and prints, over all
runs: acknowledged broadcasts, missing, duplicated and out-of-order ones per
client, reconnections not recovered, and for the clients of the killed
worker how long they took to lose their connection (at once for their own
sockets; for relayed ones, the time to notice the owner is gone) and to be
back, recovered.

    .venv/bin/python -m benchmarks.reliability [--runs 5] [--workers gevent eventlet]

Needs what `make test` installs (Node packages, the legacy gunicorn for
eventlet workers) and redis-server.
"""

from __future__ import annotations

import argparse
import collections
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.support.faults import restart_redis_empty
from tests.support.gunicorn_cluster import GunicornCluster
from tests.support.redis_server import RedisServer
from tests.support.reliability_clients import NodeReceivers, Producer, delivery

NODE_CLIENTS = [("polling", 3), ("websocket", 3), ("upgrade", 4)]
BEFORE_KILL, BEFORE_REDIS, REDIS_DOWN, AFTER, SETTLE = 2.0, 4.0, 1.5, 4.0, 12.0
#: Seconds under which a lost connection counts as closed with the process.
AT_ONCE = 0.1


def one_run(node: str, worker: str, workdir: Path) -> dict[str, Any]:
    """One chaos run; its figures."""
    redis = RedisServer().start()
    cluster = GunicornCluster(
        worker,
        2,
        {"REALTIME_TEST_QUEUE": redis.url, "REALTIME_TEST_PING": "5,5"},
        workdir / "gunicorn.log",
    ).start()
    specs = [
        (f"{transport}-{i}", cluster.url, transport)
        for transport, count in NODE_CLIENTS
        for i in range(count)
    ]
    receivers = NodeReceivers(node, specs, workdir / "node.log")
    producer: Producer | None = None
    try:
        joined = receivers.ready()
        owners = collections.Counter(int(e["pid"]) for e in joined)
        victim = owners.most_common(1)[0][0]
        on_victim = {e["name"] for e in joined if int(e["pid"]) == victim}
        producer = Producer(cluster.url, interval=0.02).start(avoid=victim)
        time.sleep(BEFORE_KILL)
        cluster.kill_worker(victim)
        killed_at = time.monotonic()
        time.sleep(BEFORE_REDIS)
        restart_redis_empty(redis, REDIS_DOWN)
        time.sleep(AFTER)
        producer.stop()
        reports = receivers.report(sorted(producer.acked), SETTLE)
    finally:
        if producer is not None:
            producer.stop()
        receivers.close()
        cluster.stop()
        redis.stop()
    results = [delivery(report, producer) for report in reports]
    lost_after: list[float] = []
    back_after: list[float] = []
    for name in on_victim:
        events = [e for e in receivers.events if e.get("name") == name and e["t"] >= killed_at]
        drop = next((e for e in events if e["ev"] == "disconnect"), None)
        back = next((e for e in events if e["ev"] == "connect" and e.get("recovered")), None)
        if drop is not None:
            lost_after.append(drop["t"] - killed_at)
        if back is not None:
            back_after.append(back["t"] - killed_at)
    return {
        "acked": len(producer.acked),
        "clients": len(results),
        "missing": sum(len(r.missing) for r in results),
        "duplicated": sum(len(r.duplicated) for r in results),
        "out_of_order": sum(len(r.out_of_order) for r in results),
        "not_recovered": sum(r.not_recovered for r in results),
        "failed_round_trips": sum(1 for r in results if not r.received.echo.get("ok")),
        "lost_after": lost_after,
        "back_after": back_after,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--workers", nargs="+", default=["gevent", "eventlet"])
    args = parser.parse_args()
    node = shutil.which("node")
    if node is None:
        sys.exit("node is not installed")
    for worker in args.workers:
        runs = []
        for n in range(args.runs):
            with tempfile.TemporaryDirectory(prefix="realtime-reliability-") as tmp:
                runs.append(one_run(node, worker, Path(tmp)))
            print(f"{worker} run {n + 1}: {runs[-1]}", file=sys.stderr)
        lost = [t for r in runs for t in r["lost_after"]]
        back = [t for r in runs for t in r["back_after"]]
        print(f"## {worker}: {args.runs} runs")
        print(f"acknowledged broadcasts: {sum(r['acked'] for r in runs)}")
        print(f"client deliveries checked: {sum(r['acked'] * r['clients'] for r in runs)}")
        for key in ("missing", "duplicated", "out_of_order", "not_recovered"):
            print(f"{key}: {sum(r[key] for r in runs)}")
        print(f"failed final round trips: {sum(r['failed_round_trips'] for r in runs)}")
        # A socket to the killed worker itself closes with it; one the other
        # worker carries (a relay, forwarded polls) waits for that worker to
        # find the owner gone.
        at_once = [t for t in lost if t < AT_ONCE]
        told = [t for t in lost if t >= AT_ONCE]
        print(f"killed worker's clients whose socket closed with it: {len(at_once)}")
        if told:
            print(
                f"killed worker's clients told by the other worker: {len(told)}, after "
                f"median {statistics.median(told):.2f} s, max {max(told):.2f} s"
            )
        if back:
            print(
                f"back, recovered, after the kill: median {statistics.median(back):.2f} s, "
                f"max {max(back):.2f} s"
            )


if __name__ == "__main__":
    main()
