"""Socket.IO handlers inside Flask's application and request contexts.

Every handler runs in a request context built from the WSGI environ of the
HTTP request that opened its client's connection, so ``request``,
``session``, ``g`` and ``current_app`` work as in a view. Three attributes
say which Socket.IO call it is, as in Flask-SocketIO: ``request.sid``,
``request.namespace`` and ``request.event`` (``{"message": name, "args":
args}``).

The Flask session follows Flask-SocketIO's two modes. Managed (the default):
the first handler of a connection copies the session it finds in the
connection's cookies, and every handler of that connection then shares the
copy, which lives as long as the connection and is never written back.
Unmanaged: each handler gets the session Flask's session interface opens from
those cookies, and it is saved after the handler returns; with server-side
sessions that shares it with the HTTP routes, with cookie sessions it is
frozen as it was when the connection opened.

See Flask-SocketIO's "Session Access" and "Flask Context Globals":
https://flask-socketio.readthedocs.io/en/latest/getting_started.html
"""

from __future__ import annotations

import contextvars
import importlib.metadata
import inspect
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import flask
from flask import current_app, has_request_context, request
from flask.ctx import AppContext, RequestContext
from flask.sessions import SessionMixin
from flask.signals import (
    appcontext_popped,
    appcontext_pushed,
    appcontext_tearing_down,
    request_tearing_down,
)
from werkzeug.exceptions import HTTPException

from realtime.exceptions import ConfigurationError

if TYPE_CHECKING:
    from flask import Flask, Request
    from werkzeug.routing import MapAdapter, Rule

    from realtime.flask_integration.interfaces import HandlerExtension

__all__ = [
    "EXTENSION_KEY",
    "RUNNING",
    "ManagedSession",
    "SocketContext",
    "current_extension",
    "current_socket",
    "handler_context",
    "save_session",
]

#: The key of ``app.extensions`` the extension registers under (Flask-SocketIO's).
EXTENSION_KEY = "socketio"
#: Where a connection's managed session lives: in the environ of the request
#: that opened it, which lives exactly as long as the connection.
SESSION_KEY = "realtime.flask_session"
#: Where what its handlers share is kept (a :class:`ConnectionRequest`), likewise.
CONNECTION_KEY = "realtime.flask_connection"


class ManagedSession(dict[str, Any], SessionMixin):
    """The per-connection copy of the Flask session (``manage_session=True``)."""


class SocketContext:
    """The Socket.IO client a handler runs for (a value: equal when both
    attributes are; not to be changed once made).

    One is made for every handler call, so it is a plain class with slots:
    a frozen dataclass costs four times as much to make.

    Attributes:
        sid: the client's Socket.IO session id in ``namespace``.
        namespace: the namespace of the event.
    """

    __slots__ = ("namespace", "sid")

    def __init__(self, sid: str, namespace: str) -> None:
        self.sid = sid
        self.namespace = namespace

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SocketContext):
            return NotImplemented
        return self.sid == other.sid and self.namespace == other.namespace

    def __hash__(self) -> int:
        return hash((self.sid, self.namespace))

    def __repr__(self) -> str:
        return f"SocketContext(sid={self.sid!r}, namespace={self.namespace!r})"


#: The client and extension of the Socket.IO handler running on this task
#: (set by the dispatcher around each call, to ``(socket, the app's
#: extension)``; tasks a handler starts do not inherit it, as they inherit
#: no request context either).
RUNNING: contextvars.ContextVar[tuple[SocketContext, Any] | None] = contextvars.ContextVar(
    "realtime_flask_handler", default=None
)


def current_socket() -> SocketContext | None:
    """The client of the Socket.IO handler running, or None outside one.

    A plain view, a background task or a CLI command has none, even inside a
    request context, unless it runs in a handler's request context carried
    over with Flask's ``copy_current_request_context``.
    """
    running = RUNNING.get()
    if running is not None:
        return running[0]
    # A handler's request context carried elsewhere (Flask's
    # copy_current_request_context in a background task) still names it.
    if not has_request_context():
        return None
    sid = getattr(request, "sid", None)
    namespace = getattr(request, "namespace", None)
    if not isinstance(sid, str) or not isinstance(namespace, str):
        return None
    return SocketContext(sid, namespace)


def current_extension() -> HandlerExtension:
    """The extension installed on the current Flask app.

    Raises:
        RuntimeError: there is no application context (Flask's error).
        ConfigurationError: the current app has no realtime extension.
    """
    running = RUNNING.get()
    if running is not None and running[1] is not None:
        found: HandlerExtension = running[1]
        return found
    try:
        extension: HandlerExtension = current_app.extensions[EXTENSION_KEY]
    except KeyError:
        raise ConfigurationError(
            f"the app {current_app.name!r} has no realtime extension; "
            "create Realtime(app) or call init_app(app) first"
        ) from None
    return extension


