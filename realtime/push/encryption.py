"""Message encryption for Web Push: aes128gcm in one record (RFC 8291, RFC 8188).

A push message is encrypted for one browser subscription with its P-256
public key (``p256dh``) and its 16-byte authentication secret (``auth``),
and travels as one record of the ``aes128gcm`` content coding::

    salt (16) | rs (4, 4096) | idlen (1, 65) | keyid (sender's public key, 65)
    | AES-128-GCM(plaintext | 0x02)   (16 bytes of tag at the end)

Written here on ``cryptography``'s primitives (ECDH, HKDF, AES-GCM): the
tests check it against ``http_ece``, the reference Python implementation,
and against the push service emulator's Node ``http_ece``.
"""

from __future__ import annotations

import os
import struct

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from realtime.push.errors import InvalidSubscription, PushMessageTooLarge

__all__ = ["HEADER_SIZE", "MAX_PLAINTEXT", "RECORD_SIZE", "encrypt"]

#: The record size written in the header: the 4,096 bytes every push
#: service must accept (RFC 8030 section 7.2).
RECORD_SIZE = 4096
#: salt, rs, idlen and a 65-byte key id (RFC 8291 section 4).
HEADER_SIZE = 16 + 4 + 1 + 65
#: The padding delimiter and the AES-GCM tag.
_OVERHEAD = 1 + 16
#: The most plaintext one push carries: 3,993 bytes (RFC 8291 section 4).
MAX_PLAINTEXT = RECORD_SIZE - HEADER_SIZE - _OVERHEAD
#: The last (and only) record's padding delimiter (RFC 8188 section 2).
_LAST_RECORD = b"\x02"
_KEY_INFO = b"WebPush: info\x00"
_CEK_INFO = b"Content-Encoding: aes128gcm\x00"
_NONCE_INFO = b"Content-Encoding: nonce\x00"
_POINT_SIZE = 65
_AUTH_SIZE = 16


def _hkdf(salt: bytes, ikm: bytes, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


def encrypt(
    plaintext: bytes,
    p256dh: bytes,
    auth: bytes,
    *,
    sender: ec.EllipticCurvePrivateKey | None = None,
    salt: bytes | None = None,
) -> bytes:
    """The body of a push message: ``plaintext`` encrypted for one subscription.

    Args:
        plaintext: the message, at most :data:`MAX_PLAINTEXT` bytes.
        p256dh: the subscription's public key, an uncompressed P-256 point.
        auth: the subscription's 16-byte authentication secret.
        sender: the ephemeral key of this message; a new one when None (the
            tests pass RFC 8291's example keys).
        salt: 16 random bytes; new ones when None.

    Returns:
        The ``aes128gcm`` body (RFC 8291 section 3.4, RFC 8188 section 2).

    Raises:
        PushMessageTooLarge: the plaintext does not fit in one record.
        InvalidSubscription: the subscription's keys are malformed.
    """
    if len(plaintext) > MAX_PLAINTEXT:
        raise PushMessageTooLarge(len(plaintext), MAX_PLAINTEXT)
    if len(auth) != _AUTH_SIZE:
        raise InvalidSubscription(f"keys.auth must be {_AUTH_SIZE} bytes, not {len(auth)}")
    if len(p256dh) != _POINT_SIZE or p256dh[0] != 4:
        raise InvalidSubscription("keys.p256dh must be an uncompressed P-256 point (65 bytes)")
    try:
        receiver = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), p256dh)
    except ValueError as exc:
        raise InvalidSubscription(f"keys.p256dh is not a point on P-256: {exc}") from exc
    sender = sender or ec.generate_private_key(ec.SECP256R1())
    salt = salt or os.urandom(16)
    sender_public = sender.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    shared = sender.exchange(ec.ECDH(), receiver)
    # RFC 8291 section 3.4: the auth secret and both public keys go into the
    # input keying material, then RFC 8188's key and nonce derivations.
    ikm = _hkdf(auth, shared, _KEY_INFO + p256dh + sender_public, 32)
    key = _hkdf(salt, ikm, _CEK_INFO, 16)
    nonce = _hkdf(salt, ikm, _NONCE_INFO, 12)
    header = salt + struct.pack("!IB", RECORD_SIZE, len(sender_public)) + sender_public
    return header + AESGCM(key).encrypt(nonce, plaintext + _LAST_RECORD, None)
