"""The realtime chat demo: rooms, nicknames, typing, acknowledgements, and HTTP.

Run it (``make demo`` does) and open http://127.0.0.1:5000 in two windows::

    python examples/chat/app.py --host 127.0.0.1 --port 5000

Anything that speaks HTTP can post into a room too::

    curl -X POST -H 'Content-Type: application/json' \\
         -d '{"nick": "curl", "text": "hello from the shell"}' \\
         http://127.0.0.1:5000/rooms/lobby/messages

It is an ordinary Flask-SocketIO style app on :mod:`realtime.flask_integration`:
handlers take the event's arguments, ``request.sid`` is the client, ``emit``
answers it, ``to=`` and ``include_self`` address rooms, return values are
acknowledgements, and a plain Flask view emits into a room.

With Web Push (on unless ``--vapid-key ""``; it needs ``realtime[push]``), a
page may turn on notifications, and a message that mentions ``@nick`` reaches
that user even with every tab of theirs closed (docs/push.md).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import logging
import os
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask, jsonify, render_template, request

from realtime.flask_integration import SocketIO, emit, join_room, leave_room

LOBBY = "lobby"
HISTORY = 50
MAX_TEXT = 500
ROOM_NAME = re.compile(r"[\w-]{1,24}")
NICK = re.compile(r"[\w .-]{1,20}")
#: What a page may say it is on: the rungs of the bundled client's ladder.
TRANSPORTS = ("polling", "websocket", "sse", "streaming", "short polling")
#: ``@nick`` in a message.
MENTION = re.compile(r"@([\w.-]{1,20})")


@dataclass
class Member:
    """One connected page."""

    nick: str
    rooms: set[str] = field(default_factory=set)
    transport: str = "polling"


class Chat:
    """Who is where, and what was said: in memory, for one process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._guests = itertools.count(1)
        self.members: dict[str, Member] = {}
        self.history: dict[str, deque[dict[str, Any]]] = {LOBBY: deque(maxlen=HISTORY)}

    def unique_nick(self, wanted: Any, sid: str | None = None) -> str:
        nick = str(wanted).strip() if isinstance(wanted, str) else ""
        if not NICK.fullmatch(nick):
            nick = f"guest-{next(self._guests)}"
        taken = {m.nick for s, m in self.members.items() if s != sid}
        base, n = nick, 2
        while nick in taken:
            nick, n = f"{base}-{n}", n + 1
        return nick

    def add(self, sid: str, nick: Any) -> Member:
        with self._lock:
            member = self.members[sid] = Member(self.unique_nick(nick))
            member.rooms.add(LOBBY)
            return member

    def remove(self, sid: str) -> Member | None:
        with self._lock:
            return self.members.pop(sid, None)

    def rename(self, sid: str, wanted: Any) -> tuple[str, str]:
        with self._lock:
            member = self.members[sid]
            old, member.nick = member.nick, self.unique_nick(wanted, sid)
            return old, member.nick

    def enter(self, sid: str, room: str) -> list[dict[str, Any]]:
        with self._lock:
            self.members[sid].rooms.add(room)
            return list(self.history.setdefault(room, deque(maxlen=HISTORY)))

    def exit(self, sid: str, room: str) -> None:
        with self._lock:
            self.members[sid].rooms.discard(room)

    def post(self, room: str, nick: str, text: str, via: str) -> dict[str, Any]:
        message = {
            "id": next(self._ids),
            "room": room,
            "nick": nick,
            "text": text,
            "time": int(time.time() * 1000),
            "via": via,
        }
        with self._lock:
            self.history.setdefault(room, deque(maxlen=HISTORY)).append(message)
        return message

    def rooms(self) -> list[dict[str, Any]]:
        with self._lock:
            names = set(self.history)
            counts = dict.fromkeys(names, 0)
            for member in self.members.values():
                for room in member.rooms:
                    counts[room] = counts.get(room, 0) + 1
        return [{"name": name, "members": counts[name]} for name in sorted(counts)]

    def people(self, room: str) -> list[dict[str, str]]:
        with self._lock:
            found = [
                {"nick": m.nick, "transport": m.transport}
                for m in self.members.values()
                if room in m.rooms
            ]
        return sorted(found, key=lambda p: p["nick"].lower())