def handler_context(
    app: Flask,
    environ: dict[str, Any],
    socket: SocketContext,
    event: dict[str, Any],
    *,
    manage_session: bool,
    carried: dict[str, Any] | None = None,
) -> RequestContext:
    """A request context for one handler call, ready to push.

    What depends only on the connection (its request parsed from the
    environ, the URL adapter bound to it, what its URL matched) is worked
    out once per connection (:class:`ConnectionRequest`); each call gets a
    request of its own, so that handlers running at once for one
    connection (an event, an acknowledgement's callback) do not share
    ``request.sid``, ``request.event`` or ``g``.

    Args:
        app: the Flask app the connection belongs to.
        environ: the environ of the request that opened the connection.
        socket: the client and namespace.
        event: what ``request.event`` holds.
        manage_session: give the handler the connection's own copy of the
            session rather than the one Flask opens from the cookies.
        carried: the socket's server-side session, where the managed copy is
            kept too, so that it comes back with a recovered connection.
    """
    connection = environ.get(CONNECTION_KEY)
    if not isinstance(connection, ConnectionRequest) or connection.app is not app:
        connection = environ[CONNECTION_KEY] = ConnectionRequest(app, environ)
    session = _managed_session(app, environ, carried) if manage_session else None
    return _HandlerRequestContext(connection, session, socket, event)


class ConnectionRequest:
    """What every handler of one connection shares, worked out once: the
    request as the connection's HTTP request made it, the URL adapter bound
    to it (``url_for`` works in handlers), and what its URL matched
    (``request.url_rule``, ``view_args`` or ``routing_exception``, as
    Flask sets them).

    Args:
        app: the Flask app.
        environ: the environ of the request that opened the connection.
    """

    __slots__ = ("app", "match", "request", "url_adapter")

    def __init__(self, app: Flask, environ: dict[str, Any]) -> None:
        self.app = app
        request = app.request_class(environ)
        request.json_module = app.json
        self.request = request
        self.url_adapter: MapAdapter | None = None
        self.match: tuple[Rule | None, Mapping[str, Any] | None, HTTPException | None]
        try:
            self.url_adapter = app.create_url_adapter(request)
        except HTTPException as exc:
            self.match = (None, None, exc)
            return
        self.match = (None, None, None)
        if self.url_adapter is not None:
            try:
                rule, view_args = self.url_adapter.match(return_rule=True)
                self.match = (rule, view_args, None)
            except HTTPException as exc:
                self.match = (None, None, exc)


#: No exception given to :meth:`_HandlerRequestContext.pop`: Flask looks one up.
_UNSET: Any = object()


