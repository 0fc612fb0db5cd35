"""``Realtime.run()``: a Flask app on the embedded server, with werkzeug's reloader.

The app is served by :func:`realtime.make_server` on the server's async
mode (eventlet's, gevent's, or werkzeug's threaded server), the same server
``realtime.serve`` runs. In debug mode werkzeug's debugger goes between the
Socket.IO server and the Flask app, so it shows the app's errors but never
wraps a Socket.IO request.

The reloader is werkzeug's: the process that calls :meth:`Runner.run` only
watches a child process, which runs the program again and serves; when a
source file changes the child exits and a new one starts. The child serves
from a thread while its main thread watches the files.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from werkzeug._reloader import run_with_reloader  # no public entry point for it alone
from werkzeug.debug import DebuggedApplication
from werkzeug.serving import is_running_from_reloader

from realtime.exceptions import ConfigurationError
from realtime.serving import make_server

if TYPE_CHECKING:
    from flask import Flask

    from realtime.async_modes import EmbeddedServer
    from realtime.socketio.server import Server

__all__ = ["Runner"]


class Runner:
    """Runs one app at a time on the embedded server, and stops it."""

    def __init__(self) -> None:
        self._server: EmbeddedServer | None = None
        self._stopping = False

    def run(
        self,
        app: Flask,
        server: Server,
        host: str,
        port: int,
        *,
        debug: bool,
        use_reloader: bool,
        reloader_options: dict[str, Any],
        log_output: bool,
        server_options: dict[str, Any],
    ) -> None:
        """Serve ``app`` (whose Socket.IO server is ``server``) until stopped.

        With the reloader, this process only watches the serving child and
        exits with it (:class:`SystemExit`).
        """
        inner = server.wsgi_app
        if debug and inner is not None and not isinstance(inner, DebuggedApplication):
            server.wsgi_app = DebuggedApplication(inner, evalex=True)

        def serve() -> None:
            self._serve(app, server, host, port, log_output, server_options)

        if not use_reloader:
            serve()
            return
        if not is_running_from_reloader():
            run_with_reloader(serve, **reloader_options)  # exits with the child
            return
        failed: list[BaseException] = []
        run_with_reloader(self._child(serve, failed), **reloader_options)
        if failed:
            sys.exit(1)

    def _serve(
        self,
        app: Flask,
        server: Server,
        host: str,
        port: int,
        log_output: bool,
        server_options: dict[str, Any],
    ) -> None:
        embedded = make_server(
            app, host, port, server.async_mode, log_output=log_output, **server_options
        )
        self._server, self._stopping = embedded, False
        _banner(app, server, embedded)
        try:
            embedded.serve_forever()
        except KeyboardInterrupt:
            pass
        except SystemExit:
            if not self._stopping:
                raise
        finally:
            self._server = None
            server.shutdown()

    @staticmethod
    def _child(serve: Callable[[], None], failed: list[BaseException]) -> Callable[[], None]:
        """``serve`` for the reloader's child, whose main thread watches files.

        When serving ends (by :meth:`stop`, or an error, noted in ``failed``)
        the program ends too: the main thread is interrupted, so the child
        exits and the watching parent with it.
        """

        def serve_then_exit() -> None:
            try:
                serve()
            except BaseException as exc:
                failed.append(exc)
                raise
            finally:
                with contextlib.suppress(OSError):
                    os.kill(os.getpid(), signal.SIGINT)

        return serve_then_exit

    def stop(self) -> None:
        """Stop serving; :meth:`run` returns (or, with the reloader, the program ends).

        Raises:
            ConfigurationError: nothing is being served.
        """
        server = self._server
        if server is None:
            raise ConfigurationError("stop() stops the server run() started; none is running")
        self._stopping = True
        server.stop()


def _banner(app: Flask, server: Server, embedded: EmbeddedServer) -> None:
    host, port = embedded.address
    lines = [f" * Serving Flask app {app.name!r} (realtime, {server.async_mode} mode)"]
    lines.append(f" * Debug mode: {'on' if app.debug else 'off'}")
    if isinstance(server.wsgi_app, DebuggedApplication) and not is_running_from_reloader():
        # werkzeug's debugger prints this itself in a reloader's child.
        lines.append(f" * Debugger is active! Debugger PIN: {server.wsgi_app.pin}")
    lines.append(f" * Running on http://{host}:{port} (press CTRL+C to quit)")
    print("\n".join(lines), file=sys.stderr, flush=True)
