"""What the embedded eventlet server logs: app errors always, access lines on request."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import requests

from tests.support.embedded import eventlet_server


def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    if environ["PATH_INFO"] == "/boom":
        raise RuntimeError("kaboom")
    start_response("200 OK", [("Content-Length", "2")])
    return [b"ok"]


@pytest.mark.parametrize("log_output", [False, True])
def test_app_errors_are_logged_and_access_lines_only_when_asked(
    caplog: pytest.LogCaptureFixture, log_output: bool
) -> None:
    with caplog.at_level(logging.INFO), eventlet_server(app, log_output=log_output) as url:
        assert requests.get(url + "/fine", timeout=5).text == "ok"
        broken = requests.get(url + "/boom", timeout=5)
    assert broken.status_code == 500
    assert "kaboom" not in broken.text  # no traceback to the client
    errors = [
        r for r in caplog.records if r.name == "realtime.server" and r.levelno >= logging.ERROR
    ]
    assert any("kaboom" in r.getMessage() for r in errors)
    access = [r.getMessage() for r in caplog.records if r.name == "realtime.access"]
    if log_output:
        assert any("GET /fine" in line and " 200 " in line for line in access), access
    else:
        assert access == []
