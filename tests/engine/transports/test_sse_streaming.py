"""SSE, HTTP streaming and short polling: the ladder below WebSocket, in every async mode."""

from __future__ import annotations

import concurrent.futures
import time

import pytest
import requests

from tests.support import eio
from tests.support.servers import ServerProcess
from tests.support.streams import HttpStream, post

pytestmark = pytest.mark.usefixtures("async_mode")

STREAMS = ["sse", "streaming"]


@pytest.fixture(params=STREAMS)
def stream_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def ladder_session(server: ServerProcess) -> str:
    sid, data = eio.handshake(server.url, ext="ladder")
    assert data["upgrades"] == ["websocket", "sse", "streaming"]
    return sid


def upgrade(server: ServerProcess, sid: str, name: str) -> HttpStream:
    stream = HttpStream(server.url, sid, name)
    assert post(server.url, sid, name, "2probe").text == "ok"
    assert stream.next().encode_text() == "3probe"
    assert eio.poll(server.url, sid).text == "6"
    assert post(server.url, sid, name, "5").text == "ok"
    return stream


class TestAdvertising:
    def test_stock_clients_see_only_websocket(self, echo: ServerProcess) -> None:
        _, data = eio.handshake(echo.url)
        assert data["upgrades"] == ["websocket"]

    def test_ladder_clients_see_every_rung(self, echo: ServerProcess) -> None:
        _, data = eio.handshake(echo.url, ext="ladder")
        assert data["upgrades"] == ["websocket", "sse", "streaming"]
        assert list(data) == ["sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"]

    def test_no_session_opens_on_a_stream(self, echo: ServerProcess, stream_name: str) -> None:
        response = requests.get(eio.url(echo.url, transport=stream_name), timeout=10)
        assert response.status_code == 400 and response.json()["code"] == 3


