"""Python clients for the SSE and HTTP streaming transports, for tests."""

from __future__ import annotations

import json
from collections.abc import Iterator

import requests

from realtime.protocol.engineio import Packet
from tests.support import eio


class HttpStream:
    """A downstream GET of the ``sse`` or ``streaming`` transport, parsed as it arrives."""

    def __init__(self, base: str, sid: str, transport: str) -> None:
        self.transport = transport
        self.response = requests.get(eio.url(base, sid, transport), stream=True, timeout=10)
        self._chunks = self.response.iter_content(chunk_size=None)
        self._buffer = b""
        self._packets = self._parse()

    def next(self) -> Packet:
        """The next packet from the server (raises StopIteration at the end)."""
        return next(self._packets)

    def next_skipping_pings(self) -> Packet:
        while True:
            packet = self.next()
            if packet.encode_text() != "2":
                return packet

    def close(self) -> None:
        self.response.close()

    def _parse(self) -> Iterator[Packet]:
        separator = b"\n\n" if self.transport == "sse" else b"\x1e"
        for chunk in self._chunks:
            self._buffer += chunk
            while separator in self._buffer:
                record, self._buffer = self._buffer.split(separator, 1)
                packet = self._record(record.decode("utf-8"))
                if packet is not None:
                    yield packet

    def _record(self, record: str) -> Packet | None:
        if self.transport != "sse":
            return None if not record.strip() else Packet.decode(record, from_server=True)
        event, data = "message", []
        for line in record.split("\n"):
            if line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                event = value
            elif field == "data":
                data.append(value)
        if not data:
            return None
        text = "\n".join(data)
        if event == "json":
            text = json.loads(text)
        return Packet.decode(text, from_server=True)


def post(base: str, sid: str, transport: str, body: str) -> requests.Response:
    return requests.post(eio.url(base, sid, transport), data=body.encode(), timeout=10)
