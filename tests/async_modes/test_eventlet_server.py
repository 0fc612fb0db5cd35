"""realtime's embedded eventlet server: request heads read by its own header
parser (and that parser against http.client's, on random heads), what it
logs, its green threads reused between connections."""

from __future__ import annotations

import http.client
import io
import logging
import re
import socket
import threading
import time
from typing import Any

import pytest
import requests
from hypothesis import example, given, settings
from hypothesis import strategies as st

from realtime.async_modes.eventlet_server import _BadHead, _Headers
from tests.support.embedded import eventlet_server
from tests.support.servers import ServerPool, ServerProcess

ECHO = "tests.support.apps:engine_echo"


@pytest.fixture
def server(server_pool: ServerPool) -> ServerProcess:
    return server_pool.get(ECHO, "eventlet")


def exchange(server: ServerProcess, raw: bytes, timeout: float = 5) -> bytes:
    """Send ``raw``, return everything the server sends until it closes."""
    host, port = server.url.split("//")[1].split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(raw)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


def statuses(data: bytes) -> list[bytes]:
    return re.findall(rb"HTTP/1\.[01] (\d{3}) ", data)


def test_keep_alive_serves_several_requests_on_one_connection(server: ServerProcess) -> None:
    request = b"GET /info HTTP/1.1\r\nHost: x\r\n\r\n"
    last = b"GET /info HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    data = exchange(server, request * 2 + last)
    assert statuses(data) == [b"200"] * 3


def test_http_1_0_closes_after_one_response(server: ServerProcess) -> None:
    data = exchange(server, b"GET /info HTTP/1.0\r\n\r\n")
    assert statuses(data) == [b"200"]


def test_headers_in_any_case_with_folding_and_repeats(server: ServerProcess) -> None:
    # A folded header and a header given twice still make one request the
    # engine reads (its CORS check sees the Origin header, in any case).
    data = exchange(
        server,
        b"GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\n"
        b"host: x\r\nX-Long: first\r\n second\r\nX-Twice: a\r\nX-Twice: b\r\n"
        b"oRiGiN: http://elsewhere.example\r\nConnection: close\r\n\r\n",
    )
    assert statuses(data)[0] == b"403"  # a cross-origin refusal


def test_too_many_headers_get_431(server: ServerProcess) -> None:
    head = b"GET /info HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(101))
    data = exchange(server, head + b"\r\n")
    assert statuses(data)[0] == b"431"


def test_a_header_line_too_long_is_refused(server: ServerProcess) -> None:
    # eventlet.wsgi's reader stops at 8 KiB lines before the parser sees them.
    data = exchange(server, b"GET /info HTTP/1.1\r\nX-Big: " + b"y" * 70000 + b"\r\n\r\n")
    assert statuses(data)[0] == b"400"


@pytest.mark.parametrize(
    "line", [b"no colon here", b": no name", b"Space Before : colon", b" folded first"]
)
def test_a_line_that_is_not_a_header_gets_400(server: ServerProcess, line: bytes) -> None:
    data = exchange(server, b"GET /info HTTP/1.1\r\n" + line + b"\r\n\r\n")
    assert statuses(data)[0] == b"400"


def test_expect_100_continue(server: ServerProcess) -> None:
    host, port = server.url.split("//")[1].split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(
            b"POST /info HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
            b"Expect: 100-continue\r\nConnection: close\r\n\r\n"
        )
        # The interim response comes only once the app reads the body; this
        # app does not, so the final response comes without it.
        sock.sendall(b"hello")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert statuses(data)[-1] == b"200"


def test_other_request_lines_keep_http_servers_answers(server: ServerProcess) -> None:
    # (http.server answers these without a status line: the code is in the body.)
    assert b"505" in exchange(server, b"GET /info HTTP/2.0\r\n\r\n")
    assert b"400" in exchange(server, b"GET /info JUNK/1.1\r\n\r\n")
    assert b"400" in exchange(server, b"GET\r\n\r\n")


# -- The header parser against http.client's -----------------------------------

#: Header names: tokens (RFC 9110 5.6.2), in any case, some the server reads.
NAMES = st.one_of(
    st.sampled_from(
        ["Host", "Content-Type", "content-length", "CONNECTION", "Origin", "X-Twice", "Cookie"]
    ),
    st.text(alphabet="abcXYZ019!#$%&'*+-.^_`|~", min_size=1, max_size=12),
)
#: Header values: visible characters and spaces, some Latin-1, any padding.
VALUES = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
    max_size=40,
)
CONTENT_TYPES = st.sampled_from(
    ["text/plain", "Application/JSON; charset=utf-8", "multipart/form-data; b=x", "x", "a/b/c"]
)


