"""The bundled JavaScript client, served by the server itself.

``<path>/realtime.js`` (a classic script defining ``io``),
``<path>/realtime.esm.js`` (an ES module) and ``<path>/realtime.min.js`` (the
classic script minified, with its source map ``realtime.min.js.map``) and
``<path>/realtime-sw.js`` (the service worker of Web Push, docs/push.md) come
from ``realtime/static``. Each is read and gzipped once; browsers revalidate
with its ETag and get 304 while it is unchanged, as Node's server does for its
client.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from importlib import resources
from typing import Any

from realtime.async_modes import short_lock
from realtime.engine.http import Request, Response

__all__ = ["CLIENT_FILES", "StaticFiles"]

#: URL file names under the server's path, and the files they serve.
CLIENT_FILES = {
    name: name
    for name in (
        "realtime.js",
        "realtime.esm.js",
        "realtime.min.js",
        "realtime.min.js.map",
        "realtime-sw.js",
    )
}
#: The service worker may be registered for a wider scope than ``<path>/``,
#: its folder (Service Workers section 4.4, step 18 of Update).
_SERVICE_WORKER = "realtime-sw.js"

_JAVASCRIPT = "text/javascript; charset=utf-8"
#: Content types by file name ending; JavaScript for the others.
_CONTENT_TYPES = {".map": "application/json; charset=utf-8"}


@dataclass(frozen=True)
class _Asset:
    body: bytes
    gzipped: bytes
    etag: str


class StaticFiles:
    """Serves the client files under ``/<path>/``."""

    def __init__(self, path: str) -> None:
        prefix = f"/{path.strip('/')}/" if path.strip("/") else "/"
        self._routes = {prefix + name: file for name, file in CLIENT_FILES.items()}
        self._assets: dict[str, _Asset] = {}
        self._lock = short_lock()

    def matches(self, environ: dict[str, Any]) -> bool:
        return environ.get("PATH_INFO") in self._routes

    def response(self, environ: dict[str, Any]) -> Response:
        request = Request(environ)
        if request.method not in ("GET", "HEAD"):
            return Response("405 Method Not Allowed", b"", [("Allow", "GET, HEAD")])
        name = self._routes[environ["PATH_INFO"]]
        asset = self._asset(name)
        content_type = _CONTENT_TYPES.get(name[name.rfind(".") :], _JAVASCRIPT)
        headers = [
            ("Content-Type", content_type),
            ("Cache-Control", "public, max-age=0"),
            ("ETag", asset.etag),
            ("Vary", "Accept-Encoding"),
            ("X-Content-Type-Options", "nosniff"),
        ]
        if name == _SERVICE_WORKER:
            headers.append(("Service-Worker-Allowed", "/"))
        if asset.etag in _etags(request.header("If-None-Match")):
            return Response("304 Not Modified", b"", headers)
        body = asset.body
        if "gzip" in (request.header("Accept-Encoding") or "").lower():
            body = asset.gzipped
            headers.append(("Content-Encoding", "gzip"))
        if request.method == "HEAD":
            return _Head(len(body), headers)
        return Response("200 OK", body, headers)

    def _asset(self, name: str) -> _Asset:
        asset = self._assets.get(name)
        if asset is None:
            with self._lock:
                asset = self._assets.get(name)
                if asset is None:
                    body = resources.files("realtime").joinpath("static", name).read_bytes()
                    digest = hashlib.sha256(body).hexdigest()[:20]
                    gzipped = gzip.compress(body, compresslevel=9, mtime=0)
                    asset = self._assets[name] = _Asset(body, gzipped, f'"{digest}"')
        return asset


def _etags(header: str | None) -> set[str]:
    if not header:
        return set()
    return {tag.strip().removeprefix("W/") for tag in header.split(",")}


class _Head(Response):
    """A HEAD response: the headers of the GET, no body."""

    def __init__(self, length: int, headers: list[tuple[str, str]]) -> None:
        super().__init__("200 OK", b"", headers)
        self._length = length

    def __call__(self, start_response: Any) -> list[bytes]:
        start_response(self.status, [*self.headers, ("Content-Length", str(self._length))])
        return []