class TestStreams:
    def test_headers_and_padding(self, echo: ServerProcess, stream_name: str) -> None:
        sid = ladder_session(echo)
        stream = HttpStream(echo.url, sid, stream_name)
        headers = stream.response.headers
        expected = "text/event-stream" if stream_name == "sse" else "text/plain"
        assert headers["Content-Type"].startswith(expected)
        assert headers["X-Accel-Buffering"] == "no"
        assert headers["Cache-Control"] == "no-cache, no-transform"
        first = next(stream._chunks)
        assert len(first) >= 2048 and not first.strip(b" :\n\x1e")
        stream.close()

    def test_upgrade_then_both_directions(self, echo: ServerProcess, stream_name: str) -> None:
        sid = ladder_session(echo)
        stream = upgrade(echo, sid, stream_name)
        post(echo.url, sid, stream_name, "4hello €\x1ebAQID")
        assert stream.next_skipping_pings().encode_text() == "4hello €"
        assert stream.next_skipping_pings().data == b"\x01\x02\x03"
        post(echo.url, sid, stream_name, "4binary:600")
        assert stream.next_skipping_pings().data == bytes(range(256)) * 2 + b"\x00"
        stream.close()

    def test_line_breaks_survive(self, echo: ServerProcess, stream_name: str) -> None:
        sid = ladder_session(echo)
        stream = upgrade(echo, sid, stream_name)
        text = "line one\nline two\r\nline three\rend"
        post(echo.url, sid, stream_name, "4" + text)
        assert stream.next_skipping_pings().data == text
        stream.close()

    def test_queue_flushed_in_order_across_the_switch(
        self, echo: ServerProcess, stream_name: str
    ) -> None:
        sid = ladder_session(echo)
        eio.post(echo.url, sid, "4burst:300")
        time.sleep(0.2)
        stream = HttpStream(echo.url, sid, stream_name)
        post(echo.url, sid, stream_name, "2probe")
        assert stream.next().encode_text() == "3probe"
        received: list[str] = []
        while True:
            text = eio.poll(echo.url, sid).text
            if text == "6":
                break
            received += [r for r in text.split("\x1e") if r != "6"]
        post(echo.url, sid, stream_name, "5")
        while len(received) < 300:
            received.append(stream.next_skipping_pings().encode_text())
        assert received == [f"4b{i}" for i in range(300)]
        stream.close()

    def test_after_the_switch_polling_and_a_second_stream_are_refused(
        self, echo: ServerProcess, stream_name: str
    ) -> None:
        sid = ladder_session(echo)
        stream = upgrade(echo, sid, stream_name)
        assert eio.poll(echo.url, sid).status_code == 400
        assert eio.post(echo.url, sid, "4x").status_code == 400
        again = requests.get(eio.url(echo.url, sid, stream_name), timeout=10)
        assert again.status_code == 400
        post(echo.url, sid, stream_name, "4still here")
        assert stream.next_skipping_pings().encode_text() == "4still here"
        stream.close()

    def test_failed_probe_stays_on_polling(self, echo: ServerProcess, stream_name: str) -> None:
        sid = ladder_session(echo)
        stream = HttpStream(echo.url, sid, stream_name)
        post(echo.url, sid, stream_name, "4not a probe")
        with pytest.raises(StopIteration):
            stream.next()
        eio.post(echo.url, sid, "4polling works")
        assert eio.poll(echo.url, sid).text == "4polling works"

    def test_probe_post_without_a_stream_is_refused(
        self, echo: ServerProcess, stream_name: str
    ) -> None:
        sid = ladder_session(echo)
        assert post(echo.url, sid, stream_name, "2probe").status_code == 400
        eio.post(echo.url, sid, "4fine")
        assert eio.poll(echo.url, sid).text == "4fine"

    def test_client_close_ends_the_stream(self, echo: ServerProcess, stream_name: str) -> None:
        sid = ladder_session(echo)
        stream = upgrade(echo, sid, stream_name)
        post(echo.url, sid, stream_name, "1")
        with pytest.raises(StopIteration):
            stream.next_skipping_pings()
        assert eio.disconnect_reason(echo.url, sid) == "client disconnect"

    def test_server_disconnect_sends_close_then_ends(
        self, echo: ServerProcess, stream_name: str
    ) -> None:
        sid = ladder_session(echo)
        stream = upgrade(echo, sid, stream_name)
        post(echo.url, sid, stream_name, "4disconnect-me")
        assert stream.next_skipping_pings().encode_text() == "1"
        with pytest.raises(StopIteration):
            stream.next()
        assert eio.disconnect_reason(echo.url, sid) == "server disconnect"

    def test_invalid_post_closes_the_session(self, echo: ServerProcess, stream_name: str) -> None:
        sid = ladder_session(echo)
        stream = upgrade(echo, sid, stream_name)
        assert post(echo.url, sid, stream_name, "garbage").status_code == 400
        with pytest.raises(StopIteration):
            stream.next_skipping_pings()
        assert eio.disconnect_reason(echo.url, sid) == "transport error"

    def test_heartbeat(self, fast_heartbeat: ServerProcess, stream_name: str) -> None:
        sid, _ = eio.handshake(fast_heartbeat.url, ext="ladder")
        stream = HttpStream(fast_heartbeat.url, sid, stream_name)
        post(fast_heartbeat.url, sid, stream_name, "2probe")
        # Pings keep coming on polling while the probe runs; answer them.
        while True:
            text = eio.poll(fast_heartbeat.url, sid).text
            if "2" in text.split("\x1e"):
                eio.post(fast_heartbeat.url, sid, "3")
            if "3probe" in text or stream.next().encode_text() == "3probe":
                break
        post(fast_heartbeat.url, sid, stream_name, "5")
        for _ in range(3):
            assert stream.next().encode_text() == "2"
            post(fast_heartbeat.url, sid, stream_name, "3")
        stream.close()

    def test_vanished_stream_reader_ends_the_session(
        self, fast_heartbeat: ServerProcess, stream_name: str
    ) -> None:
        sid, _ = eio.handshake(fast_heartbeat.url, ext="ladder")
        stream = HttpStream(fast_heartbeat.url, sid, stream_name)
        post(fast_heartbeat.url, sid, stream_name, "2probe")
        assert stream.next().encode_text() == "3probe"
        post(fast_heartbeat.url, sid, stream_name, "5")
        stream.close()
        assert eio.disconnect_reason(fast_heartbeat.url, sid) in (
            "transport close",
            "ping timeout",
        )


class TestShortPolling:
    def test_wait_zero_answers_at_once(self, echo: ServerProcess) -> None:
        sid, _ = eio.handshake(echo.url)
        started = time.monotonic()
        assert eio.poll_url(echo.url, sid, wait="0").text == "6"
        assert time.monotonic() - started < 2
        eio.post(echo.url, sid, "4queued")
        assert eio.poll_url(echo.url, sid, wait="0").text == "4queued"

    def test_short_and_long_polls_do_not_overlap(self, echo: ServerProcess) -> None:
        sid, _ = eio.handshake(echo.url)
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pending = pool.submit(eio.poll, echo.url, sid)
            time.sleep(0.3)
            assert eio.poll_url(echo.url, sid, wait="0").status_code == 400
            assert pending.result().text == "1"
