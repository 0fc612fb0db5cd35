"""Pushes held while a user may still come back on its own (the offline fallback's wait).

A message for a user who has no live connection, but has one that dropped
and may still be recovered (a *window* still open), is not pushed at once:
it is *held* until the last of those windows closed (and a short grace
after), then sent, unless one of the connections it waited for came back
in the meantime (it got the message another way) or the application's
check says it is no longer wanted. This module knows nothing of Socket.IO: a
window is a *token* (the socket's private id) with an end time, kept per
user and *scope* (the namespace).

Where it is kept (:class:`HoldStore`):

- :class:`MemoryHolds`, in this process: windows, held pushes and comebacks
  die with it.
- :class:`RedisHolds`, in Redis: every process sees every window and every
  comeback, and a held push survives the process that held it. Each process
  looks for due pushes every :data:`POLL_INTERVAL` seconds; claiming one is
  atomic (a script removes it and returns it to one caller only), so a push
  is sent by one process only, never twice. What is not covered: a process
  that dies between claiming a due push and sending it loses it (at most
  once, not at least once), and processes' clocks are trusted to agree
  within a second or so.

:class:`Holder` is the one task per process that sends held pushes when due.
"""

from __future__ import annotations

import base64
import heapq
import logging
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

import orjson

from realtime.async_modes import AsyncMode, short_lock
from realtime.exceptions import ConfigurationError

__all__ = [
    "GRACE",
    "POLL_INTERVAL",
    "HeldPush",
    "HoldStore",
    "Holder",
    "MemoryHolds",
    "RedisHolds",
]

logger = logging.getLogger("realtime.push")

#: Seconds after the last awaited window closed before a held push is sent:
#: room for a comeback that was on its way when the window closed.
GRACE = 2.0
#: Seconds between two looks for due pushes in a shared store (other
#: processes' pushes; this process's own are woken for on time).
POLL_INTERVAL = 1.0
#: How many due pushes one look claims, at most.
_CLAIM_BATCH = 100
#: The memory store forgets closed windows every this many drops.
_SWEEP_EVERY = 256


@dataclass(frozen=True)
class HeldPush:
    """A push waiting for recovery windows to close.

    Attributes:
        id: its name in the store.
        user: whose subscriptions it goes to.
        scope: the namespace of the windows it waits for.
        payload: the message as sent (JSON, usually).
        ttl: the push's TTL.
        urgency: the push's urgency.
        awaiting: the tokens (socket pids) whose comeback cancels it.
        held_at: when it was held (seconds since the epoch).
        due: when it is sent if nothing cancelled it.
    """

    id: str
    user: str
    scope: str
    payload: bytes
    ttl: int
    urgency: str
    awaiting: tuple[str, ...]
    held_at: float
    due: float

    def to_json(self) -> bytes:
        """The push as the Redis store keeps it."""
        return orjson.dumps(
            {
                "id": self.id,
                "user": self.user,
                "scope": self.scope,
                "payload": base64.b64encode(self.payload).decode("ascii"),
                "ttl": self.ttl,
                "urgency": self.urgency,
                "awaiting": list(self.awaiting),
                "held_at": self.held_at,
                "due": self.due,
            }
        )

    @classmethod
    def from_json(cls, data: bytes | str) -> HeldPush:
        """Read back what :meth:`to_json` wrote."""
        fields = orjson.loads(data)
        return cls(
            id=str(fields["id"]),
            user=str(fields["user"]),
            scope=str(fields["scope"]),
            payload=base64.b64decode(fields["payload"]),
            ttl=int(fields["ttl"]),
            urgency=str(fields["urgency"]),
            awaiting=tuple(str(t) for t in fields["awaiting"]),
            held_at=float(fields["held_at"]),
            due=float(fields["due"]),
        )


class HoldStore(Protocol):
    """Where recovery windows, comebacks and held pushes are kept."""

    #: Other processes see what is kept here.
    shared: bool

    def opened(self, scope: str, user: str, token: str, until: float) -> None:
        """``user``'s connection ``token`` dropped; it may come back until ``until``."""

    def came_back(self, scope: str, user: str, token: str, at: float, keep: float) -> None:
        """Connection ``token`` came back at ``at`` (remembered ``keep`` seconds)."""

    def windows(self, scope: str, user: str, now: float) -> dict[str, float]:
        """``user``'s windows still open at ``now``: token to end time."""

    def came_back_since(self, tokens: tuple[str, ...], since: float) -> bool:
        """Whether one of ``tokens`` came back at or after ``since``."""

    def hold(self, push: HeldPush) -> None:
        """Keep ``push`` until it is due."""

    def claim_due(self, now: float) -> list[HeldPush]:
        """Remove and return the pushes due at ``now``: each to one caller only."""

    def next_due(self) -> float | None:
        """When the next held push is due, if any is held."""

    def close(self) -> None:
        """Let go of connections."""


