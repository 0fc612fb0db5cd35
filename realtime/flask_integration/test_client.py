"""A Socket.IO test client for Flask apps, as Flask-SocketIO's ``SocketIOTestClient``.

It drives :class:`realtime.socketio.testing.LocalClient`: packets are encoded,
decoded and dispatched by the same code as for a remote client, over an
in-process Engine.IO session, and handlers run on the calling thread, so
what they emit is there to read as soon as a call returns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from werkzeug.test import EnvironBuilder

from realtime.socketio.testing import LocalClient

if TYPE_CHECKING:
    from flask import Flask
    from flask.testing import FlaskClient

    from realtime.socketio.server import Server

__all__ = ["AppServers", "RealtimeTestClient", "SocketIOTestClient"]


class AppServers(Protocol):
    """What a test client needs from its extension: the server of its app."""

    def server_for(self, app: Flask) -> Server:
        """The Socket.IO server serving ``app``."""
        ...


class RealtimeTestClient:
    """An in-process client of a Flask app's Socket.IO server.

    Args:
        app: the Flask app.
        socketio: its :class:`~realtime.flask_integration.Realtime` extension.
        namespace: the namespace to connect to at once (default ``"/"``).
        query_string: the query string of the connection request
            (``request.args`` in handlers), with or without the ``?``.
        headers: headers of the connection request.
        auth: the auth payload the connect handler gets.
        flask_test_client: a Flask test client whose cookies (the Flask
            session among them) the connection request carries.

    Attributes:
        app: the Flask app.
        socketio: the extension.
        flask_test_client: as given.
    """

    def __init__(
        self,
        app: Flask,
        socketio: AppServers,
        namespace: str | None = None,
        query_string: str | None = None,
        headers: dict[str, str] | None = None,
        auth: Any = None,
        flask_test_client: FlaskClient | None = None,
    ) -> None:
        self.app = app
        self.socketio = socketio
        self.flask_test_client = flask_test_client
        self._server = socketio.server_for(app)
        self._clients: dict[str, LocalClient] = {}
        self._first: LocalClient | None = None
        self.connect(namespace, query_string=query_string, headers=headers, auth=auth)

    @property
    def eio_sid(self) -> str | None:
        """The Engine.IO session id of the client's connection (None when closed)."""
        return self._first.eio_sid if self._first is not None else None

    def get_sid(self, namespace: str | None = None) -> str | None:
        """The client's Socket.IO sid in ``namespace`` (``request.sid`` there)."""
        client = self._clients.get(namespace or "/")
        return client.sid(namespace or "/") if client is not None else None

    def is_connected(self, namespace: str | None = None) -> bool:
        """True while connected to ``namespace`` (default ``"/"``)."""
        namespace = namespace or "/"
        client = self._clients.get(namespace)
        return client is not None and client.is_connected(namespace)

    def connect(
        self,
        namespace: str | None = None,
        query_string: str | None = None,
        headers: dict[str, str] | None = None,
        auth: Any = None,
    ) -> None:
        """Connect to ``namespace``; :meth:`is_connected` tells whether it was accepted.

        Namespaces share the client's connection, as with a real client.
        A ``query_string`` or ``headers`` different from the connection's
        need a connection request of their own, so they open another.
        """
        namespace = namespace or "/"
        client = self._first
        if client is None or not client.connected or query_string or headers:
            client = LocalClient(self._server, self._environ(query_string, headers), namespace=None)
            if self._first is None or not self._first.connected:
                self._first = client
        self._clients[namespace] = client
        if not client.connect(namespace, auth) and client.connected and not client.namespaces:
            client.disconnect()  # refused: the connection has nothing left to carry

    def disconnect(self, namespace: str | None = None) -> None:
        """Leave ``namespace`` (default ``"/"``); the connection closes with its last one.

        Raises:
            RuntimeError: not connected to it.
        """
        namespace = namespace or "/"
        client = self._connected(namespace)
        client.disconnect(namespace)
        del self._clients[namespace]
        if client.connected and not client.namespaces:
            client.disconnect()

    def emit(
        self,
        event: str,
        *args: Any,
        callback: bool = False,
        namespace: str | None = None,
        broadcast: bool = False,
    ) -> Any:
        """Emit an event; with ``callback=True``, return the server's acknowledgement.

        The acknowledgement is the handler's return value (``[]`` when it
        returned None, a list for several values); None when none came.
        ``broadcast`` is accepted for compatibility: a client cannot
        broadcast, its handler decides.

        Raises:
            RuntimeError: not connected to ``namespace``.
            TypeError: an argument the serializer cannot encode.
        """
        namespace = namespace or "/"
        client = self._connected(namespace)
        return client.emit(event, *args, namespace=namespace, callback=callback)

    def send(
        self,
        data: Any,
        json: bool = False,
        callback: bool = False,
        namespace: str | None = None,
    ) -> Any:
        """Send ``data`` as a ``message`` event (``json`` with ``json=True``); see :meth:`emit`."""
        return self.emit(
            "json" if json else "message", data, callback=callback, namespace=namespace
        )

    def get_received(self, namespace: str | None = None) -> list[dict[str, Any]]:
        """The events received from ``namespace`` (default ``"/"``) since the last call.

        Each is ``{"name": ..., "args": [...], "namespace": ...}``; for
        ``message`` and ``json`` events ``args`` is the one value sent, as
        Flask-SocketIO's test client gives it.

        Raises:
            RuntimeError: not connected to ``namespace``.
        """
        namespace = namespace or "/"
        client = self._connected(namespace)
        received = client.get_received(namespace)
        for item in received:
            if item["name"] in ("message", "json"):
                args = item["args"]
                item["args"] = args[0] if len(args) == 1 else (args or None)
        return received

    def _connected(self, namespace: str) -> LocalClient:
        client = self._clients.get(namespace)
        if client is None or not client.is_connected(namespace):
            raise RuntimeError("not connected")
        return client

    def _environ(self, query_string: str | None, headers: dict[str, str] | None) -> dict[str, Any]:
        """The connection request: the server's path, the query, headers and cookies."""
        path = self._server.engine.options.path
        builder = EnvironBuilder(
            path=f"/{path}/" if path else "/",
            query_string=(query_string or "").lstrip("?") or None,
            headers=list((headers or {}).items()),
        )
        try:
            environ: dict[str, Any] = builder.get_environ()
        finally:
            builder.close()
        if self.flask_test_client is not None:
            _add_cookies(self.flask_test_client, self.app, environ)
        return environ


def _add_cookies(client: FlaskClient, app: Flask, environ: dict[str, Any]) -> None:
    """Put the cookies ``client`` holds for this request into ``environ``.

    Werkzeug's test client offers no public way to list its cookies, only to
    read one by name; it adds them to a request with this method, which the
    public fallback (the session cookie alone) stands in for should it go.
    """
    add = getattr(client, "_add_cookies_to_wsgi", None)
    if callable(add):
        add(environ)
        return
    name = app.config["SESSION_COOKIE_NAME"]
    cookie = client.get_cookie(name)
    if cookie is not None:
        environ["HTTP_COOKIE"] = f"{name}={cookie.value}"


#: Flask-SocketIO's name, so ``from flask_socketio.test_client import
#: SocketIOTestClient`` moves over with the one import change.
SocketIOTestClient = RealtimeTestClient
