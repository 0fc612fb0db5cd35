"""Which push endpoints a server will POST to.

A subscription comes from a browser, so its endpoint is a URL a client
chose: taken blindly, it would make the server send requests wherever a
client likes (server-side request forgery), into the server's own network
say. :func:`default_policy` takes ``https`` endpoints, and plain ``http`` only
on the loopback interface (where tests and local emulators run).
:func:`known_push_services` is stricter: only the push services of the
browsers in use. An application may pass either, or its own predicate, as
``WebPush(allow_endpoint=...)``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from urllib.parse import urlsplit

__all__ = ["KNOWN_PUSH_HOSTS", "EndpointPolicy", "default_policy", "known_push_services"]

#: Decides whether an endpoint URL may be pushed to.
EndpointPolicy = Callable[[str], bool]

#: The push services of Chrome, Edge (and other Chromium browsers), Firefox
#: and Safari: a host, or a domain whose subdomains serve (leading dot).
KNOWN_PUSH_HOSTS = (
    "fcm.googleapis.com",
    "android.googleapis.com",
    "updates.push.services.mozilla.com",
    ".push.apple.com",
    ".notify.windows.com",
)


def _loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def default_policy(endpoint: str) -> bool:
    """``https`` anywhere; ``http`` only to the loopback interface."""
    parts = urlsplit(endpoint)
    host = (parts.hostname or "").lower()
    if not host:
        return False
    if parts.scheme == "https":
        return True
    return parts.scheme == "http" and _loopback(host)


def known_push_services(endpoint: str) -> bool:
    """``https`` to one of :data:`KNOWN_PUSH_HOSTS` only."""
    parts = urlsplit(endpoint)
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" or not host:
        return False
    return any(
        host.endswith(known) if known.startswith(".") else host == known
        for known in KNOWN_PUSH_HOSTS
    )
