"""Long polling over real HTTP, byte for byte, in every async mode."""

from __future__ import annotations

import concurrent.futures
import gzip
import json
import re
import time

import pytest
import requests

from tests.engine.conftest import ALLOWED_ORIGIN
from tests.support import eio
from tests.support.servers import ServerProcess

pytestmark = pytest.mark.usefixtures("async_mode")


def error_of(response: requests.Response) -> tuple[int, int, str]:
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"code", "message"}
    return response.status_code, body["code"], body["message"]


class TestHandshake:
    def test_open_packet_has_exactly_the_spec_keys(self, echo: ServerProcess) -> None:
        response = requests.get(eio.url(echo.url), timeout=10)
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "text/plain; charset=UTF-8"
        assert response.text.startswith("0")
        data = json.loads(response.text[1:])
        assert list(data) == ["sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"]
        assert data["upgrades"] == ["websocket"]
        assert (data["pingInterval"], data["pingTimeout"], data["maxPayload"]) == (
            25000,
            20000,
            1000000,
        )
        # The owning process's id (8 characters), then 96 random bits.
        assert re.fullmatch(r"[A-Za-z0-9_-]{24}", data["sid"])

    def test_session_ids_differ_but_name_their_process(self, echo: ServerProcess) -> None:
        sids = {eio.handshake(echo.url)[0] for _ in range(5)}
        assert len(sids) == 5
        assert len({sid[:8] for sid in sids}) == 1

    def test_configured_values_are_advertised(self, strict: ServerProcess) -> None:
        _, data = eio.handshake(strict.url)
        assert data["maxPayload"] == 1000

    @pytest.mark.parametrize(
        "query", ["transport=polling", "EIO=abc&transport=polling", "EIO=3&transport=polling"]
    )
    def test_unsupported_protocol_version(self, echo: ServerProcess, query: str) -> None:
        response = requests.get(f"{echo.url}/engine.io/?{query}", timeout=10)
        assert error_of(response) == (400, 5, "Unsupported protocol version")

    @pytest.mark.parametrize("query", ["EIO=4", "EIO=4&transport=abc", "transport=carrier-pigeon"])
    def test_unknown_transport(self, echo: ServerProcess, query: str) -> None:
        response = requests.get(f"{echo.url}/engine.io/?{query}", timeout=10)
        assert error_of(response) == (400, 0, "Transport unknown")

    @pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
    def test_bad_handshake_method(self, echo: ServerProcess, method: str) -> None:
        response = requests.request(method, eio.url(echo.url), timeout=10)
        assert error_of(response) == (400, 2, "Bad handshake method")

    def test_websocket_transport_without_upgrade_is_a_bad_request(
        self, echo: ServerProcess
    ) -> None:
        response = requests.get(eio.url(echo.url, transport="websocket"), timeout=10)
        assert error_of(response) == (400, 3, "Bad request")

    def test_connect_handler_can_refuse(self, echo: ServerProcess) -> None:
        response = requests.get(eio.url(echo.url, refuse="1"), timeout=10)
        assert error_of(response) == (403, 4, "Forbidden")

    def test_connect_handler_refusal_carries_its_message(self, echo: ServerProcess) -> None:
        response = requests.get(eio.url(echo.url, refuse_msg="not-today"), timeout=10)
        assert error_of(response) == (403, 4, "not-today")

    def test_cookie(self, strict: ServerProcess) -> None:
        response = requests.get(eio.url(strict.url), timeout=10)
        sid = json.loads(response.text[1:])["sid"]
        assert response.headers["Set-Cookie"] == f"io={sid}; Path=/; HttpOnly; SameSite=Lax"

    def test_no_cookie_by_default(self, echo: ServerProcess) -> None:
        assert "Set-Cookie" not in requests.get(eio.url(echo.url), timeout=10).headers