class MemoryHolds:
    """Windows, comebacks and held pushes in this process's memory."""

    shared = False

    def __init__(self) -> None:
        self._lock = short_lock()
        self._windows: dict[tuple[str, str], dict[str, float]] = {}
        self._back: dict[str, tuple[float, float]] = {}  # token: (at, forget after)
        self._held: list[tuple[float, str, HeldPush]] = []
        self._opened = 0

    def opened(self, scope: str, user: str, token: str, until: float) -> None:
        with self._lock:
            self._windows.setdefault((scope, user), {})[token] = until
            self._opened += 1
            if self._opened % _SWEEP_EVERY == 0:
                # The windows of users nobody emitted to since they closed.
                now = time.time()
                for key, held in list(self._windows.items()):
                    for old in [t for t, end in held.items() if end <= now]:
                        del held[old]
                    if not held:
                        del self._windows[key]

    def came_back(self, scope: str, user: str, token: str, at: float, keep: float) -> None:
        with self._lock:
            held = self._windows.get((scope, user), {})
            held.pop(token, None)
            if not held:
                self._windows.pop((scope, user), None)
            self._back[token] = (at, at + keep)
            for old in [t for t, (_, end) in self._back.items() if end < at]:
                del self._back[old]

    def windows(self, scope: str, user: str, now: float) -> dict[str, float]:
        with self._lock:
            held = self._windows.get((scope, user), {})
            for token in [t for t, until in held.items() if until <= now]:
                del held[token]
            if not held:
                self._windows.pop((scope, user), None)
            return dict(held)

    def came_back_since(self, tokens: tuple[str, ...], since: float) -> bool:
        with self._lock:
            return any(self._back.get(t, (0.0, 0.0))[0] >= since for t in tokens)

    def hold(self, push: HeldPush) -> None:
        with self._lock:
            heapq.heappush(self._held, (push.due, push.id, push))

    def claim_due(self, now: float) -> list[HeldPush]:
        due = []
        with self._lock:
            while self._held and self._held[0][0] <= now:
                due.append(heapq.heappop(self._held)[2])
        return due

    def next_due(self) -> float | None:
        with self._lock:
            return self._held[0][0] if self._held else None

    def close(self) -> None:
        pass