class _HandlerRequestContext(RequestContext):
    """Flask's request context, built from a :class:`ConnectionRequest`
    without parsing the environ, binding the URL map or matching the URL
    again. What Flask's ``__init__`` sets, this sets (checked against
    Flask's own context by the tests)."""

    def __init__(
        self,
        connection: ConnectionRequest,
        session: SessionMixin | None,
        socket: SocketContext,
        event: dict[str, Any],
    ) -> None:
        self.app = connection.app
        # A request of the connection's for this call: a shallow copy, so
        # that what one call sets on it the others do not see, with the
        # three attributes Flask-SocketIO's handlers and helpers read
        # (Flask's Request takes arbitrary attributes).
        proto = connection.request
        request: Request = object.__new__(type(proto))
        attributes = request.__dict__
        attributes.update(proto.__dict__)
        attributes["sid"] = socket.sid
        attributes["namespace"] = socket.namespace
        attributes["event"] = event
        self.request = request
        self.url_adapter = connection.url_adapter
        self.flashes = None
        if _PRIVATE_SESSION:
            self._session = session
        else:  # Flask before 3.1: a plain attribute
            self.session = session  # type: ignore[misc,assignment]
        self._after_request_functions = []
        self._cv_tokens = []
        self._match = connection.match

    def copy(self) -> RequestContext:
        """Flask's copy (``copy_current_request_context``): a plain context
        with the same request and session."""
        session = self._session if _PRIVATE_SESSION else self.session
        return RequestContext(
            self.app, environ=self.request.environ, request=self.request, session=session
        )

    def push(self) -> None:
        """Flask's push, minus the signals nobody listens to.

        Every step of Flask's own is taken in the same order (a new app
        context with its ``g`` when none of this app is current, the
        request made current, the URL match set); ``appcontext_pushed`` is
        sent when it has a receiver. With a Flask whose contexts this does
        not know (:data:`_LEAN` false), Flask's own push runs.
        """
        app = self.app
        if not _LEAN:
            super().push()
            return
        app_ctx: AppContext | None = _cv_app.get(None)
        if app_ctx is None or app_ctx.app is not app:
            if (
                app.config["SERVER_NAME"] is None
                and type(app).create_url_adapter is _FLASK_URL_ADAPTER
            ):
                # AppContext(app) without its two calls: with no SERVER_NAME,
                # Flask's create_url_adapter(None) gives None.
                app_ctx = _new_object(AppContext)
                app_ctx.app = app
                app_ctx.url_adapter = None
                app_ctx.g = app.app_ctx_globals_class()
                app_ctx._cv_tokens = [_cv_app.set(app_ctx)]
            else:
                app_ctx = AppContext(app)
                app_ctx._cv_tokens.append(_cv_app.set(app_ctx))
            if appcontext_pushed.receivers:
                appcontext_pushed.send(app, _async_wrapper=app.ensure_sync)
        else:
            app_ctx = None
        self._cv_tokens.append((_cv_request.set(self), app_ctx))
        if self._session is None:
            interface = app.session_interface
            opened = interface.open_session(app, self.request)
            self._session = interface.make_null_session(app) if opened is None else opened
        if self.url_adapter is not None:
            self.match_request()

    def pop(self, exc: BaseException | None = _UNSET) -> None:
        """Flask's pop, minus the teardowns and signals nobody registered.

        Teardown functions (``teardown_request``, ``teardown_appcontext``)
        and the signals run exactly as in Flask when any is registered or
        connected; when none is, the contexts are just unbound.
        """
        app = self.app
        if (
            not _LEAN
            or len(self._cv_tokens) != 1
            or app.teardown_request_funcs
            or app.teardown_appcontext_funcs
            or request_tearing_down.receivers
            or appcontext_tearing_down.receivers
            or appcontext_popped.receivers
            or "files" in self.request.__dict__
        ):
            if exc is _UNSET:
                super().pop()
            else:
                super().pop(exc)
            return
        token, app_ctx = self._cv_tokens.pop()
        _cv_request.reset(token)
        self.request.environ["werkzeug.request"] = None
        if app_ctx is not None:
            _cv_app.reset(app_ctx._cv_tokens.pop())

    def match_request(self) -> None:
        rule, view_args, exc = self._match
        if exc is not None:
            self.request.routing_exception = exc
        else:
            self.request.url_rule = rule
            self.request.view_args = None if view_args is None else dict(view_args)


#: Flask 3.1 keeps the session in ``_session`` behind a property.
_PRIVATE_SESSION = isinstance(inspect.getattr_static(RequestContext, "session", None), property)


def _flask_version() -> tuple[int, int]:
    try:
        major, minor = importlib.metadata.version("flask").split(".")[:2]
        return int(major), int(minor)
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return (0, 0)


#: Whether push and pop may take the short way: Flask 3.1's contexts (two
#: context variables; a request context keeps ``(token, app context)``
#: pairs, an app context its tokens), checked by the tests against Flask's
#: own. Any other Flask gets Flask's push and pop.
_LEAN = _PRIVATE_SESSION and _flask_version() == (3, 1)
_cv_app: contextvars.ContextVar[AppContext] = flask.globals._cv_app
_new_object = object.__new__
#: Flask's own create_url_adapter (an app class may override it).
_FLASK_URL_ADAPTER = flask.Flask.create_url_adapter
_cv_request: contextvars.ContextVar[RequestContext] = flask.globals._cv_request


def _managed_session(
    app: Flask, environ: dict[str, Any], carried: dict[str, Any] | None
) -> ManagedSession:
    managed = environ.get(SESSION_KEY)
    if not isinstance(managed, ManagedSession):
        kept = carried.get(SESSION_KEY) if carried is not None else None
        if isinstance(kept, dict):
            # A connection that recovered: its copy came back with it.
            opened: Any = kept
        else:
            interface = app.session_interface
            opened = interface.open_session(app, app.request_class(environ))
            if opened is None:
                opened = interface.make_null_session(app)
        # Two handlers of one connection may get here together; the first
        # copy stored wins, so both end up sharing it.
        managed = environ.setdefault(SESSION_KEY, ManagedSession(opened))
    if carried is not None and carried.get(SESSION_KEY) is not managed:
        carried[SESSION_KEY] = managed
    return managed


def save_session(app: Flask, session: SessionMixin) -> None:
    """Save an unmanaged session a handler changed, through the app's interface.

    The response the interface writes its cookie to is thrown away: a
    Socket.IO event has no HTTP response to carry it. Server-side session
    interfaces store the data, which is what makes sharing work.
    """
    if getattr(session, "modified", True):
        app.session_interface.save_session(app, session, app.response_class())
