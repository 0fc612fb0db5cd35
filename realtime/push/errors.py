"""Exceptions of Web Push, below realtime's root (:mod:`realtime.exceptions`)::

    RealtimeError
    └── PushError                  Web Push cannot take a message or subscription
        │                          (also a ValueError)
        ├── PushMessageTooLarge    more than one push record holds
        └── InvalidSubscription    not a PushSubscription's JSON

Both are "you misused the API" errors, raised to the caller before anything
is sent. What a push service answers is never raised: it is a
:class:`~realtime.push.PushResult`.
"""

from __future__ import annotations

from realtime.exceptions import RealtimeError

__all__ = ["InvalidSubscription", "PushError", "PushMessageTooLarge"]


class PushError(RealtimeError, ValueError):
    """Web Push cannot take this message or subscription."""


class PushMessageTooLarge(PushError):
    """A push message is larger than one push record holds; nothing was sent.

    RFC 8291 section 4 leaves 3,993 bytes of plaintext in the 4,096 bytes a
    push service must accept.

    Attributes:
        size: the message's size in bytes, as encoded (JSON for a dict).
        limit: the most a message may have.
    """

    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(
            f"push message of {size} bytes is over the {limit}-byte limit of one push "
            "record (RFC 8291 section 4): send less, e.g. an id the app fetches on click"
        )


class InvalidSubscription(PushError):
    """Not a PushSubscription's JSON (``endpoint``, ``keys.p256dh``, ``keys.auth``).

    Attributes:
        reason: what was wrong, in a few words.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"invalid push subscription: {reason}")
