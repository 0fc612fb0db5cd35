"""A client that floods the flood app, in a process of its own:
``python -m tests.support.flooder URL TRANSPORT COUNT SIZE``.

It prints its sid, emits COUNT ``flood`` events of SIZE bytes without
waiting, prints ``SENT`` once its client took them all, and stays connected
until killed. Its own process, so that the work of sending them (masking
megabytes in Python) does not slow the clients the test measures.
"""

from __future__ import annotations

import sys
import time

from tests.support.flood_clients import ordered_client


def main() -> None:
    url, transport, count, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    client = ordered_client(url, transport)
    print(client.get_sid(), flush=True)
    blob = "x" * size
    for n in range(count):
        client.emit("flood", (n, blob))
    print("SENT", flush=True)
    while client.connected:
        time.sleep(0.5)


if __name__ == "__main__":
    main()
