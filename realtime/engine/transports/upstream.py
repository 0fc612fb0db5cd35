"""Client-to-server packets over POST, shared by every HTTP transport.

Long polling, SSE and HTTP streaming all carry upstream packets the same way:
a POST whose body is a polling payload, answered ``ok``.

Spec: engine.io-protocol v4, "HTTP long-polling / Sending data".
"""

from __future__ import annotations

from collections.abc import Callable

from realtime.async_modes.base import peer_gone
from realtime.engine.http import NO_CACHE, TEXT_PLAIN, Refusal, Request, Response, error_response
from realtime.engine.session import DisconnectReason, DuplicateRequestError, Session
from realtime.engine.transports.base import TransportHost
from realtime.exceptions import PacketDecodeError
from realtime.protocol.engineio import ErrorCode, Packet, decode_payload

__all__ = ["POST_HOLD", "client_left", "receive_post"]


def receive_post(
    host: TransportHost,
    request: Request,
    session: Session,
    deliver: Callable[[Packet], None] | None = None,
) -> Response:
    """Read a POSTed payload and hand its packets, in order, to ``deliver``.

    ``deliver`` defaults to the session itself, and the POST then takes the
    session's one POST slot: a second POST while one is in progress would
    let packets overtake each other. An upgrade being probed over POST passes
    its own ``deliver``; its ``2probe`` and ``5`` belong to the probe, not to
    the session's packet stream, so they may overlap a POST of the transport
    the session is still on (the client is not told to wait for it, exactly
    as with a WebSocket probe). Bad input closes the session and is answered
    with the error the protocol names.
    """
    if deliver is not None:
        return _receive(host, request, session, deliver)
    try:
        session.begin_post()
    except DuplicateRequestError:
        return host.reject(
            request,
            session,
            DisconnectReason.TRANSPORT_ERROR,
            "a second POST arrived while one was in progress",
            error_response(ErrorCode.BAD_REQUEST),
        )
    try:
        response = _receive(host, request, session, session.receive)
        _hold_while_backlogged(host, session)
        return response
    finally:
        session.end_post()


#: Longest a POST's answer waits for the client's handlers to catch up
#: (python-engineio's client gives a request 5 s).
POST_HOLD = 4.0


def _hold_while_backlogged(host: TransportHost, session: Session) -> None:
    """Answer no sooner than the client's handlers caught up (within
    :data:`POST_HOLD`): its next POST waits for this one's answer, so a
    client that sends faster than its handlers run is held back."""
    backlogged = session.flow_control()
    if backlogged is None:
        return
    caught_up = host.mode.event()
    if backlogged(caught_up.set):
        caught_up.wait(POST_HOLD)


def _receive(
    host: TransportHost, request: Request, session: Session, deliver: Callable[[Packet], None]
) -> Response:
    packets = _read_packets(host, request, session)
    if isinstance(packets, Response):
        return packets
    for packet in packets:
        deliver(packet)
    return Response("200 OK", b"ok", [TEXT_PLAIN, NO_CACHE, *host.response_headers(request)])


def client_left(host: TransportHost, request: Request, exc: Exception) -> bool:
    """Whether reading ``request``'s body failed with ``exc`` because the client went away.

    A reset says so itself; a body that ended early (the servers raise
    OSError or ValueError) does when the client's socket has closed too. A
    timeout never does.
    """
    if isinstance(exc, TimeoutError):
        return False
    return peer_gone(exc) or host.mode.client_left(request.environ)


def _read_packets(
    host: TransportHost, request: Request, session: Session
) -> list[Packet] | Response:
    limit = host.options.max_http_buffer_size
    try:
        with host.mode.deadline(host.options.ping_timeout + host.options.ping_interval):
            body = request.read_body(limit)
    except (OSError, TimeoutError, ValueError) as exc:
        if client_left(host, request, exc):
            # The client went away mid-body: no one to warn, no one to answer.
            host.logger.debug(
                "closing session %s: the client went away during its POST (%s: %s)",
                session.sid,
                type(exc).__name__,
                exc,
            )
            session.close(DisconnectReason.TRANSPORT_ERROR)
            return error_response(ErrorCode.BAD_REQUEST)
        return host.reject(
            request,
            session,
            DisconnectReason.TRANSPORT_ERROR,
            "the request body did not arrive in time or was cut short "
            f"({type(exc).__name__}: {exc})",
            error_response(ErrorCode.BAD_REQUEST),
        )
    if body is None:
        return host.reject(
            request,
            session,
            DisconnectReason.TRANSPORT_ERROR,
            f"the request body is larger than max_http_buffer_size ({limit} bytes)",
            Response("413 Payload Too Large", b"", [NO_CACHE], Refusal.PAYLOAD_TOO_LARGE),
        )
    try:
        return decode_payload(body.decode("utf-8"))
    except (UnicodeDecodeError, PacketDecodeError) as exc:
        return host.reject(
            request,
            session,
            DisconnectReason.TRANSPORT_ERROR,
            f"invalid payload ({exc})",
            error_response(ErrorCode.BAD_REQUEST),
        )
