"""Web Push for an application: subscriptions per user, and sending to them.

:class:`WebPush` holds the application server key, the users'
subscriptions (in memory, or in Redis) and sends a message to every
subscription of a user: encrypted (:mod:`realtime.push.encryption`), signed
(:mod:`realtime.push.vapid`) and POSTed (:mod:`realtime.push.delivery`).
See docs/push.md.
"""

from __future__ import annotations

import logging
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Literal

import orjson

from realtime.async_modes import AsyncMode, get_async_mode, patched_mode
from realtime.exceptions import ConfigurationError
from realtime.push.delivery import Poster, PushRequest, PushResult
from realtime.push.encryption import MAX_PLAINTEXT, encrypt
from realtime.push.endpoints import EndpointPolicy, default_policy
from realtime.push.errors import InvalidSubscription, PushMessageTooLarge
from realtime.push.held import HeldPush, Holder, made_holds
from realtime.push.keys import KeySource, VapidKey, b64url_decode
from realtime.push.subscriptions import MemoryStore, RedisStore, Subscription, SubscriptionStore
from realtime.push.vapid import VapidSigner

__all__ = ["Message", "Urgency", "WebPush"]

logger = logging.getLogger("realtime.push")

#: RFC 8030 section 5.3's urgencies, least urgent first.
Urgency = Literal["very-low", "low", "normal", "high"]
_URGENCIES = ("very-low", "low", "normal", "high")
#: What :meth:`WebPush.send` takes: a dict or list (sent as JSON), text
#: (sent as UTF-8) or bytes (as they are).
Message = Mapping[str, Any] | Sequence[Any] | str | bytes
#: The longest TTL push services keep a message: 28 days (Chrome's limit;
#: longer ones are cut to it anyway).
_MAX_TTL = 28 * 24 * 3600
_TOPIC_CHARACTERS = frozenset(string.ascii_letters + string.digits + "-_")


def encode_message(message: Message) -> bytes:
    """The bytes a message travels as: JSON for dicts and lists, UTF-8 for text."""
    if isinstance(message, bytes):
        return message
    if isinstance(message, str):
        return message.encode("utf-8")
    return orjson.dumps(message)


