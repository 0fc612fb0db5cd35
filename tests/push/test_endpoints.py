"""Which endpoints a server pushes to (subscriptions come from clients), and how many per user."""

from __future__ import annotations

from typing import Any

import pytest

from realtime.push import (
    InvalidSubscription,
    VapidKey,
    WebPush,
    default_policy,
    known_push_services,
)
from tests.support.push_service import PushService


@pytest.mark.parametrize(
    ("endpoint", "allowed"),
    [
        ("https://fcm.googleapis.com/fcm/send/x", True),
        ("https://push.internal.example/x", True),
        ("http://127.0.0.1:8090/notify/x", True),
        ("http://127.8.9.10/x", True),
        ("http://[::1]:8090/x", True),
        ("http://localhost:8090/x", True),
        ("http://10.0.0.5/x", False),
        ("http://192.168.1.1:6379/x", False),
        ("http://example.com/x", False),
        ("http://localhost.example.com/x", False),
        ("ftp://127.0.0.1/x", False),
        ("https:///x", False),
    ],
)
def test_the_default_policy(endpoint: str, allowed: bool) -> None:
    assert default_policy(endpoint) is allowed


@pytest.mark.parametrize(
    ("endpoint", "allowed"),
    [
        ("https://fcm.googleapis.com/fcm/send/x", True),
        ("https://updates.push.services.mozilla.com/wpush/v2/x", True),
        ("https://web.push.apple.com/QG9", True),
        ("https://wns2-by3p.notify.windows.com/w/?token=x", True),
        ("http://fcm.googleapis.com/fcm/send/x", False),
        ("https://fcm.googleapis.com.evil.example/x", False),
        ("https://evilpush.apple.com/x", False),
        ("https://127.0.0.1/x", False),
    ],
)
def test_known_push_services(endpoint: str, allowed: bool) -> None:
    assert known_push_services(endpoint) is allowed


def keys(service: PushService, push: WebPush) -> dict[str, Any]:
    return dict(service.subscribe(push.public_key)["keys"])


def test_a_subscription_to_an_endpoint_the_policy_refuses_is_refused(
    push_service: PushService,
) -> None:
    push = WebPush(VapidKey.generate(), "mailto:ops@example.com")
    inside = {"endpoint": "http://10.0.0.5:6379/x", "keys": keys(push_service, push)}
    with pytest.raises(InvalidSubscription, match="endpoint"):
        push.subscribe("ada", inside)
    with pytest.raises(InvalidSubscription, match="endpoint"):
        push.send_to(inside, {"a": 1})
    assert push.subscriptions("ada") == []
    strict = WebPush(
        VapidKey.generate(), "mailto:ops@example.com", allow_endpoint=known_push_services
    )
    with pytest.raises(InvalidSubscription):
        strict.subscribe("ada", push_service.subscribe(strict.public_key))


def test_a_user_keeps_at_most_max_subscriptions_the_oldest_go(
    push_service: PushService,
) -> None:
    push = WebPush(VapidKey.generate(), "mailto:ops@example.com", max_subscriptions=2)
    first, second, third = (push_service.subscribe(push.public_key) for _ in range(3))
    push.subscribe("ada", first)
    push.subscribe("ada", second)
    push.subscribe("ada", second)  # the same endpoint again takes no new place
    assert [s.endpoint for s in push.subscriptions("ada")] == [
        first["endpoint"],
        second["endpoint"],
    ]
    push.subscribe("ada", third)
    assert [s.endpoint for s in push.subscriptions("ada")] == [
        second["endpoint"],
        third["endpoint"],
    ]
