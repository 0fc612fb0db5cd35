"""WebPush against a real push service emulator (npm's web-push-testing).

The emulator checks every push's VAPID signature against the key the
subscription was made with and decrypts its payload: a message it reports is
one a browser would have read. Its recording front keeps the headers.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from realtime.exceptions import ConfigurationError
from realtime.push import MAX_PLAINTEXT, InvalidSubscription, PushMessageTooLarge, VapidKey, WebPush
from tests.push.test_vapid import verified_claims
from tests.support.push_service import PushService


def subscribed(service: PushService, push: WebPush, user: str) -> dict[str, Any]:
    subscription = service.subscribe(push.public_key)
    push.subscribe(user, subscription)
    return subscription


def test_a_message_reaches_the_push_service_decrypted_to_the_exact_json(
    push_service: PushService, webpush: WebPush
) -> None:
    subscription = subscribed(push_service, webpush, "ada")
    message = {
        "title": "New message",
        "body": "Grace: h\u00e9llo \U0001f44b",
        "data": {"n": [1, 2]},
    }
    results = webpush.send("ada", message)
    assert [(r.endpoint, r.status, r.ok, r.reason) for r in results] == [
        (subscription["endpoint"], 201, True, None)
    ]
    assert [orjson.loads(m) for m in push_service.messages(subscription)] == [message]
    (seen,) = push_service.seen_for(subscription)
    assert seen.headers["Content-Encoding"] == "aes128gcm"
    assert "Content-Type" not in seen.headers


def test_each_of_a_users_subscriptions_gets_it_and_other_users_nothing(
    push_service: PushService, webpush: WebPush
) -> None:
    phone = subscribed(push_service, webpush, "ada")
    laptop = subscribed(push_service, webpush, "ada")
    other = subscribed(push_service, webpush, "grace")
    webpush.subscribe("ada", phone)  # again: no duplicate
    assert {s.endpoint for s in webpush.subscriptions("ada")} == {
        phone["endpoint"],
        laptop["endpoint"],
    }
    results = webpush.send("ada", {"for": "ada"})
    assert sorted(r.endpoint for r in results if r.ok) == sorted(
        [phone["endpoint"], laptop["endpoint"]]
    )
    assert push_service.messages(phone) == ['{"for":"ada"}']
    assert push_service.messages(laptop) == ['{"for":"ada"}']
    assert push_service.messages(other) == []
    assert webpush.send("nobody", {"x": 1}) == []


def test_a_subscription_the_service_says_is_gone_is_removed(
    push_service: PushService, webpush: WebPush
) -> None:
    kept = subscribed(push_service, webpush, "ada")
    expired = subscribed(push_service, webpush, "ada")
    push_service.expire(expired)
    results = {r.endpoint: r for r in webpush.send("ada", {"n": 1})}
    gone = results[expired["endpoint"]]
    assert (gone.status, gone.ok, gone.removed) == (410, False, True)
    assert gone.reason is not None
    assert "410" in gone.reason
    assert results[kept["endpoint"]].ok
    assert [s.endpoint for s in webpush.subscriptions("ada")] == [kept["endpoint"]]
    assert [r.endpoint for r in webpush.send("ada", {"n": 2})] == [kept["endpoint"]]


def test_unsubscribe_forgets_one_endpoint(push_service: PushService, webpush: WebPush) -> None:
    first = subscribed(push_service, webpush, "ada")
    second = subscribed(push_service, webpush, "ada")
    assert webpush.unsubscribe("ada", first["endpoint"]) is True
    assert webpush.unsubscribe("ada", first["endpoint"]) is False
    assert [s.endpoint for s in webpush.subscriptions("ada")] == [second["endpoint"]]


def test_a_message_too_large_is_refused_before_anything_is_sent(
    push_service: PushService, webpush: WebPush
) -> None:
    subscription = subscribed(push_service, webpush, "ada")
    largest = "x" * (MAX_PLAINTEXT - len('{"t":""}'))
    with pytest.raises(PushMessageTooLarge, match="3994 bytes"):
        webpush.send("ada", {"t": largest + "x"})
    with pytest.raises(ValueError, match="limit"):
        webpush.send_later("ada", {"t": largest + "x"})
    assert push_service.seen_for(subscription) == []
    (result,) = webpush.send("ada", {"t": largest})
    assert result.ok
    assert push_service.messages(subscription) == [orjson.dumps({"t": largest}).decode()]


def test_ttl_urgency_and_topic_headers(push_service: PushService, webpush: WebPush) -> None:
    subscription = subscribed(push_service, webpush, "ada")
    webpush.send("ada", {"a": 1})
    webpush.send("ada", {"a": 2}, ttl=3600, urgency="high", topic="chat-ada")
    webpush.send("ada", "text", ttl=0, urgency="very-low")
    seen = push_service.seen_for(subscription)
    assert [(s.headers["TTL"], s.headers["Urgency"], s.headers.get("Topic")) for s in seen] == [
        ("60", "normal", None),
        ("3600", "high", "chat-ada"),
        ("0", "very-low", None),
    ]
    assert push_service.messages(subscription) == ['{"a":1}', '{"a":2}', "text"]


@pytest.mark.parametrize(
    "options",
    [{"ttl": -1}, {"ttl": 1.5}, {"urgency": "urgent"}, {"topic": "not base64url!"}, {"topic": ""}],
)
def test_headers_that_cannot_be_sent_are_refused(
    push_service: PushService, webpush: WebPush, options: dict[str, Any]
) -> None:
    subscription = subscribed(push_service, webpush, "ada")
    with pytest.raises(ConfigurationError):
        webpush.send("ada", {"a": 1}, **options)
    assert push_service.seen_for(subscription) == []


def test_the_vapid_claims(push_service: PushService, webpush: WebPush) -> None:
    subscription = subscribed(push_service, webpush, "ada")
    before = time.time()
    webpush.send("ada", {"a": 1})
    (seen,) = push_service.seen_for(subscription)
    scheme, _, rest = seen.headers["Authorization"].partition(" ")
    assert scheme == "vapid"
    params = dict(part.strip().split("=", 1) for part in rest.split(","))
    assert params["k"] == webpush.public_key
    claims = verified_claims(params["t"], webpush.public_key)
    assert claims["aud"] == f"http://127.0.0.1:{push_service.port}"
    assert claims["sub"] == "mailto:ops@example.com"
    assert isinstance(claims["exp"], int)
    assert before < claims["exp"] <= time.time() + 24 * 3600


def test_a_push_signed_with_another_key_is_refused_by_the_service(
    push_service: PushService, webpush: WebPush
) -> None:
    subscription = push_service.subscribe(VapidKey.generate().public_key)
    webpush.subscribe("ada", subscription)
    (result,) = webpush.send("ada", {"a": 1})
    assert (result.ok, result.status, result.removed) == (False, 400, False)
    assert result.reason is not None
    assert "Crypto-Key" in result.reason or "authentication" in result.reason
    assert len(webpush.subscriptions("ada")) == 1


@pytest.mark.parametrize(
    "subscription",
    [
        {},
        {"endpoint": "ftp://x/y", "keys": {"p256dh": "BA", "auth": "AA"}},
        {"endpoint": "https://x/y"},
        {"endpoint": "https://x/y", "keys": {"p256dh": "BA", "auth": "AAAAAAAAAAAAAAAAAAAAAA"}},
        "not json",
        [1, 2],
    ],
)
def test_what_is_not_a_subscription_is_refused(webpush: WebPush, subscription: Any) -> None:
    with pytest.raises(InvalidSubscription):
        webpush.subscribe("ada", subscription)
    assert webpush.subscriptions("ada") == []


@pytest.fixture
def silent_service() -> Iterator[str]:
    """A push endpoint that accepts connections and never answers."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/push/x"
    stop.set()
    thread.join()
    for sock in held:
        sock.close()
    listener.close()


