"""Web Push on the Flask extension (docs/push.md).

``SocketIO(app, web_push={"private_key": ..., "subject": ...})`` gives each
app's server a :class:`~realtime.push.WebPush`; the extension reaches the
current app's as :attr:`~ExtensionWebPushAPI.push`. Inside a handler,
:meth:`~ExtensionWebPushAPI.set_user` ties the client that sent the event (or
connected) to a user, as ``join_room`` does without a sid.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from realtime.exceptions import ConfigurationError
from realtime.flask_integration.context import current_socket

if TYPE_CHECKING:
    from flask import Flask

    from realtime.flask_integration.server_api import Install
    from realtime.push import Message, WebPush
    from realtime.push.webpush import Urgency
    from realtime.socketio.server import Server
    from realtime.socketio.web_push import FallbackHandler

__all__ = ["ExtensionWebPushAPI"]


class ExtensionWebPushAPI:
    """Web Push, as the Flask extension offers it."""

    _server_installs: list[Install]

    if TYPE_CHECKING:

        @property
        def server(self) -> Server: ...
        def installations(self) -> list[tuple[Flask, Server]]: ...
        def _install(self, install: Install) -> None: ...

    @property
    def push(self) -> WebPush:
        """The current app's :class:`~realtime.push.WebPush` (the ``web_push`` option).

        Raises:
            ConfigurationError: no ``web_push`` option, or no app yet.
        """
        return self.server.push

    def set_user(self, user: str, sid: str | None = None, namespace: str | None = None) -> None:
        """Tie the client of the running handler (or ``sid``) to ``user``.

        It joins the user's room (``user:<user>``): :meth:`emit_to_user`
        reaches it, and its browser's ``io.push.subscribe(socket)`` subscribes
        this user.
        """
        socket = current_socket()
        if sid is None:
            if socket is None:
                raise ConfigurationError("set_user() outside a Socket.IO handler needs sid=")
            sid = socket.sid
        if namespace is None:
            namespace = socket.namespace if socket is not None else "/"
        self.server.set_user(sid, user, namespace)

    def user_of(self, sid: str | None = None, namespace: str | None = None) -> str | None:
        """The user the running handler's client (or ``sid``) was tied to, or None."""
        socket = current_socket()
        if sid is None:
            if socket is None:
                raise ConfigurationError("user_of() outside a Socket.IO handler needs sid=")
            sid = socket.sid
        if namespace is None:
            namespace = socket.namespace if socket is not None else "/"
        return self.server.user_of(sid, namespace)

    def emit_to_user(
        self,
        user: str,
        event: str,
        data: Any = None,
        namespace: str | None = None,
        push: Message | bool | None = None,
        ttl: int = 3600,
        urgency: Urgency = "normal",
        delay: float | None = None,
    ) -> bool:
        """Emit to every connection of ``user``; a push when none is live.

        See :meth:`realtime.Server.emit_to_user`.
        """
        return self.server.emit_to_user(user, event, data, namespace, push, ttl, urgency, delay)

    def push_fallback(self, handler: FallbackHandler) -> FallbackHandler:
        """Register ``handler(user, event, data)``, the push for an event nobody got.

        On every app's server, now and later; see
        :meth:`realtime.Server.push_fallback`.
        """
        self._install(lambda server: server.push_fallback(handler))
        return handler