# KEYS: the due times (sorted set), the pushes (hash). ARGV: now, how many.
# Removes the due pushes and returns them: only one caller gets each.
_CLAIM = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
local out = {}
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[1], id)
  local data = redis.call('HGET', KEYS[2], id)
  redis.call('HDEL', KEYS[2], id)
  if data then out[#out + 1] = data end
end
return out
"""


class RedisHolds:
    """Windows, comebacks and held pushes in Redis, seen by every process.

    Keys, under ``prefix`` (after a ``~``, apart from the subscriptions'
    ``<prefix>:<user>``): ``~windows:<scope>:<user>`` (a sorted set, token by
    end time), ``~back:<token>`` (when it came back), ``~due`` (a sorted
    set, push id by due time) and ``~held`` (a hash, push id to push).

    Args:
        url: a ``redis://``, ``rediss://`` or ``unix://`` URL.
        mode: the async mode (redis-py is made cooperative in it).
        prefix: the keys' prefix.
    """

    shared = True

    def __init__(self, url: str, mode: AsyncMode, prefix: str = "realtime:push") -> None:
        try:
            redis = mode.import_blocking("redis")
        except ImportError as exc:
            raise ConfigurationError(
                "held pushes in Redis need the redis package: pip install 'realtime[redis]'"
            ) from exc
        self._client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=5)
        self._prefix = prefix + "~"
        self._claim = self._client.register_script(_CLAIM)

    def _windows_key(self, scope: str, user: str) -> str:
        return f"{self._prefix}windows:{scope}:{user}"

    def opened(self, scope: str, user: str, token: str, until: float) -> None:
        key = self._windows_key(scope, user)
        pipe = self._client.pipeline(transaction=True)
        pipe.zadd(key, {token: until})
        pipe.expireat(key, int(until) + 60)
        pipe.execute()

    def came_back(self, scope: str, user: str, token: str, at: float, keep: float) -> None:
        pipe = self._client.pipeline(transaction=True)
        pipe.zrem(self._windows_key(scope, user), token)
        pipe.set(f"{self._prefix}back:{token}", repr(at), ex=max(1, int(keep) + 1))
        pipe.execute()

    def windows(self, scope: str, user: str, now: float) -> dict[str, float]:
        key = self._windows_key(scope, user)
        pipe = self._client.pipeline(transaction=True)
        pipe.zremrangebyscore(key, "-inf", now)
        pipe.zrange(key, 0, -1, withscores=True)
        found: list[tuple[bytes, float]] = pipe.execute()[1]
        return {token.decode(): float(until) for token, until in found}

    def came_back_since(self, tokens: tuple[str, ...], since: float) -> bool:
        if not tokens:
            return False
        found = self._client.mget([f"{self._prefix}back:{t}" for t in tokens])
        return any(at is not None and float(at) >= since for at in found)

    def hold(self, push: HeldPush) -> None:
        pipe = self._client.pipeline(transaction=True)
        pipe.hset(f"{self._prefix}held", push.id, push.to_json())
        pipe.zadd(f"{self._prefix}due", {push.id: push.due})
        pipe.execute()

    def claim_due(self, now: float) -> list[HeldPush]:
        keys = [f"{self._prefix}due", f"{self._prefix}held"]
        claimed = self._claim(keys=keys, args=[repr(now), _CLAIM_BATCH])
        pushes = []
        for data in claimed:
            try:
                pushes.append(HeldPush.from_json(data))
            except (ValueError, KeyError, TypeError):
                logger.warning("a held push in Redis is unreadable; dropped")
        return pushes

    def next_due(self) -> float | None:
        first: list[tuple[bytes, float]] = self._client.zrange(
            f"{self._prefix}due", 0, 0, withscores=True
        )
        return float(first[0][1]) if first else None

    def close(self) -> None:
        self._client.close()


#: Whether a held push is still to be sent, once due (the application's word:
#: the user is not live again, say).
StillWanted = Callable[[HeldPush], bool]


class Holder:
    """The task that sends held pushes once due, unless they were answered.

    Args:
        store: where they are kept.
        mode: the async mode (the task, its wake-up event).
        send: sends one due push (on a task of its own).
    """

    def __init__(self, store: HoldStore, mode: AsyncMode, send: Callable[[HeldPush], None]) -> None:
        self.store = store
        self._mode = mode
        self._send = send
        self._wake = mode.event()
        self._still_wanted: StillWanted | None = None
        self._running = False
        self._stopped = False

    def start(self, still_wanted: StillWanted) -> None:
        """Send due pushes from now on, asking ``still_wanted`` first (idempotent)."""
        self._still_wanted = still_wanted
        if not self._running:
            self._running = True
            self._mode.spawn(self._run)

    def hold(
        self,
        user: str,
        payload: bytes,
        *,
        scope: str,
        windows: Mapping[str, float],
        ttl: int,
        urgency: str,
        grace: float = GRACE,
    ) -> HeldPush:
        """Keep a push for ``user`` until the last of ``windows`` closed, plus ``grace``."""
        now = time.time()
        push = HeldPush(
            id=secrets.token_urlsafe(12),
            user=user,
            scope=scope,
            payload=payload,
            ttl=ttl,
            urgency=urgency,
            awaiting=tuple(windows),
            held_at=now,
            due=max([now, *windows.values()]) + grace,
        )
        self.store.hold(push)
        self._wake.set()
        return push

    def stop(self) -> None:
        """Stop the task (held pushes stay in a shared store, for the others)."""
        self._stopped = True
        self._wake.set()

    def stopped(self) -> bool:
        """Whether :meth:`stop` was called."""
        return self._stopped

    def _run(self) -> None:
        while not self.stopped():
            self._wake.clear()
            try:
                for push in self.store.claim_due(time.time()):
                    self._mode.spawn(self._settle, push)
                due = self.store.next_due()
            except Exception:
                if self.stopped():
                    return  # the store was closed under the task
                logger.warning("held pushes cannot be read now; again soon", exc_info=True)
                due = time.time() + POLL_INTERVAL
            # A shared store is looked at every POLL_INTERVAL (the other
            # processes' pushes); this process's own wake the task up.
            wait = POLL_INTERVAL if self.store.shared else None
            if due is not None:
                until_due = max(0.0, due - time.time())
                wait = until_due if wait is None else min(wait, until_due)
            self._wake.wait(wait)

    def _settle(self, push: HeldPush) -> None:
        try:
            if self.store.came_back_since(push.awaiting, push.held_at):
                logger.debug("held push to %r: the user came back; not sent", push.user)
                return
            if self._still_wanted is not None and not self._still_wanted(push):
                logger.debug("held push to %r: no longer wanted; not sent", push.user)
                return
            self._send(push)
        except Exception:
            logger.exception("held push to user %r failed", push.user)


def made_holds(redis_url: str | None, mode: AsyncMode, prefix: str) -> HoldStore:
    """Held pushes in Redis when there is a URL, else in memory."""
    if redis_url:
        return RedisHolds(redis_url, mode, prefix)
    return MemoryHolds()
