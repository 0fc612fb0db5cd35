"""The whole deployment as a handler sees it: every socket, whichever process
holds it, and messages between the server processes (Node's
``fetchSockets``, ``socketsJoin``, ``socketsLeave``, ``disconnectSockets``
and ``serverSideEmit``).

Each operation is done on this process's sockets, and asked of every other
process over the broker through
:class:`~realtime.socketio.managers.queries.Queries` (question kinds
``s.fetch``, ``s.join``, ``s.leave``, ``s.disconnect`` and ``s.event``; the
question names the namespace ``ns``, the rooms ``rooms`` (nil: all) and
``exclude``, and, as each needs, ``add``/``remove`` rooms, ``close``, or the
server event's ``event`` and ``args``). The asker waits until every process
the broker counted has answered (Redis counts them), or, on RabbitMQ, which
cannot count, every process heard from lately (the heartbeats of
:mod:`~realtime.socketio.managers.broker_link`), or the timeout.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qs

from realtime.exceptions import ConfigurationError, ProcessesTimeout
from realtime.socketio.handlers import refuse_coroutine
from realtime.socketio.managers.broker_link import pack
from realtime.socketio.managers.pubsub import PubSubManager

if TYPE_CHECKING:
    from realtime.engine import Server as EngineServer
    from realtime.socketio.clients import Clients, Socket
    from realtime.socketio.managers import Manager
    from realtime.socketio.managers.queries import Answer, Queries

__all__ = ["REQUEST_TIMEOUT", "Deployment", "DeploymentHost", "SocketView"]

logger = logging.getLogger("realtime.socketio")

#: Seconds a question to the other processes waits for their answers by default.
REQUEST_TIMEOUT = 5.0
_FETCH, _JOIN, _LEAVE, _DISCONNECT, _EVENT = (
    "s.fetch",
    "s.join",
    "s.leave",
    "s.disconnect",
    "s.event",
)
#: What a process without a handler for a server event answers.
_UNHANDLED = "unhandled"


class DeploymentHost(Protocol):
    """What :class:`Deployment` uses of its server (:class:`realtime.Server`)."""

    manager: Manager
    engine: EngineServer

    def emit(
        self,
        event: str,
        data: Any = None,
        to: Any = None,
        room: Any = None,
        skip_sid: Any = None,
        namespace: str | None = None,
    ) -> None:
        """Emit an event (see :meth:`realtime.Server.emit`)."""

    def enter_room(self, sid: str, room: str, namespace: str | None = None) -> None:
        """Put a client in a room, wherever it is."""

    def leave_room(self, sid: str, room: str, namespace: str | None = None) -> None:
        """Take a client out of a room, wherever it is."""

    def disconnect(
        self, sid: str, namespace: str | None = None, ignore_queue: bool = False
    ) -> None:
        """Disconnect a client from a namespace."""


@dataclass
class SocketView:
    """A socket of the deployment, from :meth:`realtime.Server.fetch_sockets`.

    A socket this process holds has its live session as :attr:`data`;
    one another process holds has a copy taken when it was fetched. The
    methods act on the socket wherever it is.

    Attributes:
        sid: the socket's sid.
        namespace: its namespace.
        rooms: the rooms it was in (its own sid first).
        data: its session (``get_session``).
        handshake: ``auth``, ``query`` (name -> list of values), ``headers``
            (lower-case names), ``address``, ``time`` (ISO 8601, UTC),
            ``issued`` (milliseconds since the epoch), ``url`` and
            ``secure``, as Node's ``socket.handshake``.
        local: whether this process holds it.
    """

    sid: str
    namespace: str
    rooms: list[str]
    data: dict[str, Any]
    handshake: dict[str, Any]
    local: bool
    _deployment: Deployment = field(repr=False, compare=False)

    def emit(self, event: str, *args: Any) -> None:
        """Emit ``event`` with ``args`` to this socket."""
        self._deployment.server.emit(event, _payload(args), to=self.sid, namespace=self.namespace)

    def join(self, room: str | Sequence[str]) -> None:
        """Put the socket in ``room`` (or each of a list)."""
        for name in _names(room):
            self._deployment.server.enter_room(self.sid, name, self.namespace)

    def leave(self, room: str | Sequence[str]) -> None:
        """Take the socket out of ``room`` (or each of a list)."""
        for name in _names(room):
            self._deployment.server.leave_room(self.sid, name, self.namespace)

    def disconnect(self, close: bool = False) -> None:
        """Disconnect it from its namespace (``close``: close its whole connection)."""
        self._deployment.disconnect_sockets([self.sid], None, self.namespace, close, None)


class Deployment:
    """What :class:`realtime.Server` does across its deployment.

    Args:
        server: the server.
        clients: its connections and sockets.
    """

    def __init__(self, server: DeploymentHost, clients: Clients) -> None:
        self.server = server
        self._clients = clients
        self._server_handlers: dict[str, Callable[..., Any]] = {}
        queries = self._queries()
        if queries is not None:
            queries.serve(_FETCH, lambda q: {"sockets": self._fetch_here(*_target(q))})
            queries.serve(_JOIN, lambda q: self._rooms_here(q, join=True))
            queries.serve(_LEAVE, lambda q: self._rooms_here(q, join=False))
            queries.serve(_DISCONNECT, self._disconnect_asked)
            queries.serve(_EVENT, self._server_event)

    def _queries(self) -> Queries | None:
        manager = self.server.manager
        if isinstance(manager, PubSubManager) and not manager.write_only:
            return manager.queries
        return None

    # -- sockets ------------------------------------------------------------------

    def fetch_sockets(
        self, rooms: list[str] | None, exclude: set[str], namespace: str, timeout: float | None
    ) -> list[SocketView]:
        views = [self._view(found, local=True) for found in self._local(rooms, exclude, namespace)]
        question = {"ns": namespace, "rooms": rooms, "exclude": sorted(exclude)}
        for answer in self._ask(_FETCH, question, timeout, "fetch_sockets", views):
            for item in (answer or {}).get("sockets", ()):
                if isinstance(item, dict):
                    views.append(self._remote_view(item))
        return views

    def _local(self, rooms: list[str] | None, exclude: set[str], namespace: str) -> list[Socket]:
        manager = self.server.manager
        members = manager.members(namespace, rooms)
        skip = manager.excluded(namespace, exclude) if exclude else set()
        sockets = self._clients.sockets
        found = []
        for sid, _ in members:
            socket = sockets.get(sid)
            if socket is not None and socket.connected and sid not in skip:
                found.append(socket)
        return found

    def _view(self, socket: Socket, *, local: bool) -> SocketView:
        rooms = self.server.manager.rooms(socket.namespace, socket.sid)
        return SocketView(
            socket.sid,
            socket.namespace,
            rooms,
            socket.session,
            _handshake(socket),
            local,
            self,
        )

    def _remote_view(self, item: dict[str, Any]) -> SocketView:
        return SocketView(
            str(item["sid"]),
            str(item["ns"]),
            [str(r) for r in item.get("rooms", ())],
            dict(item.get("data") or {}),
            dict(item.get("handshake") or {}),
            False,
            self,
        )

    def _fetch_here(
        self, rooms: list[str] | None, exclude: set[str], namespace: str
    ) -> list[dict[str, Any]]:
        found = []
        for socket in self._local(rooms, exclude, namespace):
            view = self._view(socket, local=True)
            found.append(
                {
                    "sid": view.sid,
                    "ns": view.namespace,
                    "rooms": view.rooms,
                    "data": _portable(view.data, f"the session of {view.sid}", {}),
                    "handshake": _portable(view.handshake, f"the handshake of {view.sid}", {}),
                }
            )
        return found

    def change_rooms(
        self,
        add: list[str],
        remove: list[str],
        rooms: list[str] | None,
        exclude: set[str],
        namespace: str,
        timeout: float | None,
    ) -> None:
        """Put the matching sockets in ``add`` and take them out of ``remove``, everywhere."""
        question = {
            "ns": namespace,
            "rooms": rooms,
            "exclude": sorted(exclude),
            "change": add or remove,
        }
        self._rooms_here(question, join=bool(add))
        self._ask(_JOIN if add else _LEAVE, question, timeout, "sockets_join/leave", None)

    def _rooms_here(self, question: dict[str, Any], *, join: bool) -> dict[str, Any]:
        rooms, exclude, namespace = _target(question)
        manager = self.server.manager
        changed = 0
        for socket in self._local(rooms, exclude, namespace):
            for room in question["change"]:
                if join:
                    manager.enter_room(namespace, socket.sid, str(room))
                elif room != socket.sid:
                    manager.leave_room(namespace, socket.sid, str(room))
            changed += 1
        return {"changed": changed}

    def disconnect_sockets(
        self,
        rooms: list[str] | None,
        exclude: set[str] | None,
        namespace: str,
        close: bool,
        timeout: float | None,
    ) -> None:
        """Disconnect the matching sockets, everywhere (``close``: their connections)."""
        question = {
            "ns": namespace,
            "rooms": rooms,
            "exclude": sorted(exclude or ()),
            "close": close,
        }
        self._disconnect_asked(question)
        self._ask(_DISCONNECT, question, timeout, "disconnect_sockets", None)

    def _disconnect_asked(self, question: dict[str, Any]) -> dict[str, Any]:
        rooms, exclude, namespace = _target(question)
        found = self._local(rooms, exclude, namespace)
        for socket in found:
            if question.get("close"):
                self.server.engine.disconnect(socket.eio_sid)
            else:
                self.server.disconnect(socket.sid, namespace, ignore_queue=True)
        return {"disconnected": len(found)}

    # -- messages between processes ---------------------------------------------

    def on_server(self, event: str, handler: Callable[..., Any]) -> None:
        """Handle ``event`` from the other processes' :meth:`server_side_emit`."""
        if not callable(handler):
            raise ConfigurationError(f"the server event handler for {event!r} is not callable")
        refuse_coroutine(handler, f"the server event handler for {event!r},")
        self._server_handlers[event] = handler

    def server_side_emit(self, event: str, args: list[Any], timeout: float | None) -> Any:
        queries = self._queries()
        question = {"event": event, "args": args}
        if timeout is None:
            if queries is not None:
                queries.tell_all(_EVENT, question)
            return None
        answers = self._ask(_EVENT, question, timeout, f"server_side_emit({event!r})", [])
        return [a["answer"] for a in answers if a is not None and a.get("status") == "ok"]

    def _server_event(self, question: dict[str, Any]) -> dict[str, Any]:
        handler = self._server_handlers.get(str(question.get("event")))
        if handler is None:
            return {"status": _UNHANDLED}
        answer = handler(*list(question.get("args") or ()))
        event = question.get("event")
        return {"status": "ok", "answer": _portable(answer, f"the answer to {event!r}", None)}

    # -- asking the others --------------------------------------------------------

    def _ask(
        self,
        kind: str,
        question: dict[str, Any],
        timeout: float | None,
        what: str,
        partial: Any,
    ) -> list[dict[str, Any] | None]:
        """Every other process's answer to ``question``.

        Raises:
            ProcessesTimeout: some did not answer within ``timeout`` seconds.
            BrokerUnavailable: the broker cannot be reached.
        """
        queries = self._queries()
        if queries is None:
            return []
        manager = self.server.manager
        assert isinstance(manager, PubSubManager)
        link = manager.link
        peers = link.peers()
        counted = getattr(link.broker, "client", None) is not None  # Redis counts receivers
        if not peers and not counted:
            return []  # no other process heard of, and no broker count to wait for
        heard: set[str] = set()

        def enough(answer: Answer) -> bool:
            # A broker that cannot count receivers (RabbitMQ): every process
            # heard from lately is enough.
            heard.add(answer.node)
            return not counted and peers <= heard

        wait = REQUEST_TIMEOUT if timeout is None else float(timeout)
        answers = queries.ask_all(kind, question, wait, enough)
        done = answers.complete if counted else peers <= answers.nodes
        if not done:
            missing = sorted(peers - answers.nodes)
            expected = answers.expected if counted else len(peers)
            raise ProcessesTimeout(what, missing, expected, len(answers.answers), partial)
        return [a.answer for a in answers.answers]


