"""The RabbitMQ broker in one async mode, in a process of its own.

``python -m tests.support.rabbitmq_probe MODE URL PREFIX`` prints one JSON
line: what two brokers (two processes' worth of connections) received, the
receiver counts, and how often another task ran while they sat idle, which
shows that waiting on RabbitMQ does not block the others. gevent needs the
process monkey patched, so this runs apart from the test process.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

MESSAGES = 50
IDLE = 0.5
TICK = 0.01


def main() -> None:
    mode_name, url, prefix = sys.argv[1:4]
    if mode_name == "gevent":
        from gevent import monkey

        monkey.patch_all()
    from realtime.async_modes import get_async_mode
    from realtime.socketio.managers.brokers import open_broker
    from tests.support.subscribers import CallbackSubscriber

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    mode = get_async_mode(mode_name)
    logger = logging.getLogger("tests.broker")
    one, two = open_broker(url, mode, logger), open_broker(url, mode, logger)
    a, b = f"{prefix}:a", f"{prefix}:b"
    inboxes: dict[str, Any] = {"one": mode.queue(), "two": mode.queue()}
    readies = [mode.event(), mode.event()]
    one.subscribe(
        [a, b],
        CallbackSubscriber(lambda c, d: inboxes["one"].put((c, d.decode())), readies[0].set),
    )
    two.subscribe(
        [a], CallbackSubscriber(lambda c, d: inboxes["two"].put((c, d.decode())), readies[1].set)
    )
    ready = all(event.wait(10) for event in readies)

    ticks = [0]

    def ticker() -> None:
        while True:
            ticks[0] += 1
            mode.sleep(TICK)

    mode.spawn(ticker)
    started = time.monotonic()
    mode.sleep(IDLE)
    idle_ticks, idle_seconds = ticks[0], time.monotonic() - started

    counts = [one.publish(a if i % 2 else b, f"m{i}".encode()) for i in range(MESSAGES)]
    nobody = two.publish(f"{prefix}:nobody", b"x")
    received = {
        name: _drain(queue, expected)
        for (name, queue), expected in zip(inboxes.items(), (MESSAGES, MESSAGES // 2), strict=True)
    }
    one.close()
    two.close()
    print(
        json.dumps(
            {
                "ready": ready,
                "idle_ticks": idle_ticks,
                "idle_seconds": idle_seconds,
                "counts": counts,
                "nobody": nobody,
                "received": received,
            }
        ),
        flush=True,
    )


def _drain(queue: Any, count: int) -> list[list[str]]:
    got = []
    for _ in range(count):
        try:
            got.append(list(queue.get(timeout=10)))
        except Exception:
            break
    return got


if __name__ == "__main__":
    main()
