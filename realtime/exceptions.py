"""Exceptions raised by realtime.

All of them derive from :class:`RealtimeError`::

    RealtimeError
    ├── ProtocolError          the peer sent something the protocol forbids
    │   └── PacketDecodeError  bytes that do not decode to a packet
    ├── ConnectionRefused      raised by a connect handler to refuse a client
    ├── EventRefused           raised by an event middleware to refuse an event
    ├── AckTimeout             no acknowledgement in time (also a TimeoutError)
    ├── ProcessesTimeout       other server processes did not answer in time (also a TimeoutError)
    ├── BrokerUnavailable      the message broker cannot be reached
    └── ConfigurationError     an option that cannot work (also a ValueError)

"The peer sent garbage" errors (:class:`ProtocolError`) close the one session
they came from. "You misused the API" errors (:class:`ConfigurationError`) are
raised to the caller at once.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AckTimeout",
    "BrokerUnavailable",
    "ConfigurationError",
    "ConnectionRefused",
    "PacketDecodeError",
    "ProcessesTimeout",
    "ProtocolError",
    "RealtimeError",
]


class RealtimeError(Exception):
    """Root of every exception raised by realtime."""


class ProtocolError(RealtimeError):
    """The peer sent something the protocol forbids.

    Attributes:
        reason: what was wrong, in a few words.
        data: a short excerpt of the offending input, for the log.
    """

    def __init__(self, reason: str, data: str | bytes | None = None) -> None:
        self.reason = reason
        self.data = _excerpt(data) if data is not None else None
        super().__init__(reason if data is None else f"{reason}: {self.data}")


class PacketDecodeError(ProtocolError):
    """Input that does not decode to a packet."""


class ConnectionRefused(RealtimeError):
    """Raised by a connect handler to refuse the connection.

    Args:
        message: the reason given to the client.
        data: optional extra data for the client (Socket.IO sends it in the
            ``CONNECT_ERROR`` packet). More than one value after the message
            travels as a list, as python-socketio sends them.

    Attributes:
        error_args: ``{"message": ..., "data": ...}`` as the client gets
            them (python-socketio's attribute).
    """

    def __init__(self, message: str | None = None, data: Any = None, *more: Any) -> None:
        self.message = message
        self.data = [data, *more] if more else data
        super().__init__(message or "connection refused")

    @property
    def error_args(self) -> dict[str, Any]:
        """The refusal as the client gets it (python-socketio's ``error_args``)."""
        args: dict[str, Any] = {"message": self.message or "Connection rejected by server"}
        if self.data is not None:
            args["data"] = self.data
        return args


class EventRefused(RealtimeError):
    """Raised by an event middleware to refuse an event: no handler runs.

    Args:
        *answer: the arguments of the acknowledgement the client gets, if it
            asked for one (an error value of the application's choosing,
            ``{"error": "forbidden"}`` say). With none, no acknowledgement
            is sent (as Node's server does), and the client's own timeout
            tells it.

    Attributes:
        answer: the acknowledgement's arguments, as a list.
    """

    def __init__(self, *answer: Any) -> None:
        self.answer = list(answer)
        super().__init__("event refused")


class AckTimeout(RealtimeError, TimeoutError):
    """A client did not acknowledge an event in time, or left before it did.

    Attributes:
        sid: the client's Socket.IO session id.
        namespace: the namespace of the event.
        timeout: the seconds that were allowed.
        disconnected: True when the client disconnected instead of answering.
    """

    def __init__(
        self, sid: str, namespace: str, timeout: float | None, *, disconnected: bool = False
    ) -> None:
        self.sid = sid
        self.namespace = namespace
        self.timeout = timeout
        self.disconnected = disconnected
        if disconnected:
            message = f"client {sid} disconnected before acknowledging"
        else:
            message = f"client {sid} did not acknowledge within {timeout} s"
        super().__init__(message)


class ProcessesTimeout(RealtimeError, TimeoutError):
    """Other server processes of the deployment did not all answer in time
    (``fetch_sockets``, ``server_side_emit`` with a timeout...).

    Attributes:
        what: what was asked.
        missing: the processes (node ids) known to have been asked that did
            not answer; may be empty when the broker could only count them.
        expected: how many processes were asked, if known.
        answered: how many answered in time.
        partial: what came back in time (what the call would have returned).
    """

    def __init__(
        self, what: str, missing: list[str], expected: int | None, answered: int, partial: Any
    ) -> None:
        self.what = what
        self.missing = missing
        self.expected = expected
        self.answered = answered
        self.partial = partial
        of = f" of {expected}" if expected is not None else ""
        detail = f"; no answer from {', '.join(missing)}" if missing else ""
        super().__init__(f"{what}: {answered}{of} other processes answered in time{detail}")


class BrokerUnavailable(RealtimeError):
    """The message broker (Redis, RabbitMQ) cannot be reached right now.

    The server keeps serving the clients it holds; messages for other
    processes are lost until the broker is back.
    """


class ConfigurationError(RealtimeError, ValueError):
    """An option or argument that cannot work."""


def _excerpt(data: str | bytes, limit: int = 60) -> str:
    text = repr(data[:limit])
    return text + "..." if len(data) > limit else text
