"""The Flask extension: :class:`Realtime`, a drop-in for Flask-SocketIO's ``SocketIO``.

It keeps Flask's extension contract: ``Realtime(app)`` or ``Realtime()`` then
``init_app(app)``, registered as ``app.extensions["socketio"]``. Each app it is
installed on gets its own :class:`realtime.Server`, put in front of the app's
``wsgi_app``: requests under the Socket.IO path go to the server, the rest
to the app. Handlers registered on the extension serve every such app, and
each call runs in the app and request context of the connection it belongs
to (see :mod:`realtime.flask_integration.context`).

Contract: https://flask.palletsprojects.com/en/stable/extensiondev/ ;
behaviour: Flask-SocketIO 5's API, https://flask-socketio.readthedocs.io/en/latest/api.html
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, overload

from flask import current_app, has_app_context

from realtime.engine import DisconnectReason
from realtime.exceptions import ConfigurationError
from realtime.flask_integration.context import EXTENSION_KEY, SocketContext, current_socket
from realtime.flask_integration.dispatch import Dispatcher, check_coroutines, is_coroutine_function
from realtime.flask_integration.interfaces import Target
from realtime.flask_integration.namespace import Namespace
from realtime.flask_integration.operations_api import ExtensionOperationsAPI
from realtime.flask_integration.options import (
    DEFAULT_CHANNEL,
    check_message_queue,
    server_arguments,
)
from realtime.flask_integration.push_api import ExtensionWebPushAPI
from realtime.flask_integration.running import Runner
from realtime.flask_integration.server_api import ExtensionSocket4API, Install
from realtime.flask_integration.test_client import RealtimeTestClient
from realtime.socketio.emitter import Emitter
from realtime.socketio.handlers import HandlerRegistry, NamespaceKey
from realtime.socketio.managers.emit_args import as_exclude
from realtime.socketio.server import Server
from realtime.socketio.server import Server as SocketIOServer

if TYPE_CHECKING:
    from flask import Flask
    from flask.testing import FlaskClient

__all__ = ["Realtime", "Target"]

Handler = Callable[..., Any]
H = TypeVar("H", bound=Handler)
ErrorHandler = Callable[[Exception], Any]
E = TypeVar("E", bound=ErrorHandler)


class Realtime(ExtensionSocket4API, ExtensionWebPushAPI, ExtensionOperationsAPI):
    """Socket.IO for a Flask app; Flask-SocketIO's ``SocketIO``, and more.

    Besides Flask-SocketIO's API, it has Node's socket.io 4 server tools
    (middlewares, ``on_any``...: see
    :class:`~realtime.flask_integration.server_api.ExtensionSocket4API`),
    and Web Push with the ``web_push`` option (``push``, ``set_user``,
    ``emit_to_user``: see
    :class:`~realtime.flask_integration.push_api.ExtensionWebPushAPI`).

    Args:
        app: the Flask app, or None to call :meth:`init_app` later (app
            factories).
        **options: Flask-SocketIO's options, with their meanings:
            ``manage_session`` (default True: handlers of a connection share
            a copy of the Flask session; False: they use Flask's session
            interface, which shares server-side sessions with the HTTP
            routes), ``message_queue`` (a broker URL: every process with the
            same URL and ``channel`` serves the same clients; with no app,
            :meth:`emit` publishes to those processes), ``channel``,
            ``path`` (default ``"socket.io"``; ``resource`` is an alias),
            ``async_mode``, ``ping_interval`` and ``ping_timeout`` (seconds),
            ``max_http_buffer_size``, ``cors_allowed_origins``,
            ``cors_credentials``, ``cookie``, ``transports``,
            ``allow_upgrades``, ``http_compression``,
            ``compression_threshold``, ``always_connect``, ``async_handlers``,
            ``json`` (a module with ``dumps`` and ``loads``; ``flask.json``
            uses the app's JSON provider), ``logger``, ``engineio_logger``,
            ``client_manager``, ``monitor_clients`` (ignored); and every other
            option of :class:`realtime.Server` and :class:`realtime.engine.Server`
            (``namespaces``, ``serializer``, ``ack_timeout``,
            ``connect_timeout``, ``websocket_compression``...).

    Attributes:
        server_options: the options given so far (they accumulate across
            the constructor and :meth:`init_app` calls).
        manage_session: see the option; may be changed at any time.
        channel: the ``channel`` option: the prefix of the message queue's
            channels (``"flask-socketio"`` by default, as Flask-SocketIO).
        message_queue: the ``message_queue`` option.
        exception_handlers: error handlers by namespace (:meth:`on_error`).
        default_exception_handler: the handler for other namespaces.
        reason: the disconnect reasons
            (:class:`~realtime.engine.DisconnectReason`), compared with what a
            disconnect handler gets: ``reason == rt.reason.CLIENT_DISCONNECT``.
    """

    reason = DisconnectReason

    def __init__(self, app: Flask | None = None, **options: Any) -> None:
        self.server_options: dict[str, Any] = {}
        self.manage_session = True
        self.channel = DEFAULT_CHANNEL
        self.message_queue: str | None = None
        self._emitter: Emitter | None = None
        self.exception_handlers: dict[str, ErrorHandler] = {}
        self.default_exception_handler: ErrorHandler | None = None
        self._handlers: list[tuple[str, Handler, NamespaceKey]] = []
        self._namespaces: list[Namespace] = []
        self._server_installs: list[Install] = []
        # The async def handlers, by name (see check_coroutines).
        self._coroutines: list[str] = []
        self._servers: weakref.WeakKeyDictionary[Flask, Server] = weakref.WeakKeyDictionary()
        self._installed: list[tuple[weakref.ref[Flask], Server]] = []
        self._latest: Server | None = None
        self._runner = Runner()
        self._dispatcher = Dispatcher(self)
        if app is not None or "message_queue" in options:
            self.init_app(app, **options)
        else:
            self.server_options.update(options)

    def init_app(self, app: Flask | None, **options: Any) -> None:
        """Install the extension on ``app`` with the options given so far and these.

        Creates the app's Socket.IO server, registers every handler on it,
        and puts it in front of ``app.wsgi_app``. Calling it again for the
        same app replaces that app's server.

        With no app and a ``message_queue``, the extension is an emitter:
        :meth:`emit` and :meth:`send` publish to the processes that serve
        the clients (a Celery worker, a script), until an app is installed.

        Raises:
            ConfigurationError: an option cannot work (``message_queue``
                that is not a URL, say).
        """
        self.server_options.update(options)
        self.manage_session = bool(self.server_options.pop("manage_session", self.manage_session))
        self.channel = str(self.server_options.pop("channel", self.channel))
        self.message_queue = check_message_queue(
            self.server_options.pop("message_queue", self.message_queue)
        )
        if app is None:
            return
        server = Server(
            message_queue=self.message_queue,
            channel=self.channel,
            **server_arguments(app, self.server_options),
        )
        try:
            check_coroutines(self._coroutines, server.mode.name)
        except ConfigurationError:
            server.shutdown()
            raise
        for event, wrapper, namespace in self._handlers:
            server.on(event, wrapper, namespace)
        for namespace_handler in self._namespaces:
            server.register_namespace(namespace_handler)
        self.install_socket4(server)
        inner = app.wsgi_app
        previous = self._servers.get(app)
        if previous is not None:
            if inner is previous:
                inner = previous.wsgi_app or inner
            previous.shutdown()
        server.wsgi_app = inner
        app.wsgi_app = server  # type: ignore[method-assign]
        app.extensions[EXTENSION_KEY] = self
        self._servers[app] = server
        self._installed = [(weakref.ref(a), srv) for a, srv in self._servers.items()]
        self._latest = server

    # -- the servers ----------------------------------------------------------

    @property
    def server(self) -> SocketIOServer:
        """The Socket.IO server of the current app (or of the last app installed).

        Raises:
            ConfigurationError: the extension is not installed on any app yet.
        """
        if has_app_context():
            app = current_app._get_current_object()  # type: ignore[attr-defined]
            found = self._servers.get(app)
            if found is not None:
                return found
        if self._latest is None:
            raise ConfigurationError(
                "the extension is not installed on an app yet: pass the app to "
                "Realtime(app) or call init_app(app)"
            )
        return self._latest

    def server_for(self, app: Flask) -> SocketIOServer:
        """The Socket.IO server serving ``app``.

        Raises:
            ConfigurationError: the extension is not installed on ``app``.
        """
        server = self._servers.get(app)
        if server is None:
            raise ConfigurationError(f"the extension is not installed on app {app.name!r}")
        return server

    def installations(self) -> list[tuple[Flask, SocketIOServer]]:
        """Each app the extension is installed on, with its Socket.IO server.

        Read for every handler call: kept as a list made when an app is
        installed (apps held weakly, as by the mapping it copies).
        """
        installed = self._installed
        if len(installed) == 1:  # the usual case, kept short
            app_ref, server = installed[0]
            app = app_ref()
            return [] if app is None else [(app, server)]
        found = []
        for app_ref, server in installed:
            app = app_ref()
            if app is not None:
                found.append((app, server))
        return found

    @property
    def async_mode(self) -> str:
        """The async mode of :attr:`server` (``eventlet``, ``gevent`` or ``threading``)."""
        return self.server.async_mode

    # -- registering handlers -------------------------------------------------

    def on(self, message: str, namespace: NamespaceKey | None = None) -> Callable[[H], H]:
        """Register a handler for event ``message`` in ``namespace`` (default ``"/"``).

        Handlers take the event's arguments (no sid: it is ``request.sid``);
        what they return is the acknowledgement. ``connect`` handlers may
        take ``auth`` and refuse by returning False or raising
        :class:`~realtime.flask_integration.ConnectionRefusedError`;
        ``disconnect`` handlers may take the reason. The event ``"*"``
        catches events with no handler (it gets the event name first); the
        namespace ``"*"`` or a compiled pattern serves many namespaces.
        """
        key: NamespaceKey = namespace or "/"

        def decorator(handler: H) -> H:
            # Checked now, not at init_app (async def is fine: the
            # dispatcher runs it as Flask runs async views).
            HandlerRegistry.check(key, message, handler)
            if is_coroutine_function(handler):
                self._add_coroutines([f"the handler for {message!r}"])
            wrapper = self._dispatcher.event_handler(message, handler, key)
            self._handlers.append((message, wrapper, key))
            for server in list(self._servers.values()):
                server.on(message, wrapper, key)
            return handler

        return decorator

    def _add_coroutines(self, names: list[str]) -> None:
        """``async def`` handlers being registered: refused where they cannot run.

        Raises:
            ConfigurationError: see :func:`check_coroutines`.
        """
        if not names:
            return
        for server in list(self._servers.values()):
            check_coroutines(names, server.mode.name)
        self._coroutines += names

    def on_event(
        self, message: str, handler: Handler, namespace: NamespaceKey | None = None
    ) -> None:
        """Register ``handler`` for ``message``: :meth:`on` without the decorator."""
        self.on(message, namespace)(handler)

    @overload
    def event(self, handler: H) -> H: ...
    @overload
    def event(
        self, handler: str | None = None, *, namespace: NamespaceKey | None = None
    ) -> Callable[[H], H]: ...

    def event(
        self, handler: H | str | None = None, *, namespace: NamespaceKey | None = None
    ) -> H | Callable[[H], H]:
        """Register a handler named after its event: ``@rt.event def chat(text)``.

        Also ``@rt.event(namespace="/chat")``, or ``@rt.event("/chat")`` as
        Flask-SocketIO passes the namespace on.
        """
        if isinstance(handler, str):
            namespace, handler = handler, None
        if handler is not None:
            return self.on(handler.__name__, namespace)(handler)

        def decorator(fn: H) -> H:
            return self.on(fn.__name__, namespace)(fn)

        return decorator

    def on_namespace(self, namespace_handler: Namespace) -> None:
        """Serve a namespace with a :class:`~realtime.flask_integration.Namespace` instance.

        Raises:
            ConfigurationError: not such an instance (also a ValueError).
        """
        if not isinstance(namespace_handler, Namespace):
            raise ConfigurationError(
                "on_namespace() needs a realtime.flask_integration.Namespace instance"
            )
        kind = type(namespace_handler)
        self._add_coroutines(
            [
                f"{kind.__name__}.{name}"
                for name in dir(kind)
                if name.startswith("on_") and is_coroutine_function(getattr(kind, name))
            ]
        )
        namespace_handler._set_socketio(self, self._dispatcher)
        self._namespaces.append(namespace_handler)
        for server in list(self._servers.values()):
            server.register_namespace(namespace_handler)

    def on_error(self, namespace: str | None = None) -> Callable[[E], E]:
        """Register the error handler of ``namespace`` (default ``"/"``).

        It is called with the exception a handler of that namespace raised,
        inside the handler's contexts; what it returns is the
        acknowledgement. Without one, the error is logged with its traceback
        and the client stays connected.
        """

        def decorator(handler: E) -> E:
            if not callable(handler):
                raise ConfigurationError("an error handler must be callable")
            self.exception_handlers[namespace or "/"] = handler
            return handler

        return decorator

    def on_error_default(self, exception_handler: E) -> E:
        """Register the error handler of every namespace that has none of its own."""
        if not callable(exception_handler):
            raise ConfigurationError("an error handler must be callable")
        self.default_exception_handler = exception_handler
        return exception_handler

    # -- emitting -------------------------------------------------------------

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
        broadcast: bool = False,
        exclude: Target = None,
        volatile: bool = False,
    ) -> None:
        """Emit an event from the server, from anywhere: views, tasks, handlers.

        Args:
            event: the event name.
            *args: its arguments (none, one, or several; a tuple is several).
            namespace: default ``"/"``.
            to: a client's sid, a room, or a list of either; None for every
                client of the namespace. ``room`` is an alias.
            include_self: False leaves out the client whose handler is
                running, if any.
            skip_sid: a sid, or a list, that must not receive it.
            callback: called with each recipient's acknowledgement; inside a
                handler, it runs in that handler's client's contexts.
            ignore_queue: to this process's clients only, leaving out the
                message queue (and the recovery log), as in Flask-SocketIO.
            broadcast: accepted for compatibility; without ``to``, every
                client gets the event anyway.
            exclude: rooms or sids whose members must not receive it, on
                any process (Node's ``except``).
            volatile: dropped for a client that cannot take it at once,
                never queued (Node's ``volatile``).
        """
        if self._latest is None and self.message_queue is not None:
            if ignore_queue:
                return  # this process serves no client
            if callback is not None:
                raise ConfigurationError(
                    "emit() from a process with no app (an emitter) takes no callback: "
                    "no acknowledgement can come back to it"
                )
            self._emitter_for_queue().emit(
                event,
                _payload(args),
                to=to if to is not None else room,
                # Every process reads what is excluded as rooms (a sid is one).
                skip_sid=[*as_exclude(skip_sid), *as_exclude(exclude)],
                namespace=namespace or "/",
            )
            return
        sender = current_socket()
        skip = _with_sender(skip_sid, sender, include_self)
        if callback is not None and sender is not None:
            callback = self._dispatcher.callback(callback, sender)
        self.server.emit(
            event,
            _payload(args),
            to=to if to is not None else room,
            skip_sid=skip,
            namespace=namespace or "/",
            callback=callback,
            ignore_queue=ignore_queue,
            exclude=exclude,
            volatile=volatile,
        )

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
        room: Target = None,
        ignore_queue: bool = False,
        broadcast: bool = False,
    ) -> None:
        """Emit ``data`` as a ``message`` event (``json`` event with ``json=True``).

        Arguments as for :meth:`emit`.
        """
        self.emit(
            "json" if json else "message",
            data,
            namespace=namespace,
            to=to,
            room=room,
            include_self=include_self,
            skip_sid=skip_sid,
            callback=callback,
            ignore_queue=ignore_queue,
            broadcast=broadcast,
        )

    def call(
        self,
        event: str,
        *args: Any,
        namespace: str | None = None,
        to: Target = None,
        room: Target = None,
        timeout: float | None = 60,
        ignore_queue: bool = False,
    ) -> Any:
        """Emit an event and wait for the acknowledgement.

        To one client's sid: returns its answer (None for none, the value for
        one argument, a tuple for several). To a room: ``{sid: answer}``, a
        client that did not answer in time having an
        :class:`~realtime.AckTimeout` as its answer.

        Raises:
            AckTimeout: the client did not answer within ``timeout`` seconds
                or disconnected first (also a :class:`TimeoutError`).
        """
        return self.server.call(
            event,
            _payload(args),
            to=to if to is not None else room,
            namespace=namespace or "/",
            timeout=timeout,
            ignore_queue=ignore_queue,
        )

    def close_room(
        self, room: str, namespace: str | None = None, ignore_queue: bool = False
    ) -> None:
        """Take every client out of ``room`` in ``namespace`` (default ``"/"``);
        ``ignore_queue``: this process's clients only."""
        if self._latest is None and self.message_queue is not None:
            if not ignore_queue:
                self._emitter_for_queue().close_room(room, namespace or "/")
            return
        self.server.close_room(room, namespace or "/", ignore_queue=ignore_queue)

    def _emitter_for_queue(self) -> Emitter:
        """The emitter of an extension with a message queue and no app."""
        if self._emitter is None:
            assert self.message_queue is not None
            serializer = self.server_options.get("serializer", "default")
            self._emitter = Emitter(
                self.message_queue,
                self.channel,
                serializer=serializer,
                async_mode=self.server_options.get("async_mode"),
            )
        return self._emitter

    # -- tasks ----------------------------------------------------------------

    def start_background_task(self, target: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``target(*args, **kwargs)`` as a task of the async mode; returns it.

        The task has no app context: use ``with app.app_context():`` in it to
        reach ``current_app`` or the ``emit`` helper (or call :meth:`emit`).
        The returned task has ``join()``.
        """
        return self.server.start_background_task(target, *args, **kwargs)

    def sleep(self, seconds: float = 0) -> None:
        """Sleep without blocking the other tasks of the async mode."""
        self.server.sleep(seconds)

    # -- testing and running --------------------------------------------------

    def test_client(
        self,
        app: Flask,
        namespace: str | None = None,
        query_string: str | None = None,
        headers: dict[str, str] | None = None,
        auth: Any = None,
        flask_test_client: FlaskClient | None = None,
    ) -> RealtimeTestClient:
        """An in-process Socket.IO client of ``app``, connected to ``namespace``.

        See :class:`~realtime.flask_integration.RealtimeTestClient`.
        """
        return RealtimeTestClient(
            app,
            self,
            namespace=namespace,
            query_string=query_string,
            headers=headers,
            auth=auth,
            flask_test_client=flask_test_client,
        )

    def run(
        self,
        app: Flask,
        host: str | None = None,
        port: int | None = None,
        *,
        debug: bool | None = None,
        use_reloader: bool | None = None,
        reloader_options: dict[str, Any] | None = None,
        extra_files: list[str] | None = None,
        log_output: bool | None = None,
        allow_unsafe_werkzeug: bool = False,
        **server_options: Any,
    ) -> None:
        """Serve ``app`` on the embedded server of its async mode until stopped.

        Args:
            app: the Flask app.
            host: the interface (default ``127.0.0.1``).
            port: the port (default: the one in ``SERVER_NAME``, else 5000).
            debug: Flask's debug mode (default ``app.debug``): the debugger
                serves the app's errors, and the reloader is on.
            use_reloader: restart when a source file changes (default
                ``debug``); only the reloader's child process serves.
            reloader_options: werkzeug reloader settings (``extra_files``,
                ``exclude_patterns``, ``interval``, ``reloader_type``).
            extra_files: more files to watch (``reloader_options`` has it too).
            log_output: log each request to ``realtime.access`` (default
                ``debug``; configure logging to see it).
            allow_unsafe_werkzeug: accepted for Flask-SocketIO compatibility:
                the threading mode's server is hardened, nothing to allow.
            **server_options: :func:`realtime.make_server` options
                (``backlog``, ``http_timeout``, ``raise_fd_limit``, ``tune_gc``).
        """
        server = self.server_for(app)
        if port is None:
            server_name = app.config.get("SERVER_NAME") or ""
            port = int(server_name.rsplit(":", 1)[1]) if ":" in server_name else 5000
        debug = app.debug if debug is None else debug
        app.debug = debug
        options = dict(reloader_options or {})
        if extra_files:
            options["extra_files"] = extra_files
        self._runner.run(
            app,
            server,
            host or "127.0.0.1",
            port,
            debug=debug,
            use_reloader=debug if use_reloader is None else use_reloader,
            reloader_options=options,
            log_output=debug if log_output is None else log_output,
            server_options=server_options,
        )

    def stop(self) -> None:
        """Stop the server :meth:`run` started; :meth:`run` then returns.

        Raises:
            ConfigurationError: :meth:`run` is not serving.
        """
        self._runner.stop()


def _payload(args: tuple[Any, ...]) -> Any:
    """What the server's ``data`` argument is for these emit arguments."""
    if not args:
        return None
    if len(args) == 1:
        return args[0]
    return args


def _with_sender(skip_sid: Target, sender: SocketContext | None, include_self: bool) -> Target:
    """``skip_sid``, plus the client whose handler runs when ``include_self`` is False."""
    if include_self or sender is None:
        return skip_sid
    if skip_sid is None:
        return sender.sid
    skipped = [skip_sid] if isinstance(skip_sid, str) else list(skip_sid)
    return [*skipped, sender.sid]
