"""What handler-side code needs from the extension, as a typed interface.

The helpers (``emit``, ``join_room``...) find the extension through
:func:`~realtime.flask_integration.context.current_extension`, and a
class-based :class:`~realtime.flask_integration.Namespace` is given it when
registered. Both use it through :class:`HandlerExtension`, which
:class:`~realtime.flask_integration.Realtime` implements, so that no module
below the extension imports it: the extension depends on them, not the
other way round.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from realtime.socketio.server import Server as SocketIOServer

__all__ = ["HandlerExtension", "Target"]

#: A recipient: a client's sid, a room, or several of them.
Target = str | list[str] | tuple[str, ...] | None


class HandlerExtension(Protocol):
    """The extension as the helpers and class-based namespaces call it.

    The methods are those of :class:`~realtime.flask_integration.Realtime`,
    with the arguments these callers pass.
    """

    @property
    def server(self) -> SocketIOServer:
        """The Socket.IO server of the current app."""
        ...

    def emit(
        self,
        event: str,
        *args: Any,
        namespace: str | None = None,
        to: Target = None,
        room: Target = None,
        include_self: bool = True,
        skip_sid: Target = None,
        callback: Callable[..., Any] | None = None,
        ignore_queue: bool = False,
        exclude: Target = None,
        volatile: bool = False,
    ) -> None:
        """Emit an event from the server."""
        ...

    def send(
        self,
        data: Any,
        json: bool = False,
        namespace: str | None = None,
        to: Target = None,
        callback: Callable[..., Any] | None = None,
        include_self: bool = True,
        skip_sid: Target = None,
        *,
        ignore_queue: bool = False,
    ) -> None:
        """Emit ``data`` as a ``message`` (or ``json``) event."""
        ...

    def call(
        self,
        event: str,
        *args: Any,
        namespace: str | None = None,
        to: Target = None,
        timeout: float | None = 60,
        ignore_queue: bool = False,
    ) -> Any:
        """Emit an event and wait for the acknowledgement."""
        ...

    def close_room(
        self, room: str, namespace: str | None = None, ignore_queue: bool = False
    ) -> None:
        """Take every client out of ``room``."""
        ...
