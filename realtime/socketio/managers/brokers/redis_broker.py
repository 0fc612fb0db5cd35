"""Redis publish/subscribe as the broker, on one Redis or behind Sentinel.

A ``redis+sentinel://`` URL names the sentinels of a replicated Redis
(python-socketio's form)::

    redis+sentinel://[[user]:password@]host1:port1[,host2:port2...][/db[/service]]

The client asks the sentinels for the current primary, and asks again
whenever a connection fails, so it follows a failover by itself. The service
name defaults to the channel, as in python-socketio.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from realtime.exceptions import BrokerUnavailable, ConfigurationError
from realtime.socketio.managers.brokers.base import Broker, Reconnection, Subscriber

if TYPE_CHECKING:
    from realtime.async_modes import AsyncMode

__all__ = ["RedisBroker", "parse_sentinel_url"]

SENTINEL_SCHEME = "redis+sentinel"

_FIRST_BACKOFF = 0.1
#: Seconds between reconnection attempts, at most: a restarted broker is found
#: again within this time.
_MAX_BACKOFF = 1.0


class RedisBroker(Broker):
    """Redis pub/sub, through redis-py made cooperative for the async mode.

    ``PUBLISH`` reports how many subscribers received a message, which lets
    a process learn at once that no process holds a session any more.

    Args:
        url: ``redis://``, ``rediss://`` or ``unix://`` URL (as redis-py takes
            it), or ``redis+sentinel://`` (see the module's notes).
        mode: the async mode.
        logger: where to report losing and finding the broker.
        options: extra keyword arguments for ``redis.Redis.from_url`` (or the
            primary's connections, behind Sentinel).
        channel: the deployment's channel: the Sentinel service name when
            the URL names none.
    """

    def __init__(
        self,
        url: str,
        mode: AsyncMode,
        logger: logging.Logger,
        options: dict[str, Any] | None = None,
        channel: str | None = None,
    ) -> None:
        super().__init__(url, mode, logger)
        try:
            self._redis = mode.import_blocking("redis")
        except ImportError as exc:
            raise ConfigurationError(
                "message_queue needs the redis package: pip install 'realtime[redis]'"
            ) from exc
        # Publishing never waits long on a broker that vanished from the
        # network: the emit that publishes is the application's call.
        settings = {
            "health_check_interval": 30,
            "socket_keepalive": True,
            "socket_connect_timeout": 3,
            "socket_timeout": 5,
            **(options or {}),
        }
        if url.partition("://")[0].lower() == SENTINEL_SCHEME:
            sentinels, service, credentials = parse_sentinel_url(url)
            sentinel = self._redis.Sentinel(
                sentinels,
                sentinel_kwargs={
                    "socket_connect_timeout": settings["socket_connect_timeout"],
                    "socket_timeout": settings["socket_timeout"],
                    **{k: v for k, v in credentials.items() if k != "db"},
                },
                **credentials,
            )
            self._client = sentinel.master_for(service or channel or "mymaster", **settings)
        else:
            self._client = self._redis.Redis.from_url(url, **settings)
        self._closed = False
        self._pubsubs: list[Any] = []

    @property
    def client(self) -> Any:
        """The ``redis.Redis`` client (cooperative in the async mode)."""
        return self._client

    @property
    def errors(self) -> type[Exception]:
        """The base class of redis-py's errors."""
        error: type[Exception] = self._redis.RedisError
        return error

    def publish(self, channel: str, data: bytes) -> int | None:
        self._check_open()
        try:
            receivers: int = self._client.publish(channel, data)
        except Exception as exc:
            if not self._unavailable(exc):
                raise
            raise BrokerUnavailable(f"cannot publish to {self.describe()}: {exc}") from exc
        return receivers

    def _check_open(self) -> None:
        if self._stopping():
            raise BrokerUnavailable(f"{self.describe()}: this broker is closed")

    def _unavailable(self, exc: Exception) -> bool:
        """Whether ``exc`` means the broker cannot be used.

        A closed broker cannot, whatever redis-py raised: closing a connection
        that another task is using can fail that task with an
        ``AttributeError`` from inside redis-py.
        """
        return isinstance(exc, self._redis.RedisError) or self._stopping()

    def listeners(self, channels: Sequence[str]) -> dict[str, int] | None:
        if not channels:
            return {}
        self._check_open()
        try:
            counts = self._client.pubsub_numsub(*channels)
        except Exception as exc:
            if not self._unavailable(exc):
                raise
            raise BrokerUnavailable(f"cannot ask {self.describe()}: {exc}") from exc
        return {
            (channel.decode() if isinstance(channel, bytes) else str(channel)): int(count)
            for channel, count in counts
        }

    def subscribe(self, channels: Sequence[str], subscriber: Subscriber) -> None:
        self.mode.spawn(self._listen, list(channels), subscriber)

    def _listen(self, channels: list[str], subscriber: Subscriber) -> None:
        reconnection = Reconnection(self, _FIRST_BACKOFF, _MAX_BACKOFF)
        while not self._stopping():
            pubsub = self._client.pubsub()
            self._pubsubs.append(pubsub)
            try:
                pubsub.subscribe(*channels)
                confirmed = 0
                while not self._stopping():
                    message = pubsub.get_message(timeout=1.0)
                    if message is None:
                        continue
                    if message.get("type") == "message":
                        self._deliver(subscriber, message)
                    elif message.get("type") == "subscribe":
                        # Redis confirms each channel; once all are confirmed,
                        # publishers count this process.
                        confirmed += 1
                        if confirmed == len(channels):
                            reconnection.up(subscriber)
            except Exception as exc:
                # redis-py raises more than RedisError when a connection dies
                # or is closed under it; every failure here means: reconnect.
                if self._stopping():
                    return
                reconnection.down(subscriber, exc)
            finally:
                self._pubsubs.remove(pubsub)
                with contextlib.suppress(Exception):
                    pubsub.close()

    def _stopping(self) -> bool:
        # A method, not the attribute: close() flips it from another task.
        return self._closed

    def _deliver(self, subscriber: Subscriber, message: dict[str, Any]) -> None:
        channel = message["channel"]
        try:
            subscriber.message(
                channel.decode() if isinstance(channel, bytes) else channel, message["data"]
            )
        except Exception:
            self.logger.exception("error handling a broker message")

    def close(self) -> None:
        self._closed = True
        for pubsub in list(self._pubsubs):
            with contextlib.suppress(Exception):
                pubsub.close()
        with contextlib.suppress(Exception):
            self._client.close()


def parse_sentinel_url(url: str) -> tuple[list[tuple[str, int]], str | None, dict[str, Any]]:
    """The sentinels, the service name and the connection settings of a
    ``redis+sentinel://`` URL.

    Raises:
        ConfigurationError: the URL does not name its sentinels as ``host:port``.
    """
    parts = urlsplit(url)
    netloc = parts.netloc
    credentials: dict[str, Any] = {}
    if "@" in netloc:
        userinfo, _, netloc = netloc.rpartition("@")
        user, _, password = userinfo.partition(":")
        if user:
            credentials["username"] = unquote(user)
        if password:
            credentials["password"] = unquote(password)
    sentinels = []
    for item in netloc.split(","):
        host, colon, port = item.rpartition(":")
        if not colon or not host or not port.isdigit():
            raise ConfigurationError(
                f"a redis+sentinel:// URL lists its sentinels as host:port, not {item!r}"
            )
        sentinels.append((host.strip("[]"), int(port)))
    path = [segment for segment in parts.path.split("/") if segment]
    if path:
        if not path[0].isdigit():
            raise ConfigurationError(
                f"the database of a redis+sentinel:// URL is a number: {path[0]!r}"
            )
        credentials["db"] = int(path[0])
    service = path[1] if len(path) > 1 else None
    return sentinels, service, credentials
