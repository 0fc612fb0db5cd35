"""A Flask app for the flood tests: slow handlers, an echo, and what the server saw.

``flood`` (n, blob) takes 2 ms and checks that n is the next number this
client sends; ``echo`` answers at once; ``GET /flood/stats?sid=`` reports how
many floods that client had handled, the numbers that came out of order, and
the process's peak RSS (``VmHWM``, in KiB).
"""

from __future__ import annotations

import os
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

    @socketio.on("flood")
    def flood(n: int, blob: str) -> None:
        sid = request.sid  # type: ignore[attr-defined]
        expected = handled.get(sid, 0)
        if n != expected:
            out_of_order.setdefault(sid, []).append(n)
        handled[sid] = max(expected, n + 1)
        socketio.sleep(0.002)

    @socketio.on("echo")
    def echo(value: Any) -> Any:
        return value

    @app.route("/flood/stats")
    def stats() -> Any:
        sid = request.args.get("sid", "")
        return jsonify(
            handled=handled.get(sid, 0),
            out_of_order=out_of_order.get(sid, []),
            peak_rss_kib=_peak_rss_kib(),
        )

    return app
