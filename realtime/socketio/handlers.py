"""Which function handles an event, in which namespace.

Handlers are registered for an exact namespace (``"/chat"``), for a pattern
of namespaces (a compiled regular expression, matched in full), or for every
namespace (``"*"``). Handlers of pattern and ``"*"`` namespaces get the
namespace as their first argument, as python-socketio does. An event is
looked up as python-socketio does, in this order:

1. the namespace's own handler for the event (its exact name, else the
   first pattern that matches it);
2. the namespace's catch-all handler (event ``"*"``), which gets the event
   name first;
3. the handler for the event registered for every namespace (``"*"``);
4. the catch-all handler registered for every namespace;
5. a class-based :class:`~realtime.socketio.namespace.Namespace` serving
   the namespace.

``connect``, ``disconnect`` and ``disconnecting`` never go to a catch-all handler.
"""

from __future__ import annotations

import contextlib
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from realtime.exceptions import ConfigurationError

__all__ = [
    "CATCH_ALL",
    "ClassHandlers",
    "HandlerRegistry",
    "NamespaceKey",
    "Resolved",
    "fit_arguments",
    "refuse_coroutine",
]

Handler = Callable[..., Any]
#: A namespace a handler serves: a name, a compiled pattern, or ``"*"``.
NamespaceKey = str | re.Pattern[str]
CATCH_ALL = "*"
#: Events no catch-all handler gets.
_RESERVED = frozenset({"connect", "disconnect", "disconnecting"})


@runtime_checkable
class ClassHandlers(Protocol):
    """A class-based namespace as the registry sees it (:class:`realtime.Namespace`)."""

    namespace: NamespaceKey

    def handler_for(self, event: str) -> tuple[Handler, tuple[Any, ...]] | None:
        """The function for ``event`` and the arguments that go before ``sid``."""


@dataclass(frozen=True)
class Resolved:
    """The handlers that serve one concrete namespace.

    Attributes:
        namespace: the namespace.
        handlers: decorated handlers by event (may be empty).
        instance: the class-based namespace serving it, if any.
        dynamic: handlers take the namespace as their first argument.
        everywhere: the handlers registered for every namespace (``"*"``),
            looked up after ``handlers``.
    """

    namespace: str
    handlers: dict[str, Handler]
    instance: ClassHandlers | None
    dynamic: bool
    everywhere: dict[str, Handler] = field(default_factory=dict)

    def find(self, event: str) -> tuple[Handler, tuple[Any, ...]] | None:
        """The function for ``event`` and the arguments that go before ``sid``."""
        prefix: tuple[Any, ...] = (self.namespace,) if self.dynamic else ()
        reserved = event in _RESERVED
        handler = self.handlers.get(event)
        if handler is not None:
            return handler, prefix
        catch_all = None if reserved else self.handlers.get(CATCH_ALL)
        if catch_all is not None:
            return catch_all, (event, *prefix)
        if self.everywhere is not self.handlers:
            handler = self.everywhere.get(event)
            if handler is not None:
                return handler, (self.namespace,)
            catch_all = None if reserved else self.everywhere.get(CATCH_ALL)
            if catch_all is not None:
                return catch_all, (event, self.namespace)
        instance = self.instance
        if instance is not None:
            return instance.handler_for(event)
        return None


