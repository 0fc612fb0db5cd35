"""The engine's ports to the layer above: each session's opening, messages and
end (:class:`EngineListener`); and, for those who only watch (metrics), the
requests refused and how upgrades ended (:class:`EngineMonitor`).

The engine turns requests and sockets into a stream of messages per session
and hands them to one :class:`EngineListener`. The Socket.IO layer
implements it (its dispatcher); an application that uses the engine on its
own registers functions with :meth:`realtime.engine.Server.on` instead, which
:class:`HandlerListener` adapts to the same port, as python-engineio's API
expects (optional arguments, handlers on worker tasks, per-client dicts).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, Protocol

from realtime.exceptions import ConfigurationError, ConnectionRefused

if TYPE_CHECKING:
    from realtime.engine.http import Refusal
    from realtime.engine.session import Backlogged, DisconnectReason, Session, UpgradeOutcome
    from realtime.protocol.engineio import EngineSid

__all__ = [
    "EVENTS",
    "EngineListener",
    "EngineMonitor",
    "EngineMonitors",
    "EventName",
    "HandlerListener",
]

Handler = Callable[..., Any]
EventName = Literal["connect", "message", "disconnect"]
#: The events :meth:`realtime.engine.Server.on` takes.
EVENTS: tuple[EventName, ...] = ("connect", "message", "disconnect")


class EngineListener(Protocol):
    """What the engine tells the layer above it, for each session, in order."""

    def session_opened(self, sid: EngineSid, environ: dict[str, Any]) -> None:
        """A client opened a session (its handshake request's ``environ``).

        Raises:
            ConnectionRefused: to refuse the client (it gets a 403 with the
                message); the builtin ``ConnectionRefusedError`` works too.
        """

    def message_received(self, sid: EngineSid, data: str | bytes) -> None:
        """A message from the client, on the task that read it, in arrival order."""

    def flow_control(self, sid: EngineSid) -> Backlogged | None:
        """How a transport asks whether the client's messages pile up faster
        than they are handled (None: they never do); asked once per reading
        task, the answer is called after each message passed on.
        """

    def session_closed(self, sid: EngineSid, reason: DisconnectReason) -> None:
        """The session ended; called once, after its last message."""


class EngineMonitor(Protocol):
    """What the engine tells those who watch it, beside its sessions' lives.

    Each call is made on the task where the moment happens: it must be quick
    and must not wait.
    """

    def request_refused(self, refusal: Refusal) -> None:
        """A request got an error answer (a handshake, or a request for a session)."""

    def upgrade_ended(self, transport: str, outcome: UpgradeOutcome) -> None:
        """An upgrade to ``transport`` whose probe began ended so."""


class EngineMonitors:
    """The engine's monitors; false while there are none (what nobody
    watches costs one truthiness test). What a monitor raises is logged."""

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger
        self._all: tuple[EngineMonitor, ...] = ()

    def add(self, monitor: EngineMonitor) -> None:
        self._all = (*self._all, monitor)

    def remove(self, monitor: EngineMonitor) -> None:
        self._all = tuple(m for m in self._all if m is not monitor)

    def __bool__(self) -> bool:
        return bool(self._all)

    def request_refused(self, refusal: Refusal) -> None:
        for monitor in self._all:
            try:
                monitor.request_refused(refusal)
            except Exception:
                self._logger.exception("error in an engine monitor")

    def upgrade_ended(self, transport: str, outcome: UpgradeOutcome) -> None:
        for monitor in self._all:
            try:
                monitor.upgrade_ended(transport, outcome)
            except Exception:
                self._logger.exception("error in an engine monitor")


class HandlerListener:
    """:class:`EngineListener` over the functions registered with ``on()``.

    Args:
        sessions: finds a live session by sid (for its serial executor).
        async_handlers: run the message and disconnect handlers on the
            session's serial executor instead of the reading task.
        logger: where handler exceptions are logged.
    """

    def __init__(
        self,
        sessions: Callable[[EngineSid], Session | None],
        async_handlers: bool,
        logger: logging.Logger,
    ) -> None:
        self._sessions = sessions
        self._async = async_handlers
        self._logger = logger
        self._handlers: dict[str, Handler] = {}
        self._disconnect_takes_reason = True
        #: python-engineio's per-client dicts, from connect until disconnect returns.
        self.user_sessions: dict[EngineSid, dict[str, Any]] = {}

    def register(self, event: str, handler: Handler) -> None:
        """Use ``handler`` for ``event``.

        Raises:
            ConfigurationError: an event the engine does not have.
        """
        if event not in EVENTS:
            raise ConfigurationError(f"unknown event {event!r}; use one of {', '.join(EVENTS)}")
        self._handlers[event] = handler
        if event == "disconnect":
            self._disconnect_takes_reason = _accepts_positional(handler, 2)

    def session_opened(self, sid: EngineSid, environ: dict[str, Any]) -> None:
        self.user_sessions[sid] = {}
        handler = self._handlers.get("connect")
        if handler is None:
            return
        try:
            accepted = handler(sid, environ)
        except BaseException:
            self.user_sessions.pop(sid, None)
            raise
        if accepted is False:
            self.user_sessions.pop(sid, None)
            raise ConnectionRefused()

    def message_received(self, sid: EngineSid, data: str | bytes) -> None:
        handler = self._handlers.get("message")
        if handler is None:
            return
        session = self._sessions(sid) if self._async else None
        if session is not None:
            session.executor.submit(self._call, handler, sid, data)
        else:
            self._call(handler, sid, data)

    def flow_control(self, sid: EngineSid) -> Backlogged | None:
        # With async handlers a client's messages wait on its session's
        # executor, which says when too many do; without, the reading task
        # runs each handler itself and reads nothing meanwhile.
        session = self._sessions(sid) if self._async else None
        return None if session is None else session.executor.backlogged

    def session_closed(self, sid: EngineSid, reason: DisconnectReason) -> None:
        handler = self._handlers.get("disconnect")
        if handler is None:
            self.user_sessions.pop(sid, None)
            return
        args: tuple[Any, ...] = (sid, reason) if self._disconnect_takes_reason else (sid,)
        session = self._sessions(sid) if self._async else None
        if session is not None:
            session.executor.submit(self._call_disconnect, handler, sid, args)
        else:
            self._call_disconnect(handler, sid, args)

    def _call(self, handler: Handler, *args: Any) -> None:
        try:
            handler(*args)
        except Exception:
            self._logger.exception("error in the %s handler", getattr(handler, "__name__", "?"))

    def _call_disconnect(self, handler: Handler, sid: EngineSid, args: tuple[Any, ...]) -> None:
        try:
            self._call(handler, *args)
        finally:
            self.user_sessions.pop(sid, None)


def _accepts_positional(fn: Callable[..., Any], count: int) -> bool:
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return True
    try:
        signature.bind(*range(count))
    except TypeError:
        return False
    return True
