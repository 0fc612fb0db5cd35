"""Web Push: reach a user whose tab is closed (RFC 8030, RFC 8291, RFC 8292).

:class:`WebPush` keeps the users' push subscriptions and sends them
encrypted, VAPID-signed messages through their browsers' push services; the
service worker ``realtime-sw.js``, served beside the JavaScript client, shows
them as notifications. ``python -m realtime.push`` makes a key pair. See
docs/push.md.
"""

from __future__ import annotations

from realtime.push.delivery import PushResult
from realtime.push.encryption import MAX_PLAINTEXT
from realtime.push.endpoints import EndpointPolicy, default_policy, known_push_services
from realtime.push.errors import InvalidSubscription, PushError, PushMessageTooLarge
from realtime.push.keys import VapidKey
from realtime.push.subscriptions import MemoryStore, RedisStore, Subscription, SubscriptionStore
from realtime.push.webpush import Message, Urgency, WebPush

__all__ = [
    "MAX_PLAINTEXT",
    "EndpointPolicy",
    "InvalidSubscription",
    "MemoryStore",
    "Message",
    "PushError",
    "PushMessageTooLarge",
    "PushResult",
    "RedisStore",
    "Subscription",
    "SubscriptionStore",
    "Urgency",
    "VapidKey",
    "WebPush",
    "default_policy",
    "known_push_services",
]
