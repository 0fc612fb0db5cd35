"""The optional per-connection rate limit (``rate_limit``), on the Flask app.

A python-socketio client emits a burst of events at once, in a child-process
server in each async mode. With the ``delay`` policy every event is handled,
in order, no faster than the limit allows, and the client stays connected;
with ``disconnect`` the client is closed as by the server (it does not
reconnect), the log says why, and another client is untouched.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support.flood_clients import flood_stats, ordered_client
from tests.support.servers import ServerProcess

MODES = ["threading", "eventlet", "gevent"]
APP = "tests.support.flood_app:create_app"


def _handled(url: str, sid: str, count: int, timeout: float = 30) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    stats = flood_stats(url, sid)
    while stats["handled"] != count and time.monotonic() < deadline:
        time.sleep(0.1)
        stats = flood_stats(url, sid)
    return stats


@pytest.mark.parametrize("mode", MODES)
def test_delay_holds_a_client_to_the_rate(mode: str) -> None:
    options = {"rate_limit": {"events": 20, "burst": 10}}
    server = ServerProcess(APP, mode, options).start()
    try:
        client = ordered_client(server.url, "websocket")
        sid = client.get_sid()
        assert sid is not None
        for n in range(40):
            client.emit("flood", (n, "x"))
        stats = _handled(server.url, sid, 40)
        assert stats["handled"] == 40 and stats["out_of_order"] == [], stats
        # 10 at once, then 30 at 20 per second: 1.5 s at the least.
        assert float(stats["span"]) >= 1.4, stats  # type: ignore[arg-type]
        assert client.connected
        assert client.call("echo", "still here", timeout=10) == "still here"
        client.disconnect()
    finally:
        server.stop()


@pytest.mark.parametrize("mode", MODES)
def test_delay_over_polling_handles_everything(mode: str) -> None:
    # A POST's events are handled as they come; the next POST waits for
    # the debt to be paid.
    options = {"rate_limit": {"events": 50, "burst": 10}}
    server = ServerProcess(APP, mode, options).start()
    try:
        client = ordered_client(server.url, "polling")
        sid = client.get_sid()
        assert sid is not None
        for n in range(100):
            client.emit("flood", (n, "x"))
            time.sleep(0.002)
        stats = _handled(server.url, sid, 100)
        assert stats["handled"] == 100 and stats["out_of_order"] == [], stats
        assert client.connected
        client.disconnect()
    finally:
        server.stop()


@pytest.mark.parametrize("transport", ["websocket", "polling"])
@pytest.mark.parametrize("mode", MODES)
def test_disconnect_closes_the_client_and_says_why(
    mode: str, transport: str, tmp_path: Path
) -> None:
    options = {"rate_limit": {"events": 5, "burst": 5, "policy": "disconnect"}}
    log = tmp_path / "server.log"
    server = ServerProcess(APP, mode, options, log_path=str(log)).start()
    try:
        calm = ordered_client(server.url, "websocket")
        flooder = ordered_client(server.url, transport)
        sid = flooder.get_sid()
        assert sid is not None
        reasons: list[str] = []
        flooder.on("disconnect", lambda reason="": reasons.append(str(reason)))
        for n in range(30):
            flooder.emit("flood", (n, "x"))
        deadline = time.monotonic() + 15
        while flooder.connected and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not flooder.connected
        assert reasons == ["server disconnect"], reasons  # python-socketio's name for it
        handled = int(flood_stats(server.url, sid)["handled"])  # type: ignore[call-overload]
        assert 5 <= handled < 30, handled
        assert calm.call("echo", 1, timeout=10) == 1
        calm.disconnect()
    finally:
        server.stop()
    text = log.read_text()
    assert "sent events faster than rate_limit allows (5.0 per second, 5 at once)" in text
    assert "Traceback" not in text


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ({"burst": 3}, "needs 'events'"),
        ({"events": 0}, "positive number"),
        ({"events": 5, "burst": 0}, "at least 1"),
        ({"events": 5, "policy": "drop"}, "'delay' or 'disconnect'"),
        ({"events": 5, "per": "minute"}, "no option per"),
        (20, "is a dict"),
    ],
)
def test_a_bad_rate_limit_is_refused_clearly(option: object, message: str) -> None:
    import realtime
    from realtime.exceptions import ConfigurationError

    with pytest.raises(ConfigurationError, match=message):
        realtime.Server(async_mode="threading", rate_limit=option)