class HandlerRegistry:
    """Handlers by namespace and event."""

    def __init__(self) -> None:
        self._exact: dict[str, dict[str, Handler]] = {}
        self._patterns: list[tuple[re.Pattern[str], dict[str, Handler]]] = []
        self._any: dict[str, Handler] = {}
        self._instances: dict[str, ClassHandlers] = {}
        self._instance_patterns: list[tuple[re.Pattern[str], ClassHandlers]] = []
        # resolve() for namespaces registered by name, dropped on any change.
        self._resolved: dict[str, Resolved] = {}

    def add(self, namespace: NamespaceKey, event: str, handler: Handler) -> None:
        """Register ``handler`` for ``event`` in ``namespace``.

        Raises:
            ConfigurationError: see :meth:`check`; or ``handler`` is ``async
                def``, which nothing here would await.
        """
        self.check(namespace, event, handler)
        refuse_coroutine(handler, f"the handler for {event!r},")
        self._table(namespace)[event] = handler
        self._resolved.clear()

    @staticmethod
    def check(namespace: NamespaceKey, event: str, handler: Any) -> None:
        """Whether ``handler`` may serve ``event`` in ``namespace``.

        Raises:
            ConfigurationError: ``handler`` is not callable, or ``namespace``
                is not a valid name, ``"*"`` or a pattern.
        """
        if not callable(handler):
            raise ConfigurationError(f"the handler for {event!r} is not callable")
        if isinstance(namespace, str) and namespace != CATCH_ALL:
            _checked(namespace)

    def add_instance(self, instance: ClassHandlers) -> None:
        """Register a class-based namespace for its ``namespace`` attribute."""
        key = instance.namespace
        self._resolved.clear()
        if isinstance(key, re.Pattern):
            self._instance_patterns.append((key, instance))
        elif key == CATCH_ALL:
            raise ConfigurationError("a class-based namespace needs a name or a pattern, not '*'")
        else:
            self._instances[_checked(key)] = instance

    def _table(self, namespace: NamespaceKey) -> dict[str, Handler]:
        if isinstance(namespace, re.Pattern):
            for pattern, table in self._patterns:
                if pattern == namespace:
                    return table
            table = {}
            self._patterns.append((namespace, table))
            return table
        if namespace == CATCH_ALL:
            return self._any
        return self._exact.setdefault(_checked(namespace), {})

    def resolve(self, namespace: str) -> Resolved | None:
        """The handlers serving ``namespace``; None if nothing was registered for it."""
        resolved = self._resolved.get(namespace)
        if resolved is not None:
            return resolved
        everywhere = self._any
        handlers = self._exact.get(namespace)
        instance = self._instances.get(namespace)
        if handlers is not None or instance is not None:
            resolved = Resolved(namespace, handlers or {}, instance, False, everywhere)
            self._resolved[namespace] = resolved
            return resolved
        for pattern, table in self._patterns:
            if pattern.fullmatch(namespace):
                return Resolved(namespace, table, None, True, everywhere)
        for pattern, instance in self._instance_patterns:
            if pattern.fullmatch(namespace):
                return Resolved(namespace, {}, instance, False, everywhere)
        if everywhere:
            return Resolved(namespace, everywhere, None, True, everywhere)
        return None


def refuse_coroutine(fn: Any, what: str) -> None:
    """Refuse an ``async def`` function where the server would call it and
    never await the coroutine it returns.

    Raises:
        ConfigurationError: ``fn`` is a coroutine function.
    """
    if inspect.iscoroutinefunction(fn):
        name = getattr(fn, "__qualname__", getattr(fn, "__name__", repr(fn)))
        raise ConfigurationError(
            f"{what} {name} is a coroutine function (async def): realtime.Server runs "
            "handlers on eventlet, gevent or threads and would never await it; write it "
            "with def (the Flask extension runs async def handlers as Flask runs async "
            "views)"
        )


def _checked(namespace: str) -> str:
    if not namespace.startswith("/") or "," in namespace:
        raise ConfigurationError(
            f"namespace {namespace!r} must start with '/' and hold no ','; "
            "use '*' for every namespace, or a compiled pattern"
        )
    return namespace


_ARITY_CACHE: dict[Any, int | None] = {}


def fit_arguments(
    handler: Handler, args: tuple[Any, ...], prefix: tuple[Any, ...] = ()
) -> tuple[Any, ...]:
    """Drop trailing arguments ``handler`` cannot take (for connect and disconnect).

    A connect handler may take ``(sid, environ, auth)`` or fewer; a disconnect
    handler ``(sid, reason)`` or ``(sid)``, as python-socketio allows.
    ``prefix`` are the arguments that go before these (the namespace, for
    handlers of many namespaces).
    """
    key = getattr(handler, "__func__", handler)
    try:
        limit = _ARITY_CACHE[key]
    except (KeyError, TypeError):
        limit = _positional_limit(handler)
        with contextlib.suppress(TypeError):
            _ARITY_CACHE[key] = limit
    if limit is not None:
        limit -= len(prefix)
    if limit is None or limit >= len(args):
        return args
    return args[: max(limit, 0)]


def _positional_limit(handler: Handler) -> int | None:
    try:
        parameters = inspect.signature(handler).parameters.values()
    except (TypeError, ValueError):
        return None
    count = 0
    for parameter in parameters:
        if parameter.kind is parameter.VAR_POSITIONAL:
            return None
        if parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
            count += 1
    return count
