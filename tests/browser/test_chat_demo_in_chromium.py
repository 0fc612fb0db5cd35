"""The chat demo in a fresh Chromium: it loads, connects and chats with a clean console.

A fresh browser asks for ``/favicon.ico`` unless the page names an icon;
the demo's page names one, so nothing the page or the browser asks for is
refused, and nothing is logged as an error.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.test_ladder_in_chromium import start_demo


@pytest.fixture
def demo() -> Iterator[str]:
    program, port = start_demo("eventlet")
    yield f"http://127.0.0.1:{port}"
    program.stop()


def test_a_fresh_browser_sees_no_error(context: Any, demo: str) -> None:
    errors: list[str] = []
    refused: list[str] = []
    page = context.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("requestfailed", lambda r: refused.append(f"{r.url}: {r.failure}"))
    page.on(
        "response",
        lambda r: refused.append(f"{r.url}: {r.status}") if r.status >= 400 else None,
    )
    page.goto(demo)
    page.wait_for_function(
        "document.querySelector('#status').dataset.status === 'connected'", timeout=15000
    )
    page.fill("#text", "hello from a fresh browser")
    page.click("#message-form button")
    page.wait_for_selector("#messages li.own[data-status='delivered']", timeout=10000)
    # The icon the page names was fetched and served.
    icon = page.evaluate("document.querySelector('link[rel=icon]').href")
    assert icon.endswith("/static/favicon.svg")
    response = page.request.get(icon)
    assert response.status == 200 and "svg" in response.headers["content-type"]
    page.wait_for_timeout(500)
    assert errors == [] and refused == [], (errors, refused)
