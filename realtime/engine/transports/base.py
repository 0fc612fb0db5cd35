"""The transport plug-in interface.

A transport maps one kind of HTTP exchange onto a session's packets: it opens
sessions on its kind of request, serves later requests for them, and (for
transports a session can move to) takes a session over from another
transport. The session owns the queue, the heartbeat and the state machine;
the server validates a request and dispatches it here.
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

if TYPE_CHECKING:
    from realtime.async_modes import AsyncMode
    from realtime.engine.forwarding import Forwarder
    from realtime.engine.http import Request, Response
    from realtime.engine.options import EngineOptions
    from realtime.engine.scheduler import Scheduler
    from realtime.engine.session import DisconnectReason, Session
    from realtime.protocol.engineio import Packet

__all__ = ["Opened", "Transport", "TransportHost"]

StartResponse = Callable[..., Any]
WSGIResult = Iterable[bytes]


class Opened:
    """A session the server accepted, and the open packet to send first."""

    __slots__ = ("open_packet", "session")

    def __init__(self, session: Session, open_packet: Packet) -> None:
        self.session = session
        self.open_packet = open_packet


class TransportHost(Protocol):
    """What a transport may ask of the server."""

    mode: AsyncMode
    scheduler: Scheduler
    options: EngineOptions
    logger: logging.Logger

    def open_session(self, request: Request, transport: str) -> Opened | Response:
        """Create a session (running the connect handler); a Response if refused."""

    def response_headers(self, request: Request) -> list[tuple[str, str]]:
        """Headers every response to ``request`` carries (CORS)."""

    def refuse(self, request: Request, response: Response) -> Response:
        """``response``, refusing ``request`` (no session closed, nothing
        logged): with the headers every response carries, and counted by
        its refusal for the monitors."""

    def reject(
        self,
        request: Request,
        session: Session | None,
        reason: DisconnectReason,
        detail: str,
        response: Response,
    ) -> Response:
        """Log bad input once, close ``session`` if given, and return ``response``."""


class Transport(abc.ABC):
    """One way of carrying Engine.IO packets over HTTP.

    Args:
        host: the server the transport serves.
    """

    #: The name clients put in the ``transport`` query parameter.
    name: ClassVar[str]
    #: Transports a session on this one may upgrade to.
    upgrades: ClassVar[tuple[str, ...]] = ()
    #: True when a session can upgrade *to* this transport.
    accepts_upgrades: ClassVar[bool] = False

    def __init__(self, host: TransportHost) -> None:
        self.host = host

    @abc.abstractmethod
    def handshake(self, request: Request, start_response: StartResponse) -> WSGIResult:
        """Open a new session on this transport."""

    @abc.abstractmethod
    def handle(
        self, request: Request, session: Session, start_response: StartResponse
    ) -> WSGIResult:
        """Serve a request for a session that is on this transport."""

    def upgrade(
        self, request: Request, session: Session, start_response: StartResponse
    ) -> WSGIResult:
        """Move ``session`` onto this transport (only if :attr:`accepts_upgrades`)."""
        raise NotImplementedError(f"{self.name} does not accept upgrades")

    def relay(
        self, request: Request, sid: str, forwarder: Forwarder, start_response: StartResponse
    ) -> WSGIResult:
        """Open this transport's connection for a session another process owns.

        The connection stays here; its packets travel to and from the owner.
        """
        raise NotImplementedError(f"{self.name} connections are not relayed")
