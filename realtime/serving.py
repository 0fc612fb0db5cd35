"""Run any WSGI app on the embedded server of an async mode."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable
from typing import Any

from realtime.async_modes import EmbeddedServer, ServerOptions, get_async_mode

__all__ = ["make_server", "serve"]

logger = logging.getLogger("realtime.server")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def make_server(
    wsgi_app: WSGIApp,
    host: str = "127.0.0.1",
    port: int = 5000,
    async_mode: str | None = None,
    *,
    backlog: int = 4096,
    http_timeout: float = 60.0,
    log_output: bool = False,
    raise_fd_limit: bool = True,
    tune_gc: bool = True,
) -> EmbeddedServer:
    """Bind the embedded server of an async mode, ready to serve.

    Call ``serve_forever()`` on the result to run it.

    Takes the same arguments as :func:`serve`; port 0 picks a free port
    (read it back from ``server.address``).
    """
    if async_mode is None:
        async_mode = getattr(wsgi_app, "async_mode", None)
    mode = get_async_mode(async_mode)
    options = ServerOptions(
        backlog=backlog,
        http_timeout=http_timeout,
        log_output=log_output,
        raise_fd_limit=raise_fd_limit,
        tune_gc=tune_gc,
    )
    mode.prepare_process(options)
    return mode.make_server(wsgi_app, host, port, options)


def serve(
    wsgi_app: WSGIApp,
    host: str = "127.0.0.1",
    port: int = 5000,
    async_mode: str | None = None,
    *,
    backlog: int = 4096,
    http_timeout: float = 60.0,
    log_output: bool = False,
    raise_fd_limit: bool = True,
    tune_gc: bool = True,
) -> None:
    """Serve ``wsgi_app`` until interrupted, on the server of ``async_mode``.

    eventlet runs ``eventlet.wsgi``, gevent its ``pywsgi`` server, threading
    werkzeug's threaded server; each without the caps those runners have by
    default (no limit on concurrent connections, a listen backlog of
    ``backlog``, the open-files limit raised to the hard limit), and with
    the garbage collector tuned for many connections.

    Args:
        wsgi_app: any WSGI application. With ``async_mode`` None, a realtime
            server passed directly brings its own mode; wrap anything else
            with the mode named explicitly.
        host: interface to listen on.
        port: TCP port.
        async_mode: ``"eventlet"``, ``"gevent"``, ``"threading"`` or None.
        backlog: listen backlog (the kernel caps it at ``net.core.somaxconn``).
        http_timeout: seconds a client gets to send a request head, and the
            longest silence allowed while it sends a body; slower clients are
            disconnected.
        log_output: log one line per HTTP request to ``realtime.access``.
        raise_fd_limit: raise the soft open-files limit to the hard limit.
        tune_gc: set the garbage collector's thresholds for a server
            (:data:`realtime.async_modes.GC_THRESHOLDS`), unless the program
            set its own.
    """
    server = make_server(
        wsgi_app,
        host,
        port,
        async_mode,
        backlog=backlog,
        http_timeout=http_timeout,
        log_output=log_output,
        raise_fd_limit=raise_fd_limit,
        tune_gc=tune_gc,
    )
    bound_host, bound_port = server.address
    logger.info("serving on http://%s:%d", bound_host, bound_port)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    logger.info("stopped serving on http://%s:%d", bound_host, bound_port)
