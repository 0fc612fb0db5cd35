"""Apps the integration tests serve (see ``tests.support.serve_app``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

import orjson

from realtime.engine import Server
from realtime.exceptions import ConnectionRefused


def engine_echo(mode: str, **options: Any) -> Server:
    """An Engine.IO server that echoes messages, with a few commands.

    Messages: ``disconnect-me`` (server closes the session), ``burst:N`` (N
    numbered messages back), ``big:N:SIZE`` (N numbered messages of SIZE
    more bytes), ``binary:N`` (N bytes back), ``greenlets`` (how
    many green threads are alive, in a green mode), ``threads`` (how many
    threads are); anything else is echoed.
    The connect handler refuses ``?refuse=1`` and raises ConnectionRefused
    for ``?refuse_msg=...``; ``?greet=1`` sends ``welcome``.
    ``GET /_test/disconnects?sid=...`` reports the disconnect reason seen.
    ``cluster_url`` (and ``cluster_channel``) join a deployment over a broker.
    """
    cluster_url = options.pop("cluster_url", None)
    if cluster_url is not None:
        import logging

        from realtime.async_modes import get_async_mode
        from realtime.socketio.managers.broker_link import BrokerLink
        from realtime.socketio.managers.brokers import open_broker

        broker = open_broker(str(cluster_url), get_async_mode(mode), logging.getLogger("test"))
        options["cluster"] = BrokerLink(broker, str(options.pop("cluster_channel", "test")))
    server = Server(async_mode=mode, **options)
    reasons: dict[str, str] = {}

    @server.on("connect")
    def connect(sid: str, environ: dict[str, Any]) -> bool:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        if "refuse" in query:
            return False
        if "refuse_msg" in query:
            raise ConnectionRefused(query["refuse_msg"][0])
        if "greet" in query:
            server.send(sid, "welcome")
        return True

    @server.on("message")
    def message(sid: str, data: str | bytes) -> None:
        if data == "disconnect-me":
            server.disconnect(sid)
        elif isinstance(data, str) and data.startswith("burst:"):
            for i in range(int(data[6:])):
                server.send(sid, f"b{i}")
        elif data == "greenlets":
            import gc

            import greenlet

            alive = sum(isinstance(o, greenlet.greenlet) and not o.dead for o in gc.get_objects())
            server.send(sid, str(alive))
        elif data == "threads":
            import threading

            server.send(sid, str(threading.active_count()))
        elif isinstance(data, str) and data.startswith("big:"):
            count, size = (int(part) for part in data[4:].split(":"))
            for i in range(count):
                server.send(sid, f"{i}:" + "x" * size)
        elif isinstance(data, str) and data.startswith("binary:"):
            server.send(sid, bytes(range(256)) * (int(data[7:]) // 256) + b"\x00")
        else:
            server.send(sid, data)

    @server.on("disconnect")
    def disconnect(sid: str, reason: str) -> None:
        reasons[sid] = str(reason)

    def info(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        sid = parse_qs(environ.get("QUERY_STRING", "")).get("sid", [""])[0]
        body = orjson.dumps({"reason": reasons.get(sid), "connected": server.is_connected(sid)})
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]

    server.wsgi_app = info
    return server


def engine_slow(mode: str, **options: Any) -> Server:
    """An Engine.IO server whose message handler takes 2 ms.

    Messages are ``N:payload``; the handler checks that N is the next number
    its client sends. ``GET /_test/slow?sid=`` reports how many it handled,
    the numbers that came out of order, and the process's peak RSS (KiB).
    """
    server = Server(async_mode=mode, **options)
    handled: dict[str, int] = {}
    out_of_order: dict[str, list[int]] = {}

    @server.on("message")
    def message(sid: str, data: str | bytes) -> None:
        text = data if isinstance(data, str) else data.decode()
        n = int(text.split(":", 1)[0])
        expected = handled.get(sid, 0)
        if n != expected:
            out_of_order.setdefault(sid, []).append(n)
        handled[sid] = max(expected, n + 1)
        server.sleep(0.002)

    def info(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        sid = parse_qs(environ.get("QUERY_STRING", "")).get("sid", [""])[0]
        with open("/proc/self/status") as status:
            peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
        body = orjson.dumps(
            {
                "handled": handled.get(sid, 0),
                "out_of_order": out_of_order.get(sid, []),
                "peak_rss_kib": peak,
            }
        )
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]

    server.wsgi_app = info
    return server
