"""What happens to a client that does not read what the server sends it.

Writes never block the server: what a client's transport cannot take at
once waits for it (a WebSocket's bytes the kernel refused, a polling
session's messages no GET fetched yet, an SSE or streaming response's
chunks). ``slow_client_limit`` bounds those bytes per client; past it the
``slow_client_policy`` acts, and the log says so:

- ``"disconnect"`` (the default): the connection is closed. The client
  reconnects on its own; with connection state recovery it gets back what
  it missed from the recovery log.
- ``"drop"``: each message that would pass the limit is dropped, and the
  connection stays. For applications where only the latest state matters
  (positions, prices): the client misses messages and is not told. A
  connection with permessage-deflate cannot drop a message (the compressor's
  state includes it) and is disconnected instead.

Volatile messages go first in either case: they are dropped as soon as the
transport cannot take them at once, long before the limit.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Literal

from realtime.exceptions import ConfigurationError

__all__ = ["DEFAULT", "DEFAULT_LIMIT", "DropLog", "SlowClient", "SlowClientPolicy"]

SlowClientPolicy = Literal["disconnect", "drop"]

#: Bytes that may wait for one client by default.
DEFAULT_LIMIT = 8 * 1024 * 1024
#: Seconds between two reports of messages dropped for one client.
_REPORT_EVERY = 10.0


@dataclass(frozen=True)
class SlowClient:
    """The ``slow_client_limit`` and ``slow_client_policy`` options.

    Raises:
        ConfigurationError: a limit under one byte, or an unknown policy.
    """

    limit: int = DEFAULT_LIMIT
    policy: SlowClientPolicy = "disconnect"

    def __post_init__(self) -> None:
        if isinstance(self.limit, bool) or not isinstance(self.limit, int) or self.limit < 1:
            raise ConfigurationError("slow_client_limit must be a whole number of bytes (>= 1)")
        if self.policy not in ("disconnect", "drop"):
            raise ConfigurationError("slow_client_policy is 'disconnect' or 'drop'")

    def disconnect_report(self, log: logging.Logger, label: str, waiting: int) -> None:
        """Log that ``label``'s client is disconnected as too slow."""
        log.warning(
            "%s: the client does not read what is sent (%d bytes wait, slow_client_limit "
            "is %d); disconnecting it",
            label,
            waiting,
            self.limit,
        )


#: The defaults, shared.
DEFAULT = SlowClient()


class DropLog:
    """Counts the messages dropped for one client and reports them, at most
    every 10 seconds (the first at once)."""

    __slots__ = ("_count", "_last", "_limit", "_log")

    def __init__(self, log: logging.Logger, limit: int) -> None:
        self._log = log
        self._limit = limit
        self._count = 0
        self._last: float | None = None

    def dropped(self, label: str, waiting: int) -> None:
        """One message for ``label``'s client was dropped, ``waiting`` bytes waiting."""
        self._count += 1
        now = time.monotonic()
        if self._last is not None and now - self._last < _REPORT_EVERY:
            return
        self._log.warning(
            "%s: the client does not read what is sent (%d bytes wait, slow_client_limit "
            "is %d); dropped %d message(s) for it (slow_client_policy 'drop')",
            label,
            waiting,
            self._limit,
            self._count,
        )
        self._count = 0
        self._last = now
