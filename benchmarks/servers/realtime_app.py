"""realtime's server with the benchmark handlers, on its own embedded server.

Run: ``python -m benchmarks.servers.realtime_app --mode eventlet``. Served
with :func:`realtime.make_server` and its defaults (no monkey patching,
which realtime does not need).
"""

from __future__ import annotations

import argparse
from typing import Any

import realtime
from benchmarks.servers.common import ROOM, announce


def create(mode: str, **options: Any) -> realtime.Server:
    sio = realtime.Server(async_mode=mode, **options)

    @sio.on("echo")
    def echo(sid: str, data: Any) -> Any:
        return data

    @sio.on("join")
    def join(sid: str, room: str) -> bool:
        sio.enter_room(sid, room)
        return True

    @sio.on("bcast")
    def bcast(sid: str, seq: int, payload: str) -> None:
        sio.emit("msg", (seq, payload), to=ROOM)

    return sio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--mode", default="eventlet", help="async mode")
    parser.add_argument(
        "--tracemalloc",
        metavar="REPORT",
        help="trace allocations: SIGUSR1 takes the baseline, SIGUSR2 writes what was "
        "allocated since, by call stack, to REPORT",
    )
    parser.add_argument("--message-queue", help="a broker URL: join a deployment")
    parser.add_argument("--channel", default="socketio", help="the deployment's channel")
    parser.add_argument("--recovery", action="store_true", help="connection state recovery on")
    args = parser.parse_args()
    if args.tracemalloc:
        from benchmarks.servers.memory import trace_allocations

        trace_allocations(args.tracemalloc)
    options: dict[str, object] = (
        {"message_queue": args.message_queue, "channel": args.channel} if args.message_queue else {}
    )
    if args.recovery:
        options["connection_state_recovery"] = True
    sio = create(args.mode, **options)
    server = realtime.make_server(sio, "127.0.0.1", args.port, args.mode)
    announce(server.address[1])
    server.serve_forever()


if __name__ == "__main__":
    main()
