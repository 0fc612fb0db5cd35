"""Operations on the Flask extension: the Socket.IO Admin UI (docs/operations.md).

``socketio.instrument(auth=...)`` instruments the server of every app the
extension is installed on, now and later, as
:meth:`realtime.Server.instrument` does for one server (Flask-SocketIO
users wrote ``socketio.server.instrument(...)``, which works too).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from realtime.socketio.admin import AdminAuth, InstrumentedServer

if TYPE_CHECKING:
    from flask import Flask

    from realtime.flask_integration.server_api import Install
    from realtime.socketio.server import Server

__all__ = ["ExtensionOperationsAPI"]


class ExtensionOperationsAPI:
    """The Admin UI, as the Flask extension offers it."""

    _server_installs: list[Install]

    if TYPE_CHECKING:

        def installations(self) -> list[tuple[Flask, Server]]: ...
        def _install(self, install: Install) -> None: ...

    def instrument(
        self,
        auth: AdminAuth | None = None,
        mode: str = "development",
        read_only: bool = False,
        server_id: str | None = None,
        namespace: str = "/admin",
        server_stats_interval: float = 2,
    ) -> InstrumentedServer | None:
        """Let the Socket.IO Admin UI watch the server of each app (see
        :meth:`realtime.Server.instrument` for the arguments).

        Returns:
            the instrumented server of the app installed last, or None when
            the extension is not installed on an app yet (each app's server
            is instrumented when it is).

        Raises:
            ConfigurationError: an argument cannot work (``auth`` not given...).
        """

        def install(server: Server) -> InstrumentedServer:
            return server.instrument(
                auth=auth,
                mode=mode,
                read_only=read_only,
                server_id=server_id,
                namespace=namespace,
                server_stats_interval=server_stats_interval,
            )

        # Checked now, with no server: a bad argument fails at this call.
        InstrumentedServer.check(auth, mode, namespace, server_stats_interval)
        self._install(install)
        installed = self.installations()
        return installed[-1][1]._admin if installed else None
