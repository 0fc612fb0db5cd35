"""The WebSocket transport over real sockets, in every async mode: sessions opened
on WebSocket, the polling-to-WebSocket upgrade, the heartbeat, refusals."""

from __future__ import annotations

import concurrent.futures
import json
import time

import pytest
import websocket

from tests.engine.conftest import ALLOWED_ORIGIN
from tests.support import eio
from tests.support.servers import ServerProcess

pytestmark = pytest.mark.usefixtures("async_mode")


def upgrade(server: ServerProcess, sid: str) -> websocket.WebSocket:
    """Run the upgrade dance for a polling session; returns the WebSocket."""
    ws = eio.ws_connect(server.ws_url, sid)
    ws.send("2probe")
    assert ws.recv() == "3probe"
    noop = eio.poll(server.url, sid)
    assert noop.text == "6"
    ws.send("5")
    return ws


class TestWebSocketOnly:
    def test_open_packet_lists_no_upgrades(self, echo: ServerProcess) -> None:
        ws, data = eio.ws_open(echo.ws_url)
        assert list(data) == ["sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"]
        assert data["upgrades"] == []
        ws.close()

    def test_client_close_packet(self, echo: ServerProcess) -> None:
        ws, data = eio.ws_open(echo.ws_url)
        ws.send("1")
        assert eio.ws_closed(ws)
        assert eio.disconnect_reason(echo.url, data["sid"]) == "client disconnect"

    def test_server_disconnect_sends_close_packet_then_closes(self, echo: ServerProcess) -> None:
        ws, data = eio.ws_open(echo.ws_url)
        ws.send("4disconnect-me")
        assert ws.recv() == "1"
        assert eio.ws_closed(ws)
        assert eio.disconnect_reason(echo.url, data["sid"]) == "server disconnect"

    def test_base64_text_frame_is_a_binary_message(self, echo: ServerProcess) -> None:
        # The reference parser decodes "b<base64>" the same way on every transport.
        ws, _ = eio.ws_open(echo.ws_url)
        ws.send("bAQID")
        assert ws.recv() == b"\x01\x02\x03"
        ws.close()

    @pytest.mark.parametrize("frame", ["abc", "", "0{}", "9", "5x", "b!!"])
    def test_invalid_packet_closes_only_that_session(self, echo: ServerProcess, frame: str) -> None:
        bystander, _ = eio.ws_open(echo.ws_url)
        ws, data = eio.ws_open(echo.ws_url)
        ws.send(frame)
        assert eio.ws_closed(ws)
        assert eio.disconnect_reason(echo.url, data["sid"]) == "transport error"
        bystander.send("4alive")
        assert bystander.recv() == "4alive"
        bystander.close()

    def test_refused_connect_gets_403_before_the_upgrade(self, echo: ServerProcess) -> None:
        with pytest.raises(websocket.WebSocketBadStatusException) as info:
            websocket.create_connection(
                eio.url(echo.ws_url, transport="websocket", refuse="1"), timeout=10
            )
        assert info.value.status_code == 403

    def test_cross_origin_websocket_is_refused(
        self, echo: ServerProcess, strict: ServerProcess
    ) -> None:
        with pytest.raises(websocket.WebSocketBadStatusException) as info:
            eio.ws_connect(echo.ws_url, origin="http://evil.example")
        assert info.value.status_code == 403
        ws = eio.ws_connect(strict.ws_url, origin=ALLOWED_ORIGIN)
        assert ws.recv().startswith("0")
        ws.close()

    def test_cookie_on_the_101_response(self, strict: ServerProcess) -> None:
        ws = eio.ws_connect(strict.ws_url, origin=ALLOWED_ORIGIN)
        sid = json.loads(ws.recv()[1:])["sid"]
        assert ws.getheaders()["set-cookie"] == f"io={sid}; Path=/; HttpOnly; SameSite=Lax"
        ws.close()


