"""WebSocket and the polling-to-WebSocket upgrade, frame by frame, in every async mode."""

from __future__ import annotations

import concurrent.futures
import json
import socket
import time

import pytest
import requests
import websocket

from tests.engine.conftest import ALLOWED_ORIGIN, ECHO
from tests.support import eio
from tests.support.servers import ServerPool, ServerProcess

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

    def test_text_and_binary_echo(self, echo: ServerProcess) -> None:
        ws, _ = eio.ws_open(echo.ws_url)
        ws.send("4hello €")
        assert ws.recv() == "4hello €"
        ws.send_binary(bytes([1, 2, 3, 4]))
        assert ws.recv() == bytes([1, 2, 3, 4])
        ws.send("4")
        assert ws.recv() == "4"
        ws.close()

    def test_fragmented_message_is_reassembled(self, echo: ServerProcess) -> None:
        ws, _ = eio.ws_open(echo.ws_url)
        ws.send_frame(websocket.ABNF.create_frame("4frag", websocket.ABNF.OPCODE_TEXT, fin=0))
        ws.send_frame(websocket.ABNF.create_frame("mented", websocket.ABNF.OPCODE_CONT, fin=1))
        assert ws.recv() == "4fragmented"
        ws.close()

    def test_frames_split_and_mixed_in_one_write(self, echo: ServerProcess) -> None:
        # Whole frames, a frame cut in two writes, a ping, a fragmented
        # message and a frame with a padded length, back to back: the fast
        # path and websockets' parser take turns without losing a byte.
        ws, _ = eio.ws_open(echo.ws_url)

        def frame(text: str, opcode: int = websocket.ABNF.OPCODE_TEXT, fin: int = 1) -> bytes:
            return bytes(websocket.ABNF.create_frame(text, opcode, fin=fin).format())

        cut = frame("4" + "c" * 200)
        ws.sock.sendall(frame("4a") + frame("4b") + cut[:7])
        time.sleep(0.1)
        padded = bytearray([0x81, 0x80 | 126, 0, 3, 0, 0, 0, 0]) + b"4pd"  # 3 bytes as 16-bit
        ws.sock.sendall(
            cut[7:]
            + frame("4d")
            + frame("", websocket.ABNF.OPCODE_PING)
            + frame("4fr", fin=0)
            + frame("ag", websocket.ABNF.OPCODE_CONT)
            + frame("4e")
            + bytes(padded)
            + frame("4f")
        )
        expected = ["4a", "4b", "4" + "c" * 200, "4d", "4frag", "4e", "4pd", "4f"]
        assert [eio.ws_recv_skip_pings(ws) for _ in expected] == expected
        ws.send("4g")
        assert eio.ws_recv_skip_pings(ws) == "4g"
        ws.close()

    def test_permessage_deflate_when_configured(
        self, server_pool: ServerPool, async_mode: str
    ) -> None:
        from websockets.sync.client import connect

        server = server_pool.get(ECHO, async_mode, websocket_compression=True)
        with connect(eio.url(server.ws_url, transport="websocket"), compression="deflate") as ws:
            assert "permessage-deflate" in ws.response.headers["Sec-WebSocket-Extensions"]
            assert str(ws.recv(timeout=5)).startswith("0")
            ws.send("4" + "squeeze me " * 200)
            assert ws.recv(timeout=5) == "4" + "squeeze me " * 200
            ws.send(b"\x00\x01" * 500)
            assert ws.recv(timeout=5) == b"\x00\x01" * 500

    def test_burst_arrives_in_order(self, echo: ServerProcess) -> None:
        ws, _ = eio.ws_open(echo.ws_url)
        ws.send("4burst:2000")
        assert [ws.recv() for _ in range(2000)] == [f"4b{i}" for i in range(2000)]
        ws.close()

    def test_large_binary_message(self, echo: ServerProcess) -> None:
        ws, _ = eio.ws_open(echo.ws_url)
        ws.send("4binary:512000")
        data = ws.recv()
        assert isinstance(data, bytes) and len(data) == 512001
        ws.close()

    def test_client_close_packet(self, echo: ServerProcess) -> None:
        ws, data = eio.ws_open(echo.ws_url)
        ws.send("1")
        assert eio.ws_closed(ws)
        assert eio.disconnect_reason(echo.url, data["sid"]) == "client disconnect"

    def test_client_vanishing_is_a_transport_close(self, echo: ServerProcess) -> None:
        ws, data = eio.ws_open(echo.ws_url)
        ws.sock.shutdown(socket.SHUT_RDWR)
        ws.sock.close()
        assert eio.disconnect_reason(echo.url, data["sid"]) == "transport close"

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

    def test_invalid_utf8_closes_with_1007(self, echo: ServerProcess) -> None:
        ws, _ = eio.ws_open(echo.ws_url)
        ws.send_frame(websocket.ABNF.create_frame(b"4\xff\xfe", websocket.ABNF.OPCODE_TEXT))
        ws.settimeout(5)
        opcode, frame = ws.recv_data_frame(control_frame=True)
        assert opcode == websocket.ABNF.OPCODE_CLOSE
        assert int.from_bytes(frame.data[:2], "big") == 1007

    def test_oversize_message_closes_with_1009(self, strict: ServerProcess) -> None:
        bystander, _ = eio.ws_open(strict.ws_url)
        ws, data = eio.ws_open(strict.ws_url)
        ws.send("4" + "x" * 2000)
        ws.settimeout(5)
        opcode, frame = ws.recv_data_frame(control_frame=True)
        assert opcode == websocket.ABNF.OPCODE_CLOSE
        assert int.from_bytes(frame.data[:2], "big") == 1009
        assert eio.disconnect_reason(strict.url, data["sid"]) == "transport error"
        bystander.send("4ok")
        assert bystander.recv() == "4ok"

    def test_websocket_ping_frames_are_answered(self, echo: ServerProcess) -> None:
        ws, _ = eio.ws_open(echo.ws_url)
        ws.ping(b"are you there")
        ws.settimeout(5)
        opcode, frame = ws.recv_data_frame(control_frame=True)
        assert (opcode, frame.data) == (websocket.ABNF.OPCODE_PONG, b"are you there")
        ws.close()

    def test_not_a_websocket_handshake(self, echo: ServerProcess) -> None:
        response = requests.get(
            eio.url(echo.url, transport="websocket"),
            headers={"Upgrade": "websocket", "Connection": "Upgrade"},
            timeout=10,
        )
        assert response.status_code == 400
        assert response.json()["code"] == 3

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

    def test_second_websocket_is_refused_after_the_upgrade(self, echo: ServerProcess) -> None:
        sid, _ = eio.handshake(echo.url)
        ws = upgrade(echo, sid)
        ws.send("4x")
        assert ws.recv() == "4x"
        with pytest.raises(websocket.WebSocketBadStatusException) as info:
            eio.ws_connect(echo.ws_url, sid)
        assert info.value.status_code == 400
        ws.send("4hello")
        assert ws.recv() == "4hello"
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
    def test_polling_ping_pong(self, fast_heartbeat: ServerProcess) -> None:
        sid, data = eio.handshake(fast_heartbeat.url)
        assert (data["pingInterval"], data["pingTimeout"]) == (300, 200)
        for _ in range(3):
            assert eio.poll(fast_heartbeat.url, sid).text == "2"
            assert eio.post(fast_heartbeat.url, sid, "3").status_code == 200

    def test_polling_ping_timeout_closes_the_session(self, fast_heartbeat: ServerProcess) -> None:
        sid, _ = eio.handshake(fast_heartbeat.url)
        time.sleep(0.3 + 0.2 + 0.3)
        assert eio.poll(fast_heartbeat.url, sid).status_code == 400
        assert eio.disconnect_reason(fast_heartbeat.url, sid) == "ping timeout"

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
