"""Push subscriptions and where they are kept, per user.

A browser's ``PushSubscription.toJSON()`` gives an ``endpoint`` (the URL the
push service gave it) and ``keys`` (``p256dh`` and ``auth``, base64url).
:class:`Subscription` is that JSON checked; a user may have several (one per
browser or device), one per endpoint. :class:`MemoryStore` keeps them in
this process; :class:`RedisStore` in Redis, so that every process of a
deployment sees the same ones.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from realtime.async_modes import AsyncMode, short_lock
from realtime.exceptions import ConfigurationError
from realtime.push.errors import InvalidSubscription
from realtime.push.keys import b64url_decode

__all__ = ["MemoryStore", "RedisStore", "Subscription", "SubscriptionStore"]

_MAX_ENDPOINT = 2048

logger = logging.getLogger("realtime.push")


@dataclass(frozen=True)
class Subscription:
    """One browser's push subscription.

    Attributes:
        endpoint: the push resource URL to POST messages to.
        p256dh: the browser's public key, base64url (as it gave it).
        auth: the browser's authentication secret, base64url.
    """

    endpoint: str
    p256dh: str
    auth: str

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | Subscription | str | bytes) -> Subscription:
        """A subscription from ``PushSubscription.toJSON()``'s dict (or its JSON text).

        Raises:
            InvalidSubscription: anything but an http(s) endpoint and two
                base64url keys of the right sizes.
        """
        if isinstance(data, Subscription):
            return data
        if isinstance(data, str | bytes):
            try:
                data = orjson.loads(data)
            except orjson.JSONDecodeError as exc:
                raise InvalidSubscription("not JSON") from exc
        if not isinstance(data, Mapping):
            raise InvalidSubscription("expected an object with endpoint and keys")
        endpoint, keys = data.get("endpoint"), data.get("keys")
        if not isinstance(endpoint, str) or not endpoint.startswith(("https://", "http://")):
            raise InvalidSubscription("endpoint must be an http(s) URL")
        if len(endpoint) > _MAX_ENDPOINT:
            raise InvalidSubscription(f"endpoint is longer than {_MAX_ENDPOINT} characters")
        if not isinstance(keys, Mapping):
            raise InvalidSubscription("keys must be an object with p256dh and auth")
        p256dh, auth = keys.get("p256dh"), keys.get("auth")
        if not isinstance(p256dh, str) or not isinstance(auth, str):
            raise InvalidSubscription("keys.p256dh and keys.auth must be strings")
        try:
            point, secret = b64url_decode(p256dh), b64url_decode(auth)
        except ValueError as exc:
            raise InvalidSubscription("keys must be base64url") from exc
        if len(point) != 65 or point[0] != 4:
            raise InvalidSubscription("keys.p256dh must be an uncompressed P-256 point")
        if len(secret) != 16:
            raise InvalidSubscription("keys.auth must be 16 bytes")
        return cls(endpoint, p256dh, auth)

    def to_json(self) -> dict[str, Any]:
        """The subscription as the browser wrote it."""
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}


class SubscriptionStore(Protocol):
    """Where subscriptions live, per user (a string the application chooses)."""

    def add(self, user: str, subscription: Subscription) -> None:
        """Keep ``subscription`` for ``user``, replacing one with its endpoint."""

    def remove(self, user: str, endpoint: str) -> bool:
        """Forget ``user``'s subscription at ``endpoint``; True if there was one."""

    def list(self, user: str) -> list[Subscription]:
        """``user``'s subscriptions, one per endpoint."""


class MemoryStore:
    """Subscriptions in this process's memory: gone when it stops."""

    def __init__(self) -> None:
        self._users: dict[str, dict[str, Subscription]] = {}
        self._lock = short_lock()

    def add(self, user: str, subscription: Subscription) -> None:
        with self._lock:
            self._users.setdefault(user, {})[subscription.endpoint] = subscription

    def remove(self, user: str, endpoint: str) -> bool:
        with self._lock:
            held = self._users.get(user, {})
            found = held.pop(endpoint, None) is not None
            if not held:
                self._users.pop(user, None)
            return found

    def list(self, user: str) -> list[Subscription]:
        with self._lock:
            return list(self._users.get(user, {}).values())


class RedisStore:
    """Subscriptions in Redis: one hash per user, endpoint to subscription JSON.

    Args:
        url: a ``redis://``, ``rediss://`` or ``unix://`` URL.
        mode: the async mode (redis-py is made cooperative in it).
        prefix: the keys' prefix; a user's hash is ``<prefix>:<user>``.
    """

    def __init__(self, url: str, mode: AsyncMode, prefix: str = "realtime:push") -> None:
        try:
            redis = mode.import_blocking("redis")
        except ImportError as exc:
            raise ConfigurationError(
                "a Redis subscription store needs the redis package: pip install 'realtime[redis]'"
            ) from exc
        self._client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=5)
        self._prefix = prefix

    def _key(self, user: str) -> str:
        return f"{self._prefix}:{user}"

    def add(self, user: str, subscription: Subscription) -> None:
        self._client.hset(
            self._key(user), subscription.endpoint, orjson.dumps(subscription.to_json())
        )

    def remove(self, user: str, endpoint: str) -> bool:
        return bool(self._client.hdel(self._key(user), endpoint))

    def list(self, user: str) -> list[Subscription]:
        stored: dict[bytes, bytes] = self._client.hgetall(self._key(user))
        found = []
        for endpoint, value in stored.items():
            try:
                found.append(Subscription.from_json(value))
            except InvalidSubscription:
                # Not written by this class: left out, and said once.
                logger.warning("push subscription of %r at %r is unreadable", user, endpoint)
        return found

    def close(self) -> None:
        """Close the connections to Redis."""
        self._client.close()
