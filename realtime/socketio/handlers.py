"""Which function handles an event, in which namespace.

Handlers are registered for an exact namespace (``"/chat"``), for a pattern
of namespaces (a compiled regular expression, matched in full), or for every
namespace (``"*"``); the first two kinds win over the last. Handlers of
pattern and ``"*"`` namespaces get the namespace as their first argument, as
python-socketio does. An event with no handler goes to the namespace's
catch-all handler (event ``"*"``), which gets the event name first. A
class-based :class:`~realtime.socketio.namespace.Namespace` answers the events its
decorated counterpart does not.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from realtime.exceptions import ConfigurationError
from realtime.socketio.namespace import Namespace

__all__ = ["CATCH_ALL", "HandlerRegistry", "NamespaceKey", "Resolved"]

Handler = Callable[..., Any]
#: A namespace a handler serves: a name, a compiled pattern, or ``"*"``.
NamespaceKey = str | re.Pattern[str]
CATCH_ALL = "*"


@dataclass(frozen=True)
class Resolved:
    """The handlers that serve one concrete namespace.

    Attributes:
        namespace: the namespace.
        handlers: decorated handlers by event (may be empty).
        instance: the class-based namespace serving it, if any.
        dynamic: handlers take the namespace as their first argument.
    """

    namespace: str
    handlers: dict[str, Handler]
    instance: Namespace | None
    dynamic: bool

    def find(self, event: str) -> tuple[Handler, tuple[Any, ...]] | None:
        """The function for ``event`` and the arguments that go before ``sid``."""
        prefix: tuple[Any, ...] = (self.namespace,) if self.dynamic else ()
        handler = self.handlers.get(event)
        if handler is not None:
            return handler, prefix
        instance = self.instance
        if instance is not None:
            if type(instance).trigger_event is not Namespace.trigger_event:
                # A subclass dispatches its own way; it gets every argument.
                return instance.trigger_event, (event,)
            method = getattr(instance, f"on_{event}", None)
            if callable(method):
                return method, ()
        catch_all = self.handlers.get(CATCH_ALL)
        if catch_all is not None and event not in ("connect", "disconnect"):
            return catch_all, (event, *prefix)
        return None


class HandlerRegistry:
    """Handlers by namespace and event."""

    def __init__(self) -> None:
        self._exact: dict[str, dict[str, Handler]] = {}
        self._patterns: list[tuple[re.Pattern[str], dict[str, Handler]]] = []
        self._any: dict[str, Handler] = {}
        self._instances: dict[str, Namespace] = {}
        self._instance_patterns: list[tuple[re.Pattern[str], Namespace]] = []
        # resolve() for namespaces registered by name, dropped on any change.
        self._resolved: dict[str, Resolved] = {}

    def add(self, namespace: NamespaceKey, event: str, handler: Handler) -> None:
        """Register ``handler`` for ``event`` in ``namespace``."""
        if not callable(handler):
            raise ConfigurationError(f"the handler for {event!r} is not callable")
        self._table(namespace)[event] = handler
        self._resolved.clear()

    def add_instance(self, instance: Namespace) -> None:
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
        handlers = self._exact.get(namespace)
        instance = self._instances.get(namespace)
        if handlers is not None or instance is not None:
            resolved = Resolved(namespace, handlers or {}, instance, dynamic=False)
            self._resolved[namespace] = resolved
            return resolved
        for pattern, table in self._patterns:
            if pattern.fullmatch(namespace):
                return Resolved(namespace, table, None, dynamic=True)
        for pattern, instance in self._instance_patterns:
            if pattern.fullmatch(namespace):
                return Resolved(namespace, {}, instance, dynamic=False)
        if self._any:
            return Resolved(namespace, self._any, None, dynamic=True)
        return None


def _checked(namespace: str) -> str:
    if not namespace.startswith("/") or "," in namespace:
        raise ConfigurationError(
            f"namespace {namespace!r} must start with '/' and hold no ','; "
            "use '*' for every namespace, or a compiled pattern"
        )
    return namespace
