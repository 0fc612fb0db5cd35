"""Validated engine settings.

Names and meanings follow python-engineio where both have the option.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from realtime.exceptions import ConfigurationError

__all__ = ["Cookie", "CookieOption", "EngineOptions"]

#: The values the ``cookie`` option accepts. None or False set no cookie; True
#: a cookie named ``io``; a string a cookie of that name; a dict has ``name``
#: and any of ``path``, ``SameSite``, ``Secure``, ``HttpOnly``, ``domain``,
#: ``max_age``.
CookieOption = None | bool | str | Mapping[str, Any]


@dataclass(frozen=True)
class Cookie:
    """The session cookie set on the handshake response."""

    name: str = "io"
    path: str = "/"
    same_site: str | None = "Lax"
    secure: bool = False
    http_only: bool = True
    domain: str | None = None
    max_age: int | None = None

    @classmethod
    def from_option(cls, value: CookieOption) -> Cookie | None:
        if value is None or value is False:
            return None
        if value is True:
            return cls()
        if isinstance(value, str):
            return cls(name=value)
        if isinstance(value, Mapping):
            known = {"name", "path", "SameSite", "Secure", "HttpOnly", "domain", "max_age"}
            unknown = set(value) - known
            if unknown:
                raise ConfigurationError(f"unknown cookie settings: {', '.join(sorted(unknown))}")
            return cls(
                name=str(value.get("name", "io")),
                path=str(value.get("path", "/")),
                same_site=value.get("SameSite", "Lax"),
                secure=bool(value.get("Secure", False)),
                http_only=bool(value.get("HttpOnly", True)),
                domain=value.get("domain"),
                max_age=value.get("max_age"),
            )
        raise ConfigurationError(f"cookie must be a name or a dict, not {type(value).__name__}")

    def header(self, sid: str) -> tuple[str, str]:
        """The ``Set-Cookie`` header carrying ``sid``."""
        parts = [f"{self.name}={sid}", f"Path={self.path}"]
        if self.domain:
            parts.append(f"Domain={self.domain}")
        if self.max_age is not None:
            parts.append(f"Max-Age={int(self.max_age)}")
        if self.http_only:
            parts.append("HttpOnly")
        if self.secure:
            parts.append("Secure")
        if self.same_site:
            parts.append(f"SameSite={self.same_site}")
        return ("Set-Cookie", "; ".join(parts))


@dataclass(frozen=True)
class EngineOptions:
    """Engine settings, checked once when the server is built.

    Attributes:
        ping_interval: seconds between the server's pings.
        ping_timeout: seconds a client has to answer a ping.
        max_http_buffer_size: the largest message or POST body accepted, in
            bytes (advertised as ``maxPayload``).
        allow_upgrades: let polling sessions upgrade to WebSocket.
        http_compression: gzip or deflate polling responses the client
            accepts compressed.
        compression_threshold: smallest response body worth compressing.
        cookie: the session cookie, if any.
        transports: the transports clients may use.
        upgrade_timeout: seconds a client has to finish an upgrade it began.
        websocket_compression: negotiate permessage-deflate.
        async_handlers: run message handlers on worker tasks instead of the
            task that read the message.
        path: the URL path the server answers under, without slashes.
    """

    ping_interval: float = 25.0
    ping_timeout: float = 20.0
    max_http_buffer_size: int = 1_000_000
    allow_upgrades: bool = True
    http_compression: bool = True
    compression_threshold: int = 1024
    cookie: Cookie | None = None
    transports: tuple[str, ...] = ("polling", "websocket")
    upgrade_timeout: float = 10.0
    websocket_compression: bool = False
    async_handlers: bool = True
    path: str = "engine.io"

    def __post_init__(self) -> None:
        if self.ping_interval <= 0 or self.ping_timeout <= 0:
            raise ConfigurationError("ping_interval and ping_timeout must be positive")
        if self.max_http_buffer_size < 1:
            raise ConfigurationError("max_http_buffer_size must be at least 1 byte")
        if not self.transports:
            raise ConfigurationError("transports must name at least one transport")

    @staticmethod
    def transports_from(value: str | Sequence[str] | None, known: Sequence[str]) -> tuple[str, ...]:
        """Normalize the ``transports`` option against the transports that exist."""
        if value is None:
            return tuple(known)
        names = (value,) if isinstance(value, str) else tuple(value)
        unknown = [name for name in names if name not in known]
        if unknown:
            raise ConfigurationError(
                f"unknown transport(s) {', '.join(unknown)}; choose from {', '.join(known)}"
            )
        return names

    @property
    def ping_interval_ms(self) -> int:
        return round(self.ping_interval * 1000)

    @property
    def ping_timeout_ms(self) -> int:
        return round(self.ping_timeout * 1000)
