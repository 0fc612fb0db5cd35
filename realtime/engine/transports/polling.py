"""HTTP long polling: GET waits for packets, POST delivers them.

Spec: engine.io-protocol v4, "Transports / HTTP long-polling".
"""

from __future__ import annotations

from typing import ClassVar

from realtime.engine.http import NO_CACHE, TEXT_PLAIN, Request, Response, error_response
from realtime.engine.session import DisconnectReason, DuplicateRequestError, Session
from realtime.engine.transports.base import StartResponse, Transport, WSGIResult
from realtime.engine.transports.upstream import receive_post
from realtime.protocol.engineio import ErrorCode, Packet, encode_payload

__all__ = ["PollingTransport"]


class PollingTransport(Transport):
    """Long polling: every session starts here unless the client says otherwise.

    A GET with ``wait=0`` is short polling: it returns at once.
    """

    name: ClassVar[str] = "polling"
    #: In preference order. Only ``websocket`` is offered to stock clients;
    #: the others go to clients that ask for the ladder (see stream.py).
    upgrades: ClassVar[tuple[str, ...]] = ("websocket", "sse", "streaming")

    def handshake(self, request: Request, start_response: StartResponse) -> WSGIResult:
        opened = self.host.open_session(request, self.name)
        if isinstance(opened, Response):
            return opened(start_response)
        opened.session.start()
        response = self._payload_response(request, [opened.open_packet])
        cookie = self.host.options.cookie
        if cookie is not None:
            response.headers.append(cookie.header(opened.session.sid))
        return response(start_response)

    def handle(
        self, request: Request, session: Session, start_response: StartResponse
    ) -> WSGIResult:
        if request.method == "GET":
            response = self._get(request, session)
        elif request.method == "POST":
            response = self._post(request, session)
        else:
            response = self.host.refuse(request, error_response(ErrorCode.BAD_REQUEST))
        return response(start_response)

    def _get(self, request: Request, session: Session) -> Response:
        options = self.host.options
        mode = self.host.mode
        # A client that gives up its long poll (closed tab, aborted request)
        # ends the session at once, as the reference server does.
        sock = mode.request_socket(request.environ)
        watch = None
        if sock is not None:
            watch = mode.watch_hangup(sock, lambda: session.close(DisconnectReason.TRANSPORT_CLOSE))
        # Short polling (the last rung of the ladder, for networks that cut
        # held requests): wait=0 answers at once, with a noop if nothing waits.
        wait = (
            0.0
            if request.query.get("wait") == "0"
            else options.ping_interval + options.ping_timeout
        )
        try:
            packets = session.poll(wait=wait)
        except DuplicateRequestError:
            return self.host.reject(
                request,
                session,
                DisconnectReason.TRANSPORT_ERROR,
                "a second GET arrived while one was waiting (clients must poll one at a time)",
                error_response(ErrorCode.BAD_REQUEST),
            )
        finally:
            if watch is not None:
                watch.cancel()
        return self._payload_response(request, packets)

    def _post(self, request: Request, session: Session) -> Response:
        return receive_post(self.host, request, session)

    def _payload_response(self, request: Request, packets: list[Packet]) -> Response:
        options = self.host.options
        body = encode_payload(packets).encode("utf-8")
        response = Response(
            "200 OK", body, [TEXT_PLAIN, NO_CACHE, *self.host.response_headers(request)]
        )
        if options.http_compression:
            response.compress(request.header("Accept-Encoding"), options.compression_threshold)
        return response