@st.composite
def heads(draw: st.DrawFn) -> tuple[bytes, list[str]]:
    """Header lines ending in the empty line; the names to look up."""
    lines = []
    names = []
    for _ in range(draw(st.integers(0, 12))):
        name = draw(NAMES)
        value = draw(CONTENT_TYPES if name.lower() == "content-type" else VALUES)
        lines.append(f"{name}:{draw(st.sampled_from(['', ' ', '  ', chr(9)]))}{value}\r\n")
        if draw(st.integers(0, 5)) == 0:  # an obsolete folded continuation (RFC 9112 5.2)
            lines.append(f"{draw(st.sampled_from([' ', chr(9)]))}{draw(VALUES)}x\r\n")
        names.append(name)
    names += draw(st.lists(NAMES, max_size=3))
    return "".join(lines).encode("latin-1") + b"\r\n", names


def _field_value(value: str | None) -> str | None:
    # A field value as RFC 9110 5.5 and 9112 5.2 define it, and as
    # eventlet.wsgi puts it in the environ: each obs-fold (OWS CRLF RWS, the
    # whitespace before the line break included) one space, no whitespace
    # around the value. (email's parser keeps the whitespace at the end, the
    # parser here drops it.)
    if value is None:
        return None
    return re.sub(r"[ \t]*\r?\n[ \t]+", " ", value).strip(" \t\r\n")


def _as_the_server_reads(data: bytes) -> Any:
    """``data`` in eventlet.wsgi's head reader over a buffered socket reader."""
    import eventlet.wsgi

    return eventlet.wsgi.FileObjectForHeaders(io.BufferedReader(io.BytesIO(data)))  # type: ignore[arg-type]


def _read_both_ways(data: bytes) -> tuple[Any, Any]:
    """What the head split at once and line by line come to, and what is left."""
    import eventlet.wsgi

    outcomes = []
    # The server's reader, and the same over a stream with no buffer to peek at.
    line_by_line = eventlet.wsgi.FileObjectForHeaders(io.BytesIO(data))
    for reader in (_as_the_server_reads(data), line_by_line):
        try:
            headers: Any = _Headers.read(reader).items()
        except _BadHead as bad:
            headers = (bad.status, bad.message)
        except Exception as exc:  # eventlet's reader refuses a line or head too long
            headers = type(exc).__name__
        outcomes.append((headers, getattr(reader, "fp", reader).read()))
    return outcomes[0], outcomes[1]


@settings(max_examples=300, deadline=None)
@given(heads())
@example((b"Host:0 \r\n x\r\n\r\n", ["Host"]))  # whitespace before a fold
def test_the_header_parser_reads_what_http_client_reads(head: tuple[bytes, list[str]]) -> None:
    data, names = head
    ours = _Headers.read(_as_the_server_reads(data + b"body"))
    theirs = http.client.parse_headers(io.BytesIO(data + b"body"))
    # The pairs eventlet.wsgi builds the environ from, in order.
    assert [(k, _field_value(v)) for k, v in ours.items()] == [
        (k, _field_value(v)) for k, v in theirs._headers
    ]
    for name in names:
        assert _field_value(ours.get(name)) == _field_value(theirs.get(name))
    assert _field_value(ours.get_content_type()) == _field_value(theirs.get_content_type())


#: Heads the parser reads line by line, or refuses, whatever the buffer holds.
ODD_HEADS = [
    b"\r\nbody\r\n\r\n",
    b"\nbody",
    b"A: 1\r\n\nB: 2\r\n\r\n",
    b"A: 1\r\r\nB: 2\r\n\r\n",
    b"A: 1\nB: 2\n\n",
    b"A: 1\r\n folded\r\n\r\n",
    b"A:1\r\nB\r\n\r\n",
    b" A: 1\r\n\r\n",
    b"A : 1\r\n\r\n",
    b": 1\r\n\r\n",
    b"A: " + b"y" * 8186 + b"\r\n\r\n",
    b"A: " + b"y" * 8187 + b"\r\n\r\n",
    b"".join(b"X-%d: y\r\n" % i for i in range(100)) + b"\r\n",
    b"".join(b"X-%d: y\r\n" % i for i in range(101)) + b"\r\n",
    b"A: 1\r\n",
    b"",
]