def test_a_service_that_does_not_answer_times_out_and_one_that_is_down_fails(
    push_service: PushService, silent_service: str
) -> None:
    push = WebPush(VapidKey.generate(), "mailto:ops@example.com", timeout=0.5)
    keys = push_service.subscribe(push.public_key)["keys"]
    with socket.create_server(("127.0.0.1", 0)) as closed:
        down = f"http://127.0.0.1:{closed.getsockname()[1]}/x"
    push.subscribe("ada", {"endpoint": silent_service, "keys": keys})
    push.subscribe("ada", {"endpoint": down, "keys": keys})
    results = {r.endpoint: r for r in push.send("ada", {"a": 1})}
    assert results[silent_service].status is None
    assert "timed out" in (results[silent_service].reason or "")
    assert results[down].status is None
    assert "Refused" in (results[down].reason or "")
    assert len(push.subscriptions("ada")) == 2


def test_send_later_returns_at_once_and_reports_to_its_callback(
    push_service: PushService, webpush: WebPush
) -> None:
    subscription = subscribed(push_service, webpush, "ada")
    done = threading.Event()
    got: list[Any] = []

    def callback(results: list[Any]) -> None:
        got.extend(results)
        done.set()

    webpush.send_later("ada", {"later": True}, callback=callback)
    assert done.wait(10)
    assert [r.ok for r in got] == [True]
    assert push_service.messages(subscription) == ['{"later":true}']
