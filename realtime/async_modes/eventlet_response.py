"""The response half of realtime's embedded eventlet server: eventlet.wsgi's, with less work.

``eventlet.wsgi.HttpProtocol.handle_one_response`` runs the application and
writes its response. :func:`handle_one_response` is the same function (of
eventlet 0.41), step for step, writing the same bytes; what it does once
where eventlet does it per response, or more cheaply:

- the capitalized form of each response header name is kept, not made
  again per response (eventlet capitalizes every part of every name);
- the ``Date`` header is formatted once a second, not per response;
- a header line made of two ``str`` is encoded in one go (eventlet encodes
  name and value apart, to say which is not Latin-1: anything else takes
  its way, errors included);
- the clock is read only when an access line is logged.

On the upgrade benchmark's path (``benchmarks/profiles/NOTES.md``) every
connection makes five requests, four of them with a response written
here. ``tests/async_modes/test_eventlet_server.py`` checks the bytes against
eventlet's own function, response by response.
"""

from __future__ import annotations

import time
import traceback
import warnings
from typing import Any

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import eventlet
    import eventlet.wsgi

__all__ = ["handle_one_response"]

_WSGI_LOCAL = eventlet.wsgi.WSGI_LOCAL
_encode_header_line = eventlet.wsgi._encode_header_line

#: Capitalized response header names (``content-type`` -> ``Content-Type``),
#: as eventlet.wsgi makes them; a bounded number kept.
_capitalized: dict[str, str] = {}
_CAPITALIZED_KEPT = 512


def _capitalize(name: str) -> str:
    known = _capitalized.get(name)
    if known is not None:
        return known
    made = "-".join(
        [part.encode("latin1").capitalize().decode("latin1") for part in name.split("-")]
    )
    if len(_capitalized) < _CAPITALIZED_KEPT and type(name) is str:
        _capitalized[name] = made
    return made


_date_second = -1
_date_line = b""


def _date_header() -> bytes:
    """The ``Date`` header line for now, made once a second."""
    global _date_second, _date_line
    now = time.time()
    second = int(now)
    if second != _date_second:
        _date_line = f"Date: {eventlet.wsgi.format_date_time(now)}\r\n".encode()
        _date_second = second
    return _date_line


def _header_line(header: tuple[Any, Any]) -> bytes:
    name, value = header
    if type(name) is str and type(value) is str:
        try:
            return f"{name}: {value}\r\n".encode("latin-1")
        except UnicodeEncodeError:
            pass
    line: bytes = _encode_header_line(header)
    return line


def handle_one_response(protocol: Any) -> None:
    """``HttpProtocol.handle_one_response`` for ``protocol``."""
    _Response(protocol).run()