@settings(max_examples=300, deadline=None)
@given(heads().map(lambda head: head[0]) | st.sampled_from(ODD_HEADS), st.binary(max_size=8))
@example(b"A: 1\r\nB: 2\r\n\r\n", b"\r\n\r\nmore")
def test_a_head_in_the_buffer_is_read_as_line_by_line(head: bytes, rest: bytes) -> None:
    # The same headers, or the same refusal, and the same bytes left for the body.
    at_once, by_line = _read_both_ways(head + rest)
    assert at_once == by_line


def test_a_head_in_the_buffer_is_split_at_once() -> None:
    buffered = io.BufferedReader(io.BytesIO(b"Host: x\r\nA:1 \r\n\r\nbody"))
    headers = _Headers._from_buffer(buffered)
    assert headers is not None
    assert headers.items() == [("Host", "x"), ("A", "1")]
    assert buffered.read() == b"body"
    folded = io.BufferedReader(io.BytesIO(b"Host: x\r\n y\r\n\r\n"))
    assert _Headers._from_buffer(folded) is None  # left to the line-by-line reading
    assert folded.read() == b"Host: x\r\n y\r\n\r\n"


@pytest.mark.parametrize(
    "data",
    [
        b"".join(b"X-%d: y\r\n" % i for i in range(101)) + b"\r\n",
        b"X-Big: " + b"y" * 70000 + b"\r\n\r\n",
    ],
    ids=["too-many", "too-long"],
)
def test_the_header_parser_refuses_what_http_client_refuses(data: bytes) -> None:
    with pytest.raises(http.client.HTTPException):
        http.client.parse_headers(io.BytesIO(data))
    with pytest.raises(_BadHead) as refused:
        _Headers.read(io.BytesIO(data))
    assert refused.value.status == 431


# -- What it logs --------------------------------------------------------------


def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    if environ["PATH_INFO"] == "/boom":
        raise RuntimeError("kaboom")
    start_response("200 OK", [("Content-Length", "2")])
    return [b"ok"]


@pytest.mark.parametrize("log_output", [False, True])
def test_app_errors_are_logged_and_access_lines_only_when_asked(
    caplog: pytest.LogCaptureFixture, log_output: bool
) -> None:
    with caplog.at_level(logging.INFO), eventlet_server(app, log_output=log_output) as url:
        assert requests.get(url + "/fine", timeout=5).text == "ok"
        broken = requests.get(url + "/boom", timeout=5)
    assert broken.status_code == 500
    assert "kaboom" not in broken.text  # no traceback to the client
    errors = [
        r for r in caplog.records if r.name == "realtime.server" and r.levelno >= logging.ERROR
    ]
    assert any("kaboom" in r.getMessage() for r in errors)
    access = [r.getMessage() for r in caplog.records if r.name == "realtime.access"]
    if log_output:
        assert any("GET /fine" in line and " 200 " in line for line in access), access
    else:
        assert access == []


# -- Its green threads ---------------------------------------------------------


def test_request_green_threads_are_reused_and_stopped() -> None:
    # eventlet.wsgi starts each connection on a green thread of the pool;
    # those are kept between connections, and stopping the server ends a
    # request still running on one.
    import greenlet

    seen: list[Any] = []  # the green threads themselves: ids could be reused
    release = threading.Event()

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        import eventlet
        import eventlet.greenthread

        current = greenlet.getcurrent()
        assert isinstance(current, eventlet.greenthread.GreenThread)
        seen.append(current)
        if environ["PATH_INFO"] == "/hang":
            while not release.is_set():
                eventlet.sleep(0.02)
        start_response("200 OK", [("Content-Length", "2"), ("Connection", "close")])
        return [b"ok"]

    cut: list[BaseException] = []
    with eventlet_server(app) as url:
        for _ in range(10):
            assert requests.get(url + "/", timeout=5).text == "ok"
            time.sleep(0.05)  # the thread that served it is back in the pool
        # A green thread per connection would be ten; a loaded machine may
        # accept the next connection before the last thread is back.
        assert len({id(thread) for thread in seen}) <= 3

        def hang() -> None:
            try:
                requests.get(url + "/hang", timeout=10)
            except requests.RequestException as exc:
                cut.append(exc)

        hanging = threading.Thread(target=hang, daemon=True)
        hanging.start()
        deadline = time.monotonic() + 5
        while len(seen) < 11 and time.monotonic() < deadline:
            time.sleep(0.02)
    # The server stopped although a request was still running on it.
    hanging.join(10)
    assert cut  # its connection was closed with the server
    release.set()


