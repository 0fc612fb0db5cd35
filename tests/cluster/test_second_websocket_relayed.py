"""A WebSocket its session cannot take, landing on a process that does not own the session.

The process it lands on relays it (see realtime/engine/forwarding.py); the
owner says whether it has the session. As on one process, and as Node's
engine.io: a session already upgraded or upgrading gets the handshake
completed (``101``) and a close frame with no status code; an unknown sid
(no such session at its owner, or no such owner) gets ``400``, "Session ID
unknown".
"""

from __future__ import annotations

import json

from tests.cluster.test_engine_forwarding import pair
from tests.support import eio
from tests.support.raw_websocket import CLOSE_NO_STATUS, RawWebSocket, open_raw
from tests.support.servers import ServerProcess

__all__ = ["pair"]

Pair = tuple[ServerProcess, ServerProcess]


def second(server: ServerProcess, sid: str) -> RawWebSocket:
    return open_raw(server.port, f"EIO=4&transport=websocket&sid={sid}")


def assert_turned_away(raw: RawWebSocket) -> None:
    assert raw.status == "HTTP/1.1 101 Switching Protocols"
    assert raw.after == CLOSE_NO_STATUS
    raw.send_close()
    rest, took = raw.read_until_eof(3)
    assert rest == b"" and took is not None
    raw.close()


def assert_unknown_sid(raw: RawWebSocket) -> None:
    assert raw.status.startswith("HTTP/1.1 400")
    body, _ = raw.read_until_eof(3)
    assert json.loads(raw.after + body) == {"code": 1, "message": "Session ID unknown"}
    raw.close()


def test_upgraded_through_either_process(pair: Pair) -> None:
    a, b = pair
    sid, _ = eio.handshake(a.url)
    ws = eio.ws_connect(b.ws_url, sid)  # relayed from b to a
    ws.send("2probe")
    assert ws.recv() == "3probe"
    assert eio.poll(a.url, sid).text == "6"
    ws.send("5")
    assert_turned_away(second(b, sid))  # relayed: the owner has it, upgraded
    assert_turned_away(second(a, sid))  # at the owner
    ws.send("4still relayed")
    assert eio.ws_recv_skip_pings(ws) == "4still relayed"
    assert eio.disconnect_state(a.url, sid) == {"reason": None, "connected": True}
    ws.close()


def test_upgrading_at_the_owner(pair: Pair) -> None:
    a, b = pair
    sid, _ = eio.handshake(a.url)
    first = eio.ws_connect(a.ws_url, sid)
    first.send("2probe")
    assert first.recv() == "3probe"
    assert_turned_away(second(b, sid))
    assert eio.poll(a.url, sid).text == "6"
    first.send("5")
    first.send("4first wins")
    assert eio.ws_recv_skip_pings(first) == "4first wins"
    first.close()


def test_unknown_sid_of_a_live_owner(pair: Pair) -> None:
    a, b = pair
    sid, _ = eio.handshake(a.url)
    unknown = sid[:8] + "x" * (len(sid) - 8)  # a's node id, no such session
    assert_unknown_sid(second(b, unknown))


def test_sid_of_no_process(pair: Pair) -> None:
    _, b = pair
    assert_unknown_sid(second(b, "ZZZZZZZZ" + "x" * 16))
