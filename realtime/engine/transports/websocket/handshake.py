"""The WebSocket opening handshake (RFC 6455 4.2), on a request the WSGI server parsed.

Two ways through it. With no extension to negotiate (``websocket_compression``
off, the default) the request is checked here and the 101 response built
directly (:func:`check_handshake`, :class:`SwitchingProtocols`): a
``websockets`` protocol object per handshake was a measured cost
(``benchmarks/profiles/NOTES.md``, "What changed because of them", step 4:
echo on eventlet from 23,663 to 27,772 acks/s, connects from 1,524 to 2,027
per second, in single quick rounds). With compression the request passes
the same check first (``websockets`` never sees the HTTP version, which the
WSGI server parsed), then :func:`negotiate_extensions` hands it to the
``websockets`` protocol, which checks it again and negotiates
permessage-deflate.

The check written here is tested against RFC 6455's example and each way a
request can fail it (``tests/engine/transports/websocket/test_handshake.py``).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
from typing import TYPE_CHECKING, Any

from websockets.datastructures import Headers
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.http11 import Request as WSRequest
from websockets.server import ServerProtocol

if TYPE_CHECKING:
    from websockets.extensions import Extension
    from websockets.http11 import Response as WSResponse

    from realtime.engine.http import Request

__all__ = ["SwitchingProtocols", "check_handshake", "negotiate_extensions"]


#: RFC 6455 1.3: appended to the client's key to make Sec-WebSocket-Accept.
_WEBSOCKET_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def _has_token(value: str, token: str) -> bool:
    return any(part.strip().lower() == token for part in value.split(","))


def _http_version(environ: dict[str, Any]) -> tuple[int, int] | None:
    """The request's HTTP version from ``SERVER_PROTOCOL`` (``HTTP/1.1``), if it is one."""
    name, _, version = str(environ.get("SERVER_PROTOCOL", "")).strip().partition("/")
    major, _, minor = version.partition(".")
    if name.upper() != "HTTP" or not (major.isdigit() and minor.isdigit()):
        return None
    return int(major), int(minor)


def _stock_eventlet(environ: dict[str, Any]) -> bool:
    """Whether eventlet's own WSGI server made ``environ``: it says HTTP/1.0
    whatever the client sent (realtime's embedded eventlet server, which
    marks its requests, tells the truth)."""
    return "eventlet.input" in environ and "realtime.eventlet_protocol" not in environ


def check_handshake(environ: dict[str, Any]) -> tuple[bool, str]:
    """Check an opening handshake (RFC 6455 4.2.1) the WSGI server parsed.

    The request must be HTTP/1.1 or later (RFC 6455 4.1, 4.2.1). Node's
    ``ws`` does not look at the version and upgrades an HTTP/1.0 request;
    ``websockets`` refuses it, and so does this check: an HTTP/1.0 client
    or proxy knows neither ``Upgrade`` nor ``101``, so the connection it
    would be handed is not one it can carry. (Under eventlet's own WSGI
    server, which reports every request as HTTP/1.0, the version is not
    known and not checked.)

    Returns:
        ``(True, the Sec-WebSocket-Accept value)``, or ``(False, what is
        wrong)``.
    """
    version = _http_version(environ)
    if version is None or (version < (1, 1) and not _stock_eventlet(environ)):
        protocol = environ.get("SERVER_PROTOCOL") or "no HTTP version"
        return False, f"{protocol} request (the upgrade needs HTTP/1.1 or later)"
    if not _has_token(environ.get("HTTP_UPGRADE", ""), "websocket"):
        return False, "no Upgrade: websocket header"
    if not _has_token(environ.get("HTTP_CONNECTION", ""), "upgrade"):
        return False, "no Connection: Upgrade header"
    ws_version = str(environ.get("HTTP_SEC_WEBSOCKET_VERSION", "")).strip()
    if ws_version != "13":
        return False, f"unsupported Sec-WebSocket-Version {ws_version!r}"
    key = str(environ.get("HTTP_SEC_WEBSOCKET_KEY", "")).strip()
    try:
        nonce = base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError):
        nonce = b""
    if len(nonce) != 16:
        return False, "invalid Sec-WebSocket-Key"
    digest = hashlib.sha1(key.encode("ascii") + _WEBSOCKET_GUID).digest()
    return True, base64.b64encode(digest).decode("ascii")


class SwitchingProtocols:
    """The 101 response to an opening handshake checked by :func:`check_handshake`.

    Args:
        accept: the Sec-WebSocket-Accept value.
    """

    __slots__ = ("headers",)

    def __init__(self, accept: str) -> None:
        self.headers = {
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Accept": accept,
        }

    def serialize(self) -> bytes:
        """The response head, in wire form."""
        lines = [f"{name}: {value}\r\n" for name, value in self.headers.items()]
        return ("HTTP/1.1 101 Switching Protocols\r\n" + "".join(lines) + "\r\n").encode("latin-1")


def _ws_request(request: Request) -> WSRequest:
    headers = Headers()
    for key, value in request.environ.items():
        if key.startswith("HTTP_"):
            headers[key[5:].replace("_", "-").title()] = str(value)
    path = request.environ.get("PATH_INFO", "/") or "/"
    query = request.environ.get("QUERY_STRING", "")
    return WSRequest(f"{path}?{query}" if query else path, headers)


def negotiate_extensions(request: Request) -> tuple[list[Extension], WSResponse] | str:
    """Check the handshake with ``websockets`` and negotiate permessage-deflate.

    ``websockets`` expects to parse the HTTP request itself, which the WSGI
    server already did: the request is rebuilt from the environ, and the
    protocol that checked it is dropped; the frames run on a second one that
    starts out open, with the extensions this one negotiated.

    Returns:
        The extensions negotiated and the 101 response, or what is wrong
        with the handshake.
    """
    handshake = ServerProtocol(extensions=[ServerPerMessageDeflateFactory()])
    ws_response = handshake.accept(_ws_request(request))
    if ws_response.status_code != 101:
        return str(handshake.handshake_exc)
    with contextlib.suppress(KeyError):
        del ws_response.headers["Server"]
    return list(handshake.extensions), ws_response
