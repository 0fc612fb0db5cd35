"""VAPID tokens (RFC 8292): claims, signature, lifetime, caching."""

from __future__ import annotations

import orjson
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from realtime.exceptions import ConfigurationError
from realtime.push import VapidKey
from realtime.push.keys import b64url_decode
from realtime.push.vapid import VapidSigner, origin_of


def verified_claims(token: str, public_key: str) -> dict[str, object]:
    """The claims of an ES256 JWT, after checking its header and signature."""
    header, claims, signature = token.split(".")
    assert orjson.loads(b64url_decode(header)) == {"typ": "JWT", "alg": "ES256"}
    raw = b64url_decode(signature)
    assert len(raw) == 64
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    point = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(public_key))
    point.verify(der, f"{header}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
    loaded: dict[str, object] = orjson.loads(b64url_decode(claims))
    return loaded


@pytest.mark.parametrize(
    ("endpoint", "origin"),
    [
        ("https://fcm.googleapis.com/fcm/send/abc", "https://fcm.googleapis.com"),
        ("https://push.example:443/x", "https://push.example"),
        ("https://push.example:8443/x?y=1", "https://push.example:8443"),
        ("http://127.0.0.1:8090/notify/h", "http://127.0.0.1:8090"),
        ("http://[::1]:80/p", "http://[::1]"),
        ("HTTPS://Push.Example/p", "https://push.example"),
    ],
)
def test_the_audience_is_the_endpoints_origin(endpoint: str, origin: str) -> None:
    assert origin_of(endpoint) == origin


def test_a_token_claims_aud_exp_and_sub_and_is_signed_by_the_key() -> None:
    key = VapidKey.generate()
    signer = VapidSigner(key, "mailto:ops@example.com", clock=lambda: 1_000_000.0)
    header = signer.authorization("https://push.example/some/resource")
    assert header.startswith("vapid t=")
    token_part, key_part = header[len("vapid ") :].split(", ")
    assert key_part == f"k={key.public_key}"
    claims = verified_claims(token_part[2:], key.public_key)
    assert claims == {
        "aud": "https://push.example",
        "exp": 1_000_000 + 12 * 3600,
        "sub": "mailto:ops@example.com",
    }


def test_tokens_are_reused_per_origin_until_an_hour_before_they_expire() -> None:
    now = [1_000_000.0]
    signer = VapidSigner(VapidKey.generate(), "https://example.com/contact", clock=lambda: now[0])
    first = signer.token("https://a.example")
    assert signer.token("https://a.example") == first
    assert signer.token("https://b.example") != first
    now[0] += 11 * 3600 - 1
    assert signer.token("https://a.example") == first
    now[0] += 2
    renewed = signer.token("https://a.example")
    assert renewed != first
    assert verified_claims(renewed, signer.key.public_key)["exp"] == int(now[0]) + 12 * 3600


@pytest.mark.parametrize("subject", ["ops@example.com", "http://example.com", ""])
def test_a_subject_must_be_mailto_or_https(subject: str) -> None:
    with pytest.raises(ConfigurationError, match="subject"):
        VapidSigner(VapidKey.generate(), subject)


@pytest.mark.parametrize("lifetime", [0, 24 * 3600 + 1])
def test_a_token_lives_at_most_a_day(lifetime: int) -> None:
    with pytest.raises(ConfigurationError):
        VapidSigner(VapidKey.generate(), "mailto:a@b.c", lifetime=lifetime)
