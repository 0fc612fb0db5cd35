"""A typical Flask-SocketIO application, served by the real-client tests.

It is written as Flask-SocketIO users write theirs (an extension object at
module level, decorators, the context helpers, the Flask session, a
class-based namespace, error handlers, emits from views and from a
background task, an app factory), with only the import changed. It runs:

- under ``tests.support.serve_app`` (``create_app(mode, **options)``);
- under ``flask --app tests.support.flask_apps:create_app run``;
- as ``python -m tests.support.flask_apps --port N [--mode M] [--debug]``,
  which calls ``socketio.run()``.

``GET /state`` reports what the server saw (disconnect reasons, request
contexts seen by disconnect handlers).
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from flask import Flask, current_app, jsonify, request, session

from realtime import AckTimeout
from realtime.flask_integration import (
    ConnectionRefusedError,
    Namespace,
    SocketIO,
    call,
    disconnect,
    emit,
    join_room,
    leave_room,
    rooms,
    send,
)

socketio = SocketIO()
state: dict[str, Any] = {"disconnects": [], "answers": []}


@socketio.on("connect")
def connect(auth: Any) -> bool:
    if isinstance(auth, dict) and auth.get("token") == "bad":
        raise ConnectionRefusedError("unauthorized", {"code": 401})
    if isinstance(auth, dict) and auth.get("token") == "false":
        return False
    emit(
        "welcome",
        {
            "sid": request.sid,
            "args": request.args.to_dict(),
            "user": session.get("user"),
            "mode": socketio.async_mode,
            "pid": os.getpid(),
            "reloader_child": os.environ.get("WERKZEUG_RUN_MAIN") == "true",
        },
    )
    return True


@socketio.on("disconnect")
def on_disconnect(reason: str) -> None:
    state["disconnects"].append(
        {
            "sid": request.sid,
            "reason": str(reason),
            "path": request.path,
            "event": request.event["message"],
        }
    )


@socketio.event
def echo(data: Any) -> Any:
    emit("echo", data)
    return data


@socketio.on("message")
def message(text: Any) -> None:
    send(text)


@socketio.event
def join(room: str) -> list[str]:
    join_room(room)
    return sorted(rooms())


@socketio.event
def leave(room: str) -> list[str]:
    leave_room(room)
    return sorted(rooms())


@socketio.event
def say(data: dict[str, Any]) -> str:
    emit("said", {"text": data["text"], "from": request.sid}, to=data["room"], include_self=False)
    return "delivered"


@socketio.event
def shout(text: str) -> None:
    emit("shouted", text, broadcast=True)


@socketio.event
def remember(value: Any) -> None:
    session["value"] = value


@socketio.event
def recall() -> Any:
    return {"value": session.get("value"), "user": session.get("user")}


@socketio.event
def whoami() -> dict[str, Any]:
    sid: str = request.sid
    return {
        "sid": sid,
        "namespace": request.namespace,
        "event": request.event,
        "app": current_app.name,
        "transport": socketio.server.transport(sid),
        "mode": socketio.async_mode,
        "pid": os.getpid(),
    }


@socketio.event
def ask(question: str) -> Any:
    return call("question", question, timeout=5)


@socketio.event
def ask_later(question: str) -> None:
    def answered(answer: Any) -> None:
        state["answers"].append({"answer": answer, "sid": request.sid, "user": session.get("user")})

    emit("question", question, callback=answered)


@socketio.event
def boom() -> None:
    raise ValueError("boom")


@socketio.event
def crash() -> None:
    raise RuntimeError("unhandled on purpose")


@socketio.on("crash", namespace="/plain")
def crash_plain() -> None:
    raise RuntimeError("no error handler here")


@socketio.on("ping_plain", namespace="/plain")
def ping_plain() -> str:
    return "pong"


@socketio.on("wildcard", namespace="*")
def wildcard(data: Any) -> None:
    # Every namespace, also those with handlers of their own (/, /plain).
    emit("my custom response", {"data": data, "namespace": request.namespace})


@socketio.event
def close_here(room: str) -> None:
    socketio.close_room(room, ignore_queue=True)


@socketio.event
def call_here(sid: str) -> dict[str, Any]:
    try:
        return {"answer": socketio.call("question", to=sid, timeout=3, ignore_queue=True)}
    except AckTimeout as exc:
        return {"timeout": True, "disconnected": exc.disconnected}


@socketio.event
def kick() -> None:
    disconnect()


@socketio.event
def ticker(count: int) -> None:
    sid: str = request.sid
    app = current_app._get_current_object()

    def tick() -> None:
        for n in range(count):
            socketio.sleep(0.01)
            socketio.emit("tick", n, to=sid)
        with app.app_context():
            emit("ticked", count, to=sid)

    socketio.start_background_task(tick)


@socketio.event
def stop_server() -> None:
    socketio.stop()


@socketio.on_error()
def error_handler(exc: Exception) -> Any:
    if isinstance(exc, ValueError):
        return {"error": str(exc), "event": request.event["message"]}
    raise exc


@socketio.on_error_default
def default_error_handler(exc: Exception) -> str:
    return f"default: {type(exc).__name__}"


class Chat(Namespace):
    def on_connect(self) -> None:
        join_room("lobby")
        emit("joined", {"rooms": sorted(rooms()), "namespace": request.namespace})

    def on_say(self, text: str) -> str:
        emit("said", {"text": text, "from": request.sid}, to="lobby", include_self=False)
        return "ok"

    def on_fail(self) -> None:
        raise KeyError("missing")

    def on_disconnect(self, reason: str) -> None:
        state["disconnects"].append(
            {"sid": request.sid, "reason": str(reason), "namespace": request.namespace}
        )


socketio.on_namespace(Chat("/chat"))


def create_app(mode: str | None = None, **options: Any) -> Flask:
    """The app, with the extension in ``mode`` (None: realtime chooses)."""
    app = Flask(__name__)
    app.config["SECRET_KEY"] = "test secret"

    @app.route("/login")
    def login() -> str:
        session["user"] = request.args["name"]
        return "ok"

    @app.post("/notify/<room>")
    def notify(room: str) -> tuple[str, int]:
        socketio.emit("notice", request.get_json(), to=room)
        return "", 204

    @app.post("/notify_here/<room>")
    def notify_here(room: str) -> tuple[str, int]:
        # python-socketio's meaning: this process's clients only.
        socketio.emit("notice", request.get_json(), to=room, ignore_queue=True)
        return "", 204

    @app.route("/broadcast")
    def broadcast() -> tuple[str, int]:
        emit("notice", {"text": request.args["text"]}, broadcast=True, namespace="/")
        return "", 204

    @app.route("/state")
    def get_state() -> Any:
        return jsonify(state)

    socketio.init_app(app, async_mode=mode, **options)
    return app


def main() -> None:
    """``python -m tests.support.flask_apps``: serve with ``socketio.run()``."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mode", default=None)
    parser.add_argument("--debug", action="store_true")
    parser.add_argument("--exclude", action="append", default=[])
    args = parser.parse_args()
    app = create_app(args.mode)
    socketio.run(
        app,
        port=args.port,
        debug=args.debug,
        reloader_options={"exclude_patterns": args.exclude},
    )


if __name__ == "__main__":
    main()