class TestMessages:
    def test_one_text_packet(self, echo: ServerProcess) -> None:
        sid, _ = eio.handshake(echo.url)
        pushed = eio.post(echo.url, sid, "4hello")
        assert (pushed.status_code, pushed.text) == (200, "ok")
        assert eio.poll(echo.url, sid).text == "4hello"

    def test_several_packets_keep_their_order(self, echo: ServerProcess) -> None:
        sid, _ = eio.handshake(echo.url)
        eio.post(echo.url, sid, "4test1\x1e4test2\x1e4test3")
        received = ""
        while received.count("\x1e") < 2:
            received += ("\x1e" if received else "") + eio.poll(echo.url, sid).text
        assert received == "4test1\x1e4test2\x1e4test3"

    def test_binary_as_base64(self, echo: ServerProcess) -> None:
        sid, _ = eio.handshake(echo.url)
        eio.post(echo.url, sid, "4hello\x1ebAQIDBA==")
        received = eio.poll(echo.url, sid).text
        if "\x1e" not in received:
            received += "\x1e" + eio.poll(echo.url, sid).text
        assert received == "4hello\x1ebAQIDBA=="

    def test_utf8_text(self, echo: ServerProcess) -> None:
        sid, _ = eio.handshake(echo.url)
        eio.post(echo.url, sid, "4€€ й 🎉".encode())
        assert eio.poll(echo.url, sid).content.decode("utf-8") == "4€€ й 🎉"

    def test_messages_sent_by_the_connect_handler_come_after_the_handshake(
        self, echo: ServerProcess
    ) -> None:
        sid, _ = eio.handshake(echo.url, greet="1")
        assert eio.poll(echo.url, sid).text == "4welcome"

    def test_a_burst_arrives_complete_and_in_order(self, echo: ServerProcess) -> None:
        sid, _ = eio.handshake(echo.url)
        eio.post(echo.url, sid, "4burst:300")
        received: list[str] = []
        while len(received) < 300:
            received += eio.poll(echo.url, sid).text.split("\x1e")
        assert received == [f"4b{i}" for i in range(300)]

    def test_large_responses_are_compressed_when_accepted(self, strict: ServerProcess) -> None:
        sid, _ = eio.handshake(strict.url)
        eio.post(strict.url, sid, "4" + "x" * 900)
        raw = requests.get(
            eio.url(strict.url, sid), headers={"Accept-Encoding": "gzip"}, timeout=10, stream=True
        )
        assert raw.headers["Content-Encoding"] == "gzip"
        assert gzip.decompress(raw.raw.read()) == b"4" + b"x" * 900


class TestErrors:
    def test_unknown_sid(self, echo: ServerProcess) -> None:
        assert error_of(eio.poll(echo.url, "nope")) == (400, 1, "Session ID unknown")
        assert error_of(eio.post(echo.url, "nope", "4x")) == (400, 1, "Session ID unknown")

    def test_bad_method_on_a_session(self, echo: ServerProcess) -> None:
        sid, _ = eio.handshake(echo.url)
        response = requests.put(eio.url(echo.url, sid), data="4x", timeout=10)
        assert error_of(response) == (400, 3, "Bad request")

    @pytest.mark.parametrize(
        "body",
        [b"abc", b"", b"4ok\x1e\x1e4ok", b"\xff\xfe\xfd", b"4\xc3(", b"bnot base64!", b"0{}", b"9"],
        ids=[
            "garbage",
            "empty",
            "empty-record",
            "not-utf8",
            "bad-utf8",
            "bad-base64",
            "open",
            "type-9",
        ],
    )
    def test_invalid_payload_closes_only_that_session(
        self, echo: ServerProcess, body: bytes
    ) -> None:
        bystander, _ = eio.handshake(echo.url)
        sid, _ = eio.handshake(echo.url)
        assert error_of(eio.post(echo.url, sid, body)) == (400, 3, "Bad request")
        assert eio.poll(echo.url, sid).status_code == 400
        assert eio.disconnect_reason(echo.url, sid) == "transport error"
        eio.post(echo.url, bystander, "4still here")
        assert eio.poll(echo.url, bystander).text == "4still here"

    def test_oversize_body_is_refused_and_closes_the_session(self, strict: ServerProcess) -> None:
        bystander, _ = eio.handshake(strict.url)
        sid, _ = eio.handshake(strict.url)
        response = eio.post(strict.url, sid, "4" + "x" * 1000)
        assert response.status_code == 413
        assert eio.poll(strict.url, sid).status_code == 400
        eio.post(strict.url, bystander, "4" + "y" * 998)
        assert eio.poll(strict.url, bystander).text == "4" + "y" * 998

    def test_oversize_chunked_body_is_refused(self, strict: ServerProcess) -> None:
        sid, _ = eio.handshake(strict.url)
        response = requests.post(
            eio.url(strict.url, sid), data=iter([b"4", b"x" * 600, b"x" * 600]), timeout=10
        )
        assert response.status_code == 413

    def test_duplicate_get_closes_the_session(self, echo: ServerProcess) -> None:
        sid, _ = eio.handshake(echo.url)
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            first = pool.submit(eio.poll, echo.url, sid)
            time.sleep(0.3)
            second = pool.submit(eio.poll, echo.url, sid)
            assert error_of(second.result()) == (400, 3, "Bad request")
            first_response = first.result()
        assert (first_response.status_code, first_response.text) == (200, "1")
        assert eio.poll(echo.url, sid).status_code == 400


