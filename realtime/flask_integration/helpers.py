"""Functions for handlers: ``emit``, ``send``, ``join_room``... as in Flask-SocketIO.

Inside a Socket.IO handler they act for the client whose handler runs
(``request.sid``) in its namespace (``request.namespace``) unless told
otherwise: ``emit("x")`` answers the sender alone, ``emit("x", to=room)``
or ``broadcast=True`` reach more. Elsewhere (a view, a task with an app
context) they need the recipient spelled out, and default to the namespace
``"/"``. They find the extension as ``current_app.extensions["socketio"]``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from realtime.exceptions import ConfigurationError
from realtime.flask_integration.context import SocketContext, current_extension, current_socket
from realtime.flask_integration.interfaces import Target

__all__ = [
    "call",
    "close_room",
    "disconnect",
    "emit",
    "join_room",
    "leave_room",
    "rooms",
    "send",
]


def emit(
    event: str,
    *args: Any,
    namespace: str | None = None,
    to: Target = None,
    room: Target = None,
    broadcast: bool = False,
    include_self: bool = True,
    skip_sid: Target = None,
    callback: Callable[..., Any] | None = None,
    ignore_queue: bool = False,
    exclude: Target = None,
    volatile: bool = False,
) -> None:
    """Emit an event: to the sender of the current event, unless told otherwise.

    Args:
        event: the event name.
        *args: its arguments (none, one, or several).
        namespace: default: the current event's, else ``"/"``.
        to: a sid, a room, or a list of either (``room`` is an alias).
        broadcast: True sends to every client of the namespace (when ``to``
            is not given).
        include_self: False leaves out the sender.
        skip_sid: a sid, or a list, that must not receive it.
        callback: called with the client's acknowledgement, in the sender's
            contexts.
        ignore_queue: to this process's clients only, leaving out the
            message queue (and the recovery log), as in Flask-SocketIO.
        exclude: rooms or sids whose members must not receive it, on any
            process (Node's ``except``).
        volatile: dropped for a client that cannot take it at once, never
            queued (Node's ``volatile``).

    Raises:
        ConfigurationError: outside a Socket.IO handler with no ``to`` and
            no ``broadcast``: there is no sender to answer.
    """
    socket = current_socket()
    current_extension().emit(
        event,
        *args,
        namespace=_namespace(namespace, socket),
        to=_recipient(to if to is not None else room, broadcast, socket, "emit"),
        include_self=include_self,
        skip_sid=skip_sid,
        callback=callback,
        ignore_queue=ignore_queue,
        exclude=exclude,
        volatile=volatile,
    )


def send(
    message: Any,
    json: bool = False,
    namespace: str | None = None,
    to: Target = None,
    room: Target = None,
    broadcast: bool = False,
    include_self: bool = True,
    skip_sid: Target = None,
    callback: Callable[..., Any] | None = None,
    ignore_queue: bool = False,
) -> None:
    """Send ``message`` as a ``message`` event (``json`` event with ``json=True``).

    Recipients as for :func:`emit`.
    """
    socket = current_socket()
    current_extension().send(
        message,
        json=json,
        namespace=_namespace(namespace, socket),
        to=_recipient(to if to is not None else room, broadcast, socket, "send"),
        include_self=include_self,
        skip_sid=skip_sid,
        callback=callback,
        ignore_queue=ignore_queue,
    )


def call(
    event: str,
    *args: Any,
    namespace: str | None = None,
    to: Target = None,
    room: Target = None,
    timeout: float | None = 60,
    ignore_queue: bool = False,
) -> Any:
    """Emit an event to the sender (or ``to``) and wait for its acknowledgement.

    Returns what :meth:`Realtime.call <realtime.flask_integration.Realtime.call>`
    returns.

    Raises:
        AckTimeout: no answer within ``timeout`` seconds (a TimeoutError).
    """
    socket = current_socket()
    return current_extension().call(
        event,
        *args,
        namespace=_namespace(namespace, socket),
        to=_recipient(to if to is not None else room, False, socket, "call"),
        timeout=timeout,
        ignore_queue=ignore_queue,
    )


def join_room(room: str, sid: str | None = None, namespace: str | None = None) -> None:
    """Put the sender (or ``sid``) in ``room`` of the current namespace."""
    socket = current_socket()
    current_extension().server.enter_room(
        _sid(sid, socket, "join_room"), room, _namespace(namespace, socket)
    )


def leave_room(room: str, sid: str | None = None, namespace: str | None = None) -> None:
    """Take the sender (or ``sid``) out of ``room`` of the current namespace."""
    socket = current_socket()
    current_extension().server.leave_room(
        _sid(sid, socket, "leave_room"), room, _namespace(namespace, socket)
    )


def close_room(room: str, namespace: str | None = None) -> None:
    """Take every client out of ``room`` of the current namespace."""
    current_extension().close_room(room, _namespace(namespace, current_socket()))


def rooms(sid: str | None = None, namespace: str | None = None) -> list[str]:
    """The rooms the sender (or ``sid``) is in, its own sid first."""
    socket = current_socket()
    return current_extension().server.rooms(
        _sid(sid, socket, "rooms"), _namespace(namespace, socket)
    )


def disconnect(sid: str | None = None, namespace: str | None = None, silent: bool = False) -> None:
    """Disconnect the sender (or ``sid``) from the current namespace.

    ``silent`` is accepted for Flask-SocketIO compatibility and does nothing.
    """
    socket = current_socket()
    current_extension().server.disconnect(
        _sid(sid, socket, "disconnect"), _namespace(namespace, socket)
    )


def _namespace(namespace: str | None, socket: SocketContext | None) -> str:
    if namespace:
        return namespace
    return socket.namespace if socket is not None else "/"


def _recipient(to: Target, broadcast: bool, socket: SocketContext | None, name: str) -> Target:
    if to is not None or broadcast:
        return to
    if socket is None:
        raise ConfigurationError(
            f"{name}() outside a Socket.IO handler has no sender to answer: "
            "pass to= (a sid or a room) or broadcast=True"
        )
    return socket.sid


def _sid(sid: str | None, socket: SocketContext | None, name: str) -> str:
    if sid is not None:
        return sid
    if socket is None:
        raise ConfigurationError(f"{name}() outside a Socket.IO handler needs sid=")
    return socket.sid
