"""The chat demo's mentions: ``@nick`` reaches that user's open pages, or their
browser by Web Push when none is open (examples/chat/app.py, docs/push.md).

The demo runs as ``make demo`` runs it, with a key file of the test's; its
"browser" is a subscription of the push service emulator (tests/push), handed
to the demo over the socket as the page's ``io.push.subscribe`` does.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import socketio

from tests.flask_integration.helpers import PYTHON, ROOT, Program, free_port, wait_for_http
from tests.support.push_service import PushService, push_service

__all__ = ["push_service"]

DEMO = ROOT / "examples" / "chat" / "app.py"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    key = tmp_path_factory.mktemp("demo") / "vapid.pem"
    port = free_port()
    program = Program(
        [PYTHON, str(DEMO), "--host", "127.0.0.1", "--port", str(port), "--vapid-key", str(key)]
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(url)
        assert Path(key).is_file()
        yield url
    finally:
        program.stop()


def until(check: Any, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def page(url: str, nick: str) -> tuple[socketio.Client, list[Any]]:
    client = socketio.Client(reconnection=False)
    mentions: list[Any] = []
    client.on("mention", mentions.append)
    client.connect(url, auth={"nick": nick}, transports=["websocket"])
    return client, mentions


def test_a_mention_of_a_user_with_no_page_open_is_a_push(
    demo: str, push_service: PushService
) -> None:
    grace_nick, ada_nick = f"grace{time.monotonic_ns() % 10**6}", "ada"
    grace, _ = page(demo, grace_nick)
    key = grace.call("realtime:push", {"op": "key"})["publicKey"]
    subscription = push_service.subscribe(key)
    answer = grace.call("realtime:push", {"op": "subscribe", "subscription": subscription})
    assert answer == {"subscribed": True}
    grace.disconnect()  # every tab of grace's closed

    ada, _ = page(demo, ada_nick)
    try:
        said = ada.call("chat", {"room": "lobby", "text": f"lunch, @{grace_nick}?"})
        message = said["message"]
        assert until(lambda: len(push_service.messages(subscription)) == 1)
        (pushed,) = [orjson.loads(m) for m in push_service.messages(subscription)]
        assert pushed == {
            "title": f"{message['nick']} mentioned you in #lobby",
            "body": f"lunch, @{grace_nick}?",
            "url": "/#lobby",
            "tag": f"mention-{message['id']}",
            "data": {"room": "lobby", "id": message["id"]},
        }
    finally:
        ada.disconnect()


def test_a_mention_of_a_user_with_a_page_open_reaches_the_page(
    demo: str, push_service: PushService
) -> None:
    nick = f"hopper{time.monotonic_ns() % 10**6}"
    hopper, mentions = page(demo, nick)
    key = hopper.call("realtime:push", {"op": "key"})["publicKey"]
    subscription = push_service.subscribe(key)
    hopper.call("realtime:push", {"op": "subscribe", "subscription": subscription})
    ada, _ = page(demo, "ada")
    try:
        ada.call("chat", {"room": "lobby", "text": f"@{nick} look"})
        assert until(lambda: len(mentions) == 1)
        assert mentions[0]["text"] == f"@{nick} look"
        time.sleep(0.5)
        assert push_service.messages(subscription) == []
    finally:
        ada.disconnect()
        hopper.disconnect()
