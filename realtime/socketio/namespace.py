"""Class-based handlers: one object per namespace, one ``on_<event>`` method per event."""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from realtime.exceptions import ConfigurationError
from realtime.socketio.handlers import fit_arguments, refuse_coroutine

if TYPE_CHECKING:
    from realtime.socketio.server import Server

__all__ = ["Namespace"]


class Namespace:
    """Handlers for one namespace, written as methods.

    A method ``on_<event>(self, sid, *args)`` handles ``<event>``;
    ``on_connect(self, sid, environ, auth)`` and ``on_disconnect(self, sid,
    reason)`` may take fewer arguments. The helper methods act in this
    namespace unless told otherwise.

    Args:
        namespace: the namespace served: a name, or a compiled pattern
            matched in full against the namespaces clients ask for. For a
            pattern, the helpers find the client's namespace from its sid
            (``namespace=`` is needed only to reach a room or everyone).

    Example::

        class Chat(realtime.Namespace):
            def on_message(self, sid, text):
                self.emit("message", text, skip_sid=sid)

        sio.register_namespace(Chat("/chat"))
    """

    def __init__(self, namespace: str | re.Pattern[str] = "/") -> None:
        self.namespace = namespace
        self._server: Server | None = None

    @property
    def server(self) -> Server:
        """The server this namespace is registered with."""
        if self._server is None:
            raise ConfigurationError("the namespace is not registered with a server yet")
        return self._server

    #: Whether this class's dispatch awaits ``async def`` methods (the Flask
    #: extension's does); if not, registering one is refused.
    _awaits_coroutines = False

    def _bind(self, server: Server) -> None:
        """Registration with ``server``.

        Raises:
            ConfigurationError: an ``on_<event>`` method is ``async def`` and
                nothing here would await it.
        """
        if not self._awaits_coroutines:
            for name in dir(type(self)):
                if name.startswith("on_"):
                    refuse_coroutine(getattr(type(self), name), f"the method {name},")
        self._server = server

    def trigger_event(self, event: str, *args: Any) -> Any:
        """Run the handler of ``event``; override to dispatch differently.

        ``connect`` and ``disconnect`` get only the arguments their method
        takes (``on_connect(self, sid)`` is fine), as decorated handlers do;
        an override that calls ``super().trigger_event`` keeps that.
        """
        handler: Callable[..., Any] | None = getattr(self, f"on_{event}", None)
        if handler is None:
            return None
        if event in ("connect", "disconnect"):
            args = fit_arguments(handler, args)
        return handler(*args)

    def handler_for(self, event: str) -> tuple[Callable[..., Any], tuple[Any, ...]] | None:
        """The function the server calls for ``event``, and the arguments before ``sid``.

        A subclass that overrides :meth:`trigger_event` dispatches its own
        way and gets every event (its name first); otherwise the
        ``on_<event>`` method, if there is one. ``disconnecting``, which
        python-socketio never sends, reaches only a class with an
        ``on_disconnecting`` method.
        """
        if event == "disconnecting" and not callable(getattr(self, "on_disconnecting", None)):
            return None
        if type(self).trigger_event is not Namespace.trigger_event:
            return self.trigger_event, (event,)
        method = getattr(self, f"on_{event}", None)
        return (method, ()) if callable(method) else None

    def _namespace(self, namespace: str | None, sid: str | None = None) -> str:
        if namespace is not None:
            return namespace
        if not isinstance(self.namespace, re.Pattern):
            return self.namespace
        if sid is not None:
            found = self.server.namespace_of(sid)
            if found is not None:
                return found
        raise ConfigurationError(
            "this namespace serves a pattern; pass namespace= to say which one"
        )

    def emit(
        self,
        event: str,
        data: Any = None,
        to: str | list[str] | None = None,
        room: str | list[str] | None = None,
        skip_sid: str | list[str] | None = None,
        namespace: str | None = None,
        callback: Callable[..., Any] | None = None,
        ignore_queue: bool = False,
        *,
        exclude: str | list[str] | None = None,
        volatile: bool = False,
    ) -> None:
        """:meth:`Server.emit <realtime.Server.emit>` in this namespace."""
        self.server.emit(
            event,
            data,
            to=to,
            room=room,
            skip_sid=skip_sid,
            namespace=self._namespace(namespace, to if isinstance(to, str) else None),
            callback=callback,
            ignore_queue=ignore_queue,
            exclude=exclude,
            volatile=volatile,
        )

    def send(
        self,
        data: Any,
        to: str | list[str] | None = None,
        room: str | list[str] | None = None,
        skip_sid: str | list[str] | None = None,
        namespace: str | None = None,
        callback: Callable[..., Any] | None = None,
        ignore_queue: bool = False,
    ) -> None:
        """:meth:`Server.send <realtime.Server.send>` in this namespace."""
        self.emit("message", data, to, room, skip_sid, namespace, callback, ignore_queue)

    def call(
        self,
        event: str,
        data: Any = None,
        to: str | list[str] | None = None,
        sid: str | None = None,
        namespace: str | None = None,
        timeout: float | None = None,
        ignore_queue: bool = False,
    ) -> Any:
        """:meth:`Server.call <realtime.Server.call>` in this namespace."""
        target = sid if sid is not None else (to if isinstance(to, str) else None)
        return self.server.call(
            event,
            data,
            to=to,
            sid=sid,
            namespace=self._namespace(namespace, target),
            timeout=timeout,
            ignore_queue=ignore_queue,
        )

    def enter_room(self, sid: str, room: str, namespace: str | None = None) -> None:
        """:meth:`Server.enter_room <realtime.Server.enter_room>` in this namespace."""
        self.server.enter_room(sid, room, self._namespace(namespace, sid))

    def leave_room(self, sid: str, room: str, namespace: str | None = None) -> None:
        """:meth:`Server.leave_room <realtime.Server.leave_room>` in this namespace."""
        self.server.leave_room(sid, room, self._namespace(namespace, sid))

    def close_room(
        self, room: str, namespace: str | None = None, ignore_queue: bool = False
    ) -> None:
        """:meth:`Server.close_room <realtime.Server.close_room>` in this namespace."""
        self.server.close_room(room, self._namespace(namespace), ignore_queue=ignore_queue)

    def rooms(self, sid: str, namespace: str | None = None) -> list[str]:
        """:meth:`Server.rooms <realtime.Server.rooms>` in this namespace."""
        return self.server.rooms(sid, self._namespace(namespace, sid))

    def get_session(self, sid: str, namespace: str | None = None) -> dict[str, Any]:
        """:meth:`Server.get_session <realtime.Server.get_session>` in this namespace."""
        return self.server.get_session(sid, self._namespace(namespace, sid))

    def save_session(self, sid: str, session: dict[str, Any], namespace: str | None = None) -> None:
        """:meth:`Server.save_session <realtime.Server.save_session>` in this namespace."""
        self.server.save_session(sid, session, self._namespace(namespace, sid))

    def session(
        self, sid: str, namespace: str | None = None
    ) -> AbstractContextManager[dict[str, Any]]:
        """:meth:`Server.session <realtime.Server.session>` in this namespace."""
        return self.server.session(sid, self._namespace(namespace, sid))

    def disconnect(self, sid: str, namespace: str | None = None) -> None:
        """:meth:`Server.disconnect <realtime.Server.disconnect>` in this namespace."""
        self.server.disconnect(sid, self._namespace(namespace, sid))
