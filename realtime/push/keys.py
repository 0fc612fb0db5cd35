"""The application server's key pair (VAPID, RFC 8292 section 3.2).

One EC key on P-256 identifies the application to push services: the
browser subscribes with its public half (``applicationServerKey``), and
each push is signed with the private half. :class:`VapidKey` loads it from a
PEM file, PEM text, or the raw private number as base64url (the form
``web-push generate-vapid-keys`` and py-vapid print), and makes new ones.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from realtime.exceptions import ConfigurationError

__all__ = ["KeySource", "VapidKey", "b64url_decode", "b64url_encode"]

#: Bytes in a P-256 private number and in each half of an ES256 signature.
_SCALAR = 32


def b64url_encode(data: bytes) -> str:
    """``data`` as unpadded base64url (RFC 7515 section 2), as Web Push writes keys."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Base64url, padded or not, and plain base64 too (browsers' JSON is url-safe).

    Raises:
        ValueError: not base64.
    """
    cleaned = text.strip().replace("+", "-").replace("/", "_").rstrip("=")
    return base64.urlsafe_b64decode(cleaned + "=" * (-len(cleaned) % 4))


#: What :meth:`VapidKey.load` reads a key from.
KeySource: TypeAlias = "str | os.PathLike[str] | bytes | ec.EllipticCurvePrivateKey | VapidKey"


@dataclass(frozen=True)
class VapidKey:
    """An application server's P-256 key pair.

    Attributes:
        private: the private key (``cryptography``'s object).
    """

    private: ec.EllipticCurvePrivateKey

    @classmethod
    def generate(cls) -> VapidKey:
        """A new random key pair."""
        return cls(ec.generate_private_key(ec.SECP256R1()))

    @classmethod
    def load(cls, source: KeySource) -> VapidKey:
        """The key from a PEM file's path, PEM text, or the raw private number.

        Args:
            source: a path to a PEM file (PKCS#8 or SEC 1 "EC PRIVATE KEY"),
                the PEM text itself, the 32-byte private number as base64url,
                a ``cryptography`` EC private key, or a :class:`VapidKey`.

        Raises:
            ConfigurationError: no P-256 private key could be read from it.
        """
        if isinstance(source, VapidKey):
            return source
        if isinstance(source, ec.EllipticCurvePrivateKey):
            return cls._checked(source)
        if isinstance(source, bytes):
            return cls._from_pem(source)
        text = os.fspath(source)
        if "-----BEGIN" in text:
            return cls._from_pem(text.encode("ascii"))
        path = Path(text)
        if path.is_file():
            try:
                return cls._from_pem(path.read_bytes())
            except OSError as exc:
                raise ConfigurationError(f"cannot read the VAPID key file {text}: {exc}") from exc
        try:
            raw = b64url_decode(text)
        except ValueError:
            raw = b""
        if len(raw) != _SCALAR:
            raise ConfigurationError(
                "private_key is neither the path of a PEM file, PEM text, nor a 32-byte "
                "P-256 private key as base64url (python -m realtime.push makes one)"
            )
        number = int.from_bytes(raw, "big")
        try:
            return cls(ec.derive_private_key(number, ec.SECP256R1()))
        except ValueError as exc:
            raise ConfigurationError(f"private_key is not a valid P-256 key: {exc}") from exc

    @classmethod
    def _from_pem(cls, data: bytes) -> VapidKey:
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as exc:
            raise ConfigurationError(f"cannot load the VAPID private key: {exc}") from exc
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ConfigurationError("the VAPID private key must be an EC key on P-256")
        return cls._checked(key)

    @classmethod
    def _checked(cls, key: ec.EllipticCurvePrivateKey) -> VapidKey:
        if not isinstance(key.curve, ec.SECP256R1):
            raise ConfigurationError(
                f"the VAPID key must be on P-256 (RFC 8292 section 3.2), not {key.curve.name}"
            )
        return cls(key)

    @property
    def public_bytes(self) -> bytes:
        """The public key as an uncompressed P-256 point (65 bytes, 0x04 first)."""
        return self.private.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )

    @property
    def public_key(self) -> str:
        """The public key as base64url: what ``pushManager.subscribe`` takes."""
        return b64url_encode(self.public_bytes)

    @property
    def private_key(self) -> str:
        """The private number as base64url: a form ``load`` reads back."""
        number = self.private.private_numbers().private_value
        return b64url_encode(number.to_bytes(_SCALAR, "big"))

    def pem(self) -> str:
        """The private key as PKCS#8 PEM text, unencrypted."""
        return self.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode("ascii")

    def sign(self, data: bytes) -> bytes:
        """An ES256 signature of ``data`` as JWS writes it: r then s, 32 bytes each.

        See RFC 7518 section 3.4.
        """
        r, s = decode_dss_signature(self.private.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(_SCALAR, "big") + s.to_bytes(_SCALAR, "big")
