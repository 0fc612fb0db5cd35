"""RFC 6455 framing written by hand for the common case, in front of ``websockets``.

This module is the one place where ``realtime`` reads and writes WebSocket
frames itself rather than through the ``websockets`` package's sans-I/O
protocol, and it covers only the frames nearly every message is made of.

Why it exists: ``websockets`` parses every frame through generator-based
coroutines (``Frame.parse`` reading from a ``StreamReader``), several
generator steps and objects per message, and builds each outgoing frame
through a ``Frame`` and a ``BytesIO``. Taking whole data frames off that path
(with one ``recv()`` per message, the change that came with it) moved the
echo benchmark on eventlet from 21,642 to 23,663 acks/s (one quick round;
``benchmarks/profiles/NOTES.md``, "What changed because of them", step 3).
In the profile of the full run of ``docs/performance.md`` (32,593 acks/s
on the same benchmark; ``benchmarks/profiles/echo-eventlet.collapsed.txt``)
building server frames here takes 41 of the server's 978 samples, the
packet's encoding included, and reading whole client frames 1.

What it handles, exactly:

- Reading (:func:`whole_data_frames`): client frames at the start of the
  bytes given, while each one has FIN set, RSV1-3 clear, opcode 1 (text) or
  2 (binary), the mask bit set, a 7-bit length or the 16-bit form (126),
  a length no larger than the message limit, and all its bytes present. The
  payload is unmasked with ``websockets``' own ``apply_mask`` (its C
  speedup when built). UTF-8 is not checked here; neither does
  ``websockets``' protocol check it, the connection does when it decodes
  the packet.
- Writing (:func:`frame_for`, :func:`frames_for`): one unmasked,
  uncompressed, unfragmented server frame per packet: text for a ``str``
  packet, binary for ``bytes``, with the shortest length form (RFC 6455
  5.2), byte for byte what ``websockets`` serializes.

When ``websockets`` takes over: reading stops at the first frame that is
anything else (a control frame: ping, pong, close; a continuation or a frame
without FIN, i.e. any fragment; a reserved bit set, as permessage-deflate
sets RSV1; an unmasked frame; the 64-bit length form; an unknown opcode; a
message over the limit) or that is not all there yet, and the caller hands
every byte from that frame on to the ``websockets`` protocol, which applies
all its checks and answers (pong, close code 1002 or 1009). The caller
(:meth:`WebSocketConnection._receive
<realtime.engine.transports.websocket.connection.WebSocketConnection._receive>`)
comes back here only once ``websockets``' parser is again between frames
and outside a fragmented message (tracked with :func:`client_frame_size`;
a client that writes a length in a longer form than needed keeps the fast
path off for the rest of its connection: slower, never wrong), and never
once permessage-deflate is negotiated or the connection is closing.
``websockets`` writes the server's control frames (pong, close) and every
frame of a compressed connection.

Both directions are tested differentially against ``websockets``' parser
and serializer on random frames, those that must be declined included
(``tests/engine/transports/websocket/test_frames_fastpath.py``), and so is
a connection reading random frames in random reads, with the fast path and
with ``websockets`` alone (``test_connection.py`` there).

Spec: RFC 6455 5.2 (base framing), 5.3 (client-to-server masking), 5.4
(fragmentation), 5.5 (control frames).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import TYPE_CHECKING

try:  # websockets' C extension, as its own parser uses
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover - a build without it
    from websockets.utils import apply_mask

if TYPE_CHECKING:
    from websockets.frames import Frame

    from realtime.protocol.engineio import Packet

__all__ = ["client_frame_size", "frame_for", "frames_for", "whole_data_frames"]


_SIMPLE = frozenset((0x81, 0x82))  # FIN, no reserved bits, text or binary
_HEAD16 = struct.Struct("!BBH")
_HEAD64 = struct.Struct("!BBQ")
_LENGTH16 = struct.Struct("!H")


def frame_for(packet: Packet) -> bytes:
    """The complete, unmasked server frame for ``packet`` (no compression)."""
    data = packet.encode()
    if isinstance(data, str):
        payload = data.encode("utf-8")
        first = 0x81  # FIN, text
    else:
        payload = data
        first = 0x82  # FIN, binary
    size = len(payload)
    # RFC 6455 5.2: a 7-bit length, or 126 and 16 bits, or 127 and 64 bits.
    if size < 126:
        return bytes((first, size)) + payload
    if size < 65536:
        return _HEAD16.pack(first, 126, size) + payload
    return _HEAD64.pack(first, 127, size) + payload


def frames_for(packets: Sequence[Packet]) -> bytes:
    """The server frames for ``packets``, one each, back to back."""
    if len(packets) == 1:  # most messages: no list, no join
        return frame_for(packets[0])
    return b"".join([frame_for(p) for p in packets])


def whole_data_frames(data: bytes, max_size: int | None) -> tuple[list[tuple[bool, bytes]], int]:
    """The client's complete, unfragmented data frames at the start of ``data``.

    ``data`` must start at a frame boundary, outside a fragmented message.

    Args:
        data: bytes read from the client.
        max_size: the largest payload accepted, or None for no limit.

    Returns:
        ``(is_text, payload)`` for each frame read, and how many bytes they
        took. Reading stops at the first frame that is anything else (see
        the module's docstring) or not all there: the ``websockets``
        protocol takes over from that byte, with all its checks.
    """
    messages: list[tuple[bool, bytes]] = []
    pos = 0
    end_of_data = len(data)
    while end_of_data - pos >= 6:
        first = data[pos]
        second = data[pos + 1]
        # FIN set, no reserved bits, text or binary; masked (RFC 6455 5.1).
        if first not in _SIMPLE or second < 0x80:
            break
        size = second & 0x7F
        start = pos + 2
        if size == 126:
            if end_of_data - start < 2:
                break
            (size,) = _LENGTH16.unpack_from(data, start)
            start += 2
        elif size == 127:
            break
        if max_size is not None and size > max_size:
            break
        end = start + 4 + size
        if end > end_of_data:
            break
        messages.append((first == 0x81, apply_mask(data[start + 4 : end], data[start : start + 4])))
        pos = end
    return messages, pos


def client_frame_size(frame: Frame) -> int:
    """Bytes a masked client frame with ``frame``'s payload took on the wire.

    Assumes the shortest length form; a peer that pads its lengths makes
    the caller's count disagree, which only keeps the fast path off.
    """
    size = len(frame.data)
    return 6 + size + (0 if size < 126 else 2 if size < 65536 else 8)
