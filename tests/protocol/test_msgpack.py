"""Socket.IO v5 packets as MessagePack (socket.io-msgpack-parser's format): no sockets."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from realtime.exceptions import PacketDecodeError
from realtime.protocol.msgpack import Decoder, Encoder
from realtime.protocol.parsers import get_parser
from realtime.protocol.socketio import MAX_ACK_ID, RESERVED_EVENTS, SioPacket, SioPacketType

T = SioPacketType


def encode(packet: SioPacket) -> bytes:
    (item,) = Encoder().encode(packet)
    assert isinstance(item, bytes)
    return item


def decode(item: bytes) -> SioPacket:
    packet = Decoder().feed(item)
    assert packet is not None
    return packet


def packed(obj: Any) -> bytes:
    data: bytes = msgpack.packb(obj)
    return data


class TestFormat:
    def test_readme_example_byte_for_byte(self) -> None:
        # socket.io-msgpack-parser's README: socket.emit('hello', 'you').
        expected = bytes.fromhex(
            "83 a4 74 79 70 65 02 a3 6e 73 70 a1 2f a4 64 61 74 61 92 a5 68 65 6c 6c 6f a3 79 6f 75"
        )
        packet = SioPacket.event("/", "hello", "you")
        assert encode(packet) == expected
        assert decode(expected) == packet

    def test_absent_data_and_id_are_left_out(self) -> None:
        assert msgpack.unpackb(encode(SioPacket.connect("/admin"))) == {"type": 0, "nsp": "/admin"}
        assert msgpack.unpackb(encode(SioPacket.ack("/", 3))) == {
            "type": 3,
            "nsp": "/",
            "data": [],
            "id": 3,
        }

    def test_binary_stays_inline_in_one_message(self) -> None:
        packet = SioPacket.event("/", "file", b"\x01\x02", {"nested": bytearray(b"\x03")})
        items = Encoder().encode(packet)
        assert len(items) == 1
        assert msgpack.unpackb(items[0]) == {
            "type": 2,
            "nsp": "/",
            "data": ["file", b"\x01\x02", {"nested": b"\x03"}],
        }

    def test_binary_types_fold_into_their_base_types(self) -> None:
        # The format knows only types 0-4: binary data needs no attachments.
        event = SioPacket(T.BINARY_EVENT, "/", ["e", b"x"], 1)
        ack = SioPacket(T.BINARY_ACK, "/", [b"x"], 1)
        assert msgpack.unpackb(encode(event))["type"] == 2
        assert msgpack.unpackb(encode(ack))["type"] == 3
        assert decode(encode(event)) == replace(event, type=T.EVENT)
        assert decode(encode(ack)) == replace(ack, type=T.ACK)

    def test_dates_travel_as_iso_text(self) -> None:
        # notepack.io 2.2 (socket.io-msgpack-parser 3.0) cannot read MessagePack
        # timestamps, so dates go as text, as the JSON parser sends them.
        moment = datetime(2000, 6, 13, tzinfo=UTC)
        item = encode(SioPacket.event("/", "when", moment, datetime(2000, 1, 1).date()))
        assert decode(item).data == ["when", "2000-06-13T00:00:00+00:00", "2000-01-01"]

    def test_a_timestamp_that_arrives_decodes_to_an_aware_datetime(self) -> None:
        # notepack.io's README: new Date('2000-06-13T00:00:00.000Z') => d6 ff 39 45 79 80.
        item = msgpack.packb(
            {"type": 2, "nsp": "/", "data": ["when", datetime(2000, 6, 13, tzinfo=UTC)]},
            datetime=True,
        )
        assert bytes.fromhex("d6 ff 39 45 79 80") in item
        assert decode(item).data == ["when", datetime(2000, 6, 13, tzinfo=UTC)]

    def test_other_objects_are_refused_on_encoding(self) -> None:
        with pytest.raises(TypeError):
            Encoder().encode(SioPacket.event("/", "what", object()))

    def test_decoder_interface(self) -> None:
        decoder = Decoder()
        decoder.reset()
        assert decoder.feed(bytearray(encode(SioPacket.disconnect()))) == SioPacket.disconnect()
        assert decoder.feed(memoryview(encode(SioPacket.connect()))) == SioPacket.connect()


class TestValidation:
    @pytest.mark.parametrize(
        ("item", "reason"),
        [
            # The reference's own "throws an error upon invalid format" cases.
            (b"", "invalid MessagePack"),
            (packed({}), "invalid packet type"),
            (packed({"type": "a"}), "invalid packet type"),
            (packed({"type": 7}), "invalid packet type"),
            (packed(b"\x01"), "not a MessagePack map"),
            (packed({"type": 2}), "invalid namespace"),
            (packed({"type": 2, "nsp": 2}), "invalid namespace"),
            (packed({"type": 2, "nsp": "/"}), "event payload"),
            (packed({"type": 2, "nsp": "/", "data": 4}), "event payload"),
            (packed({"type": 4, "nsp": "/", "data": []}), "connect_error payload"),
            (packed({"type": 2, "nsp": "/", "data": ["a"], "id": "a"}), "invalid ack id"),
            # And ours.
            (packed({"type": 5, "nsp": "/", "data": ["a"]}), "invalid packet type"),
            (packed({"type": 6, "nsp": "/", "data": []}), "invalid packet type"),
            (packed({"type": True, "nsp": "/"}), "invalid packet type"),
            (packed({"type": 2.0, "nsp": "/", "data": ["a"]}), "invalid packet type"),
            (packed({"type": 2, "nsp": "/", "data": []}), "event payload"),
            (packed({"type": 2, "nsp": "/", "data": [None]}), "event name"),
            (packed({"type": 2, "nsp": "/", "data": ["disconnect"]}), "reserved event name"),
            (packed({"type": 3, "nsp": "/", "data": {}}), "ack payload"),
            (packed({"type": 1, "nsp": "/", "data": {}}), "disconnect packet"),
            (packed({"type": 0, "nsp": "/", "data": []}), "connect payload"),
            (packed({"type": 2, "nsp": "/", "data": ["a"], "id": -1}), "invalid ack id"),
            (packed({"type": 2, "nsp": "/", "data": ["a"], "id": 1.0}), "invalid ack id"),
            (packed({"type": 2, "nsp": "/", "data": ["a"], "id": True}), "invalid ack id"),
            (
                packed({"type": 2, "nsp": "/", "data": ["a"], "id": MAX_ACK_ID + 1}),
                "invalid ack id",
            ),
            (packed({"type": 0, "nsp": "/"}) + b"\x00", "invalid MessagePack"),
            (b"\x81\x01\x02", "invalid MessagePack"),  # non-string map key
            (b"\x81\xa4type\xa2\xff\xfe", "invalid MessagePack"),  # bad UTF-8
            (b"\x91" * 5000 + b"\xc0", "invalid MessagePack"),  # nesting
            (b"\xd4\x05\x00", "invalid MessagePack"),  # unknown extension type
        ],
    )
    def test_invalid_packets_are_refused(self, item: bytes, reason: str) -> None:
        with pytest.raises(PacketDecodeError, match=reason):
            Decoder().feed(item)

    def test_text_messages_are_refused(self) -> None:
        with pytest.raises(PacketDecodeError, match="text message"):
            Decoder().feed('2["a"]')

    @pytest.mark.parametrize("name", sorted(RESERVED_EVENTS))
    def test_reserved_event_names_are_refused(self, name: str) -> None:
        with pytest.raises(PacketDecodeError, match="reserved"):
            Decoder().feed(encode(SioPacket.event("/", name)))

    def test_namespace_is_any_string_like_the_reference(self) -> None:
        assert decode(packed({"type": 0, "nsp": "no-slash,comma"})) == SioPacket(
            T.CONNECT, "no-slash,comma"
        )

    def test_nil_data_counts_as_absent(self) -> None:
        # python-socketio sends {"type": 0, "data": nil, "nsp": "/"} to connect.
        assert decode(packed({"type": 0, "data": None, "nsp": "/"})) == SioPacket.connect()
        assert decode(packed({"type": 1, "data": None, "nsp": "/"})) == SioPacket.disconnect()
        with pytest.raises(PacketDecodeError, match="event payload"):
            Decoder().feed(packed({"type": 2, "data": None, "nsp": "/"}))

    def test_unknown_keys_are_ignored(self) -> None:
        item = packed({"type": 2, "nsp": "/", "data": ["a"], "extra": 1})
        assert decode(item) == SioPacket.event("/", "a")

    def test_decoder_keeps_going_after_an_error(self) -> None:
        decoder = Decoder()
        with pytest.raises(PacketDecodeError):
            decoder.feed(b"\xc1")
        assert decoder.feed(encode(SioPacket.event("/", "ok"))) == SioPacket.event("/", "ok")


class TestOldNotepack:
    """notepack.io before 3.0 (socket.io-msgpack-parser 3.0.0) used extension type 0."""

    def test_undefined_data_counts_as_absent(self) -> None:
        # {type: 0, data: undefined, nsp: "/"}: undefined was d4 00 00.
        item = b"\x83\xa4type\x00\xa4data\xd4\x00\x00\xa3nsp\xa1/"
        assert decode(item) == SioPacket.connect()

    def test_array_buffer_reads_as_bytes(self) -> None:
        # Uint8Array.of(1, 2, 3, 4) was c7 04 00 01 02 03 04.
        item = b"\x83\xa4type\x02\xa3nsp\xa1/\xa4data\x92\xa1e\xc7\x04\x00\x01\x02\x03\x04"
        assert decode(item) == SioPacket.event("/", "e", b"\x01\x02\x03\x04")


class TestParserSelection:
    def test_msgpack_by_name(self) -> None:
        parser = get_parser("msgpack")
        assert parser.name == "msgpack"
        assert isinstance(parser.encoder, Encoder)
        first, second = parser.make_decoder(), parser.make_decoder()
        assert isinstance(first, Decoder) and first is not second
        packet = SioPacket.event("/x", "e", b"\x00", id=2)
        (item,) = parser.encoder.encode(packet)
        assert first.feed(item) == packet

    def test_missing_msgpack_is_a_clear_configuration_error(self) -> None:
        code = (
            "import sys; sys.modules['msgpack'] = None\n"
            "from realtime.exceptions import ConfigurationError\n"
            "from realtime.protocol.parsers import get_parser\n"
            "try:\n"
            "    get_parser('msgpack')\n"
            "except ConfigurationError as exc:\n"
            "    print(exc)\n"
        )
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        assert "pip install realtime[msgpack]" in result.stdout

    def test_importing_loads_no_io_module(self) -> None:
        code = (
            "import sys; before = set(sys.modules); "
            "from realtime.protocol.parsers import get_parser; get_parser('msgpack'); "
            "new = {m.split('.')[0] for m in set(sys.modules) - before}; "
            "bad = {'socket', 'select', 'selectors', 'threading', 'eventlet', 'gevent', "
            "'flask', 'werkzeug', 'redis'}; "
            "print(','.join(sorted(new & bad)), 'msgpack' in new)"
        )
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        assert result.stdout.split() == ["True"]


# -- properties ---------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text()
    | st.binary(max_size=32)
)
data = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
event_names = (st.text() | st.integers(0, 2**31)).filter(lambda n: n not in RESERVED_EVENTS)
ack_ids = st.none() | st.integers(0, MAX_ACK_ID)
packets = st.one_of(
    st.builds(
        SioPacket, st.just(T.CONNECT), st.text(), st.none() | st.dictionaries(st.text(), data)
    ),
    st.builds(SioPacket, st.just(T.DISCONNECT), st.text()),
    st.builds(
        SioPacket,
        st.sampled_from([T.EVENT, T.BINARY_EVENT]),
        st.text(),
        st.builds(lambda name, args: [name, *args], event_names, st.lists(data, max_size=4)),
        ack_ids,
    ),
    st.builds(
        SioPacket,
        st.sampled_from([T.ACK, T.BINARY_ACK]),
        st.text(),
        st.lists(data, max_size=4),
        st.integers(0, MAX_ACK_ID),  # an ack always names the event it answers
    ),
    st.builds(
        SioPacket, st.just(T.CONNECT_ERROR), st.text(), st.text() | st.dictionaries(st.text(), data)
    ),
)
# Maps that look like packets, with any values in the four keys.
packet_like_maps = st.dictionaries(
    st.sampled_from(["type", "nsp", "data", "id", "other"]),
    st.integers(-2, 8) | st.text(max_size=3) | data,
    max_size=5,
)


class TestProperties:
    @given(packets)
    def test_roundtrip(self, packet: SioPacket) -> None:
        base = {T.BINARY_EVENT: T.EVENT, T.BINARY_ACK: T.ACK}.get(packet.type, packet.type)
        assert decode(encode(packet)) == replace(packet, type=base)

    @given(st.binary())
    def test_garbage_bytes_decode_or_raise_cleanly(self, item: bytes) -> None:
        try:
            packet = Decoder().feed(item)
        except PacketDecodeError:
            return
        assert packet is not None and packet.type <= T.CONNECT_ERROR

    @given(packet_like_maps)
    def test_packet_like_maps_decode_or_raise_cleanly(self, obj: dict[str, Any]) -> None:
        try:
            packet = Decoder().feed(msgpack.packb(obj, datetime=True))
        except PacketDecodeError:
            return
        assert packet is not None
        assert (packet.type, packet.namespace) == (obj["type"], obj["nsp"])


class TestAgainstPythonSocketio:
    """python-socketio's MsgPackPacket is a second implementation to agree with."""

    @given(packets)
    def test_python_socketio_reads_what_we_write(self, packet: SioPacket) -> None:
        theirs = pytest.importorskip("socketio.msgpack_packet")
        decoded = theirs.MsgPackPacket(encoded_packet=encode(packet))
        assert decoded.namespace == packet.namespace
        assert decoded.id == packet.id
        if not any(isinstance(v, datetime) for v in _leaves(packet.data)):
            assert decoded.data == packet.data

    @pytest.mark.parametrize(
        "packet",
        [
            SioPacket.connect(),
            SioPacket.connect("/chat", {"token": "t"}),
            SioPacket.event("/", "e", 1, {"a": [b"x", b"y"]}, id=5),
            SioPacket.ack("/chat", 9, b"bin", "s"),
            SioPacket.disconnect("/chat"),
        ],
    )
    def test_we_read_what_python_socketio_writes(self, packet: SioPacket) -> None:
        theirs = pytest.importorskip("socketio.msgpack_packet")
        item = theirs.MsgPackPacket(packet.type, packet.data, packet.namespace, packet.id).encode()
        assert decode(item) == packet


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _leaves(item)]
    return [value]
