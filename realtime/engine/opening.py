"""Opening a session: what a handshake request must be, and what the client hears back.

A request that names no session asks for a new one. The server checks it
(:func:`handshake_problem`), makes the session, asks the layer above
whether it takes the client (:func:`ask_listener`), and answers with the
open packet (:func:`open_packet`), which lists the transports the client
may upgrade to.

Spec: https://github.com/socketio/engine.io-protocol (v4: Handshake, Upgrade).
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import TYPE_CHECKING

from realtime.engine.http import Refusal, Request, Response, error_response
from realtime.exceptions import ConnectionRefused
from realtime.protocol.engineio import PROTOCOL_VERSION, EngineSid, ErrorCode, Handshake, Packet

if TYPE_CHECKING:
    from realtime.engine.listener import EngineListener
    from realtime.engine.options import EngineOptions
    from realtime.engine.transports.base import Transport

__all__ = [
    "LADDER",
    "STANDARD_UPGRADES",
    "ask_listener",
    "handshake_problem",
    "open_packet",
]

#: What stock Engine.IO clients are offered; the rest of the ladder only goes
#: to clients that ask for it with ``ext=ladder``.
STANDARD_UPGRADES = ("websocket",)
LADDER = "ladder"


def handshake_problem(request: Request, transport: Transport) -> tuple[ErrorCode, str] | None:
    """What keeps ``request`` from opening a session on ``transport``: the
    error code to answer with and a detail for the log; None if nothing does."""
    if request.method != "GET":
        return (
            ErrorCode.BAD_HANDSHAKE_METHOD,
            f"a session can only be opened with GET, not {request.method}",
        )
    if transport.accepts_upgrades and not request.is_websocket:
        if transport.name == "websocket":
            detail = "transport=websocket without a WebSocket handshake"
        else:
            detail = (
                f"a session cannot open on transport={transport.name}: it opens on "
                f"polling and upgrades to {transport.name}"
            )
        return ErrorCode.BAD_REQUEST, detail
    version = request.query.get("EIO")
    if version != str(PROTOCOL_VERSION):
        detail = (
            f"Engine.IO protocol version {version!r} is not supported (only "
            f"{PROTOCOL_VERSION}: Socket.IO clients 3.x and later)"
        )
        return ErrorCode.UNSUPPORTED_PROTOCOL_VERSION, detail
    return None


def ask_listener(
    listener: EngineListener, sid: EngineSid, request: Request, logger: logging.Logger
) -> Response | None:
    """Tell ``listener`` a session opened; the refusal's response if it refused."""
    try:
        listener.session_opened(sid, request.environ)
    except ConnectionRefused as exc:
        return error_response(ErrorCode.FORBIDDEN, exc.message)
    except ConnectionRefusedError as exc:
        return error_response(ErrorCode.FORBIDDEN, str(exc.args[0]) if exc.args else None)
    except Exception:
        logger.exception("error in the connect handler (%s)", request.describe())
        return Response("500 Internal Server Error", b"", [], Refusal.HANDLER_ERROR)
    return None


def open_packet(
    sid: EngineSid,
    request: Request,
    options: EngineOptions,
    upgrades: tuple[str, ...],
    enabled: Collection[str],
) -> Packet:
    """The open packet of session ``sid``.

    Args:
        sid: the new session.
        request: its handshake request (``ext=ladder`` asks for every rung).
        options: the server's options.
        upgrades: the transports a session on the handshake's transport may
            move to.
        enabled: the transports the server allows.
    """
    offered: tuple[str, ...] = ()
    if options.allow_upgrades:
        if LADDER not in request.query.get("ext", "").split(","):
            upgrades = tuple(name for name in upgrades if name in STANDARD_UPGRADES)
        offered = tuple(name for name in upgrades if name in enabled)
    return Handshake(
        sid=sid,
        upgrades=offered,
        ping_interval=options.ping_interval_ms,
        ping_timeout=options.ping_timeout_ms,
        max_payload=options.max_http_buffer_size,
    ).to_packet()
