"""Flask-SocketIO's option names, turned into :class:`realtime.Server` arguments.

Every option of the Socket.IO server and of the engine passes through; the
few that mean something else in Flask-SocketIO, or that only the extension
knows, are translated here.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from flask import json as flask_json

from realtime.exceptions import ConfigurationError

if TYPE_CHECKING:
    from flask import Flask

__all__ = [
    "DEFAULT_CHANNEL",
    "DEFAULT_PATH",
    "FLASK_CLI",
    "AppJSON",
    "check_message_queue",
    "server_arguments",
]

DEFAULT_PATH = "socket.io"
DEFAULT_CHANNEL = "flask-socketio"
#: Set by the ``flask`` command for every subcommand, ``flask run`` included.
FLASK_CLI = "FLASK_RUN_FROM_CLI"


class AppJSON:
    """An app's JSON provider as a serializer (what ``json=flask.json`` means).

    ``flask.json`` behaves differently inside and outside an app context;
    going to ``app.json`` directly gives the app's encoding everywhere.
    """

    def __init__(self, app: Flask) -> None:
        self._app = app

    def dumps(self, obj: Any, /) -> str:
        return self._app.json.dumps(obj)

    def loads(self, text: str, /) -> Any:
        return self._app.json.loads(text)


def check_message_queue(url: Any) -> str | None:
    """The ``message_queue`` option: a broker URL, or None for one process.

    Raises:
        ConfigurationError: neither a string nor None.
    """
    if url is not None and not (isinstance(url, str) and "://" in url):
        raise ConfigurationError(
            f"message_queue={url!r}: expected a broker URL such as 'redis://localhost:6379/0'"
        )
    return url


def server_arguments(app: Flask, options: dict[str, Any]) -> dict[str, Any]:
    """The :class:`realtime.Server` keyword arguments for Flask-SocketIO ``options``.

    - ``path`` (or its alias ``resource``) defaults to ``"socket.io"``.
    - ``json=flask.json`` becomes the app's JSON provider.
    - Without ``async_mode``, under the ``flask`` command (``flask run``
      serves with werkzeug's threads), the mode is ``"threading"``.
    """
    arguments = dict(options)
    path = arguments.pop("path", None)
    resource = arguments.pop("resource", None)
    arguments["path"] = str(path or resource or DEFAULT_PATH).strip("/")
    if arguments.get("json") is flask_json:
        arguments["json"] = AppJSON(app)
    if arguments.get("async_mode") is None and os.environ.get(FLASK_CLI) == "true":
        arguments["async_mode"] = "threading"
    return arguments
