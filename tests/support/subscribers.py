"""A broker Subscriber made of plain callables, for tests that drive a broker directly."""

from __future__ import annotations

from collections.abc import Callable


class CallbackSubscriber:
    """Hands each message to ``on_message``; ``on_ready`` on each (re)subscription."""

    def __init__(
        self,
        on_message: Callable[[str, bytes], None],
        on_ready: Callable[[], object] | None = None,
    ) -> None:
        self._on_message = on_message
        self._on_ready = on_ready
        self.losses = 0

    def message(self, channel: str, data: bytes) -> None:
        self._on_message(channel, data)

    def subscribed(self) -> None:
        if self._on_ready is not None:
            self._on_ready()

    def unsubscribed(self, error: BaseException) -> None:
        self.losses += 1