class _Response:
    """One response of ``protocol``: eventlet's closures and cells as one object.

    Its methods keep the order and the shape of eventlet's function, so the
    two read side by side.
    """

    __slots__ = (
        "bodyless",
        "headers_sent",
        "headers_set",
        "length",
        "protocol",
        "request_input",
        "status_code",
        "use_chunked",
    )

    def __init__(self, protocol: Any) -> None:
        self.protocol = protocol
        self.headers_set: list[Any] = []
        self.headers_sent: list[int] = []
        # Grab the request input now; app may try to replace it in the environ
        self.request_input = protocol.environ["eventlet.input"]
        # So that it sends no 100 Continue once the response has started.
        self.request_input.headers_sent = self.headers_sent
        self.use_chunked = False
        self.length = 0
        self.status_code = 200
        # 1xx, 204, 304, HEAD, and 2xx to CONNECT: no body (RFC 9112 6.3).
        self.bodyless = False

    def start_response(self, status: str, response_headers: Any, exc_info: Any = None) -> Any:
        protocol = self.protocol
        code = self.status_code = int(status.split(" ", 1)[0])
        if exc_info:
            try:
                if self.headers_sent:
                    # Re-raise original exception if headers sent
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                # Avoid dangling circular ref
                exc_info = None
        command = protocol.command
        self.bodyless = (
            code in (204, 304)
            or command == "HEAD"
            or (100 <= code < 200)
            or (command == "CONNECT" and 200 <= code < 300)
        )
        if protocol.capitalize_response_headers:
            response_headers = [(_capitalize(key), value) for key, value in response_headers]
        self.headers_set[:] = [status, response_headers]
        return self.write

    def write(self, data: bytes) -> None:
        if not self.headers_set:
            raise AssertionError("write() before start_response()")
        towrite = self._head() if not self.headers_sent else []
        if self.use_chunked:
            towrite.append(f"{len(data):x}".encode() + b"\r\n" + data + b"\r\n")
        else:
            towrite.append(data)
        wfile = self.protocol.wfile
        wfile.writelines(towrite)
        wfile.flush()
        self.length += sum(map(len, towrite))

    def _head(self) -> list[bytes]:
        """The status line and headers, with what eventlet.wsgi adds."""
        protocol = self.protocol
        status, response_headers = self.headers_set
        self.headers_sent.append(1)
        header_list = [header[0].lower() for header in response_headers]
        towrite = [f"{protocol.protocol_version} {status}\r\n".encode()]
        towrite += [_header_line(header) for header in response_headers]
        if "date" not in header_list:
            towrite.append(_date_header())
        server = protocol.server
        client_conn = protocol.headers.get("Connection", "").lower()
        send_keep_alive = False
        if (
            protocol.close_connection == 0
            and server.keepalive
            and (
                client_conn == "keep-alive"
                or (protocol.request_version == "HTTP/1.1" and client_conn != "close")
            )
        ):
            # Keep-Alive goes back only to clients that asked for it.
            send_keep_alive = client_conn == "keep-alive"
            protocol.close_connection = 0
        else:
            protocol.close_connection = 1
        if "content-length" not in header_list and not self.bodyless:
            if protocol.request_version == "HTTP/1.1":
                self.use_chunked = True
                towrite.append(b"Transfer-Encoding: chunked\r\n")
            else:
                # client is 1.0 and therefore must read to EOF
                protocol.close_connection = 1
        if protocol.close_connection:
            towrite.append(b"Connection: close\r\n")
        elif send_keep_alive:
            towrite.append(b"Connection: keep-alive\r\n")
            int_timeout = int(server.keepalive or 0)
            if not isinstance(server.keepalive, bool) and int_timeout:
                towrite.append(b"Keep-Alive: timeout=%d\r\n" % int_timeout)
        towrite.append(b"\r\n")
        return towrite

    def run(self) -> None:
        protocol = self.protocol
        log_output = protocol.server.log_output
        start = time.time() if log_output else 0.0
        result: Any = None
        try:
            try:
                _WSGI_LOCAL.already_handled = False
                result = protocol.application(protocol.environ, self.start_response)
                self._write_result(result)
            except (Exception, eventlet.Timeout):
                protocol.close_connection = 1
                tb = traceback.format_exc()
                protocol.server.log.info(tb)
                if not self.headers_sent:
                    err_body = tb.encode() if protocol.server.debug else b""
                    self.start_response(
                        "500 Internal Server Error",
                        [("Content-type", "text/plain"), ("Content-length", len(err_body))],
                    )
                    self.write(err_body)
        finally:
            if hasattr(result, "close"):
                result.close()
            self._finish(start if log_output else None)

    def _write_result(self, result: Any) -> None:
        protocol = self.protocol
        headers_set = self.headers_set
        # Set content-length if possible
        if headers_set and not self.headers_sent and hasattr(result, "__len__"):
            # We've got a complete final response
            if not self.bodyless and "Content-Length" not in [h for h, _v in headers_set[1]]:
                headers_set[1].append(("Content-Length", str(sum(map(len, result)))))
            if self.request_input.should_send_hundred_continue:
                # A complete response and no 100 Continue sent: the body
                # will not be read, so the connection closes.
                protocol.close_connection = 1
        towrite: list[bytes] = []
        towrite_size = 0
        just_written_size = 0
        minimum_write_chunk_size = int(
            protocol.environ.get("eventlet.minimum_write_chunk_size", protocol.minimum_chunk_size)
        )
        for data in result:
            if len(data) == 0:
                continue
            chunk = data.encode("ascii") if isinstance(data, str) else data
            towrite.append(chunk)
            towrite_size += len(chunk)
            if towrite_size >= minimum_write_chunk_size:
                self.write(b"".join(towrite))
                towrite = []
                just_written_size = towrite_size
                towrite_size = 0
        if _WSGI_LOCAL.already_handled:
            protocol.close_connection = 1
            return
        if towrite:
            just_written_size = towrite_size
            self.write(b"".join(towrite))
        if not self.headers_sent or (self.use_chunked and just_written_size):
            self.write(b"")

    def _finish(self, start: float | None) -> None:
        protocol = self.protocol
        request_input = self.request_input
        if request_input.should_send_hundred_continue:
            # The final response went out without a 100 Continue: a client
            # may or may not send the body now, so close (as eventlet does).
            protocol.close_connection = 1
        if protocol.close_connection == 0 and (
            request_input.chunked_input
            or request_input.position < (request_input.content_length or 0)
        ):
            # Read and discard body if connection is going to be reused
            self._discard_body()
        environ = protocol.environ
        for hook, args, kwargs in environ["eventlet.posthooks"]:
            hook(environ, *args, **kwargs)
        if start is not None:
            finish = time.time()
            client_host, client_port = protocol.get_client_address()
            protocol.server.log.info(
                protocol.server.log_format
                % {
                    "client_ip": client_host,
                    "client_port": client_port,
                    "date_time": protocol.log_date_time_string(),
                    "request_line": protocol.requestline,
                    "status_code": self.status_code,
                    "body_length": self.length,
                    "wall_seconds": finish - start,
                }
            )

    def _discard_body(self) -> None:
        protocol = self.protocol
        try:
            self.request_input.discard()
        except (eventlet.wsgi.ChunkReadError, OSError) as e:
            protocol.close_connection = 1
            what = (
                "chunked encoding error"
                if isinstance(e, eventlet.wsgi.ChunkReadError)
                else "I/O error"
            )
            protocol.server.log.error(
                f"{what} while discarding request body."
                f' client={protocol.get_client_address()[0]} request="{protocol.requestline}"'
                f' error="{e}"'
            )
