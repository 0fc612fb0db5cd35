"""VAPID: the application server identifies itself to push services (RFC 8292).

Each push request carries ``Authorization: vapid t=<JWT>, k=<public key>``
(section 3): the JWT is signed with ES256 by the application server key and
claims ``aud`` (the push resource's origin), ``exp`` (at most 24 hours
ahead, section 2) and ``sub`` (a ``mailto:`` or ``https:`` contact).
A token is reused for its origin until an hour before it expires.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import urlsplit

import orjson

from realtime.exceptions import ConfigurationError
from realtime.push.keys import VapidKey, b64url_encode

__all__ = ["MAX_LIFETIME", "VapidSigner", "origin_of"]

#: The longest a token may live (RFC 8292 section 2).
MAX_LIFETIME = 24 * 3600
_HEADER = b64url_encode(orjson.dumps({"typ": "JWT", "alg": "ES256"}))
#: A cached token is renewed when less than this is left of it.
_RENEW_BEFORE = 3600


def origin_of(endpoint: str) -> str:
    """The origin of a push resource URL (RFC 6454), the ``aud`` claim.

    Raises:
        ValueError: not an absolute http(s) URL.
    """
    parts = urlsplit(endpoint)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {endpoint!r}")
    default = 443 if parts.scheme == "https" else 80
    host = parts.hostname
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


class VapidSigner:
    """Signs the VAPID tokens of one application server key.

    Args:
        key: the application server key.
        subject: a ``mailto:`` or ``https:`` URL the push service can reach
            the application's operator at (the ``sub`` claim).
        lifetime: seconds a token is valid, at most 24 hours.
        clock: the wall clock, in seconds since the epoch.

    Raises:
        ConfigurationError: a subject or lifetime that cannot work.
    """

    def __init__(
        self,
        key: VapidKey,
        subject: str,
        lifetime: int = 12 * 3600,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not subject.startswith(("mailto:", "https:")):
            raise ConfigurationError(
                f"the VAPID subject must be a mailto: or https: URL (RFC 8292 "
                f"section 2.1), not {subject!r}"
            )
        if not 0 < lifetime <= MAX_LIFETIME:
            raise ConfigurationError(f"a VAPID token lives 1 s to 24 h, not {lifetime} s")
        self.key = key
        self.subject = subject
        self.lifetime = lifetime
        self._clock = clock
        self._tokens: dict[str, tuple[str, int]] = {}

    def token(self, audience: str) -> str:
        """A signed JWT for the origin ``audience``, cached while fresh enough."""
        now = int(self._clock())
        cached = self._tokens.get(audience)
        if cached is not None and cached[1] - now > min(_RENEW_BEFORE, self.lifetime // 2):
            return cached[0]
        expires = now + self.lifetime
        claims = {"aud": audience, "exp": expires, "sub": self.subject}
        signing_input = f"{_HEADER}.{b64url_encode(orjson.dumps(claims))}"
        signature = b64url_encode(self.key.sign(signing_input.encode("ascii")))
        token = f"{signing_input}.{signature}"
        self._tokens[audience] = (token, expires)
        return token

    def authorization(self, endpoint: str) -> str:
        """The ``Authorization`` header's value for a push to ``endpoint``."""
        return f"vapid t={self.token(origin_of(endpoint))}, k={self.key.public_key}"
