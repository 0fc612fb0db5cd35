"""Message brokers, picked by the scheme of their URL."""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING

from realtime.exceptions import ConfigurationError
from realtime.socketio.managers.brokers.base import Broker, Subscriber

if TYPE_CHECKING:
    from realtime.async_modes import AsyncMode

__all__ = ["BROKERS", "Broker", "Subscriber", "open_broker"]

#: URL scheme -> "module:class" of the broker that serves it.
BROKERS = {
    "redis": "realtime.socketio.managers.brokers.redis_broker:RedisBroker",
    "rediss": "realtime.socketio.managers.brokers.redis_broker:RedisBroker",
    "unix": "realtime.socketio.managers.brokers.redis_broker:RedisBroker",
    "redis+sentinel": "realtime.socketio.managers.brokers.redis_broker:RedisBroker",
    "amqp": "realtime.socketio.managers.brokers.kombu_broker:KombuBroker",
    "amqps": "realtime.socketio.managers.brokers.kombu_broker:KombuBroker",
    "pyamqp": "realtime.socketio.managers.brokers.kombu_broker:KombuBroker",
}


def open_broker(
    url: str, mode: AsyncMode, logger: logging.Logger, *, channel: str | None = None
) -> Broker:
    """The broker for ``url``, by its scheme.

    ``channel`` is the deployment's: the Sentinel service a ``redis+sentinel://``
    URL means when it names none.

    Raises:
        ConfigurationError: no broker serves that scheme.
    """
    scheme = url.partition("://")[0].lower()
    target = BROKERS.get(scheme)
    if target is None:
        known = ", ".join(f"{s}://" for s in sorted(BROKERS))
        raise ConfigurationError(f"no message queue serves {scheme}:// URLs; use one of {known}")
    module_name, class_name = target.split(":")
    broker_class: type[Broker] = getattr(importlib.import_module(module_name), class_name)
    if scheme == "redis+sentinel":
        return broker_class(url, mode, logger, channel=channel)  # type: ignore[call-arg]
    return broker_class(url, mode, logger)
