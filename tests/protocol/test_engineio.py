"""Engine.IO v4 packet and payload codec: no sockets, no clock."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from realtime.exceptions import PacketDecodeError
from realtime.protocol.engineio import (
    RECORD_SEPARATOR,
    ErrorCode,
    Handshake,
    Packet,
    PacketType,
    decode_payload,
    encode_payload,
)

# Text that may appear in a packet: anything but the record separator, which
# v4 assumes never occurs in data.
texts = st.text().filter(lambda t: RECORD_SEPARATOR not in t)
client_packets = st.one_of(
    st.builds(Packet, st.just(PacketType.MESSAGE), texts),
    st.builds(Packet, st.just(PacketType.MESSAGE), st.binary()),
    st.builds(Packet, st.sampled_from([PacketType.PING, PacketType.PONG]), texts),
    st.builds(
        Packet,
        st.sampled_from([PacketType.CLOSE, PacketType.UPGRADE, PacketType.NOOP]),
    ),
)


class TestEncoding:
    def test_text_message_on_websocket_is_type_then_data(self) -> None:
        assert Packet(PacketType.MESSAGE, "hello").encode() == "4hello"

    def test_binary_message_on_websocket_is_raw_bytes(self) -> None:
        assert Packet(PacketType.MESSAGE, b"\x01\x02").encode() == b"\x01\x02"

    def test_probe_packets(self) -> None:
        assert Packet(PacketType.PING, "probe").encode() == "2probe"
        assert Packet(PacketType.PONG, "probe").encode() == "3probe"

    def test_payload_joins_with_record_separator(self) -> None:
        payload = encode_payload(
            [
                Packet(PacketType.MESSAGE, "hello"),
                Packet(PacketType.PING),
                Packet(PacketType.MESSAGE, "world"),
            ]
        )
        assert payload == "4hello\x1e2\x1e4world"

    def test_binary_in_payload_is_base64_with_b_prefix(self) -> None:
        payload = encode_payload(
            [Packet(PacketType.MESSAGE, "hello"), Packet(PacketType.MESSAGE, b"\x01\x02\x03\x04")]
        )
        assert payload == "4hello\x1ebAQIDBA=="

    def test_multibyte_text_is_not_length_prefixed(self) -> None:
        assert (
            encode_payload([Packet(PacketType.MESSAGE, "€€"), Packet(PacketType.MESSAGE, "й")])
            == "4€€\x1e4й"
        )


class TestDecoding:
    def test_spec_examples(self) -> None:
        assert decode_payload("4hello\x1ebAQIDBA==") == [
            Packet(PacketType.MESSAGE, "hello"),
            Packet(PacketType.MESSAGE, b"\x01\x02\x03\x04"),
        ]
        assert Packet.decode("2probe") == Packet(PacketType.PING, "probe")
        assert Packet.decode(b"\x01\x02") == Packet(PacketType.MESSAGE, b"\x01\x02")

    def test_empty_message_is_valid(self) -> None:
        assert Packet.decode("4") == Packet(PacketType.MESSAGE, "")

    @pytest.mark.parametrize(
        "garbage",
        [
            "",
            "abc",
            "9",
            "x4hello",
            "b!!!notbase64",
            "bAQI",
            "0{}",
            "1extra",
            "5x",
            "6data",
            "4ok\x1e",
            "\x1e4a",
        ],
    )
    def test_malformed_input_is_refused(self, garbage: str) -> None:
        with pytest.raises(PacketDecodeError):
            decode_payload(garbage)

    def test_open_packet_is_server_only(self) -> None:
        with pytest.raises(PacketDecodeError):
            Packet.decode('0{"sid":"x"}')
        assert Packet.decode('0{"sid":"x"}', from_server=True).type is PacketType.OPEN

    def test_payload_packet_limit(self) -> None:
        with pytest.raises(PacketDecodeError, match="more than 2 packets"):
            decode_payload("4a\x1e4b\x1e4c", max_packets=2)

    def test_error_carries_an_excerpt(self) -> None:
        with pytest.raises(PacketDecodeError) as info:
            decode_payload("z" * 500)
        assert info.value.reason.startswith("unknown packet type")
        assert info.value.data is not None and len(info.value.data) < 80

    @given(client_packets)
    def test_websocket_roundtrip(self, packet: Packet) -> None:
        assert Packet.decode(packet.encode()) == packet

    @given(st.lists(client_packets, min_size=1, max_size=20))
    def test_payload_roundtrip(self, packets: list[Packet]) -> None:
        assert decode_payload(encode_payload(packets)) == packets

    @given(st.text())
    def test_garbage_text_decodes_or_raises_cleanly(self, text: str) -> None:
        try:
            packets = decode_payload(text)
        except PacketDecodeError:
            return
        assert all(isinstance(p.type, PacketType) for p in packets)
        assert encode_payload(packets) == text or any(p.is_binary for p in packets)

    @given(st.binary())
    def test_any_binary_frame_is_a_message(self, data: bytes) -> None:
        assert Packet.decode(data) == Packet(PacketType.MESSAGE, data)


class TestHandshake:
    def test_open_packet_has_the_spec_keys_in_order(self) -> None:
        packet = Handshake("abc", ("websocket",), 25000, 20000, 1000000).to_packet()
        assert packet.encode() == (
            '0{"sid":"abc","upgrades":["websocket"],"pingInterval":25000,'
            '"pingTimeout":20000,"maxPayload":1000000}'
        )

    def test_roundtrip(self) -> None:
        handshake = Handshake("abc", (), 300, 200, 10)
        assert Handshake.from_packet(handshake.to_packet()) == handshake

    @pytest.mark.parametrize("data", ["", "{", '{"sid":1}', "[]"])
    def test_malformed_open_packet(self, data: str) -> None:
        with pytest.raises(PacketDecodeError):
            Handshake.from_packet(Packet(PacketType.OPEN, data))


class TestErrorCodes:
    def test_codes_and_messages_match_the_reference_server(self) -> None:
        assert [(int(c), c.message) for c in ErrorCode] == [
            (0, "Transport unknown"),
            (1, "Session ID unknown"),
            (2, "Bad handshake method"),
            (3, "Bad request"),
            (4, "Forbidden"),
            (5, "Unsupported protocol version"),
        ]

    def test_forbidden_is_403_and_the_rest_400(self) -> None:
        assert {c: c.http_status for c in ErrorCode} == {
            c: 403 if c is ErrorCode.FORBIDDEN else 400 for c in ErrorCode
        }
