"""Validated engine settings.

Names and meanings follow python-engineio where both have the option.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from realtime.engine.slow_client import DEFAULT as DEFAULT_SLOW_CLIENT
from realtime.engine.slow_client import SlowClient
from realtime.exceptions import ConfigurationError

__all__ = ["Cookie", "CookieOption", "EngineOptions"]

#: The values the ``cookie`` option accepts. None or False set no cookie; True
#: a cookie named ``io``; a string a cookie of that name; a dict has ``name``
#: and any of ``path``, ``SameSite``, ``Secure``, ``HttpOnly``, ``domain``,
#: ``max_age``. As in python-engineio, an attribute's value may be a function
#: called for each new session's cookie.
CookieOption = None | bool | str | Mapping[str, Any]


@dataclass(frozen=True)
class Cookie:
    """The session cookie set on the handshake response."""

    name: str = "io"
    # Each attribute may also be a function, called for each cookie.
    path: str | Callable[[], str] = "/"
    same_site: str | Callable[[], str | None] | None = "Lax"
    secure: bool | Callable[[], bool] = False
    http_only: bool | Callable[[], bool] = True
    domain: str | Callable[[], str | None] | None = None
    max_age: int | Callable[[], int | None] | None = None

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
            if callable(value.get("name")):
                raise ConfigurationError("the cookie's name must be a string, not a function")
            return cls(
                name=str(value.get("name", "io")),
                path=value.get("path", "/"),
                same_site=value.get("SameSite", "Lax"),
                secure=value.get("Secure", False),
                http_only=value.get("HttpOnly", True),
                domain=value.get("domain"),
                max_age=value.get("max_age"),
            )
        raise ConfigurationError(f"cookie must be a name or a dict, not {type(value).__name__}")

    def header(self, sid: str) -> tuple[str, str]:
        """The ``Set-Cookie`` header carrying ``sid`` (attributes given as
        functions are called now)."""
        path, domain, max_age = _now(self.path), _now(self.domain), _now(self.max_age)
        parts = [f"{self.name}={sid}", f"Path={path}"]
        if domain:
            parts.append(f"Domain={domain}")
        if max_age is not None:
            parts.append(f"Max-Age={int(max_age)}")
        if _now(self.http_only):
            parts.append("HttpOnly")
        if _now(self.secure):
            parts.append("Secure")
        same_site = _now(self.same_site)
        if same_site:
            parts.append(f"SameSite={same_site}")
        return ("Set-Cookie", "; ".join(parts))


def _now(value: Any) -> Any:
    return value() if callable(value) else value


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
        slow_client: what may wait for a client that does not read, and
            what happens past it (:mod:`realtime.engine.slow_client`).
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
    slow_client: SlowClient = DEFAULT_SLOW_CLIENT

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
