"""Socket.IO v5 on the wire, frame by frame, as the reference conformance suite checks it."""

from __future__ import annotations

import json
import time

import pytest
import websocket

from tests.support import eio
from tests.support.servers import ServerProcess

pytestmark = pytest.mark.usefixtures("async_mode")

PATH = "/socket.io/"


def open_ws(server: ServerProcess) -> websocket.WebSocket:
    ws = websocket.create_connection(f"{server.ws_url}{PATH}?EIO=4&transport=websocket", timeout=10)
    handshake = ws.recv()
    assert handshake.startswith("0")
    return ws


def recv(ws: websocket.WebSocket) -> str | bytes:
    return eio.ws_recv_skip_pings(ws)


def connected(server: ServerProcess, namespace: str = "") -> websocket.WebSocket:
    ws = open_ws(server)
    ws.send(f"40{namespace}," if namespace else "40")
    assert str(recv(ws)).startswith(f"40{namespace},{{" if namespace else "40{")
    assert str(recv(ws)).startswith("42")  # the "auth" event
    return ws


class TestConnect:
    def test_main_namespace(self, sio: ServerProcess) -> None:
        ws = open_ws(sio)
        ws.send("40")
        reply = recv(ws)
        assert isinstance(reply, str) and reply.startswith("40")
        assert list(json.loads(reply[2:])) == ["sid"]
        assert recv(ws) == '42["auth",{}]'

    def test_main_namespace_with_payload(self, sio: ServerProcess) -> None:
        ws = open_ws(sio)
        ws.send('40{"token":"123"}')
        assert str(recv(ws)).startswith("40{")
        assert recv(ws) == '42["auth",{"token":"123"}]'

    def test_custom_namespace(self, sio: ServerProcess) -> None:
        ws = open_ws(sio)
        ws.send("40/custom,")
        reply = str(recv(ws))
        assert reply.startswith("40/custom,")
        assert list(json.loads(reply[10:])) == ["sid"]
        assert recv(ws) == '42/custom,["auth",{}]'

    def test_custom_namespace_with_payload(self, sio: ServerProcess) -> None:
        ws = open_ws(sio)
        ws.send('40/custom,{"token":"abc"}')
        assert str(recv(ws)).startswith("40/custom,")
        assert recv(ws) == '42/custom,["auth",{"token":"abc"}]'

    def test_unknown_namespace(self, sio: ServerProcess) -> None:
        ws = open_ws(sio)
        ws.send("40/random")
        assert recv(ws) == '44/random,{"message":"Invalid namespace"}'

    def test_refusal_with_message_and_data(self, sio: ServerProcess) -> None:
        ws = open_ws(sio)
        ws.send('40{"refuse":"go away"}')
        assert recv(ws) == '44{"message":"go away","data":{"why":"go away"}}'

    def test_refusal_by_returning_false(self, sio: ServerProcess) -> None:
        ws = open_ws(sio)
        ws.send('40{"refuse_false":true}')
        assert recv(ws) == '44{"message":"Connection rejected by server"}'

    def test_invalid_handshake_closes_the_connection(self, sio: ServerProcess) -> None:
        ws = open_ws(sio)
        ws.send("4abc")
        assert eio.ws_closed(ws)

    def test_no_handshake_closes_after_the_connect_timeout(self, sio: ServerProcess) -> None:
        ws = open_ws(sio)
        started = time.monotonic()
        assert eio.ws_closed(ws, timeout=8)
        assert 1.5 < time.monotonic() - started < 6

    def test_dynamic_namespace(self, sio: ServerProcess) -> None:
        ws = open_ws(sio)
        ws.send("40/dyn-42,")
        assert str(recv(ws)).startswith("40/dyn-42,{")
        assert recv(ws) == '42/dyn-42,["welcome","/dyn-42"]'
        ws.send('42/dyn-42,7["anything",1]')
        assert recv(ws) == '43/dyn-42,7["anything","/dyn-42",1]'
        ws.send("40/dyn-x,")
        assert recv(ws) == '44/dyn-x,{"message":"Invalid namespace"}'


class TestDisconnect:
    def test_disconnect_from_the_main_namespace(self, sio_fast: ServerProcess) -> None:
        ws = connected(sio_fast)
        ws.send("41")
        assert ws.recv() == "2"  # only heartbeats from now on

    def test_connect_then_disconnect_from_a_custom_namespace(self, sio: ServerProcess) -> None:
        ws = connected(sio)
        ws.send("40/custom")
        assert str(recv(ws)).startswith("40/custom,")
        assert str(recv(ws)).startswith("42/custom,")
        ws.send("41/custom")
        ws.send('42["message","message to main namespace"]')
        assert recv(ws) == '42["message-back","message to main namespace"]'

    def test_events_for_a_namespace_not_joined_are_ignored(self, sio: ServerProcess) -> None:
        ws = connected(sio)
        ws.send('42/custom,["message","nobody home"]')
        ws.send('42["message","main"]')
        assert recv(ws) == '42["message-back","main"]'


