"""aes128gcm for Web Push (RFC 8291): RFC 8291's own example, and http_ece's decryption."""

from __future__ import annotations

import http_ece
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from realtime.push import InvalidSubscription, PushMessageTooLarge
from realtime.push.encryption import MAX_PLAINTEXT, RECORD_SIZE, encrypt
from realtime.push.keys import b64url_decode, b64url_encode

# RFC 8291 Appendix A.
PLAINTEXT = b"When I grow up, I want to be a watermelon"
AS_PRIVATE = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw"
UA_PUBLIC = (
    "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"
)
AUTH = "BTBZMqHH6r4Tts7J_aSIgg"
SALT = "DGv6ra1nlYgDCS1FRnbzlw"
BODY = (
    "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYW"
    "AmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgS"
    "xsj_Qulcy4a-fN"
)


def _scalar_key(text: str) -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(int.from_bytes(b64url_decode(text), "big"), ec.SECP256R1())


def test_rfc_8291_example_is_reproduced_byte_for_byte() -> None:
    body = encrypt(
        PLAINTEXT,
        b64url_decode(UA_PUBLIC),
        b64url_decode(AUTH),
        sender=_scalar_key(AS_PRIVATE),
        salt=b64url_decode(SALT),
    )
    assert b64url_encode(body) == BODY


def _browser() -> tuple[ec.EllipticCurvePrivateKey, bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return key, public, b"0123456789abcdef"


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=MAX_PLAINTEXT))
def test_http_ece_decrypts_what_we_encrypt(plaintext: bytes) -> None:
    key, public, auth = _browser()
    body = encrypt(plaintext, public, auth)
    assert len(body) <= 86 + RECORD_SIZE
    assert http_ece.decrypt(body, private_key=key, auth_secret=auth, version="aes128gcm") == (
        plaintext
    )


def test_the_largest_message_fits_4096_bytes() -> None:
    key, public, auth = _browser()
    body = encrypt(b"x" * MAX_PLAINTEXT, public, auth)
    assert MAX_PLAINTEXT == 3993
    assert len(body) == 4096
    assert http_ece.decrypt(body, private_key=key, auth_secret=auth, version="aes128gcm") == (
        b"x" * MAX_PLAINTEXT
    )


def test_one_byte_more_is_refused() -> None:
    _, public, auth = _browser()
    with pytest.raises(PushMessageTooLarge) as caught:
        encrypt(b"x" * (MAX_PLAINTEXT + 1), public, auth)
    assert (caught.value.size, caught.value.limit) == (3994, 3993)
    assert isinstance(caught.value, ValueError)
    assert "3993" in str(caught.value)


@pytest.mark.parametrize(
    ("p256dh", "auth"),
    [
        (b"\x04" + b"\x01" * 64, b"0123456789abcdef"),  # not on the curve
        (b"\x03" + b"\x01" * 32, b"0123456789abcdef"),  # compressed
        (None, b"short"),
    ],
)
def test_malformed_subscription_keys_are_refused(p256dh: bytes | None, auth: bytes) -> None:
    public = p256dh if p256dh is not None else _browser()[1]
    with pytest.raises(InvalidSubscription):
        encrypt(b"hi", public, auth)
