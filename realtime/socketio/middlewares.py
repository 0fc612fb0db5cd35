"""What the application runs around each socket's traffic, besides its handlers.

Four kinds, each registered for a namespace name, or for every namespace
(``"*"``: the function then gets the namespace first, as handlers of many
namespaces do), and run in registration order:

=====================  ==========================================  ==============================
kind                   runs                                         Node's name
=====================  ==========================================  ==============================
connection middleware  when a socket joins, before the connect      ``io.use``,
                       handler: ``fn(sid, environ, auth)``; it may  ``io.of(nsp).use``
                       refuse (:class:`ConnectionRefused`)
event middleware       for each incoming event, before its          ``socket.use``
                       handler: ``fn(sid, event, args)``; it may
                       change the event or refuse it
                       (:class:`~realtime.exceptions.EventRefused`)
incoming listener      for each incoming event, handled or not,     ``socket.onAny``
                       first of all: ``fn(sid, event, *args)``
outgoing listener      for each event sent to a client of this      ``socket.onAnyOutgoing``
                       process: ``fn(sid, event, *args)``
=====================  ==========================================  ==============================

What nobody registered costs nothing but the dispatcher's test of one
boolean per event (:attr:`Middlewares.screening`) or per delivery
(:attr:`Middlewares.watching_outgoing`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from realtime.exceptions import (
    ConfigurationError,
    ConnectionRefused,
    EventRefused,
    PacketDecodeError,
)
from realtime.protocol.socketio import SioPacket, SioPacketType
from realtime.socketio.handlers import CATCH_ALL, HandlerRegistry, fit_arguments, refuse_coroutine

if TYPE_CHECKING:
    from realtime.engine.outgoing import Outgoing
    from realtime.protocol.parsers import Parser

__all__ = ["REJECTED", "Middlewares", "Registered", "refusal_of"]

#: The CONNECT_ERROR message of a refusal that gives none, as the reference server words it.
REJECTED = "Connection rejected by server"

Fn = Callable[..., Any]
#: A function that applies to one namespace, with the arguments that go first.
Registered = tuple[Fn, tuple[Any, ...]]
#: Namespaces whose lists are kept worked out (patterns of many namespaces
#: could otherwise grow it without end).
_CACHED_NAMESPACES = 1024


class _Table:
    """Functions by namespace, in registration order."""

    def __init__(self, what: str) -> None:
        self._what = what
        self._entries: list[tuple[str, Fn]] = []
        self._cache: dict[str, tuple[Registered, ...]] = {}

    def add(self, namespace: str, fn: Fn) -> None:
        if not isinstance(namespace, str):
            raise ConfigurationError(f"a {self._what} serves a namespace name or '*'")
        HandlerRegistry.check(namespace, self._what, fn)
        refuse_coroutine(fn, f"the {self._what}")
        self._entries.append((namespace, fn))
        self._cache = {}

    def __bool__(self) -> bool:
        return bool(self._entries)

    def of(self, namespace: str) -> tuple[Registered, ...]:
        """The functions that apply to ``namespace``, each with its first arguments."""
        found = self._cache.get(namespace)
        if found is None:
            found = tuple(
                (fn, (namespace,) if key == CATCH_ALL else ())
                for key, fn in self._entries
                if key in (namespace, CATCH_ALL)
            )
            if len(self._cache) < _CACHED_NAMESPACES:
                self._cache[namespace] = found
        return found


class Middlewares:
    """The middlewares and listeners of one server.

    Args:
        logger: where what they raise is reported.
        errors_raise: True while what they raise must reach the caller (an
            in-process test client) instead of the log.

    Attributes:
        screening: an event middleware or an incoming listener is registered
            (the dispatcher's one test per event).
        watching_outgoing: an outgoing listener is registered.
    """

    def __init__(self, logger: logging.Logger, errors_raise: Callable[[], bool]) -> None:
        self._logger = logger
        self._errors_raise = errors_raise
        self.connection = _Table("connection middleware")
        self.events = _Table("event middleware")
        self.incoming = _Table("incoming listener")
        self.outgoing = _Table("outgoing listener")
        self.screening = False
        self.watching_outgoing = False
        # The last message decoded for the outgoing listeners: a broadcast
        # hands the same one to each recipient in turn.
        self._last: tuple[Outgoing, SioPacket | None] | None = None

    def add(self, table: _Table, namespace: str, fn: Fn) -> None:
        """Register ``fn`` in ``table`` (one of the four attributes) for ``namespace``.

        Raises:
            ConfigurationError: ``fn`` is not callable, is ``async def``, or
                ``namespace`` is not a name or ``"*"``.
        """
        table.add(namespace, fn)
        self.screening = bool(self.events) or bool(self.incoming)
        self.watching_outgoing = bool(self.outgoing)

    # -- connections ------------------------------------------------------------

    def admit(
        self, namespace: str, sid: str, environ: dict[str, Any], auth: Any
    ) -> tuple[str, Any] | None:
        """Run the connection middlewares of ``namespace``; the refusal
        (message, data) of the first that refuses, else None."""
        for fn, prefix in self.connection.of(namespace):
            try:
                verdict = fn(*prefix, *fit_arguments(fn, (sid, environ, auth), prefix))
            except (ConnectionRefused, ConnectionRefusedError) as exc:
                return refusal_of(exc)
            except Exception:
                if self._errors_raise():
                    raise
                self._logger.exception("error in a connection middleware of %s", namespace)
                return (REJECTED, None)
            if verdict is False:
                return (REJECTED, None)
        return None

    # -- incoming events --------------------------------------------------------

    def screen(
        self, namespace: str, sid: str, event: str, args: list[Any]
    ) -> tuple[str, list[Any]] | EventRefused:
        """Show an incoming event to the listeners, then pass it through the
        event middlewares: the event to handle, changed or not, or the
        refusal of the middleware that refused it.

        A middleware that raises anything else refuses the event too (with
        no acknowledgement), after the error is logged.
        """
        for fn, prefix in self.incoming.of(namespace):
            try:
                fn(*prefix, sid, event, *args)
            except Exception:
                if self._errors_raise():
                    raise
                self._logger.exception("error in an on_any listener of %s", namespace)
        for fn, prefix in self.events.of(namespace):
            try:
                changed = fn(*prefix, sid, event, args)
            except EventRefused as exc:
                return exc
            except Exception:
                if self._errors_raise():
                    raise
                self._logger.exception(
                    "error in an event middleware of %s; event %r refused", namespace, event
                )
                return EventRefused()
            if changed is not None:
                if not _is_event(changed):
                    self._logger.error(
                        "an event middleware of %s returned %r, neither None nor "
                        "(event, args); event %r refused",
                        namespace,
                        changed,
                        event,
                    )
                    return EventRefused()
                event, args = changed[0], list(changed[1])
        return event, args

    # -- outgoing events --------------------------------------------------------

    def delivered(self, namespace: str, sid: str, outgoing: Outgoing, parser: Parser) -> None:
        """A message was handed to client ``sid``: if it is an event, tell
        the outgoing listeners (decoded once for all its recipients)."""
        last = self._last
        if last is not None and last[0] is outgoing:
            packet = last[1]
        else:
            packet = None
            decoder = parser.make_decoder()
            try:
                for part in outgoing.packets:
                    packet = decoder.feed(part.data)
            except PacketDecodeError:
                packet = None
            self._last = (outgoing, packet)
        if packet is not None and packet.type in _EVENTS:
            self.sent(namespace, sid, packet.event_name or "", packet.args)

    def sent(self, namespace: str, sid: str, event: str, args: list[Any]) -> None:
        """An event was handed to client ``sid``: tell the outgoing listeners."""
        for fn, prefix in self.outgoing.of(namespace):
            try:
                fn(*prefix, sid, event, *args)
            except Exception:
                self._logger.exception("error in an on_any_outgoing listener of %s", namespace)


_EVENTS = frozenset({SioPacketType.EVENT, SioPacketType.BINARY_EVENT})


def _is_event(value: Any) -> bool:
    return (
        isinstance(value, tuple)
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], (list, tuple))
    )


def refusal_of(exc: Exception) -> tuple[str, Any]:
    """The (message, data) a CONNECT_ERROR carries for a refusal raised as ``exc``."""
    if isinstance(exc, ConnectionRefused):
        return (exc.message or REJECTED, exc.data)
    # The builtin ConnectionRefusedError: (message), (message, data), or
    # (message, *data), which python-socketio sends as a list.
    args = exc.args
    if not args:
        return (REJECTED, None)
    if len(args) > 2:
        return (str(args[0]), list(args[1:]))
    return (str(args[0]), args[1] if len(args) > 1 else None)