class TestMessages:
    def test_plain_text_event(self, sio: ServerProcess) -> None:
        ws = connected(sio)
        ws.send('42["message",1,"2",{"3":[true]}]')
        assert recv(ws) == '42["message-back",1,"2",{"3":[true]}]'

    def test_binary_attachments(self, sio: ServerProcess) -> None:
        ws = connected(sio)
        ws.send('452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]')
        ws.send_binary(bytes([1, 2, 3]))
        ws.send_binary(bytes([4, 5, 6]))
        assert recv(ws) == (
            '452-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]'
        )
        assert recv(ws) == bytes([1, 2, 3])
        assert recv(ws) == bytes([4, 5, 6])

    def test_event_with_ack(self, sio: ServerProcess) -> None:
        ws = connected(sio)
        ws.send('42456["message-with-ack",1,"2",{"3":[false]}]')
        assert recv(ws) == '43456[1,"2",{"3":[false]}]'

    def test_event_with_binary_ack(self, sio: ServerProcess) -> None:
        ws = connected(sio)
        ws.send(
            '452-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]'
        )
        ws.send_binary(bytes([1, 2, 3]))
        ws.send_binary(bytes([4, 5, 6]))
        assert recv(ws) == '462-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]'
        assert recv(ws) == bytes([1, 2, 3])
        assert recv(ws) == bytes([4, 5, 6])

    def test_server_to_client_ack(self, sio: ServerProcess) -> None:
        ws = connected(sio)
        ws.send('421["ask","hello"]')
        question = str(recv(ws))
        assert question.startswith("42") and question.endswith('["question","hello"]')
        ack_id = question[2 : question.index("[")]
        ws.send(f'43{ack_id}["the answer"]')
        assert recv(ws) == '431["the answer"]'

    def test_an_ack_for_an_unknown_id_is_ignored(self, sio: ServerProcess) -> None:
        ws = connected(sio)
        ws.send('4399999["nobody asked"]')
        ws.send('42["message","still fine"]')
        assert recv(ws) == '42["message-back","still fine"]'


class TestInvalidPackets:
    @pytest.mark.parametrize(
        "frame",
        [
            "49",  # unknown type
            '42["message"',  # bad JSON
            "42{}",  # event payload must be an array
            "42[]",  # empty event
            '42["disconnect"]',  # reserved name
            '42abc["message"]',  # bad ack id
            '45x-["message"]',  # bad attachment count
            '41-["message",{"_placeholder":true,"num":5}]',  # wrong attachment count
            "44",  # clients may not send CONNECT_ERROR
            '42noslash,["message"]',
        ],
    )
    def test_closes_only_that_connection(self, sio: ServerProcess, frame: str) -> None:
        bystander = connected(sio)
        ws = connected(sio)
        ws.send(frame)
        assert eio.ws_closed(ws)
        bystander.send('42["message","alive"]')
        assert recv(bystander) == '42["message-back","alive"]'

    def test_unexpected_binary_frame(self, sio: ServerProcess) -> None:
        ws = connected(sio)
        ws.send_binary(b"\x01\x02")
        assert eio.ws_closed(ws)


class TestPolling:
    def test_the_same_conversation_over_long_polling(self, sio: ServerProcess) -> None:
        base = sio.url
        response = eio.requests.get(f"{base}{PATH}?EIO=4&transport=polling", timeout=10)
        sid = json.loads(response.text[1:])["sid"]
        url = f"{base}{PATH}?EIO=4&transport=polling&sid={sid}"
        assert eio.requests.post(url, data="40", timeout=10).text == "ok"
        reply = eio.requests.get(url, timeout=10).text
        packets = reply.split("\x1e")
        while len(packets) < 2:
            packets += eio.requests.get(url, timeout=10).text.split("\x1e")
        assert packets[0].startswith('40{"sid":')
        assert packets[1] == '42["auth",{}]'
        eio.requests.post(url, data='42["message",{"a":[1]}]\x1e42["message","€"]', timeout=10)
        received: list[str] = []
        while len(received) < 2:
            received += eio.requests.get(url, timeout=10).text.split("\x1e")
        assert received == ['42["message-back",{"a":[1]}]', '42["message-back","€"]']
