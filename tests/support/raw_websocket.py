"""A WebSocket opened byte by byte, for tests that check exactly what a server sends."""

from __future__ import annotations

import base64
import os
import socket
import struct
import time
from dataclasses import dataclass

__all__ = ["CLOSE_NO_STATUS", "RawWebSocket", "open_raw"]

#: A close frame with no status code (FIN, opcode 8, unmasked, empty payload):
#: what Node's ``ws`` sends for ``websocket.close()``. Clients report 1005.
CLOSE_NO_STATUS = b"\x88\x00"


@dataclass
class RawWebSocket:
    """An opening handshake sent on a plain socket, and what came back.

    Attributes:
        sock: the socket, still open.
        status: the response's status line (``HTTP/1.1 101 Switching Protocols``).
        head: the whole response head.
        after: the bytes that followed the head before the read stopped.
    """

    sock: socket.socket
    status: str
    head: bytes
    after: bytes

    def send_close(self) -> None:
        """Answer with a masked close frame with no status code."""
        self.sock.sendall(b"\x88\x80" + os.urandom(4))

    def send_text(self, text: str) -> None:
        """Send a masked text frame (shorter than 126 bytes)."""
        data = text.encode()
        assert len(data) < 126
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        self.sock.sendall(bytes([0x81, 0x80 | len(data)]) + mask + masked)

    def read_until_eof(self, timeout: float) -> tuple[bytes, float | None]:
        """What arrives until the server closes the connection, and how long
        that took (None if it did not close within ``timeout`` seconds)."""
        started = time.monotonic()
        deadline = started + timeout
        data = b""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return data, None
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                return data, None
            except OSError:
                return data, time.monotonic() - started
            if not chunk:
                return data, time.monotonic() - started
            data += chunk

    def close(self) -> None:
        self.sock.close()

    def reset(self) -> None:
        """Vanish: close with a TCP reset, as a client whose process died may."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()


def open_raw(
    port: int,
    query: str,
    *,
    want_after: int = 2,
    timeout: float = 3.0,
    receive_buffer: int | None = None,
) -> RawWebSocket:
    """Send a WebSocket opening handshake for ``/engine.io/?{query}``.

    Reads the response head, then up to ``want_after`` bytes after it (the
    first frame), or until ``timeout`` seconds pass or the server closes.
    ``receive_buffer`` shrinks the socket's receive buffer before it
    connects (so the TCP window stays small): a large message then cannot be
    written whole before the client reads.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if receive_buffer is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.settimeout(timeout)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /engine.io/?{query} HTTP/1.1\r\n"
            "Host: 127.0.0.1\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    data = b""
    deadline = time.monotonic() + timeout
    while True:
        head, found, after = data.partition(b"\r\n\r\n")
        if found and len(after) >= want_after:
            break
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except (TimeoutError, OSError):
            break
        if not chunk:
            break
        data += chunk
    head, _, after = data.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].decode("latin-1")
    return RawWebSocket(sock, status, head, after)
