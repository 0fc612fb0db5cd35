"""Class-based namespaces for Flask apps, as Flask-SocketIO's ``Namespace``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from realtime.exceptions import ConfigurationError, ConnectionRefused
from realtime.flask_integration.context import current_socket
from realtime.flask_integration.interfaces import HandlerExtension, Target
from realtime.socketio.namespace import Namespace as CoreNamespace

if TYPE_CHECKING:
    from realtime.flask_integration.dispatch import Dispatcher
    from realtime.socketio.server import Server as SocketIOServer

__all__ = ["Namespace"]


class Namespace(CoreNamespace):
    """Handlers for one namespace, written as ``on_<event>`` methods.

    Methods take what decorated handlers take: ``on_connect(self)`` or
    ``on_connect(self, auth)``, ``on_disconnect(self)`` or
    ``on_disconnect(self, reason)``, ``on_<event>(self, *args)``; the client
    is ``request.sid``. Each runs in the app and request context of its
    client's connection, and its return value is the acknowledgement.
    Register an instance with
    :meth:`Realtime.on_namespace <realtime.flask_integration.Realtime.on_namespace>`.

    Args:
        namespace: the namespace served (default ``"/"``).

    Attributes:
        socketio: the extension it is registered with (None before).

    Example::

        class Chat(Namespace):
            def on_say(self, text):
                emit("said", text, to="lobby")
                return "ok"

        rt.on_namespace(Chat("/chat"))
    """

    # Its methods run through the extension's dispatcher, which runs
    # ``async def`` ones as Flask runs async views.
    _awaits_coroutines = True

    def __init__(self, namespace: str | None = None) -> None:
        super().__init__(namespace or "/")
        self.socketio: HandlerExtension | None = None
        self._flask_dispatcher: Dispatcher | None = None

    def _set_socketio(self, socketio: HandlerExtension, dispatcher: Dispatcher) -> None:
        """Registration: the extension, and the dispatcher that runs its handlers."""
        self.socketio = socketio
        self._flask_dispatcher = dispatcher

    def _extension(self) -> HandlerExtension:
        if self.socketio is None:
            raise ConfigurationError("the namespace is not registered: call on_namespace() first")
        return self.socketio

    def _registered_dispatcher(self) -> Dispatcher:
        if self._flask_dispatcher is None:
            raise ConfigurationError("the namespace is not registered: call on_namespace() first")
        return self._flask_dispatcher

    @property
    def server(self) -> SocketIOServer:
        """The Socket.IO server of the current app."""
        return self._extension().server

    def trigger_event(self, event: str, *args: Any) -> Any:
        """Run ``on_<event>`` in its client's contexts; ``args`` start with the sid.

        Override to dispatch differently; call this to run a method as usual.
        An event with no method returns None. A subclass with an
        ``error(self, exc)`` method gets what a method raised and no error
        handler of the extension took (a refusal of the connection aside);
        what it returns is the acknowledgement, as in Flask-SocketIO.
        """
        handler: Callable[..., Any] | None = getattr(self, f"on_{event}", None)
        if handler is None:
            return None
        dispatcher = self._registered_dispatcher()
        on_error: Callable[[Exception], Any] | None = getattr(self, "error", None)
        if on_error is None:
            return dispatcher.namespace_event(self.namespace, handler, event, args)
        try:
            return dispatcher.namespace_event(self.namespace, handler, event, args)
        except (ConnectionRefused, ConnectionRefusedError):
            raise
        except Exception as exc:
            return on_error(exc)

    def emit(
        self,
        event: str,
        data: Any = None,
        to: Target = None,
        room: Target = None,
        skip_sid: Target = None,
        namespace: str | None = None,
        callback: Callable[..., Any] | None = None,
        ignore_queue: bool = False,
        *,
        include_self: bool = True,
        exclude: Target = None,
        volatile: bool = False,
    ) -> None:
        """Emit to this namespace's clients (all of them unless ``to`` says).

        As :meth:`Realtime.emit <realtime.flask_integration.Realtime.emit>`;
        ``include_self=False`` leaves out the client whose handler runs.
        """
        self._extension().emit(
            event,
            data,
            namespace=namespace or self._namespace(None),
            to=to,
            room=room,
            include_self=include_self,
            skip_sid=skip_sid,
            callback=callback,
            ignore_queue=ignore_queue,
            exclude=exclude,
            volatile=volatile,
        )

    def send(
        self,
        data: Any,
        to: Target = None,
        room: Target = None,
        skip_sid: Target = None,
        namespace: str | None = None,
        callback: Callable[..., Any] | None = None,
        ignore_queue: bool = False,
        *,
        include_self: bool = True,
    ) -> None:
        """Emit ``data`` as a ``message`` event (see :meth:`emit`)."""
        self.emit(
            "message",
            data,
            to,
            room,
            skip_sid,
            namespace,
            callback,
            ignore_queue,
            include_self=include_self,
        )

    def disconnect(self, sid: str | None = None, namespace: str | None = None) -> None:
        """Disconnect client ``sid`` (default: the one whose handler runs)."""
        if sid is None:
            socket = current_socket()
            if socket is None:
                raise ConfigurationError("disconnect() outside a handler needs a sid")
            sid = socket.sid
        super().disconnect(sid, namespace)
