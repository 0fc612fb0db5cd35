"""Brokers: how the server processes of one deployment talk to each other.

A broker publishes opaque bytes to named channels and delivers what others
publish on the channels a process subscribed to, in the order each publisher
sent them. Losing the broker never crashes a server: publishing raises
:class:`~realtime.exceptions.BrokerUnavailable`, and the subscription
reconnects with backoff until it is back, saying so in the log.
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from realtime.async_modes import AsyncMode

__all__ = ["Broker", "Reconnection", "Subscriber"]


class Subscriber(Protocol):
    """What a subscription tells its owner, on the broker's listening task."""

    def message(self, channel: str, data: bytes) -> None:
        """A message published on one of the subscribed channels."""

    def subscribed(self) -> None:
        """The subscription is (again) in place: from now on nothing is missed."""

    def unsubscribed(self, error: BaseException) -> None:
        """The subscription was lost (``error`` says why): what is published
        until :meth:`subscribed` is called again is missed."""


class Broker(abc.ABC):
    """A publish/subscribe connection to a message broker.

    Args:
        url: where the broker is (``redis://host:port/db``...).
        mode: the async mode, whose tasks and cooperative sockets to use.
        logger: where to report losing and finding the broker.
    """

    def __init__(self, url: str, mode: AsyncMode, logger: logging.Logger) -> None:
        self.url = url
        self.mode = mode
        self.logger = logger

    @abc.abstractmethod
    def publish(self, channel: str, data: bytes) -> int | None:
        """Publish ``data``; how many subscribers got it, when the broker says.

        Raises:
            BrokerUnavailable: the broker cannot be reached.
        """

    @abc.abstractmethod
    def subscribe(self, channels: Sequence[str], subscriber: Subscriber) -> None:
        """Deliver messages published on ``channels`` to ``subscriber``, from now on.

        Runs on a background task that survives losing the broker; the
        subscriber hears each time the subscription is lost and found again.
        """

    def listeners(self, channels: Sequence[str]) -> dict[str, int] | None:
        """How many subscribers each channel has now; None if the broker cannot say.

        Raises:
            BrokerUnavailable: the broker cannot be reached.
        """
        return None

    @abc.abstractmethod
    def close(self) -> None:
        """Stop listening and release connections."""

    def describe(self) -> str:
        """The broker's address without credentials, for log lines."""
        scheme, _, rest = self.url.partition("://")
        return f"{scheme}://{rest.rpartition('@')[2]}"


class Reconnection:
    """How a subscription's listening task lives through losing the broker:
    one warning when it is lost and one when it is back, the subscriber told
    each time, and a doubling pause between attempts.

    Args:
        broker: the broker (its mode sleeps, its logger warns).
        first: the first pause, seconds.
        longest: the longest pause, seconds.
    """

    def __init__(self, broker: Broker, first: float, longest: float) -> None:
        self._broker = broker
        self._first = first
        self._longest = longest
        self._pause = first
        self._lost = False

    def up(self, subscriber: Subscriber) -> None:
        """The subscription is in place (again)."""
        if self._lost:
            self._broker.logger.warning("reconnected to the broker at %s", self._broker.describe())
        self._lost, self._pause = False, self._first
        subscriber.subscribed()

    def down(self, subscriber: Subscriber, error: BaseException) -> None:
        """The subscription failed with ``error``: say so (once), then pause."""
        if not self._lost:
            self._broker.logger.warning(
                "lost the broker at %s (%s: %s); serving local clients only, reconnecting",
                self._broker.describe(),
                type(error).__name__,
                error,
            )
            subscriber.unsubscribed(error)
        self._lost = True
        self._broker.mode.sleep(self._pause)
        self._pause = min(self._pause * 2, self._longest)