class WebPush:
    """Sends Web Push messages to users' browsers, with VAPID.

    Args:
        private_key: the application server key: a path to a PEM file of a
            P-256 private key, PEM text, the 32-byte private number as
            base64url, a ``cryptography`` EC private key or a :class:`VapidKey`.
            ``python -m realtime.push`` makes one.
        subject: a ``mailto:`` or ``https:`` URL where push services can
            reach the operator (VAPID's ``sub`` claim).
        redis_url: keep subscriptions in this Redis (``redis://...``) so
            every process sees them; in this process's memory when None.
        store: where subscriptions live, instead of the above.
        async_mode: the async mode (name or object) whose sockets and tasks
            are used: the server's when it made this; when None, the mode
            the process is monkey patched for, or threading.
        timeout: seconds for each push service's answer.
        key_prefix: the Redis keys' prefix.
        allow_endpoint: which endpoints subscriptions may have (they come
            from clients): by default ``https`` ones, and ``http`` on the
            loopback interface; :func:`~realtime.push.known_push_services`
            takes only the browsers' push services.
        max_subscriptions: the most a user keeps; a new one beyond it
            replaces the one listed first (the oldest, in memory).
        retries: how many times a push answered 429 or 503 is sent again,
            after the service's ``Retry-After`` (1 s, then 2 s... without one).
        max_retry_wait: the longest wait before such a retry, in seconds; a
            service that asks for longer is not retried.
        max_connections: keep-alive connections open at once to one push
            service (more concurrent pushes to it wait for one).

    Raises:
        ConfigurationError: a key, subject or mode that cannot work.
    """

    def __init__(
        self,
        private_key: KeySource,
        subject: str,
        *,
        redis_url: str | None = None,
        store: SubscriptionStore | None = None,
        async_mode: str | AsyncMode | None = None,
        timeout: float = 10.0,
        key_prefix: str = "realtime:push",
        allow_endpoint: EndpointPolicy = default_policy,
        max_subscriptions: int = 10,
        retries: int = 2,
        max_retry_wait: float = 10.0,
        max_connections: int = 8,
    ) -> None:
        if isinstance(async_mode, AsyncMode):
            self.mode = async_mode
        else:
            self.mode = get_async_mode(async_mode or patched_mode() or "threading")
        self.key = VapidKey.load(private_key)
        self._signer = VapidSigner(self.key, subject)
        self._poster = Poster(self.mode, timeout, retries, max_retry_wait, max_connections)
        if store is None:
            store = RedisStore(redis_url, self.mode, key_prefix) if redis_url else MemoryStore()
        self.store = store
        #: Pushes held while a user's dropped connections may still come
        #: back (:mod:`realtime.push.held`): in Redis with ``redis_url``.
        self.holds = Holder(
            made_holds(redis_url, self.mode, key_prefix), self.mode, self._send_held
        )
        self.allow_endpoint = allow_endpoint
        if max_subscriptions < 1:
            raise ConfigurationError("max_subscriptions must be at least 1")
        self.max_subscriptions = max_subscriptions

    @property
    def public_key(self) -> str:
        """The application server key, base64url: ``pushManager.subscribe``'s
        ``applicationServerKey``."""
        return self.key.public_key

    @property
    def subject(self) -> str:
        """The VAPID contact URL."""
        return self._signer.subject

    # -- subscriptions -------------------------------------------------------

    def subscribe(
        self, user: str, subscription: Mapping[str, Any] | Subscription | str | bytes
    ) -> Subscription:
        """Keep a browser's subscription for ``user`` (again: no duplicate).

        Args:
            user: the application's name for the user.
            subscription: ``PushSubscription.toJSON()`` as a dict or JSON text.

        Raises:
            InvalidSubscription: not a PushSubscription's JSON, or an
                endpoint ``allow_endpoint`` refuses.
        """
        checked = Subscription.from_json(subscription)
        if not self.allow_endpoint(checked.endpoint):
            raise InvalidSubscription("this server does not push to that endpoint")
        held = [s for s in self.store.list(user) if s.endpoint != checked.endpoint]
        for extra in held[: max(0, len(held) - self.max_subscriptions + 1)]:
            self.store.remove(user, extra.endpoint)
        self.store.add(user, checked)
        return checked

    def unsubscribe(self, user: str, endpoint: str) -> bool:
        """Forget ``user``'s subscription at ``endpoint``; True if there was one."""
        return self.store.remove(user, endpoint)

    def resubscribe(
        self,
        user: str,
        subscription: Mapping[str, Any] | Subscription | str | bytes,
        old_endpoint: str | None = None,
    ) -> Subscription:
        """The browser replaced ``user``'s subscription: keep the new one, forget the old.

        What the service worker's ``pushsubscriptionchange`` hands over
        (``subscription`` and ``oldEndpoint``, see docs/push.md). The old
        endpoint is forgotten only once the new subscription was taken.

        Raises:
            InvalidSubscription: as :meth:`subscribe`.
        """
        kept = self.subscribe(user, subscription)
        if old_endpoint and old_endpoint != kept.endpoint:
            self.unsubscribe(user, old_endpoint)
        return kept

    def subscriptions(self, user: str) -> list[Subscription]:
        """``user``'s subscriptions."""
        return self.store.list(user)

    # -- sending -------------------------------------------------------------

    def send(
        self,
        user: str,
        message: Message,
        ttl: int = 60,
        urgency: Urgency = "normal",
        topic: str | None = None,
    ) -> list[PushResult]:
        """Push ``message`` to every subscription of ``user``, and wait for the answers.

        Each subscription is sent to in a task of its own; the caller's task
        waits for them without holding the others up (green threads switch
        while it waits). A subscription the push service says is gone (404,
        410) is forgotten.

        Args:
            user: whose subscriptions.
            message: a dict or list (sent as JSON), text, or bytes; at most
                3,993 bytes as sent.
            ttl: seconds the push service keeps the message for a browser
                that is offline (RFC 8030 section 5.2); 0 for now or never.
            urgency: ``"very-low"``, ``"low"``, ``"normal"`` or ``"high"``
                (RFC 8030 section 5.3).
            topic: a message with the same topic replaces one still waiting
                (RFC 8030 section 5.4): up to 32 base64url characters.

        Returns:
            One :class:`PushResult` per subscription (none without any).

        Raises:
            PushMessageTooLarge: the message does not fit in one push;
                nothing was sent.
            ValueError: a TTL, urgency or topic that cannot be sent.
        """
        payload = self._payload(message)
        headers = self._headers(ttl, urgency, topic)
        subscriptions = self.store.list(user)
        if len(subscriptions) <= 1:
            return [self._send_one(user, s, payload, headers) for s in subscriptions]
        results: list[PushResult | None] = [None] * len(subscriptions)

        def one(index: int, subscription: Subscription) -> None:
            results[index] = self._send_one(user, subscription, payload, headers)

        tasks = [self.mode.spawn(one, i, s) for i, s in enumerate(subscriptions)]
        for task in tasks:
            task.join()
        return [r for r in results if r is not None]

    def send_later(
        self,
        user: str,
        message: Message,
        ttl: int = 60,
        urgency: Urgency = "normal",
        topic: str | None = None,
        callback: Callable[[list[PushResult]], None] | None = None,
    ) -> None:
        """:meth:`send` in a task of its own: returns at once.

        The message is checked first, so a too-large one still raises here.
        Failures are logged; ``callback`` gets the results when given.
        """
        self.check(message, ttl, urgency, topic)

        def run() -> None:
            try:
                results = self.send(user, message, ttl, urgency, topic)
                if callback is not None:
                    callback(results)
            except Exception:
                logger.exception("push to user %r failed", user)

        self.mode.spawn(run)

    def check(
        self,
        message: Message,
        ttl: int = 60,
        urgency: Urgency = "normal",
        topic: str | None = None,
    ) -> None:
        """Raise what :meth:`send` would raise for these arguments, sending nothing.

        Raises:
            PushMessageTooLarge: the message does not fit in one push.
            ValueError: a TTL, urgency or topic that cannot be sent.
        """
        self._payload(message)
        self._headers(ttl, urgency, topic)

    def send_to(
        self,
        subscription: Mapping[str, Any] | Subscription,
        message: Message,
        ttl: int = 60,
        urgency: Urgency = "normal",
        topic: str | None = None,
    ) -> PushResult:
        """Push ``message`` to one subscription kept elsewhere (nothing is removed).

        Raises:
            InvalidSubscription: not a subscription, or an endpoint
                ``allow_endpoint`` refuses.
        """
        checked = Subscription.from_json(subscription)
        if not self.allow_endpoint(checked.endpoint):
            raise InvalidSubscription("this server does not push to that endpoint")
        request = self._request(checked, self._payload(message), self._headers(ttl, urgency, topic))
        return self._poster.post(request)

    def hold(
        self,
        user: str,
        message: Message,
        *,
        windows: Mapping[str, float],
        scope: str = "/",
        ttl: int = 60,
        urgency: Urgency = "normal",
    ) -> HeldPush:
        """Push ``message`` to ``user`` once the last of ``windows`` closed, unless
        one of them came back meanwhile (see :mod:`realtime.push.held`).

        The offline fallback uses it (:meth:`realtime.Server.emit_to_user`);
        sent only while :attr:`holds` runs (``holds.start(...)``).

        Args:
            windows: the connections that may still come back: token to the
                time (``time.time()``) their window closes.
            scope: the namespace the windows are in.

        Raises:
            PushMessageTooLarge, ValueError: as :meth:`send` would.
        """
        payload = self._payload(message)
        self._headers(ttl, urgency, None)
        return self.holds.hold(
            user, payload, scope=scope, windows=windows, ttl=ttl, urgency=urgency
        )

    def _send_held(self, push: HeldPush) -> None:
        urgency: Any = push.urgency
        for result in self.send(push.user, push.payload, ttl=push.ttl, urgency=urgency):
            if not result.ok:
                logger.info("held push to %s: %s", result.endpoint, result.reason)

    def close(self) -> None:
        """Stop sending held pushes; let go of the push services' and the stores' connections."""
        self.holds.stop()
        self.holds.store.close()
        self._poster.close()
        close = getattr(self.store, "close", None)
        if close is not None:
            close()

    # -- internals -----------------------------------------------------------

    @staticmethod
    def _payload(message: Message) -> bytes:
        payload = encode_message(message)
        if len(payload) > MAX_PLAINTEXT:
            raise PushMessageTooLarge(len(payload), MAX_PLAINTEXT)
        return payload

    @staticmethod
    def _headers(ttl: int, urgency: str, topic: str | None) -> dict[str, str]:
        if not isinstance(ttl, int) or not 0 <= ttl <= _MAX_TTL:
            raise ConfigurationError(f"ttl must be whole seconds from 0 to {_MAX_TTL}, not {ttl!r}")
        if urgency not in _URGENCIES:
            raise ConfigurationError(f"urgency must be one of {', '.join(_URGENCIES)}")
        headers = {"TTL": str(ttl), "Urgency": urgency, "Content-Encoding": "aes128gcm"}
        if topic is not None:
            if not 0 < len(topic) <= 32 or not set(topic) <= _TOPIC_CHARACTERS:
                raise ConfigurationError("a topic is 1 to 32 base64url characters")
            headers["Topic"] = topic
        return headers

    def _request(
        self, subscription: Subscription, payload: bytes, headers: dict[str, str]
    ) -> PushRequest:
        body = encrypt(
            payload, b64url_decode(subscription.p256dh), b64url_decode(subscription.auth)
        )
        signed = {**headers, "Authorization": self._signer.authorization(subscription.endpoint)}
        return PushRequest(subscription.endpoint, body, signed)

    def _send_one(
        self, user: str, subscription: Subscription, payload: bytes, headers: dict[str, str]
    ) -> PushResult:
        result = self._poster.post(self._request(subscription, payload, headers))
        if result.gone:
            removed = self.store.remove(user, subscription.endpoint)
            logger.info("push subscription of %r at %s is gone", user, subscription.endpoint)
            return replace(result, removed=removed)
        return result
