"""A Flask app for the flood tests: slow handlers, an echo, and what the server saw.

``flood`` (n, blob) takes 2 ms and checks that n is the next number this
client sends; ``echo`` answers at once; ``GET /flood/stats?sid=`` reports how
many floods that client had handled, the numbers that came out of order, the
seconds from its first flood handled to its last, and the process's peak RSS
(``VmHWM``, in KiB).
"""

from __future__ import annotations

import os
import time
from typing import Any

from flask import Flask, jsonify, request

from realtime.flask_integration import SocketIO


def _peak_rss_kib() -> int:
    with open(f"/proc/{os.getpid()}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc")


def create_app(mode: str, **options: Any) -> Flask:
    app = Flask(__name__)
    socketio = SocketIO(app, async_mode=mode, **options)
    handled: dict[str, int] = {}
    out_of_order: dict[str, list[int]] = {}
    first_last: dict[str, list[float]] = {}

    @socketio.on("flood")
    def flood(n: int, blob: str) -> None:
        sid = request.sid  # type: ignore[attr-defined]
        expected = handled.get(sid, 0)
        if n != expected:
            out_of_order.setdefault(sid, []).append(n)
        handled[sid] = max(expected, n + 1)
        now = time.monotonic()
        first_last.setdefault(sid, [now, now])[1] = now
        socketio.sleep(0.002)

    @socketio.on("echo")
    def echo(value: Any) -> Any:
        return value

    @app.route("/flood/stats")
    def stats() -> Any:
        sid = request.args.get("sid", "")
        first, last = first_last.get(sid, [0.0, 0.0])
        return jsonify(
            handled=handled.get(sid, 0),
            out_of_order=out_of_order.get(sid, []),
            span=last - first,
            peak_rss_kib=_peak_rss_kib(),
        )

    return app
