"""Socket.IO v5 packet codec (default parser): no sockets, no clock."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from realtime.exceptions import ConfigurationError, PacketDecodeError
from realtime.protocol import default_parser
from realtime.protocol.default_parser import Decoder, Encoder, JSONSerializer
from realtime.protocol.engineio import Packet, PacketType
from realtime.protocol.parsers import Parser, get_parser
from realtime.protocol.socketio import (
    DEFAULT_MAX_ATTACHMENTS,
    MAX_ACK_ID,
    RESERVED_EVENTS,
    SioPacket,
    SioPacketType,
    validate_payload,
)

T = SioPacketType
BUF = b"\x01\x02\x03\x04"


def decode_all(items: list[str | bytes], decoder: Decoder | None = None) -> SioPacket:
    """Feed every message of one packet; only the last may complete it."""
    decoder = decoder if decoder is not None else Decoder()
    for item in items[:-1]:
        assert decoder.feed(item) is None
    packet = decoder.feed(items[-1])
    assert packet is not None
    return packet


def reported(packet: SioPacket) -> SioPacket:
    """What a decoder gives back for a packet: binary types fold into their base type."""
    base = {T.BINARY_EVENT: T.EVENT, T.BINARY_ACK: T.ACK}.get(packet.type, packet.type)
    return replace(packet, type=base)


# Every row of the encoding tables of the spec (socket.io-protocol, v5 Readme),
# then the Socket.IO part of each message of its sample session.
SPEC_TABLE = [
    (SioPacket(T.CONNECT, "/"), ["0"]),
    (
        SioPacket(T.CONNECT, "/", {"sid": "wZX3oN0bSVIhsaknAAAI"}),
        ['0{"sid":"wZX3oN0bSVIhsaknAAAI"}'],
    ),
    (SioPacket(T.CONNECT, "/admin"), ["0/admin,"]),
    (
        SioPacket(T.CONNECT, "/admin", {"sid": "oSO0OpakMV_3jnilAAAA"}),
        ['0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}'],
    ),
    (
        SioPacket(T.CONNECT_ERROR, "/", {"message": "Not authorized"}),
        ['4{"message":"Not authorized"}'],
    ),
    (SioPacket(T.EVENT, "/", ["foo"]), ['2["foo"]']),
    (SioPacket(T.EVENT, "/admin", ["bar"]), ['2/admin,["bar"]']),
    (
        SioPacket(T.BINARY_EVENT, "/", ["baz", BUF]),
        ['51-["baz",{"_placeholder":true,"num":0}]', BUF],
    ),
    (
        SioPacket(T.BINARY_EVENT, "/admin", ["baz", b"\x01\x02", b"\x03\x04"]),
        [
            '52-/admin,["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]',
            b"\x01\x02",
            b"\x03\x04",
        ],
    ),
    (SioPacket(T.EVENT, "/", ["foo"], 12), ['212["foo"]']),
    (SioPacket(T.ACK, "/", [], 12), ["312[]"]),
    (SioPacket(T.EVENT, "/admin", ["foo"], 13), ['2/admin,13["foo"]']),
    (SioPacket(T.ACK, "/admin", ["bar"], 13), ['3/admin,13["bar"]']),
    (
        SioPacket(T.BINARY_EVENT, "/", ["foo", BUF], 14),
        ['51-14["foo",{"_placeholder":true,"num":0}]', BUF],
    ),
    (SioPacket(T.ACK, "/", ["bar"], 14), ['314["bar"]']),
    (SioPacket(T.EVENT, "/", ["foo"], 15), ['215["foo"]']),
    (
        SioPacket(T.BINARY_ACK, "/", ["bar", BUF], 15),
        ['61-15["bar",{"_placeholder":true,"num":0}]', BUF],
    ),
    (SioPacket(T.DISCONNECT, "/"), ["1"]),
    (SioPacket(T.DISCONNECT, "/admin"), ["1/admin,"]),
    # sample session
    (SioPacket(T.EVENT, "/", ["hey", "Jude"]), ['2["hey","Jude"]']),
    (SioPacket(T.EVENT, "/", ["hello"]), ['2["hello"]']),
    (SioPacket(T.EVENT, "/", ["world"]), ['2["world"]']),
    (
        SioPacket(T.CONNECT, "/admin", {"sid": "-G5j-67EZFp-q59rADQM"}),
        ['0/admin,{"sid":"-G5j-67EZFp-q59rADQM"}'],
    ),
    (SioPacket(T.EVENT, "/admin", ["tellme"], 1), ['2/admin,1["tellme"]']),
    (
        SioPacket(T.BINARY_ACK, "/admin", [b"\xff"], 1),
        ['61-/admin,1[{"_placeholder":true,"num":0}]', b"\xff"],
    ),
]


class TestSpecExamples:
    @pytest.mark.parametrize(("packet", "encoded"), SPEC_TABLE)
    def test_encoding(self, packet: SioPacket, encoded: list[str | bytes]) -> None:
        assert Encoder().encode(packet) == encoded

    @pytest.mark.parametrize(("packet", "encoded"), SPEC_TABLE)
    def test_decoding(self, packet: SioPacket, encoded: list[str | bytes]) -> None:
        assert decode_all(encoded) == reported(packet)

    def test_binary_types_are_picked_from_the_data(self) -> None:
        # The spec's tables name BINARY_EVENT; a plain EVENT with the same data
        # encodes the same, as the reference encoder does.
        assert Encoder().encode(SioPacket(T.EVENT, "/", ["baz", BUF])) == [
            '51-["baz",{"_placeholder":true,"num":0}]',
            BUF,
        ]

    def test_engineio_message_wraps_the_packet(self) -> None:
        (text,) = Encoder().encode(SioPacket.event("/", "foo"))
        assert isinstance(text, str)
        assert Packet(PacketType.MESSAGE, text).encode() == '42["foo"]'


class TestEncoder:
    def test_binary_found_at_any_depth_numbered_depth_first(self) -> None:
        data = ["ev", {"a": b"0", "b": [bytearray(b"1"), (memoryview(b"2"),)]}, b"3"]
        text, *attachments = Encoder().encode(SioPacket(T.EVENT, "/", data))
        assert text == (
            '54-["ev",{"a":{"_placeholder":true,"num":0},"b":[{"_placeholder":true,"num":1},'
            '[{"_placeholder":true,"num":2}]]},{"_placeholder":true,"num":3}]'
        )
        assert attachments == [b"0", b"1", b"2", b"3"]
        assert all(type(a) is bytes for a in attachments)

    def test_input_data_is_left_untouched(self) -> None:
        inner = {"k": b"x"}
        data = ["ev", inner, [b"y"]]
        Encoder().encode(SioPacket(T.EVENT, "/", data))
        assert data == ["ev", {"k": b"x"}, [b"y"]]
        assert data[1] is inner

    def test_binary_type_without_binary_data_is_sent_plain(self) -> None:
        assert Encoder().encode(SioPacket(T.BINARY_EVENT, "/", ["a"], 3)) == ['23["a"]']
        assert Encoder().encode(SioPacket(T.BINARY_ACK, "/", [])) == ["3[]"]

    def test_output_is_compact_like_json_stringify(self) -> None:
        packet = SioPacket.event("/", "e", {"a": [1, 2.5, None, True]}, ("t", "u"), "é €")
        assert Encoder().encode(packet) == ['2["e",{"a":[1,2.5,null,true]},["t","u"],"é €"]']

    def test_non_string_keys_become_strings(self) -> None:
        packet = SioPacket.event("/", "e", {1: "a", None: "b"})
        assert Encoder().encode(packet) == ['2["e",{"1":"a","null":"b"}]']

    def test_non_string_keys_next_to_binary(self) -> None:
        packet = SioPacket.event("/", "e", {1: b"a"})
        assert Encoder().encode(packet) == ['51-["e",{"1":{"_placeholder":true,"num":0}}]', b"a"]

    def test_unserializable_data_raises_type_error(self) -> None:
        with pytest.raises(TypeError):
            Encoder().encode(SioPacket.event("/", "e", {1, 2}))

    @pytest.mark.parametrize("namespace", ["", "admin", "/a,b"])
    def test_namespace_the_format_cannot_carry(self, namespace: str) -> None:
        with pytest.raises(ConfigurationError, match="namespace"):
            Encoder().encode(SioPacket.event(namespace, "e"))

    def test_negative_ack_id_is_refused(self) -> None:
        with pytest.raises(ConfigurationError, match="ack id"):
            Encoder().encode(SioPacket.event("/", "e", id=-1))

    def test_default_serializer_skips_the_binary_search_for_text_events(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def no_search(value: Any, buffers: list[bytes]) -> Any:
            raise AssertionError("searched a payload orjson could write")

        monkeypatch.setattr(default_parser, "_take_out_binary", no_search)
        assert Encoder().encode(SioPacket.event("/", "e", {"a": [1, "b"]})) == [
            '2["e",{"a":[1,"b"]}]'
        ]

    def test_custom_serializer_sees_placeholders_not_bytes(self) -> None:
        seen: list[Any] = []

        class Recorder:
            def dumps(self, obj: Any, /) -> str:
                seen.append(obj)
                return json.dumps(obj)

            def loads(self, text: str, /) -> Any:
                return json.loads(text)

        text, attachment = Encoder(Recorder()).encode(SioPacket.event("/", "e", b"z"))
        assert seen == [["e", {"_placeholder": True, "num": 0}]]
        assert text == '51-["e", {"_placeholder": true, "num": 0}]'
        assert attachment == b"z"

    def test_stdlib_json_module_as_serializer(self) -> None:
        encoder, decoder = Encoder(json), Decoder(json)
        packet = SioPacket.event("/chat", "msg", {"a": 1}, b"\x00", id=7)
        items = encoder.encode(packet)
        assert items == ['51-/chat,7["msg", {"a": 1}, {"_placeholder": true, "num": 0}]', b"\x00"]
        assert decode_all(items, decoder) == packet

    def test_serializer_without_loads_is_refused(self) -> None:
        class HalfSerializer:
            def dumps(self, obj: Any) -> str:
                return ""

        with pytest.raises(ConfigurationError, match="dumps"):
            Encoder(HalfSerializer())  # type: ignore[arg-type]


class TestDecoder:
    @pytest.mark.parametrize(
        ("text", "reason"),
        [
            ("", "empty packet"),
            ("7", "unknown packet type"),
            ("a", "unknown packet type"),
            (" 0", "unknown packet type"),
            ('\u0662["a"]', "unknown packet type"),
            ("2", "event payload"),
            ("2[]", "event payload"),
            ('2{"a":1}', "event payload"),
            ("2[true]", "event name"),
            ("2[null]", "event name"),
            ('2[["a"]]', "event name"),
            ("3", "ack payload"),
            ("312", "ack payload"),
            ('3{"a":1}', "ack payload"),
            ("0[]", "connect payload"),
            ('0"x"', "connect payload"),
            ("0null", "null payload"),
            ("1{}", "disconnect packet carries a payload"),
            ("1/admin,{}", "disconnect packet carries a payload"),
            ("4", "connect_error payload"),
            ("4[]", "connect_error payload"),
            ("41", "connect_error payload"),
            ('2["a"', "invalid JSON"),
            ('2["a"]x', "invalid JSON"),
            ("2[NaN]", "invalid JSON"),
            ('2/admin["a"]', "event payload"),
            ('2-1["a"]', "invalid JSON"),
            ('2\u0661["a"]', "invalid JSON"),
            ("2" + "9" * 17 + '["a"]', "ack id out of range"),
            (f'2{MAX_ACK_ID + 1}["a"]', "ack id out of range"),
            ('5["a"]', "invalid attachment count"),
            ('5-["a"]', "invalid attachment count"),
            ('5x-["a"]', "invalid attachment count"),
            ('5 1-["a"]', "invalid attachment count"),
            ('5\u0661-["a"]', "invalid attachment count"),
            ('5-1-["a"]', "invalid attachment count"),
            ('511-["a"]', "more than 10 attachments"),
            ("5" + "9" * 40 + '-["a"]', "more than 10 attachments"),
            ("51-", "event payload"),
            ("51-[]", "event payload"),
            ('51-[{"_placeholder":true,"num":0}]', "event name"),
            ("61-{}", "ack payload"),
        ],
    )
    def test_invalid_text_is_refused(self, text: str, reason: str) -> None:
        with pytest.raises(PacketDecodeError, match=reason):
            Decoder().feed(text)

    @pytest.mark.parametrize("name", sorted(RESERVED_EVENTS))
    def test_reserved_event_names_are_refused(self, name: str) -> None:
        with pytest.raises(PacketDecodeError, match="reserved event name"):
            Decoder().feed("2" + json.dumps([name, 1]))
        with pytest.raises(PacketDecodeError, match="reserved event name"):
            Decoder().feed(f'51-["{name}",{{"_placeholder":true,"num":0}}]')

    def test_reserved_names_are_those_of_the_reference_parser(self) -> None:
        assert (
            frozenset(
                [
                    "connect",
                    "connect_error",
                    "disconnect",
                    "disconnecting",
                    "newListener",
                    "removeListener",
                ]
            )
            == RESERVED_EVENTS
        )

    def test_numbers_may_name_events(self) -> None:
        # socket.io-parser 4.0.4 ("allow integers as event names") accepts any number.
        packet = Decoder().feed('2[42,"a"]')
        assert packet == SioPacket(T.EVENT, "/", [42, "a"])
        assert packet.event_name == "42"
        assert Decoder().feed("2[1.5]") == SioPacket(T.EVENT, "/", [1.5])

    def test_packets_a_server_sends(self) -> None:
        decoder = Decoder()
        assert decoder.feed('0{"sid":"abc"}') == SioPacket(T.CONNECT, "/", {"sid": "abc"})
        assert decoder.feed('4/x,{"message":"no","data":{"why":1}}') == SioPacket(
            T.CONNECT_ERROR, "/x", {"message": "no", "data": {"why": 1}}
        )
        # Before v5 the CONNECT_ERROR payload was a plain string; still allowed.
        assert decoder.feed('4"Not authorized"') == SioPacket(
            T.CONNECT_ERROR, "/", "Not authorized"
        )

    def test_namespace_without_comma_runs_to_the_end(self) -> None:
        assert Decoder().feed("0/admin") == SioPacket(T.CONNECT, "/admin")
        assert Decoder().feed("1/a/b") == SioPacket(T.DISCONNECT, "/a/b")

    def test_ack_id_with_leading_zeros_reads_as_a_number(self) -> None:
        assert Decoder().feed('2012["a"]') == SioPacket(T.EVENT, "/", ["a"], 12)

    def test_largest_ack_id(self) -> None:
        assert Decoder().feed(f"3{MAX_ACK_ID}[]") == SioPacket(T.ACK, "/", [], MAX_ACK_ID)

    def test_placeholder_lookalike_in_a_text_event_stays_data(self) -> None:
        text = '2["a",{"_placeholder":true,"num":0}]'
        assert Decoder().feed(text) == SioPacket(
            T.EVENT, "/", ["a", {"_placeholder": True, "num": 0}]
        )


class TestAttachments:
    def test_packet_completes_with_its_last_attachment(self) -> None:
        decoder = Decoder()
        assert decoder.awaiting_attachments == 0
        assert (
            decoder.feed(
                '53-/n,4["e",{"_placeholder":true,"num":2},[{"_placeholder":true,"num":0}]]'
            )
            is None
        )
        assert decoder.awaiting_attachments == 3
        assert decoder.feed(b"a") is None
        assert decoder.feed(bytearray(b"b")) is None
        assert decoder.awaiting_attachments == 1
        packet = decoder.feed(memoryview(b"c"))
        assert packet == SioPacket(T.EVENT, "/n", ["e", b"c", [b"a"]], 4)
        assert decoder.awaiting_attachments == 0

    def test_attachments_keep_their_numbers_whatever_the_json_order(self) -> None:
        text = '62-5[{"_placeholder":true,"num":1},{"_placeholder":true,"num":0}]'
        assert decode_all([text, b"first", b"second"]) == SioPacket(
            T.ACK, "/", [b"second", b"first"], 5
        )

    def test_an_ack_without_an_id_is_refused(self) -> None:
        for text in ("3[]", '61-[{"_placeholder":true,"num":0}]'):
            with pytest.raises(PacketDecodeError, match="without an id"):
                Decoder().feed(text)

    def test_the_encoder_keeps_to_the_attachment_limit(self) -> None:
        eleven = SioPacket.event("/", "files", *[bytes([i]) for i in range(11)])
        with pytest.raises(ConfigurationError, match="more than 10"):
            Encoder().encode(eleven)
        assert len(Encoder(max_attachments=11).encode(eleven)) == 12
        ten = SioPacket.event("/", "files", *[bytes([i]) for i in range(10)])
        assert len(Encoder().encode(ten)) == 11

    def test_zero_attachments_completes_at_once(self) -> None:
        assert Decoder().feed('50-["a",1]') == SioPacket(T.EVENT, "/", ["a", 1])

    def test_zero_attachments_with_a_placeholder_is_refused(self) -> None:
        with pytest.raises(PacketDecodeError, match="placeholder"):
            Decoder().feed('50-["a",{"_placeholder":true,"num":0}]')

    def test_unreferenced_and_repeated_attachments_are_allowed(self) -> None:
        # As in the reference: nothing says each attachment is used exactly once.
        text = '52-["a",{"_placeholder":true,"num":0},{"_placeholder":true,"num":0}]'
        assert decode_all([text, b"x", b"unused"]) == SioPacket(T.EVENT, "/", ["a", b"x", b"x"])

    @pytest.mark.parametrize(
        "placeholder",
        [
            '{"_placeholder":true,"num":1}',
            '{"_placeholder":true,"num":-1}',
            '{"_placeholder":true}',
            '{"_placeholder":true,"num":"0"}',
            '{"_placeholder":true,"num":0.5}',
            '{"_placeholder":true,"num":true}',
            '{"_placeholder":true,"num":null}',
        ],
    )
    def test_bad_placeholder_is_refused_when_the_attachments_are_in(self, placeholder: str) -> None:
        decoder = Decoder()
        assert decoder.feed(f'51-["a",{{"k":[{placeholder}]}}]') is None
        with pytest.raises(PacketDecodeError, match="placeholder"):
            decoder.feed(b"x")

    def test_placeholder_flag_must_be_true(self) -> None:
        text = '51-["a",{"_placeholder":1,"num":0}]'
        assert decode_all([text, b"x"]) == SioPacket(
            T.EVENT, "/", ["a", {"_placeholder": 1, "num": 0}]
        )

    def test_binary_when_none_is_expected(self) -> None:
        with pytest.raises(PacketDecodeError, match="no attachment is expected"):
            Decoder().feed(b"\x01")

    def test_text_while_attachments_are_expected(self) -> None:
        decoder = Decoder()
        decoder.feed('52-["a",{"_placeholder":true,"num":0}]')
        decoder.feed(b"x")
        with pytest.raises(PacketDecodeError, match="1 attachment"):
            decoder.feed('2["b"]')

    def test_attachment_limit_is_configurable(self) -> None:
        assert Decoder(max_attachments=2).feed('52-["a"]') is None
        with pytest.raises(PacketDecodeError, match="more than 2 attachments"):
            Decoder(max_attachments=2).feed('53-["a"]')
        with pytest.raises(PacketDecodeError, match="more than 0 attachments"):
            Decoder(max_attachments=0).feed('51-["a"]')

    def test_default_limit_is_ten_like_the_reference(self) -> None:
        assert DEFAULT_MAX_ATTACHMENTS == 10
        assert Decoder().feed('510-["a"]') is None

    def test_negative_limit_is_a_configuration_error(self) -> None:
        with pytest.raises(ConfigurationError):
            Decoder(max_attachments=-1)


class TestAfterAnError:
    """A decoder that raised is reset: it drops the partial packet and goes on."""

    @pytest.mark.parametrize(
        "items",
        [
            ["9"],
            [b"stray"],
            ['52-["a",{"_placeholder":true,"num":0}]', b"x", '2["b"]'],
            ['51-["a",{"_placeholder":true,"num":5}]', b"x"],
            ['2["a"'],
        ],
    )
    def test_decoder_is_reset_and_usable(self, items: list[str | bytes]) -> None:
        decoder = Decoder()
        with pytest.raises(PacketDecodeError):
            for item in items:
                decoder.feed(item)
        assert decoder.awaiting_attachments == 0
        assert decoder.feed('2["next"]') == SioPacket(T.EVENT, "/", ["next"])

    def test_attachments_of_a_dropped_packet_are_refused(self) -> None:
        decoder = Decoder()
        decoder.feed('52-["a",{"_placeholder":true,"num":0}]')
        with pytest.raises(PacketDecodeError):
            decoder.feed("?")
        with pytest.raises(PacketDecodeError, match="no attachment is expected"):
            decoder.feed(b"late")

    def test_reset_drops_a_partial_packet(self) -> None:
        decoder = Decoder()
        decoder.feed('51-["a",{"_placeholder":true,"num":0}]')
        decoder.reset()
        assert decoder.awaiting_attachments == 0
        assert decoder.feed("1") == SioPacket(T.DISCONNECT)


class TestPacketHelpers:
    def test_constructors(self) -> None:
        assert SioPacket.connect() == SioPacket(T.CONNECT, "/")
        assert SioPacket.connect("/a", {"token": "t"}) == SioPacket(T.CONNECT, "/a", {"token": "t"})
        assert SioPacket.disconnect("/a") == SioPacket(T.DISCONNECT, "/a")
        assert SioPacket.event("/", "e", 1, 2, id=3) == SioPacket(T.EVENT, "/", ["e", 1, 2], 3)
        assert SioPacket.ack("/", 3, "r") == SioPacket(T.ACK, "/", ["r"], 3)
        assert SioPacket.connect_error("/", "no") == SioPacket(
            T.CONNECT_ERROR, "/", {"message": "no"}
        )
        assert SioPacket.connect_error("/", "no", {"x": 1}).data == {
            "message": "no",
            "data": {"x": 1},
        }

    def test_event_name_and_args(self) -> None:
        event = SioPacket.event("/", "e", 1, [2])
        assert (event.event_name, event.args) == ("e", [1, [2]])
        assert SioPacket(T.BINARY_EVENT, "/", [7.0, b"x"]).event_name == "7"
        ack = SioPacket.ack("/", 1, "a", "b")
        assert (ack.event_name, ack.args) == (None, ["a", "b"])
        assert SioPacket.connect().args == []
        assert SioPacket(T.EVENT, "/", [True]).event_name is None

    def test_packets_are_frozen(self) -> None:
        packet = SioPacket.event("/", "e")
        with pytest.raises(AttributeError):
            packet.id = 3  # type: ignore[misc]

    def test_packet_type_values_match_the_spec(self) -> None:
        assert [(t.name, int(t)) for t in SioPacketType] == [
            ("CONNECT", 0),
            ("DISCONNECT", 1),
            ("EVENT", 2),
            ("ACK", 3),
            ("CONNECT_ERROR", 4),
            ("BINARY_EVENT", 5),
            ("BINARY_ACK", 6),
        ]

    def test_validate_payload_takes_none_as_absent(self) -> None:
        validate_payload(T.CONNECT, None)
        validate_payload(T.DISCONNECT, None)
        with pytest.raises(PacketDecodeError, match="ack payload"):
            validate_payload(T.BINARY_ACK, None)


class TestParsers:
    def test_default_parser(self) -> None:
        parser = get_parser()
        assert parser.name == "default"
        assert isinstance(parser.encoder, Encoder)
        first, second = parser.make_decoder(), parser.make_decoder()
        assert isinstance(first, Decoder) and first is not second

    def test_options_reach_the_default_parser(self) -> None:
        parser = get_parser("default", serializer=json, max_attachments=1)
        assert parser.encoder.encode(SioPacket.event("/", "a", 1)) == ['2["a", 1]']
        decoder = parser.make_decoder()
        with pytest.raises(PacketDecodeError, match="more than 1 attachments"):
            decoder.feed('52-["a"]')

    def test_a_parser_object_is_returned_as_is(self) -> None:
        custom = Parser("mine", Encoder(), Decoder)
        assert get_parser(custom) is custom

    @pytest.mark.parametrize(
        "kwargs",
        [
            {"parser": "nope"},
            {"parser": "msgpack", "serializer": json},
            {"parser": "msgpack", "max_attachments": 3},
            {"parser": Parser("mine", Encoder(), Decoder), "max_attachments": 3},
            {"parser": "default", "max_attachments": -1},
        ],
    )
    def test_configuration_errors(self, kwargs: dict[str, Any]) -> None:
        with pytest.raises(ConfigurationError):
            get_parser(**kwargs)

    def test_json_serializer_is_the_default(self) -> None:
        assert JSONSerializer().dumps({"a": (1, 2)}) == '{"a":[1,2]}'
        assert JSONSerializer().loads('{"a":[1,2]}') == {"a": [1, 2]}


class TestPurity:
    def test_importing_the_codec_loads_no_io_module_and_not_msgpack(self) -> None:
        code = (
            "import sys; before = set(sys.modules); "
            "import realtime.protocol.parsers as s; s.get_parser(); "
            "new = {m.split('.')[0] for m in set(sys.modules) - before}; "
            "bad = {'socket', 'select', 'selectors', 'threading', 'eventlet', 'gevent', "
            "'flask', 'werkzeug', 'redis', 'msgpack'}; "
            "print(','.join(sorted(new & bad)))"
        )
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        assert result.stdout.strip() == ""


# -- properties ---------------------------------------------------------------

namespaces = st.just("/") | st.text(min_size=1).filter(lambda s: "," not in s).map(
    lambda s: "/" + s
)
ack_ids = st.none() | st.integers(0, MAX_ACK_ID)
# Placeholders are recognised by their "_placeholder" key, so user data must
# not use it (a protocol limit, shared with the reference).
keys = st.text().filter(lambda k: k != "_placeholder")
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)


def json_data(leaves: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
        max_leaves=12,
    )


plain = json_data(scalars)
with_binary = json_data(scalars | st.binary(max_size=16))
# Generated payloads may hold more binary values than the default limit allows.
UNLIMITED = 10_000
event_names = (st.text() | st.integers(0, 2**31)).filter(lambda n: n not in RESERVED_EVENTS)


def packets(data: st.SearchStrategy[Any]) -> st.SearchStrategy[SioPacket]:
    """Valid packets; ``data`` fills events and acks (only they may carry binary)."""
    event_data = st.builds(
        lambda name, args: [name, *args], event_names, st.lists(data, max_size=4)
    )
    return st.one_of(
        st.builds(
            SioPacket, st.just(T.CONNECT), namespaces, st.none() | st.dictionaries(keys, plain)
        ),
        st.builds(SioPacket, st.just(T.DISCONNECT), namespaces),
        st.builds(
            SioPacket,
            st.sampled_from([T.EVENT, T.BINARY_EVENT]),
            namespaces,
            event_data,
            ack_ids,
        ),
        st.builds(
            SioPacket,
            st.sampled_from([T.ACK, T.BINARY_ACK]),
            namespaces,
            st.lists(data, max_size=4),
            st.integers(0, MAX_ACK_ID),  # an ack always names the event it answers
        ),
        st.builds(
            SioPacket,
            st.just(T.CONNECT_ERROR),
            namespaces,
            st.text() | st.dictionaries(keys, plain),
        ),
    )


class TestProperties:
    @given(packets(with_binary))
    def test_roundtrip(self, packet: SioPacket) -> None:
        decoder = Decoder(max_attachments=UNLIMITED)
        assert decode_all(Encoder(max_attachments=UNLIMITED).encode(packet), decoder) == reported(
            packet
        )

    @given(packets(plain))
    def test_roundtrip_with_the_stdlib_json_module(self, packet: SioPacket) -> None:
        decoder = Decoder(json, max_attachments=UNLIMITED)
        encoder = Encoder(json, max_attachments=UNLIMITED)
        assert decode_all(encoder.encode(packet), decoder) == reported(packet)

    @given(packets(with_binary))
    def test_text_only_when_there_is_no_binary(self, packet: SioPacket) -> None:
        text, *attachments = Encoder(max_attachments=UNLIMITED).encode(packet)
        assert isinstance(text, str)
        assert text[0] in "56" if attachments else text[0] in "01234"
        assert text.startswith(f"{text[0]}{len(attachments)}-") or not attachments

    @given(st.lists(packets(with_binary), max_size=6))
    def test_one_decoder_reads_a_stream_of_packets(self, stream: list[SioPacket]) -> None:
        encoder, decoder = Encoder(max_attachments=UNLIMITED), Decoder(max_attachments=UNLIMITED)
        out = []
        for packet in stream:
            for item in encoder.encode(packet):
                result = decoder.feed(item)
                if result is not None:
                    out.append(result)
        assert out == [reported(p) for p in stream]

    @given(st.text())
    def test_garbage_text_decodes_or_raises_cleanly(self, text: str) -> None:
        decoder = Decoder()
        try:
            result = decoder.feed(text)
        except PacketDecodeError:
            assert decoder.awaiting_attachments == 0
            return
        assert result is None or result.type in {
            T.CONNECT,
            T.DISCONNECT,
            T.EVENT,
            T.ACK,
            T.CONNECT_ERROR,
        }
        assert (result is None) == (decoder.awaiting_attachments > 0)

    @given(
        st.from_regex(
            r"\A[0-6]([0-9]{0,3}-)?(/[a-z,\-\[\]{}0-9\"]{0,6},?)?[0-9]{0,4}"
            r"(\[|\{|\"|null|true|[0-9]|,|\]|\}|_placeholder|num|:){0,12}\Z"
        )
    )
    def test_plausible_garbage_decodes_or_raises_cleanly(self, text: str) -> None:
        decoder = Decoder()
        try:
            result = decoder.feed(text)
        except PacketDecodeError:
            return
        assert result is None or isinstance(result, SioPacket)

    @given(st.lists(st.text(max_size=30) | st.binary(max_size=8), max_size=10))
    def test_any_message_sequence_decodes_or_raises_cleanly(self, items: list[str | bytes]) -> None:
        decoder = Decoder(max_attachments=3)
        for item in items:
            try:
                result = decoder.feed(item)
            except PacketDecodeError:
                assert decoder.awaiting_attachments == 0
                continue
            assert result is None or isinstance(result, SioPacket)
            assert decoder.awaiting_attachments <= 3

    @given(st.text())
    def test_garbage_with_the_stdlib_json_module(self, text: str) -> None:
        try:
            result = Decoder(json).feed(text)
        except PacketDecodeError:
            return
        assert result is None or isinstance(result, SioPacket)

    @pytest.mark.parametrize("serializer", [None, json])
    def test_deep_nesting_is_refused_cleanly(self, serializer: Any) -> None:
        with pytest.raises(PacketDecodeError, match="invalid JSON"):
            Decoder(serializer).feed('2["a",' + "[" * 100_000 + "]" * 100_000 + "]")

    def test_nesting_the_json_parser_accepts_survives_attachment_lookup(self) -> None:
        deep = "[" * 1000 + '{"_placeholder":true,"num":0}' + "]" * 1000
        packet = decode_all([f'51-["a",{deep}]', b"x"])
        inner = packet.data[1]
        for _ in range(999):
            inner = inner[0]
        assert inner == [b"x"]


class TestAgainstPythonSocketio:
    """python-socketio's packet class is a second implementation to agree with."""

    @given(packets(with_binary))
    def test_python_socketio_reads_what_we_write(self, packet: SioPacket) -> None:
        theirs = pytest.importorskip("socketio.packet")
        text, *attachments = Encoder(max_attachments=UNLIMITED).encode(packet)
        decoded = theirs.Packet(encoded_packet=text)
        for attachment in attachments:
            decoded.add_attachment(attachment)
        assert decoded.data == packet.data
        assert decoded.id == packet.id
        assert (decoded.namespace or "/") == packet.namespace.split("?")[0]

    @pytest.mark.parametrize(
        "packet",
        [
            SioPacket.event("/", "e", 1, {"a": [b"x", b"y"]}, id=5),
            SioPacket.ack("/chat", 9, b"bin", "s"),
            SioPacket.connect("/chat", {"token": "t"}),
            SioPacket.disconnect("/chat"),
        ],
    )
    def test_we_read_what_python_socketio_writes(self, packet: SioPacket) -> None:
        theirs = pytest.importorskip("socketio.packet")
        encoded = theirs.Packet(packet.type, packet.data, packet.namespace, packet.id).encode()
        items = encoded if isinstance(encoded, list) else [encoded]
        assert decode_all(items) == packet
