"""The opening handshake: the check written here, against RFC 6455 and against
websockets' own; the websockets path that negotiates permessage-deflate; over
real sockets, in every async mode."""

from __future__ import annotations

import base64
import json
import os
import re
import socket

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from realtime.engine.http import Request
from realtime.engine.transports.websocket.handshake import check_handshake, negotiate_extensions
from tests.engine.conftest import ECHO
from tests.support import eio
from tests.support.servers import ServerPool, ServerProcess


def raw_upgrade(port: int, version: str) -> tuple[str, bytes, bytes]:
    """An Engine.IO WebSocket handshake sent as ``version`` over a plain socket:
    the status line, the head and what followed it (until the first bytes
    of a frame, the end of the body, or the server closing)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(
            (
                f"GET /engine.io/?EIO=4&transport=websocket {version}\r\n"
                "Host: 127.0.0.1\r\n"
                "Upgrade: websocket\r\n"
                "Connection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        data = b""
        while True:
            head, found, body = data.partition(b"\r\n\r\n")
            if found:
                length = re.search(rb"(?i)content-length: *(\d+)", head)
                if (length and len(body) >= int(length[1])) or (not length and body):
                    break
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return head.split(b"\r\n", 1)[0].decode("latin-1"), head, body


def handshake_environ(**headers: str) -> dict[str, str]:
    environ = {
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_UPGRADE": "websocket",
        "HTTP_CONNECTION": "Upgrade",
        "HTTP_SEC_WEBSOCKET_KEY": "dGhlIHNhbXBsZSBub25jZQ==",
        "HTTP_SEC_WEBSOCKET_VERSION": "13",
    }
    for name, value in headers.items():
        if value:
            environ[name] = value
        else:
            environ.pop(name, None)
    return environ


def test_handshake_accept_key_is_the_rfcs_example() -> None:
    # RFC 6455 1.3: this key gives this accept value.
    assert check_handshake(handshake_environ()) == (True, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")


@pytest.mark.parametrize("version", ["HTTP/1.1", "HTTP/2.0", "http/1.1", "HTTP/1.10"])
def test_http_1_1_and_later_may_upgrade(version: str) -> None:
    assert check_handshake(handshake_environ(SERVER_PROTOCOL=version))[0] is True


def test_under_eventlets_own_server_the_version_is_not_known() -> None:
    # eventlet.wsgi reports every request as HTTP/1.0; realtime's embedded
    # eventlet server (which marks its requests) reports the client's.
    stock = handshake_environ(SERVER_PROTOCOL="HTTP/1.0", **{"eventlet.input": "stream"})
    assert check_handshake(stock)[0] is True
    embedded = {**stock, "realtime.eventlet_protocol": "handler"}
    assert check_handshake(embedded)[0] is False


def test_handshake_tokens_are_found_among_others() -> None:
    environ = handshake_environ(HTTP_CONNECTION="keep-alive, Upgrade", HTTP_UPGRADE="WebSocket")
    assert check_handshake(environ)[0] is True


@pytest.mark.parametrize(
    ("headers", "problem"),
    [
        ({"HTTP_UPGRADE": ""}, "Upgrade"),
        ({"HTTP_UPGRADE": "h2c"}, "Upgrade"),
        ({"HTTP_CONNECTION": "keep-alive"}, "Connection"),
        ({"HTTP_SEC_WEBSOCKET_VERSION": "8"}, "Version"),
        ({"HTTP_SEC_WEBSOCKET_VERSION": ""}, "Version"),
        ({"HTTP_SEC_WEBSOCKET_KEY": ""}, "Key"),
        ({"HTTP_SEC_WEBSOCKET_KEY": "c2hvcnQ="}, "Key"),
        ({"HTTP_SEC_WEBSOCKET_KEY": "not base64 at all!!!!!=="}, "Key"),
        ({"SERVER_PROTOCOL": "HTTP/1.0"}, "HTTP/1.0"),
        ({"SERVER_PROTOCOL": "HTTP/0.9"}, "HTTP/1.1 or later"),
        ({"SERVER_PROTOCOL": ""}, "no HTTP version"),
        ({"SERVER_PROTOCOL": "HTTP/one"}, "HTTP/1.1 or later"),
    ],
)
def test_bad_handshakes_say_what_is_wrong(headers: dict[str, str], problem: str) -> None:
    valid, message = check_handshake(handshake_environ(**headers))
    assert valid is False
    assert problem in message


#: Header values, valid and not, as a WSGI server puts them in the environ.
HEADERS = st.fixed_dictionaries(
    {},
    optional={
        "HTTP_UPGRADE": st.sampled_from(
            ["websocket", "WebSocket", "WEBSOCKET", "h2c", "websocket/13", "h2c, websocket", ""]
        ),
        "HTTP_CONNECTION": st.lists(
            st.sampled_from(["Upgrade", "upgrade", "UPGRADE", "keep-alive", "close"]), max_size=3
        ).map(", ".join),
        "HTTP_SEC_WEBSOCKET_VERSION": st.sampled_from(["13", "8", "12", "130", "13, 13", ""]),
        "HTTP_SEC_WEBSOCKET_KEY": st.one_of(
            st.binary(min_size=16, max_size=16).map(lambda b: base64.b64encode(b).decode()),
            st.binary(max_size=24).map(lambda b: base64.b64encode(b).decode()),
            st.text(alphabet="ABCDEFabcdef0123456789+/=!- ", max_size=30),
        ),
        "HTTP_SEC_WEBSOCKET_EXTENSIONS": st.sampled_from(
            ["permessage-deflate", "permessage-deflate; client_max_window_bits", "x-unknown"]
        ),
    },
)


@settings(max_examples=500, deadline=None)
@given(HEADERS)
def test_the_check_written_here_agrees_with_websockets(headers: dict[str, str]) -> None:
    # Both are realtime's: the check it makes itself and the one it leaves
    # to websockets when compression is on, on the same environ.
    environ = {
        "REQUEST_METHOD": "GET",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "PATH_INFO": "/engine.io/",
        **headers,
    }
    ours = check_handshake(environ)
    theirs = negotiate_extensions(Request(environ))
    if isinstance(theirs, str):
        # websockets refuses; so does the check here, except that it finds
        # "websocket" among other protocols in Upgrade (RFC 6455 4.2.1:
        # the header "contains" it), where websockets wants it alone.
        several = "," in environ.get("HTTP_UPGRADE", "")
        assert not ours[0] or several, (ours, theirs)
    else:
        assert ours == (True, theirs[1].headers["Sec-WebSocket-Accept"])


@pytest.mark.usefixtures("async_mode")
class TestOverSockets:
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

    @pytest.mark.parametrize("compression", [False, True], ids=["plain", "compression"])
    def test_an_http_1_0_upgrade_is_refused(
        self, server_pool: ServerPool, async_mode: str, compression: bool
    ) -> None:
        # RFC 6455 4.1 and 4.2.1: the opening handshake is HTTP/1.1 or later.
        # (Node's ws answers 101 here; websockets refuses, and so do we.)
        options = {"websocket_compression": True} if compression else {}
        server = server_pool.get(ECHO, async_mode, **options)
        status, head, body = raw_upgrade(server.port, "HTTP/1.0")
        assert status.split()[1] == "400", head
        assert json.loads(body)["code"] == 3
        assert b"Upgrade: websocket" not in head
        # The same request as HTTP/1.1 is upgraded.
        status, _, body = raw_upgrade(server.port, "HTTP/1.1")
        assert status.split()[1] == "101"
        assert body.startswith(b"\x81")

    def test_not_a_websocket_handshake(self, echo: ServerProcess) -> None:
        response = requests.get(
            eio.url(echo.url, transport="websocket"),
            headers={"Upgrade": "websocket", "Connection": "Upgrade"},
            timeout=10,
        )
        assert response.status_code == 400
        assert response.json()["code"] == 3
