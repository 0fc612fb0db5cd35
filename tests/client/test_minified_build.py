"""The minified build, realtime.min.js and its source map, served by the server.

They are generated from realtime.js by realtime/static/build/build-min.js;
tests/node/loading.test.mjs checks they are up to date and that the script
works under Node, tests/browser/test_client_in_chromium.py that it works in
Chromium.
"""

from __future__ import annotations

import gzip
import json
from importlib import resources

from werkzeug.test import Client

import realtime


def _static(name: str) -> bytes:
    return resources.files("realtime").joinpath("static", name).read_bytes()


def test_the_minified_script_is_served_gzipped_with_an_etag() -> None:
    client = Client(realtime.Server(async_mode="threading"))
    source = _static("realtime.min.js")
    plain = client.get("/socket.io/realtime.min.js")
    assert plain.status_code == 200
    assert plain.data == source
    assert plain.headers["Content-Type"] == "text/javascript; charset=utf-8"
    zipped = client.get("/socket.io/realtime.min.js", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.data) == source
    again = client.get(
        "/socket.io/realtime.min.js", headers={"If-None-Match": plain.headers["ETag"]}
    )
    assert (again.status_code, again.data) == (304, b"")
    assert plain.headers["ETag"] != client.get("/socket.io/realtime.js").headers["ETag"]


def test_the_source_map_is_served_as_json_and_points_at_realtime_js() -> None:
    client = Client(realtime.Server(async_mode="threading", path="/rt"))
    script = client.get("/rt/realtime.min.js").data
    assert script.rstrip().endswith(b"//# sourceMappingURL=realtime.min.js.map")
    response = client.get("/rt/realtime.min.js.map")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    source_map = json.loads(response.data)
    assert source_map["file"] == "realtime.min.js"
    assert source_map["sources"] == ["realtime.js"]
    assert client.get("/rt/realtime.js").status_code == 200


def test_the_minified_script_is_much_smaller() -> None:
    plain, minified = _static("realtime.js"), _static("realtime.min.js")
    assert len(minified) < len(plain) * 0.6
    assert len(gzip.compress(minified, 9)) < len(gzip.compress(plain, 9)) * 0.7
