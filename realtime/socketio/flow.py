"""A per-connection rate limit on the events a client sends.

Off by default. With ``rate_limit={"events": 20, "burst": 40}`` each
connection has a token bucket: it holds up to ``burst`` tokens, gains
``events`` per second, and every event the client sends takes one. What
happens to a client that runs out is the ``policy``:

- ``"delay"`` (the default): the event is handled, and nothing more is read
  from the client until a token is there again. Its events are all handled,
  in order, at the rate allowed; it is held back as a client that floods
  faster than its handlers run is (see :mod:`realtime.socketio.ordering`).
- ``"disconnect"``: the event is dropped, the reason is logged (a warning
  naming the client and the limit), and the connection is closed.

Only events count (acknowledgements and namespace connections do not).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from realtime.exceptions import ConfigurationError

if TYPE_CHECKING:
    from realtime.async_modes import AsyncMode
    from realtime.engine.scheduler import Scheduler

__all__ = ["RateLimit", "Throttle"]

Policy = Literal["delay", "disconnect"]


@dataclass(frozen=True)
class RateLimit:
    """The ``rate_limit`` option.

    Args:
        events: events per second a client may send, on average.
        burst: events it may send at once (the bucket's size); at least 1.
        policy: ``"delay"`` or ``"disconnect"`` (see the module's notes).
    """

    events: float
    burst: int
    policy: Policy = "delay"

    @classmethod
    def from_option(cls, value: RateLimit | Mapping[str, Any] | None) -> RateLimit | None:
        """The option as given to the server.

        Raises:
            ConfigurationError: a field is missing, unknown or out of range.
        """
        if value is None or isinstance(value, RateLimit):
            return value
        if not isinstance(value, Mapping):
            raise ConfigurationError(
                'rate_limit is a dict such as {"events": 20, "burst": 40, "policy": "delay"}'
            )
        unknown = set(value) - {"events", "burst", "policy"}
        if unknown:
            raise ConfigurationError(f"rate_limit has no option {', '.join(sorted(unknown))}")
        if "events" not in value:
            raise ConfigurationError("rate_limit needs 'events' (events per second)")
        events, burst = value["events"], value.get("burst", value["events"])
        policy = value.get("policy", "delay")
        if isinstance(events, bool) or not isinstance(events, int | float) or events <= 0:
            raise ConfigurationError("rate_limit 'events' must be a positive number")
        if isinstance(burst, bool) or not isinstance(burst, int) or burst < 1:
            raise ConfigurationError("rate_limit 'burst' must be a whole number of at least 1")
        if policy not in ("delay", "disconnect"):
            raise ConfigurationError("rate_limit 'policy' is 'delay' or 'disconnect'")
        return cls(float(events), burst, policy)


class Throttle:
    """One connection's token bucket, and its pause when it ran out.

    Args:
        limit: the rate limit.
        mode: the async mode (its clock).
        scheduler: where a paused reader's resumption is scheduled.
    """

    __slots__ = ("_at", "_mode", "_rate", "_scheduler", "_size", "_tokens", "_until", "policy")

    def __init__(self, limit: RateLimit, mode: AsyncMode, scheduler: Scheduler) -> None:
        self._rate = limit.events
        self._size = float(limit.burst)
        self._tokens = float(limit.burst)
        self._mode = mode
        self._at = mode.monotonic()
        self._scheduler = scheduler
        self._until = 0.0
        self.policy: Policy = limit.policy

    def take(self) -> bool:
        """Take a token for one event; False if there was none.

        With the ``delay`` policy the event goes ahead anyway, owing its
        token: reading pauses (:meth:`paused`) until the debt is paid.
        """
        now = self._mode.monotonic()
        tokens = min(self._size, self._tokens + (now - self._at) * self._rate)
        self._at = now
        if tokens >= 1.0:
            self._tokens = tokens - 1.0
            return True
        if self.policy == "delay":
            self._tokens = tokens - 1.0
            # Read on once the debt is paid.
            self._until = now - self._tokens / self._rate
        return False

    def paused(self, resume: Callable[[], None]) -> bool:
        """Whether reading waits for tokens; if so, ``resume()`` is called when
        one is there."""
        until = self._until
        if until <= 0.0:
            return False
        if until <= self._mode.monotonic():
            self._until = 0.0
            return False
        self._until = 0.0
        self._scheduler.call_at(until, lambda now: _resume(resume))
        return True


logger = logging.getLogger("realtime.socketio")


def _resume(resume: Callable[[], None]) -> None:
    try:
        resume()
    except Exception:
        logger.exception("error resuming a rate-limited reader")
