"""Fixtures of the Web Push tests: the push service emulator, a WebPush on it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from realtime.push import VapidKey, WebPush
from tests.support.push_service import PushService, push_service

__all__ = ["push_service", "webpush"]


@pytest.fixture
def webpush(push_service: PushService) -> Iterator[WebPush]:
    """A WebPush with a fresh key and subscriptions in memory (threading mode)."""
    push = WebPush(VapidKey.generate().private_key, "mailto:ops@example.com", timeout=5)
    yield push
    push.close()