# -- The environ, against eventlet.wsgi's own ------------------------------------

#: Request heads, each different in what the environ holds (the path, the
#: query, headers repeated, folded, with an underscore, CONTENT_*, a body).
HEADS = [
    b"GET /engine.io/?EIO=4&transport=polling&t=Pz1 HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET /a%20b/%E2%82%AC?x=%41+b& HTTP/1.1\r\nhost: a\r\nX-Twice: 1\r\nx-twice: 2\r\n\r\n",
    b"GET /q? HTTP/1.0\r\nUser-Agent: t\r\nX_Under: no\r\nX-Fold: a\r\n\t b \r\n\r\n",
    b"POST /p HTTP/1.1\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: 2\r\n"
    b"Connection: keep-alive\r\n\r\nok",
    b"POST /p HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
    b"POST /p HTTP/1.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\nok",
    b"GET //double//slash HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    b"Origin: http://x\r\nCONTENT-type: a/b\r\n\r\n",
    b"GET /x HTTP/1.1\r\n\r\n",
    b"GET /cr HTTP/1.1\r\nX-Cr: \rv\r\nX-Ok: w\r\n\r\n",
]

#: Objects made per request: compared by what they are, not by identity.
OBJECTS = ("wsgi.input", "eventlet.input", "eventlet.set_idle", "eventlet.posthooks")


def _comparable(environ: dict[str, Any]) -> dict[str, Any]:
    seen = {k: v for k, v in environ.items() if k not in OBJECTS}
    stream = environ["wsgi.input"]
    seen["input"] = (
        type(stream),
        stream.content_length,
        stream.chunked_input,
        stream.wfile_line,
        stream.wfile is not None,
        stream.rfile,
        stream.get_socket(),
    )
    seen["wsgi.input is eventlet.input"] = environ["eventlet.input"] is stream
    seen["eventlet.posthooks"] = environ["eventlet.posthooks"] == []
    seen["eventlet.set_idle"] = callable(environ["eventlet.set_idle"])
    return seen