def _target(question: dict[str, Any]) -> tuple[list[str] | None, set[str], str]:
    rooms = question.get("rooms")
    return (
        None if rooms is None else [str(r) for r in rooms],
        {str(r) for r in question.get("exclude") or ()},
        str(question.get("ns") or "/"),
    )


def _handshake(socket: Socket) -> dict[str, Any]:
    environ = socket.environ
    headers = {
        key[5:].replace("_", "-").lower(): str(value)
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").lower()] = str(environ[key])
    query = str(environ.get("QUERY_STRING", ""))
    path = str(environ.get("PATH_INFO", ""))
    created = datetime.datetime.fromtimestamp(socket.created, datetime.UTC)
    return {
        "auth": socket.auth if socket.auth is not None else {},
        "query": parse_qs(query),
        "headers": headers,
        "address": environ.get("REMOTE_ADDR"),
        "time": created.isoformat(),
        "issued": int(socket.created * 1000),
        "url": f"{path}?{query}" if query else path,
        "secure": environ.get("wsgi.url_scheme") == "https",
    }


def _portable(value: Any, what: str, instead: Any) -> Any:
    """``value`` if msgpack can carry it to another process, else ``instead``
    (and a warning: the other processes still get an answer)."""
    try:
        pack({"value": value})
    except (TypeError, ValueError, OverflowError) as exc:
        logger.warning("%s cannot cross the broker (%s); sent without it", what, exc)
        return instead
    return value


def _names(room: str | Sequence[str]) -> list[str]:
    return [room] if isinstance(room, str) else [str(r) for r in room]


def _payload(args: tuple[Any, ...]) -> Any:
    if not args:
        return None
    return args[0] if len(args) == 1 else args
