"""A WebSocket for a session that cannot take it, over real sockets, in every async mode.

Node's engine.io (``Server.onWebSocket``) completes the handshake of a
WebSocket for a session that is already upgraded or upgrading and closes it
at once with ``ws``'s ``close()``: a close frame with no status code, which
clients report as 1005. The session keeps its transport. An unknown sid is
refused before the handshake (``400``, "Session ID unknown"). The last test
runs Node's engine.io beside ours and compares the bytes.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import websocket
from websockets.exceptions import ConnectionClosedOK
from websockets.sync.client import connect

from tests.support import eio
from tests.support.node import NODE_MODULES, node
from tests.support.raw_websocket import CLOSE_NO_STATUS, RawWebSocket, open_raw
from tests.support.servers import ServerProcess

__all__ = ["node"]

pytestmark = pytest.mark.usefixtures("async_mode")

SWITCHING = "HTTP/1.1 101 Switching Protocols"


class NodeEngine:
    """Node's engine.io, echoing messages (see :func:`node_engine`)."""

    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.ws_url = f"ws://127.0.0.1:{port}"
        self.port = port


def upgraded(server: ServerProcess | NodeEngine) -> tuple[str, websocket.WebSocket]:
    """A polling session upgraded to WebSocket: its sid and its WebSocket."""
    sid, _ = eio.handshake(server.url)
    ws = eio.ws_connect(server.ws_url, sid)
    ws.send("2probe")
    assert ws.recv() == "3probe"
    assert eio.poll(server.url, sid).text == "6"
    ws.send("5")
    return sid, ws


def second(port: int, sid: str) -> RawWebSocket:
    return open_raw(port, f"EIO=4&transport=websocket&sid={sid}")


def assert_turned_away(raw: RawWebSocket) -> None:
    """101, then a close frame with no code; once answered, the server hangs up."""
    assert raw.status == SWITCHING
    assert raw.after == CLOSE_NO_STATUS
    raw.send_close()
    rest, took = raw.read_until_eof(3)
    assert rest == b""
    assert took is not None, "the server did not close the connection after the close frames"
    raw.close()


def assert_still_works(server: ServerProcess, sid: str, ws: websocket.WebSocket) -> None:
    ws.send("4still here")
    assert eio.ws_recv_skip_pings(ws) == "4still here"
    assert eio.disconnect_state(server.url, sid) == {"reason": None, "connected": True}


def test_after_the_upgrade(echo: ServerProcess) -> None:
    sid, ws = upgraded(echo)
    assert_turned_away(second(echo.port, sid))
    assert_still_works(echo, sid, ws)
    ws.close()


def test_the_close_code_a_client_reports_is_1005(echo: ServerProcess) -> None:
    sid, ws = upgraded(echo)
    with connect(eio.url(echo.ws_url, sid, "websocket"), open_timeout=5) as other:
        with pytest.raises(ConnectionClosedOK) as info:
            other.recv(timeout=5)
    assert info.value.rcvd is not None and info.value.rcvd.code == 1005
    assert info.value.rcvd_then_sent
    assert_still_works(echo, sid, ws)
    ws.close()


def test_what_the_second_websocket_sends_reaches_no_one(echo: ServerProcess) -> None:
    sid, ws = upgraded(echo)
    raw = second(echo.port, sid)
    assert raw.after == CLOSE_NO_STATUS
    raw.send_text("4intruder")
    raw.send_close()
    rest, took = raw.read_until_eof(3)
    assert rest == b"" and took is not None
    raw.close()
    ws.send("4mine")
    assert eio.ws_recv_skip_pings(ws) == "4mine"
    ws.close()


def test_a_client_that_never_answers_the_close_is_cut_off(echo: ServerProcess) -> None:
    sid, ws = upgraded(echo)
    raw = second(echo.port, sid)
    assert raw.after == CLOSE_NO_STATUS
    rest, took = raw.read_until_eof(10)
    assert rest == b"" and took is not None  # after CLOSE_TIMEOUT (5 s)
    raw.close()
    assert_still_works(echo, sid, ws)
    ws.close()


@pytest.mark.parametrize("probe_pinged", [False, True], ids=["probe-opened", "probe-pinged"])
def test_while_upgrading(echo: ServerProcess, probe_pinged: bool) -> None:
    sid, _ = eio.handshake(echo.url)
    first = eio.ws_connect(echo.ws_url, sid)
    if probe_pinged:
        first.send("2probe")
        assert first.recv() == "3probe"
    assert_turned_away(second(echo.port, sid))
    if not probe_pinged:
        first.send("2probe")
        assert first.recv() == "3probe"
    assert eio.poll(echo.url, sid).text == "6"
    first.send("5")
    assert_still_works(echo, sid, first)
    first.close()


def test_on_a_session_opened_on_websocket(echo: ServerProcess) -> None:
    ws, data = eio.ws_open(echo.ws_url)
    assert_turned_away(second(echo.port, data["sid"]))
    assert_still_works(echo, data["sid"], ws)
    ws.close()


def test_an_unknown_sid_is_still_refused_before_the_handshake(echo: ServerProcess) -> None:
    raw = second(echo.port, "unknown")
    assert raw.status.startswith("HTTP/1.1 400")
    body, _ = raw.read_until_eof(3)
    assert json.loads(raw.after + body) == {"code": 1, "message": "Session ID unknown"}
    raw.close()


# -- beside Node's engine.io ----------------------------------------------------

NODE_SERVER = """
const engine = require(process.argv[2]);
const http = require("http");
const httpServer = http.createServer();
const server = engine.attach(httpServer);
server.on("connection", (socket) => socket.on("message", (data) => socket.send(data)));
httpServer.listen(0, "127.0.0.1", () => console.log("LISTENING " + httpServer.address().port));
"""


@pytest.fixture
def node_engine(node: str, tmp_path: Path) -> Iterator[NodeEngine]:
    script = tmp_path / "server.js"
    script.write_text(NODE_SERVER)
    process = subprocess.Popen(
        [node, str(script), str(NODE_MODULES / "engine.io")],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("LISTENING "), line
        yield NodeEngine(int(line.split()[1]))
    finally:
        process.terminate()
        process.wait(10)


def exchange(server: ServerProcess | NodeEngine) -> list[object]:
    """What a second WebSocket sees, upgraded and upgrading, and an unknown sid's status."""
    seen: list[object] = []
    sid, ws = upgraded(server)
    raw = second(server.port, sid)
    raw.send_close()
    seen += [raw.status, raw.after, raw.read_until_eof(3)[0]]
    ws.send("4after")
    seen.append(eio.ws_recv_skip_pings(ws))
    ws.close()
    sid, _ = eio.handshake(server.url)
    first = eio.ws_connect(server.ws_url, sid)
    first.send("2probe")
    assert first.recv() == "3probe"
    raw = second(server.port, sid)
    seen += [raw.status, raw.after]
    raw.close()
    first.close()
    raw = second(server.port, "unknown")
    seen.append(raw.status)
    raw.close()
    return seen


def test_the_bytes_are_those_of_node(echo: ServerProcess, node_engine: NodeEngine) -> None:
    ours = exchange(echo)
    assert ours == exchange(node_engine)
    assert ours == [
        SWITCHING,
        CLOSE_NO_STATUS,
        b"",
        "4after",
        SWITCHING,
        CLOSE_NO_STATUS,
        "HTTP/1.1 400 Bad Request",
    ]