def create_app(
    async_mode: str | None = None, vapid_key: str | None = None
) -> tuple[Flask, SocketIO]:
    """The demo app and its extension; with Web Push when given a key file."""
    app = Flask(__name__)
    app.config["SECRET_KEY"] = "realtime chat demo"
    options = web_push_options(vapid_key)
    socketio = SocketIO(app, async_mode=async_mode, **options)
    chat = Chat()
    notifier = Notifier(socketio, chat) if options else None
    add_http_routes(app, socketio, chat, notifier)
    add_socket_handlers(socketio, chat, notifier)
    return app, socketio


def web_push_options(vapid_key: str | None) -> dict[str, Any]:
    """The ``web_push`` option for the key file ``vapid_key`` (made if missing)."""
    if not vapid_key:
        return {}
    try:
        from realtime.push import VapidKey  # noqa: PLC0415 (an optional extra)
    except ImportError:
        logging.getLogger("chat").warning("no Web Push: pip install 'realtime[push]'")
        return {}
    key = Path(vapid_key)
    if not key.exists():
        # Written aside and linked into place: a demo starting at the same
        # time reads a whole key or none (and then makes its own).
        key.parent.mkdir(parents=True, exist_ok=True)
        made = key.with_name(f"{key.name}.{os.getpid()}")
        made.write_text(VapidKey.generate().pem())
        made.chmod(0o600)
        with contextlib.suppress(FileExistsError):
            os.link(made, key)
        made.unlink()
    return {"web_push": {"private_key": str(key), "subject": "mailto:chat-demo@example.com"}}


class Notifier:
    """Mentions: ``@nick`` reaches that user's pages, or their browser by Web Push.

    Users are nicks here (the demo has no accounts): each page is tied to
    its nick with ``set_user``, and a page that turns on notifications
    subscribes that nick.
    """

    def __init__(self, socketio: SocketIO, chat: Chat) -> None:
        self.socketio = socketio
        self.chat = chat

    def identify(self, nick: str) -> None:
        self.socketio.set_user(nick)

    def mentions(self, message: dict[str, Any]) -> None:
        for nick in dict.fromkeys(n.rstrip(".") for n in MENTION.findall(message["text"])):
            if nick == message["nick"]:
                continue
            push = {
                "title": f"{message['nick']} mentioned you in #{message['room']}",
                "body": message["text"],
                "url": f"/#{message['room']}",
                "tag": f"mention-{message['id']}",
                "data": {"room": message["room"], "id": message["id"]},
            }
            self.socketio.emit_to_user(nick, "mention", message, push=push)


def text_of(data: Any) -> str | None:
    """The message text in ``data``, if it is one worth posting."""
    text = data.get("text") if isinstance(data, dict) else None
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
        return None
    return text.strip()


def announce(socketio: SocketIO, room: str, text: str) -> None:
    notice = {"room": room, "text": text, "time": int(time.time() * 1000)}
    socketio.emit("system", notice, to=room)


def refresh(socketio: SocketIO, chat: Chat, *rooms: str) -> None:
    """Tell everyone the room list, and each room who is in it."""
    socketio.emit("rooms", chat.rooms())
    for room in rooms:
        socketio.emit("members", {"room": room, "members": chat.people(room)}, to=room)


def add_http_routes(app: Flask, socketio: SocketIO, chat: Chat, notifier: Notifier | None) -> None:
    @app.route("/")
    def index() -> str:
        return render_template("index.html")

    @app.get("/rooms")
    def list_rooms() -> Any:
        return jsonify(chat.rooms())

    @app.post("/rooms/<room>/messages")
    def post_message(room: str) -> Any:
        data = request.get_json(silent=True) or request.form.to_dict()
        text = text_of(data)
        if not ROOM_NAME.fullmatch(room) or text is None:
            return jsonify(error=f"needs a room name and a text of 1 to {MAX_TEXT} chars"), 400
        nick = str(data.get("nick") or "http")[:20]
        message = chat.post(room, nick, text, via="http")
        socketio.emit("chat", message, to=room)
        if notifier is not None:
            notifier.mentions(message)
        return jsonify(message), 201