class TestClose:
    def test_client_close_ends_the_pending_poll_with_a_noop(self, echo: ServerProcess) -> None:
        sid, _ = eio.handshake(echo.url)
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pending = pool.submit(eio.poll, echo.url, sid)
            time.sleep(0.3)
            assert eio.post(echo.url, sid, "1").text == "ok"
            assert pending.result().text == "6"
        assert eio.poll(echo.url, sid).status_code == 400
        assert eio.disconnect_reason(echo.url, sid) == "client disconnect"

    def test_server_disconnect_delivers_a_close_packet(self, echo: ServerProcess) -> None:
        sid, _ = eio.handshake(echo.url)
        eio.post(echo.url, sid, "4disconnect-me")
        assert eio.poll(echo.url, sid).text == "1"
        assert eio.poll(echo.url, sid).status_code == 400
        assert eio.disconnect_reason(echo.url, sid) == "server disconnect"


class TestCors:
    def test_no_origin_header_gets_no_cors_headers(self, echo: ServerProcess) -> None:
        response = requests.get(eio.url(echo.url), timeout=10)
        assert "Access-Control-Allow-Origin" not in response.headers

    def test_same_origin_is_allowed_by_default(self, echo: ServerProcess) -> None:
        origin = f"http://127.0.0.1:{echo.port}"
        response = requests.get(eio.url(echo.url), headers={"Origin": origin}, timeout=10)
        assert response.status_code == 200
        assert response.headers["Access-Control-Allow-Origin"] == origin
        assert response.headers["Access-Control-Allow-Credentials"] == "true"

    def test_cross_origin_is_refused_by_default_on_every_request(self, echo: ServerProcess) -> None:
        evil = {"Origin": "http://evil.example"}
        assert error_of(requests.get(eio.url(echo.url), headers=evil, timeout=10)) == (
            403,
            4,
            "Forbidden",
        )
        sid, _ = eio.handshake(echo.url)
        assert (
            requests.post(eio.url(echo.url, sid), data="4x", headers=evil, timeout=10).status_code
            == 403
        )
        assert requests.get(eio.url(echo.url, sid), headers=evil, timeout=10).status_code == 403
        assert eio.post(echo.url, sid, "4mine").text == "ok"

    def test_listed_origin_is_allowed(self, strict: ServerProcess) -> None:
        response = requests.get(eio.url(strict.url), headers={"Origin": ALLOWED_ORIGIN}, timeout=10)
        assert response.status_code == 200
        assert response.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
        refused = requests.get(
            eio.url(strict.url), headers={"Origin": "http://other.example"}, timeout=10
        )
        assert refused.status_code == 403

    def test_preflight(self, strict: ServerProcess) -> None:
        response = requests.options(
            eio.url(strict.url),
            headers={"Origin": ALLOWED_ORIGIN, "Access-Control-Request-Headers": "content-type"},
            timeout=10,
        )
        assert response.status_code == 204
        assert response.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
        assert response.headers["Access-Control-Allow-Headers"] == "content-type"
        assert "POST" in response.headers["Access-Control-Allow-Methods"]
        refused = requests.options(
            eio.url(strict.url), headers={"Origin": "http://x.example"}, timeout=10
        )
        assert refused.status_code == 403


class TestHangup:
    def test_abandoned_long_poll_closes_the_session(self, echo: ServerProcess) -> None:
        import socket as socket_module

        sid, _ = eio.handshake(echo.url)
        sock = socket_module.create_connection(("127.0.0.1", echo.port), timeout=10)
        request = f"GET /engine.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\n\r\n"
        sock.sendall(request.encode())
        time.sleep(0.3)
        sock.close()  # the client gives up while the server is still waiting
        assert eio.disconnect_reason(echo.url, sid) == "transport close"
        assert eio.poll(echo.url, sid).status_code == 400

    def test_many_long_polls_in_a_row_keep_the_session(self, echo: ServerProcess) -> None:
        sid, _ = eio.handshake(echo.url)
        for i in range(20):
            eio.post(echo.url, sid, f"4m{i}")
            assert eio.poll(echo.url, sid).text == f"4m{i}"
        assert eio.disconnect_state(echo.url, sid)["connected"]


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
