"""The WebSocket transport: one Engine.IO packet per frame, in both directions.

Opens sessions on WebSocket requests, takes sessions over from polling (the
probe and the upgrade packet), turns away a WebSocket its session cannot take
(:meth:`WebSocketTransport.refuse`), and relays connections for sessions
another process owns; each runs on a :class:`~.connection.WebSocketConnection` over
the socket the WSGI server hands over, checked by :mod:`.handshake`. On realtime's
embedded servers and under gunicorn's gevent worker an open connection is
then served with no task of its own by a
:class:`~.detached_reader.DetachedReader`.

Spec: engine.io-protocol v4, "Transports / WebSocket" and "Protocol / Upgrade".
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from websockets.server import ServerProtocol

from realtime.async_modes.base import no_delay
from realtime.engine.forwarding import RelayBuffer, RelayRefused
from realtime.engine.http import Request, Response, error_response
from realtime.engine.session import DisconnectReason, Session
from realtime.engine.transports.base import StartResponse, Transport, WSGIResult
from realtime.engine.transports.websocket.connection import (
    Flusher,
    WebSocketConnection,
    frame_protocol,
)
from realtime.engine.transports.websocket.detached_reader import DetachedReader
from realtime.engine.transports.websocket.handshake import (
    SwitchingProtocols,
    check_handshake,
    negotiate_extensions,
)
from realtime.exceptions import PacketDecodeError
from realtime.protocol.engineio import PROBE, ErrorCode, Packet, PacketType

if TYPE_CHECKING:
    from realtime.async_modes.base import HandedOverSocket
    from realtime.engine.forwarding import Forwarder

__all__ = ["WebSocketTransport"]


class WebSocketTransport(Transport):
    """WebSocket, both from the start and as an upgrade from polling."""

    name: ClassVar[str] = "websocket"
    accepts_upgrades: ClassVar[bool] = True
    _flusher: Flusher | None = None

    def _accept(self, request: Request) -> tuple[ServerProtocol | None, Any] | Response:
        """Check the opening handshake; the frame protocol and the 101 response.

        The handshake is checked by :func:`~.handshake.check_handshake`
        (an HTTP/1.0 request is refused there). Without compression the
        frame protocol is made only if a connection needs it. With
        compression ``websockets`` checks it too and negotiates the extension
        (:func:`~.handshake.negotiate_extensions`), and the frames run on a
        protocol that starts out open with the extensions negotiated.
        """
        if request.method != "GET":
            return self.host.refuse(request, error_response(ErrorCode.BAD_REQUEST))
        valid, accept_or_problem = check_handshake(request.environ)
        if not valid:
            return self._bad_handshake(request, accept_or_problem)
        if self.host.options.websocket_compression:
            return self._accept_with_extensions(request)
        return None, SwitchingProtocols(accept_or_problem)

    def _bad_handshake(self, request: Request, problem: str) -> Response:
        return self.host.reject(
            request,
            None,
            DisconnectReason.TRANSPORT_ERROR,
            f"invalid WebSocket handshake ({problem})",
            error_response(ErrorCode.BAD_REQUEST),
        )

    def _accept_with_extensions(self, request: Request) -> tuple[ServerProtocol, Any] | Response:
        negotiated = negotiate_extensions(request)
        if isinstance(negotiated, str):
            return self._bad_handshake(request, negotiated)
        extensions, ws_response = negotiated
        return frame_protocol(self.host.options.max_http_buffer_size, extensions), ws_response

    def _take_over(
        self, request: Request, proto: ServerProtocol | None, ws_response: Any
    ) -> tuple[HandedOverSocket, WebSocketConnection] | None:
        mode = self.host.mode
        handed = mode.hand_over_socket(request.environ)
        if handed is None:
            return None
        handed.sock.settimeout(None)
        no_delay(handed.sock)  # whatever server took the request: frames go out at once
        if mode.cooperative and self._flusher is None:
            self._flusher = Flusher(mode)
        connection = WebSocketConnection(
            mode,
            self.host.scheduler,
            handed,
            proto,
            max_size=self.host.options.max_http_buffer_size,
            slow_client=self.host.options.slow_client,
            compressed=proto is not None and bool(proto.extensions),
            log=self.host.logger,
            label=f"websocket from {request.remote_addr}",
            flusher=self._flusher,
        )
        # The 101 goes out with the first frames (the open packet, what the
        # connect handler sent) in one write.
        connection.write_raw(ws_response.serialize())
        return handed, connection

    def _no_socket(self, request: Request, session: Session | None) -> Response:
        return self.host.reject(
            request,
            session,
            DisconnectReason.TRANSPORT_ERROR,
            "this WSGI server does not hand its sockets over, so WebSocket is "
            "unavailable; run the app with realtime.serve() or gunicorn, or "
            "set transports=['polling']",
            error_response(ErrorCode.BAD_REQUEST),
        )

    def handshake(self, request: Request, start_response: StartResponse) -> WSGIResult:
        accepted = self._accept(request)
        if isinstance(accepted, Response):
            return accepted(start_response)
        proto, ws_response = accepted
        if not self.host.mode.can_hand_over(request.environ):
            return self._no_socket(request, None)(start_response)
        opened = self.host.open_session(request, self.name)
        if isinstance(opened, Response):
            return opened(start_response)
        session = opened.session
        cookie = self.host.options.cookie
        if cookie is not None:
            name, value = cookie.header(session.sid)
            ws_response.headers[name] = value
        taken = self._take_over(request, proto, ws_response)
        if taken is None:
            return self._no_socket(request, session)(start_response)
        handed, connection = taken
        connection.label = f"session {session.sid} ({request.remote_addr})"
        connection.write_packets([opened.open_packet])
        session.start(push=connection)
        self._serve(session, connection, connection.packets(), handed)
        return handed.finish(start_response)

    def upgrade(
        self, request: Request, session: Session, start_response: StartResponse
    ) -> WSGIResult:
        accepted = self._accept(request)
        if isinstance(accepted, Response):
            return accepted(start_response)
        proto, ws_response = accepted
        taken = self._take_over(request, proto, ws_response)
        if taken is None:
            return self._no_socket(request, None)(start_response)
        handed, connection = taken
        connection.label = f"session {session.sid} (upgrade from {request.remote_addr})"
        if not session.begin_probe(connection, self.host.options.upgrade_timeout):
            # Upgrading already (a probe in progress), or closing.
            return self._turn_away(request, session.sid, connection, handed, start_response)
        packets = connection.packets()
        if self._probe(session, connection, packets):
            self._serve(session, connection, packets, handed)
        return handed.finish(start_response)

    def refuse(
        self, request: Request, session: Session, start_response: StartResponse
    ) -> WSGIResult:
        """Answer a WebSocket that ``session`` cannot take, as Node's engine.io does.

        A session already on WebSocket (or upgraded to another transport)
        gets a second WebSocket's handshake completed (``101``), then a close
        frame with no status code; the session itself is not touched. An
        invalid handshake is still a ``400``.

        Spec: engine.io's ``Server.onWebSocket`` ("transport had already been
        upgraded": ``websocket.close()``).
        """
        accepted = self._accept(request)
        if isinstance(accepted, Response):
            return accepted(start_response)
        proto, ws_response = accepted
        if not self.host.mode.can_hand_over(request.environ):
            return self._no_socket(request, None)(start_response)
        taken = self._take_over(request, proto, ws_response)
        if taken is None:
            return self._no_socket(request, None)(start_response)
        handed, connection = taken
        connection.label = f"session {session.sid} (another websocket from {request.remote_addr})"
        return self._turn_away(request, session.sid, connection, handed, start_response)

    def _turn_away(
        self,
        request: Request,
        sid: str,
        connection: WebSocketConnection,
        handed: HandedOverSocket,
        start_response: StartResponse,
    ) -> WSGIResult:
        """Close a WebSocket whose ``101`` is out but that no session takes.

        Like ``ws``'s ``close()``: a close frame with no status code, then
        the client's close frame is awaited (what it sends before it is
        discarded) for up to :data:`~.connection.CLOSE_TIMEOUT`.
        """
        self.host.logger.info(
            "session %s cannot take a websocket from %s (it is already upgraded or "
            "upgrading, or is closing): closed it",
            sid,
            request.remote_addr,
        )
        connection.close(graceful=True, code=None)
        with contextlib.suppress(PacketDecodeError):
            for _ in connection.packets():
                pass
        return handed.finish(start_response)

    def relay(
        self, request: Request, sid: str, forwarder: Forwarder, start_response: StartResponse
    ) -> WSGIResult:
        accepted = self._accept(request)
        if isinstance(accepted, Response):
            return accepted(start_response)
        proto, ws_response = accepted
        if not self.host.mode.can_hand_over(request.environ):
            return self._no_socket(request, None)(start_response)
        buffer = RelayBuffer()
        cid = forwarder.open_relay(sid, self.name, buffer)
        if cid is RelayRefused.UNKNOWN_SESSION:
            return self.host.reject(
                request,
                None,
                DisconnectReason.TRANSPORT_ERROR,
                f"no process holds session {sid} (its owner is gone, or it closed)",
                error_response(ErrorCode.UNKNOWN_SID),
            )(start_response)
        taken = self._take_over(request, proto, ws_response)
        if taken is None:
            if isinstance(cid, int):
                forwarder.relay_ended(sid, cid)
            return self._no_socket(request, None)(start_response)
        handed, connection = taken
        if not isinstance(cid, int):
            # The owner has the session, already upgraded or upgrading.
            connection.label = f"session {sid} (another websocket from {request.remote_addr})"
            return self._turn_away(request, sid, connection, handed, start_response)
        connection.label = f"session {sid} (relayed from {request.remote_addr})"
        buffer.attach(connection)
        try:
            for packet in connection.packets():
                if not forwarder.relay_in(sid, cid, [packet]):
                    break
                # Read on once the owner's handlers are not behind.
                forwarder.relay_wait(cid)
        except PacketDecodeError as exc:
            self.host.logger.warning("closing %s: invalid packet (%s)", connection.label, exc)
        finally:
            forwarder.relay_ended(sid, cid)
            connection.close(graceful=False)
        return handed.finish(start_response)

    def _probe(
        self, session: Session, connection: WebSocketConnection, packets: Iterator[Packet]
    ) -> bool:
        """Run the probe until the upgrade packet; False if the upgrade failed."""
        try:
            for packet in packets:
                if packet.type is PacketType.PING and packet.data == PROBE:
                    session.probe_ping(connection)
                elif packet.type is PacketType.UPGRADE:
                    return session.complete_upgrade(connection)
                else:
                    self.host.logger.info(
                        "session %s: unexpected %s packet during upgrade, staying on %s",
                        session.sid,
                        packet.type.name.lower(),
                        session.transport,
                    )
                    break
        except PacketDecodeError as exc:
            self.host.logger.info(
                "session %s: invalid packet during upgrade (%s)", session.sid, exc
            )
        session.abandon_probe(connection)
        return False

    def _serve(
        self,
        session: Session,
        connection: WebSocketConnection,
        packets: Iterator[Packet],
        handed: HandedOverSocket,
    ) -> None:
        if handed.detachable:
            DetachedReader(self, session, connection, packets, handed).start()
            return
        backlogged = session.flow_control()
        caught_up = self.host.mode.event() if backlogged is not None else None
        try:
            for packet in packets:
                session.receive(packet)
                if backlogged is not None and caught_up is not None and backlogged(caught_up.set):
                    # Read nothing more until the handlers caught up.
                    while not caught_up.wait(1.0) and not session.closed:
                        pass
                    caught_up.clear()
        except PacketDecodeError as exc:
            self.close_invalid(session, connection, exc)
        finally:
            self.connection_ended(session, connection)

    def close_invalid(
        self, session: Session, connection: WebSocketConnection, exc: PacketDecodeError
    ) -> None:
        """Close ``session``: its client sent ``exc``'s invalid packet."""
        self.host.logger.warning(
            "closing %s: invalid packet on websocket (%s)", connection.label, exc
        )
        session.close(DisconnectReason.TRANSPORT_ERROR)

    def connection_ended(self, session: Session, connection: WebSocketConnection) -> None:
        """Close ``session`` and ``connection`` once no more is read from it."""
        if connection.error is not None and not session.closed:
            self.host.logger.warning("closing %s: %s", connection.label, connection.error)
            session.close(DisconnectReason.TRANSPORT_ERROR)
        elif not session.closed:
            session.close(DisconnectReason.TRANSPORT_CLOSE)
        connection.close(graceful=False)

    def handle(
        self, request: Request, session: Session, start_response: StartResponse
    ) -> WSGIResult:
        # A plain HTTP request naming a session that is already on WebSocket.
        return self.host.reject(
            request,
            None,
            DisconnectReason.TRANSPORT_ERROR,
            f"session {session.sid} is on websocket; HTTP requests for it are refused",
            error_response(ErrorCode.BAD_REQUEST),
        )(start_response)