class TestUpgrade:
    def test_upgrade_sequence(self, echo: ServerProcess) -> None:
        sid, data = eio.handshake(echo.url)
        assert data["upgrades"] == ["websocket"]
        ws = upgrade(echo, sid)
        ws.send("4hello")
        assert ws.recv() == "4hello"
        ws.close()

    def test_pending_poll_is_released_by_the_probe(self, echo: ServerProcess) -> None:
        sid, _ = eio.handshake(echo.url)
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pending = pool.submit(eio.poll, echo.url, sid)
            time.sleep(0.3)
            ws = eio.ws_connect(echo.ws_url, sid)
            ws.send("2probe")
            assert ws.recv() == "3probe"
            assert pending.result(timeout=5).text == "6"
        ws.send("5")
        ws.send("4after")
        assert ws.recv() == "4after"
        ws.close()

    def test_http_requests_are_refused_after_the_upgrade(self, echo: ServerProcess) -> None:
        sid, _ = eio.handshake(echo.url)
        ws = upgrade(echo, sid)
        ws.send("4ping-pong")
        assert ws.recv() == "4ping-pong"
        assert eio.poll(echo.url, sid).status_code == 400
        assert eio.post(echo.url, sid, "4x").status_code == 400
        ws.send("4still fine")
        assert ws.recv() == "4still fine"
        ws.close()

    def test_second_probe_while_upgrading_is_closed(self, echo: ServerProcess) -> None:
        sid, _ = eio.handshake(echo.url)
        first = eio.ws_connect(echo.ws_url, sid)
        first.send("2probe")
        assert first.recv() == "3probe"
        second = eio.ws_connect(echo.ws_url, sid)
        assert eio.ws_closed(second)
        first.send("5")
        first.send("4first wins")
        assert first.recv() == "4first wins"
        first.close()

    def test_upgrade_then_burst_keeps_order_across_the_switch(self, echo: ServerProcess) -> None:
        sid, _ = eio.handshake(echo.url)
        eio.post(echo.url, sid, "4burst:500")
        time.sleep(0.2)
        ws = eio.ws_connect(echo.ws_url, sid)
        ws.send("2probe")
        assert ws.recv() == "3probe"
        received: list[str] = []
        while True:
            text = eio.poll(echo.url, sid).text
            if text == "6":
                break
            received += [p for p in text.split("\x1e") if p != "6"]
        ws.send("5")
        ws.settimeout(5)
        while len(received) < 500:
            received.append(ws.recv())
        assert received == [f"4b{i}" for i in range(500)]
        ws.close()

    def test_failed_probe_leaves_the_session_on_polling(self, echo: ServerProcess) -> None:
        sid, _ = eio.handshake(echo.url)
        ws = eio.ws_connect(echo.ws_url, sid)
        ws.send("4not a probe")
        assert eio.ws_closed(ws)
        eio.post(echo.url, sid, "4polling works")
        assert eio.poll(echo.url, sid).text == "4polling works"

    def test_upgrade_without_a_probe_is_accepted(self, echo: ServerProcess) -> None:
        sid, _ = eio.handshake(echo.url)
        ws = eio.ws_connect(echo.ws_url, sid)
        ws.send("5")
        ws.send("4direct")
        assert ws.recv() == "4direct"
        ws.close()

    def test_unknown_sid_on_upgrade(self, echo: ServerProcess) -> None:
        with pytest.raises(websocket.WebSocketBadStatusException) as info:
            eio.ws_connect(echo.ws_url, "unknown")
        assert info.value.status_code == 400


class TestHeartbeat:
    def test_websocket_ping_pong(self, fast_heartbeat: ServerProcess) -> None:
        ws, _ = eio.ws_open(fast_heartbeat.ws_url)
        for _ in range(3):
            assert ws.recv() == "2"
            ws.send("3")
        ws.send("4alive")
        assert eio.ws_recv_skip_pings(ws) == "4alive"
        ws.close()

    def test_websocket_ping_timeout_closes_the_connection(
        self, fast_heartbeat: ServerProcess
    ) -> None:
        ws, data = eio.ws_open(fast_heartbeat.ws_url)
        assert ws.recv() == "2"
        assert eio.ws_closed(ws, timeout=3)
        assert eio.disconnect_reason(fast_heartbeat.url, data["sid"]) == "ping timeout"