@pytest.mark.parametrize("head", HEADS)
def test_the_environ_is_eventlet_wsgis(head: bytes) -> None:
    # The environ the server builds, against the one eventlet.wsgi's own
    # get_environ builds from the same parsed request.
    import eventlet.wsgi

    from realtime.async_modes.eventlet_server import PROTOCOL_KEY

    pairs: list[tuple[dict[str, Any], dict[str, Any]]] = []

    def record(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        protocol = environ[PROTOCOL_KEY]
        stock = eventlet.wsgi.HttpProtocol.get_environ(protocol)
        stock[PROTOCOL_KEY] = protocol
        stock["SERVER_PROTOCOL"] = protocol.request_version  # realtime's, on purpose
        pairs.append((_comparable(environ), _comparable(stock)))
        environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Length", "0")])
        return [b""]

    with eventlet_server(record) as url:
        host, port = url.split("//")[1].split(":")
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(head)
            answer = b""
            while not (b"200 OK" in answer and answer.endswith(b"\r\n\r\n")):
                chunk = sock.recv(65536)
                assert chunk, answer
                answer += chunk
    [(ours, theirs)] = pairs
    assert ours == theirs
    assert list(ours) == list(theirs)  # in the same order, too


# -- Responses, against eventlet.wsgi's own --------------------------------------


def _app_of(kind: str) -> Any:
    """A WSGI app answering in one of the ways apps do."""

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        import eventlet.wsgi

        if kind == "sized":
            start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
            return [b"ok"]
        if kind == "unsized":
            start_response("200 OK", [("content-type", "text/plain"), ("x-ODD-name", "v")])
            return [b"o", "k", b""]
        if kind == "generator":
            start_response("201 Created", [("Access-Control-Allow-Origin", "*")])
            return (part for part in [b"a" * 3000, b"b" * 3000, b"c"])
        if kind == "write":
            write = start_response("200 OK", [("X-A", "1")])
            write(b"early")
            return [b"late"]
        if kind == "no-content":
            start_response("204 No Content", [("Date", "Thu, 01 Jan 1970 00:00:00 GMT")])
            return []
        if kind == "big":
            start_response("200 OK", [])
            return [b"x" * 5000, b"y" * 10]
        if kind == "raises":
            raise RuntimeError("kaboom")
        if kind == "raises-late":
            start_response("200 OK", [("Content-Type", "text/plain")])

            def parts() -> Any:
                yield b"z" * 5000
                raise RuntimeError("late")

            return parts()
        if kind == "handled":
            eventlet.wsgi.WSGI_LOCAL.already_handled = True
            return []
        if kind == "latin1":
            start_response("200 OK", [("X-Name", "caf\xe9")])
            return [b""]
        if kind == "not-latin1":
            start_response("200 OK", [("X-Name", "\u20ac")])
            return [b""]
        raise AssertionError(kind)

    return app


REQUESTS = {
    "1.1": ("GET", "HTTP/1.1", "", b""),
    "keep-alive": ("GET", "HTTP/1.1", "Connection: keep-alive", b""),
    "close": ("GET", "HTTP/1.1", "Connection: close", b""),
    "1.0": ("GET", "HTTP/1.0", "", b""),
    "head": ("HEAD", "HTTP/1.1", "", b""),
    "unread-body": ("POST", "HTTP/1.1", "Content-Length: 5", b"hello"),
    "expect": ("POST", "HTTP/1.1", "Content-Length: 5\r\nExpect: 100-continue", b"hello"),
}


def _respond(respond: Any, app: Any, request: tuple[str, str, str, bytes]) -> dict[str, Any]:
    import eventlet.wsgi

    from realtime.async_modes.eventlet_server import _Headers, _Protocol

    method, version, head, body = request
    headers = _Headers.read(io.BytesIO(head.encode() + b"\r\n\r\n" if head else b"\r\n"))
    logged: list[str] = []

    class Log:
        def info(self, message: str, *args: Any) -> None:
            logged.append(message.splitlines()[0] if message.startswith("Trace") else message)

        error = info

    server = type(
        "Server",
        (),
        {"keepalive": True, "log_output": False, "log": Log(), "debug": False, "log_format": ""},
    )()
    protocol = _Protocol.__new__(_Protocol)
    wfile = io.BytesIO()
    expects = "100-continue" in head
    length = headers.get("Content-Length") or "0"
    protocol.__dict__.update(
        server=server,
        wfile=wfile,
        headers=headers,
        command=method,
        request_version=version,
        requestline=f"{method} / {version}",
        close_connection=version == "HTTP/1.0",
        client_address=("127.0.0.1", 1),
        application=app,
        capitalize_response_headers=True,
        environ={
            "eventlet.input": eventlet.wsgi.Input(
                io.BufferedReader(io.BytesIO(body)),  # type: ignore[arg-type]
                length,
                None,
                wfile=wfile if expects else None,
                wfile_line=b"HTTP/1.1 100 Continue\r\n" if expects else None,
            ),
            "eventlet.posthooks": [],
        },
    )
    try:
        respond(protocol)
        raised = None
    except Exception as exc:
        raised = type(exc).__name__
    wire = re.sub(rb"Date: [^\r]*GMT\r\n", b"Date: <now>\r\n", wfile.getvalue())
    return {"wire": wire, "close": protocol.close_connection, "raised": raised, "log": logged}


@pytest.mark.parametrize("request_kind", list(REQUESTS))
@pytest.mark.parametrize(
    "app_kind",
    [
        "sized",
        "unsized",
        "generator",
        "write",
        "no-content",
        "big",
        "raises",
        "raises-late",
        "handled",
        "latin1",
        "not-latin1",
    ],
)
def test_responses_are_eventlet_wsgis(app_kind: str, request_kind: str) -> None:
    # Byte for byte what eventlet.wsgi's own handle_one_response writes, the
    # connection kept or closed alike, the same errors logged.
    import eventlet.wsgi

    from realtime.async_modes.eventlet_response import handle_one_response

    request = REQUESTS[request_kind]
    ours = _respond(handle_one_response, _app_of(app_kind), request)
    theirs = _respond(eventlet.wsgi.HttpProtocol.handle_one_response, _app_of(app_kind), request)
    assert ours == theirs
    # (A header eventlet cannot encode fails the response after it began:
    # nothing is written, the error is logged, the connection closes.)
    assert ours["wire"] or app_kind in ("handled", "not-latin1")