def add_socket_handlers(socketio: SocketIO, chat: Chat, notifier: Notifier | None) -> None:
    @socketio.on("connect")
    def connect(auth: Any) -> None:
        member = chat.add(request.sid, auth.get("nick") if isinstance(auth, dict) else None)
        join_room(LOBBY)
        if notifier is not None:
            notifier.identify(member.nick)
        history = chat.enter(request.sid, LOBBY)
        emit("welcome", {"nick": member.nick, "room": LOBBY, "history": history})
        announce(socketio, LOBBY, f"{member.nick} arrived")
        refresh(socketio, chat, LOBBY)

    @socketio.on("disconnect")
    def disconnect() -> None:
        member = chat.remove(request.sid)
        if member is not None:
            for room in member.rooms:
                announce(socketio, room, f"{member.nick} left")
            refresh(socketio, chat, *member.rooms)

    @socketio.event
    def nick(wanted: Any) -> dict[str, Any]:
        old, new = chat.rename(request.sid, wanted)
        rooms = chat.members[request.sid].rooms
        if new != old and notifier is not None:
            notifier.identify(new)
        if new != old:
            for room in rooms:
                announce(socketio, room, f"{old} is now {new}")
            refresh(socketio, chat, *rooms)
        return {"nick": new}

    @socketio.event
    def join(room: Any) -> dict[str, Any]:
        if not isinstance(room, str) or not ROOM_NAME.fullmatch(room):
            return {"error": "room names are 1 to 24 letters, digits, _ or -"}
        history = chat.enter(request.sid, room)
        join_room(room)
        announce(socketio, room, f"{chat.members[request.sid].nick} joined")
        refresh(socketio, chat, room)
        return {"room": room, "history": history, "members": chat.people(room)}

    @socketio.event
    def leave(room: Any) -> dict[str, Any]:
        if room == LOBBY or room not in chat.members[request.sid].rooms:
            return {"error": "you can leave the rooms you joined, except the lobby"}
        chat.exit(request.sid, room)
        leave_room(room)
        announce(socketio, room, f"{chat.members[request.sid].nick} left")
        refresh(socketio, chat, room)
        return {"room": room}

    @socketio.on("chat")
    def say(data: Any) -> dict[str, Any]:
        member = chat.members[request.sid]
        room = data.get("room") if isinstance(data, dict) else None
        text = text_of(data)
        if room not in member.rooms or text is None:
            return {"error": f"join the room first, and write 1 to {MAX_TEXT} characters"}
        message = chat.post(room, member.nick, text, via="socket")
        emit("chat", message, to=room, include_self=False)
        if notifier is not None:
            notifier.mentions(message)
        return {"message": message}

    @socketio.event
    def typing(data: Any) -> None:
        member = chat.members[request.sid]
        room = data.get("room") if isinstance(data, dict) else None
        if room in member.rooms:
            state = {"room": room, "nick": member.nick, "typing": bool(data.get("typing"))}
            emit("typing", state, to=room, include_self=False)

    @socketio.event
    def transport(name: Any) -> None:
        member = chat.members.get(request.sid)
        if member is not None and name in TRANSPORTS:
            member.transport = name
            refresh(socketio, chat, *member.rooms)


def main() -> None:
    parser = argparse.ArgumentParser(description="The realtime chat demo.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--async-mode", choices=["eventlet", "gevent", "threading"])
    parser.add_argument("--debug", action="store_true", help="debugger and reloader")
    parser.add_argument(
        "--vapid-key",
        default=str(Path(__file__).parent / "instance" / "vapid.pem"),
        help='Web Push key file, made if missing ("" for no Web Push)',
    )
    args = parser.parse_args()
    app, socketio = create_app(args.async_mode, args.vapid_key)
    socketio.run(app, host=args.host, port=args.port, debug=args.debug)


if __name__ == "__main__":
    main()
