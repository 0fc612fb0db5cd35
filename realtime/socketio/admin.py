"""The server side of the Socket.IO Admin UI (``@socket.io/admin-ui``).

:meth:`realtime.Server.instrument` opens an admin namespace (``/admin``)
that the official Admin UI connects to, as it connects to a Node server
instrumented with the package's ``instrument()``. What crosses the
namespace is the package's protocol (its ``ServerEvents`` and
``ClientEvents``):

- to an admin that connects: ``session`` (a session id, when it logged in
  with credentials), ``config`` (the supported features), ``all_sockets``
  (development mode) and then ``server_stats`` every few seconds;
- in development mode, as they happen: ``socket_connected``,
  ``socket_updated`` (a transport upgrade), ``socket_disconnected``,
  ``room_joined``, ``room_left``, ``event_received`` and ``event_sent``;
- from the admin, unless ``read_only``: ``emit``, ``join``, ``leave`` and
  ``_disconnect``, each for the sockets of a namespace or of one room
  (a socket's own room is its sid, which is how the UI picks one socket).

How it hears of the server's life: the dispatcher's monitors
(:mod:`realtime.socketio.monitoring`), the ``on_any`` and
``on_any_outgoing`` listeners (:mod:`realtime.socketio.middlewares`) for
events, and the manager's membership observer for rooms.

Reference: https://github.com/socketio/socket.io-admin-ui (its server's
``lib/index.ts`` and ``lib/typed-events.ts``).
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
import socket as _socket
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol
from urllib.parse import parse_qs

from realtime.async_modes import short_lock
from realtime.exceptions import (
    BrokerUnavailable,
    ConfigurationError,
    ConnectionRefused,
    ProcessesTimeout,
)
from realtime.protocol.socketio import SocketSid
from realtime.socketio.deployment import DeploymentHost

if TYPE_CHECKING:
    from realtime.engine import DisconnectReason
    from realtime.engine.outgoing import Outgoing
    from realtime.engine.scheduler import TimerHandle
    from realtime.protocol.engineio import EngineSid
    from realtime.socketio.clients import Socket
    from realtime.socketio.dispatch import Dispatcher

__all__ = ["INVALID_CREDENTIALS", "AdminAPI", "AdminAuth", "AdminHost", "InstrumentedServer"]

logger = logging.getLogger("realtime.socketio.admin")

#: The refusal the Admin UI recognizes (it then asks for credentials again).
INVALID_CREDENTIALS = "invalid credentials"

#: ``auth=``: the credentials an admin must send (a dict), any of several (a
#: list of dicts), a callable given what the admin sent that returns True to
#: let it in, or False for no authentication at all.
AdminAuth = Mapping[str, Any] | list[Mapping[str, Any]] | Callable[[Any], bool] | Literal[False]

_ACTIONS = ("EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT")
#: The question each process answers with its sockets, for an admin that
#: connected to another process.
_SOCKETS_EVENT = "realtime.admin.sockets"
#: Seconds an admin that connects waits for the other processes' sockets.
_SOCKETS_TIMEOUT = 2.0
#: Session ids kept for admins that reload the page (the oldest go first).
_MAX_SESSIONS = 1000
_HOSTNAME = _socket.gethostname()
#: ``handshake.time`` as Node writes it (``new Date().toString()``), in UTC.
_DATE_STRING = "%a %b %d %Y %H:%M:%S GMT+0000 (Coordinated Universal Time)"


def _now() -> str:
    """A timestamp as JavaScript's ``JSON.stringify(new Date())`` writes it."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class AdminHost(DeploymentHost, Protocol):
    """What :class:`InstrumentedServer` uses of its server (:class:`realtime.Server`):
    what the deployment's operations use, and those operations themselves."""

    def sockets_join(
        self, rooms: str | list[str], to: Any = None, namespace: str | None = None
    ) -> None:
        """Put sockets in rooms, on every process."""

    def sockets_leave(
        self, rooms: str | list[str], to: Any = None, namespace: str | None = None
    ) -> None:
        """Take sockets out of rooms, on every process."""

    def disconnect_sockets(
        self, to: Any = None, namespace: str | None = None, close: bool = False
    ) -> None:
        """Disconnect sockets, on every process."""

    def on_server(self, event: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Handle an event from the other processes."""

    def server_side_emit(self, event: str, *args: Any, timeout: float | None = None) -> Any:
        """Ask the other processes (see :meth:`realtime.Server.server_side_emit`)."""


class _EventBuffer:
    """Counts per second and kind, as the UI's charts take them (``aggregatedEvents``)."""

    def __init__(self) -> None:
        self._lock = short_lock()
        self._counts: dict[tuple[int, str, str | None], int] = {}

    def push(self, kind: str, sub: str | None = None, count: int = 1) -> None:
        key = (int(time.time()) * 1000, kind, sub)
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + count

    def take(self) -> list[dict[str, Any]]:
        with self._lock:
            counts, self._counts = self._counts, {}
        taken = []
        for (timestamp, kind, sub), count in counts.items():
            entry: dict[str, Any] = {"timestamp": timestamp, "type": kind, "count": count}
            if sub is not None:
                entry["subType"] = sub
            taken.append(entry)
        return taken


class InstrumentedServer:
    """A server the Admin UI can watch (see the module's notes).

    Made by :meth:`realtime.Server.instrument`; its arguments are that
    method's.

    Raises:
        ConfigurationError: an argument cannot work (``auth`` not given,
            an unknown ``mode``...).
    """

    def __init__(
        self,
        server: AdminHost,
        dispatcher: Dispatcher,
        *,
        auth: AdminAuth | None,
        mode: str = "development",
        read_only: bool = False,
        server_id: str | None = None,
        namespace: str = "/admin",
        server_stats_interval: float = 2,
    ) -> None:
        self.auth = self.check(auth, mode, namespace, server_stats_interval)
        self.server = server
        self._dispatcher = dispatcher
        self._clients = dispatcher.clients
        self.mode = mode
        self.read_only = bool(read_only)
        self.namespace = namespace
        self.server_stats_interval = float(server_stats_interval)
        self.server_id = server_id or (
            f"{_HOSTNAME}#{os.getpid()}" if server.engine.forwarder is not None else _HOSTNAME
        )
        self.supported_features = [] if self.read_only else list(_ACTIONS)
        self.supported_features.append("AGGREGATED_EVENTS")
        if self.development:
            self.supported_features.append("ALL_EVENTS")
        self._started = time.monotonic()
        self._stopped = False
        self._events = _EventBuffer()
        self._sessions: OrderedDict[str, None] = OrderedDict()
        self._sessions_lock = short_lock()
        # What the admins were told of each socket: its rooms, its transport.
        self._rooms: dict[tuple[str, SocketSid], set[str]] = {}
        self._transports: dict[SocketSid, str] = {}
        self._timer: TimerHandle | None = None
        if self.auth is False:
            logger.warning(
                "the admin namespace %s takes anyone: authentication is disabled", namespace
            )
        self._install()

    @staticmethod
    def check(auth: Any, mode: str, namespace: str, server_stats_interval: float) -> AdminAuth:
        """The ``auth`` argument, once every argument is known to work.

        Raises:
            ConfigurationError: one cannot work.
        """
        checked = _checked_auth(auth)
        if mode not in ("development", "production"):
            raise ConfigurationError("mode must be 'development' or 'production'")
        if not isinstance(namespace, str) or not namespace.startswith("/") or namespace == "/":
            raise ConfigurationError("namespace must be a name such as '/admin', not '/'")
        try:
            interval = float(server_stats_interval)
        except (TypeError, ValueError):
            interval = 0.0
        if not interval > 0:
            raise ConfigurationError("server_stats_interval must be a positive number of seconds")
        return checked

    @property
    def development(self) -> bool:
        """Whether every socket, room change and event is reported (development mode)."""
        return self.mode == "development"

    def _install(self) -> None:
        dispatcher, ns = self._dispatcher, self.namespace
        # A namespace with handlers is open to clients: this is what lets
        # admins in (the dispatcher refuses a namespace nobody serves).
        dispatcher.handlers.add(ns, "connect", self._admin_connect)
        if not self.read_only:
            dispatcher.handlers.add(ns, "emit", self._admin_emit)
            dispatcher.handlers.add(ns, "join", self._admin_join)
            dispatcher.handlers.add(ns, "leave", self._admin_leave)
            dispatcher.handlers.add(ns, "_disconnect", self._admin_disconnect)
        dispatcher.monitors.add(self)
        if self.development:
            middlewares = dispatcher.middlewares
            middlewares.add(middlewares.incoming, "*", self._heard)
            middlewares.add(middlewares.outgoing, "*", self._told)
            self.server.manager.observe(self)
            self.server.on_server(_SOCKETS_EVENT)(self._local_sockets)
        self._schedule()

    def shutdown(self) -> None:
        """Stop reporting: no more stats, no more events; admins are refused from now on."""
        self._stopped = True
        self._dispatcher.monitors.remove(self)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # -- admins ---------------------------------------------------------------

    def _admin_connect(self, sid: str, environ: dict[str, Any], auth: Any) -> None:
        if self._stopped:
            raise ConnectionRefused("the admin namespace is closed")
        session = self._authenticate(auth)
        ns = self.namespace
        if session is not None:
            self.server.emit("session", session, to=sid, namespace=ns)
        self.server.emit(
            "config", {"supportedFeatures": self.supported_features}, to=sid, namespace=ns
        )
        if self.development:
            self.server.emit("all_sockets", self._deployment_sockets(), to=sid, namespace=ns)
        self.server.emit("server_stats", self.stats(), to=sid, namespace=ns)

    def _authenticate(self, given: Any) -> str | None:
        """Let an admin in, or refuse it; the new session id of one that
        logged in with credentials."""
        expected = self.auth
        if expected is False:
            return None
        if isinstance(given, dict) and isinstance(given.get("sessionId"), str):
            with self._sessions_lock:
                if given["sessionId"] in self._sessions:
                    return None
        if isinstance(expected, Mapping):
            accepted = _same(expected, given)
        elif isinstance(expected, list):
            accepted = any(_same(credentials, given) for credentials in expected)
        else:
            try:
                accepted = bool(expected(given))
            except Exception:
                logger.exception("error in the admin auth callable; admin refused")
                accepted = False
        if not accepted:
            logger.info("an admin was refused: invalid credentials")
            raise ConnectionRefused(INVALID_CREDENTIALS)
        session = secrets.token_hex(8)
        with self._sessions_lock:
            self._sessions[session] = None
            while len(self._sessions) > _MAX_SESSIONS:
                self._sessions.popitem(last=False)
        return session

    # -- the admins' actions (unless read-only) ---------------------------------

    def _admin_emit(self, sid: str, nsp: Any, room: Any, event: Any, *args: Any) -> None:
        if not _names(nsp, event) or not _room(room):
            logger.warning("admin %s: an emit with bad arguments, ignored", sid)
            return
        try:
            self.server.emit(event, tuple(args), to=room or None, namespace=nsp)
        except ConfigurationError as exc:
            logger.warning("admin %s: cannot emit %r (%s)", sid, event, exc)

    def _admin_join(self, sid: str, nsp: Any, room: Any, target: Any = None) -> None:
        if not _names(nsp, room) or not _room(target):
            logger.warning("admin %s: a join with bad arguments, ignored", sid)
            return
        self._everywhere("join", lambda: self.server.sockets_join(room, target or None, nsp))

    def _admin_leave(self, sid: str, nsp: Any, room: Any, target: Any = None) -> None:
        if not _names(nsp, room) or not _room(target):
            logger.warning("admin %s: a leave with bad arguments, ignored", sid)
            return
        self._everywhere("leave", lambda: self.server.sockets_leave(room, target or None, nsp))

    def _admin_disconnect(self, sid: str, nsp: Any, close: Any, target: Any = None) -> None:
        if not _names(nsp) or not _room(target):
            logger.warning("admin %s: a disconnect with bad arguments, ignored", sid)
            return
        self._everywhere(
            "disconnect", lambda: self.server.disconnect_sockets(target or None, nsp, bool(close))
        )

    def _everywhere(self, what: str, action: Callable[[], None]) -> None:
        """Run an admin's action, which acts on every process."""
        try:
            action()
        except (ProcessesTimeout, BrokerUnavailable) as exc:
            logger.warning("an admin's %s did not reach every process: %s", what, exc)

    # -- what the admins see ----------------------------------------------------

    def _emit(self, event: str, *args: Any) -> None:
        if not self._stopped:
            self.server.emit(event, args, namespace=self.namespace)

    def stats(self) -> dict[str, Any]:
        """This process's ``server_stats``: its clients, namespaces and counts
        since the last stats (which they empty)."""
        engine = self.server.engine
        connections = list(self._clients.connections)
        polling = 0
        for eio_sid in connections:
            try:
                if engine.transport(eio_sid) != "websocket":
                    polling += 1
            except KeyError:
                pass
        counts: dict[str, int] = {}
        for socket in list(self._clients.sockets.values()):
            if socket.connected:
                counts[socket.namespace] = counts.get(socket.namespace, 0) + 1
        counts.setdefault(self.namespace, 0)
        return {
            "serverId": self.server_id,
            "hostname": _HOSTNAME,
            "pid": os.getpid(),
            "uptime": time.monotonic() - self._started,
            "clientsCount": len(connections),
            "pollingClientsCount": polling,
            "aggregatedEvents": self._events.take(),
            "namespaces": [{"name": name, "socketsCount": n} for name, n in sorted(counts.items())],
        }

    def _deployment_sockets(self) -> list[dict[str, Any]]:
        """Every socket of the deployment: this process's, and those the
        other instrumented processes report (each serializes its own)."""
        sockets = self._local_sockets()
        try:
            answers = self.server.server_side_emit(_SOCKETS_EVENT, timeout=_SOCKETS_TIMEOUT)
        except (ProcessesTimeout, BrokerUnavailable) as exc:
            logger.warning("an admin gets this process's sockets only: %s", exc)
            answers = []
        for answer in answers or ():
            if isinstance(answer, list):
                sockets.extend(s for s in answer if isinstance(s, dict))
        return sockets

    def _local_sockets(self) -> list[dict[str, Any]]:
        return [
            self.serialize(socket)
            for socket in list(self._clients.sockets.values())
            if socket.connected
        ]

    def serialize(self, socket: Socket) -> dict[str, Any]:
        """A socket as the Admin UI reads it (the package's ``SerializedSocket``)."""
        environ = socket.environ
        headers = {
            key[5:].lower().replace("_", "-"): str(value)
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        query_string = str(environ.get("QUERY_STRING", ""))
        query = {
            key: values[0] if len(values) == 1 else values
            for key, values in parse_qs(query_string, keep_blank_values=True).items()
        }
        address = (
            headers.get("cf-connecting-ip")
            or headers.get("x-forwarded-for")
            or str(environ.get("REMOTE_ADDR", ""))
        )
        path = str(environ.get("PATH_INFO", ""))
        try:
            transport = self.server.engine.transport(socket.eio_sid)
        except KeyError:
            transport = socket.last_transport or "polling"
        created = datetime.fromtimestamp(socket.created, UTC)
        return {
            "id": socket.sid,
            "clientId": socket.eio_sid,
            "transport": transport,
            "nsp": socket.namespace,
            "data": {},
            "handshake": {
                "address": address,
                "headers": headers,
                "query": query,
                "issued": int(socket.created * 1000),
                "secure": environ.get("wsgi.url_scheme") == "https",
                "time": created.strftime(
                    "%a %b %d %Y %H:%M:%S GMT+0000 (Coordinated Universal Time)"
                ),
                "url": f"{path}?{query_string}" if query_string else path,
                "xdomain": "origin" in headers,
            },
            "rooms": self.server.manager.rooms(socket.namespace, socket.sid),
        }

    # -- the server's life (the Monitor port) -------------------------------------

    def session_opened(self, eio_sid: EngineSid, environ: dict[str, Any]) -> None:
        self._events.push("rawConnection")

    def session_closed(self, eio_sid: EngineSid, reason: DisconnectReason) -> None:
        self._events.push("rawDisconnection", str(reason))

    def message_received(self, eio_sid: EngineSid, size: int) -> None:
        self._events.push("packetsIn")
        self._events.push("bytesIn", None, size)

    def delivered(self, namespace: str, eio_sid: EngineSid, outgoing: Outgoing) -> None:
        self._events.push("packetsOut")
        self._events.push("bytesOut", None, sum(len(p.data or "") for p in outgoing.packets))

    def event_received(self, socket: Socket) -> None:
        pass  # reported, with its arguments, by the on_any listener

    def recovery_attempted(self, namespace: str, recovered: bool) -> None:
        pass  # a recovered socket is reported as connected

    def socket_connected(self, socket: Socket) -> None:
        if not self.development:
            return
        serialized = self.serialize(socket)
        self._rooms[(socket.namespace, socket.sid)] = set(serialized["rooms"])
        self._transports[socket.sid] = serialized["transport"]
        self._emit("socket_connected", serialized, _now())

    def socket_disconnected(self, socket: Socket, reason: DisconnectReason) -> None:
        if not self.development:
            return
        self._rooms.pop((socket.namespace, socket.sid), None)
        self._transports.pop(socket.sid, None)
        now = _now()
        self._emit("socket_disconnected", socket.namespace, socket.sid, str(reason), now)
        for room in socket.rooms_at_exit:
            self._emit("room_left", socket.namespace, room, socket.sid, now)

    def rooms_changed(self, namespace: str, sid: SocketSid) -> None:
        """The manager's membership observer: report what changed since last told."""
        known = self._rooms.get((namespace, sid))
        if known is None:
            return  # not connected yet: its rooms go with socket_connected
        rooms = set(self.server.manager.rooms(namespace, sid))
        now = _now()
        for room in sorted(rooms - known):
            self._emit("room_joined", namespace, room, sid, now)
        for room in sorted(known - rooms):
            self._emit("room_left", namespace, room, sid, now)
        self._rooms[(namespace, sid)] = rooms

    def _heard(self, namespace: str, sid: str, event: str, *args: Any) -> None:
        if namespace != self.namespace:
            self._emit("event_received", namespace, sid, [event, *args], _now())

    def _told(self, namespace: str, sid: str, event: str, *args: Any) -> None:
        if namespace != self.namespace:
            self._emit("event_sent", namespace, sid, [event, *args], _now())

    # -- the stats, every few seconds ---------------------------------------------

    def _schedule(self) -> None:
        if not self._stopped:
            self._timer = self.server.engine.scheduler.call_later(
                self.server_stats_interval, lambda now: self.server.engine.mode.submit(self._tick)
            )

    def _tick(self) -> None:
        try:
            if self.development:
                self._report_upgrades()
            self._emit("server_stats", self.stats())
        except Exception:
            logger.exception("cannot send the admin's server stats")
        finally:
            self._schedule()

    def _report_upgrades(self) -> None:
        engine = self.server.engine
        for socket in list(self._clients.sockets.values()):
            known = self._transports.get(socket.sid)
            if known is None or not socket.connected:
                continue
            try:
                transport = engine.transport(socket.eio_sid)
            except KeyError:
                continue
            if transport != known:
                self._transports[socket.sid] = transport
                self._emit(
                    "socket_updated",
                    {"id": socket.sid, "nsp": socket.namespace, "transport": transport},
                )


class AdminAPI:
    """:meth:`instrument`, as :class:`realtime.Server` offers it (a base class of it)."""

    _admin: InstrumentedServer | None
    _dispatcher: Dispatcher

    def instrument(
        self,
        auth: AdminAuth | None = None,
        mode: str = "development",
        read_only: bool = False,
        server_id: str | None = None,
        namespace: str = "/admin",
        server_stats_interval: float = 2,
    ) -> InstrumentedServer:
        """Let the Socket.IO Admin UI (``@socket.io/admin-ui``) watch this server.

        Opens ``namespace`` to admins, as python-socketio's ``instrument()``
        does; see :mod:`realtime.socketio.admin` and docs/operations.md.

        Args:
            auth: what an admin must send to get in: a dict of credentials
                (the UI sends ``{"username": ..., "password": ...}``), a list
                of such dicts, a callable given what the admin sent that
                returns True to let it in, or False for no authentication
                (never the default). A refused admin reads "invalid credentials".
            mode: ``"development"`` reports every socket, room change and
                event as it happens; ``"production"`` only the stats.
            read_only: refuse the admins' actions (emit, join, leave, disconnect).
            server_id: the name this process has in the UI (default: the
                host name, with ``#pid`` when a message queue links processes).
            namespace: the admin namespace.
            server_stats_interval: seconds between two ``server_stats``.

        Raises:
            ConfigurationError: ``auth`` is not given, another argument
                cannot work, or the server is instrumented already.
        """
        if self._admin is not None:
            raise ConfigurationError("this server is instrumented already")
        self._admin = InstrumentedServer(
            self,  # type: ignore[arg-type]
            self._dispatcher,
            auth=auth,
            mode=mode,
            read_only=read_only,
            server_id=server_id,
            namespace=namespace,
            server_stats_interval=server_stats_interval,
        )
        return self._admin


def _checked_auth(auth: Any) -> AdminAuth:
    if auth is None:
        raise ConfigurationError(
            "instrument() needs auth: the credentials admins must give (a dict), a list of "
            "them, a callable, or auth=False to let anyone in"
        )
    if auth is False or callable(auth):
        return auth  # type: ignore[no-any-return]
    if isinstance(auth, Mapping) and auth:
        return auth
    if isinstance(auth, list) and auth and all(isinstance(a, Mapping) and a for a in auth):
        return auth
    raise ConfigurationError(
        "auth must be a dict of credentials, a list of them, a callable or False"
    )


def _same(expected: Mapping[str, Any], given: Any) -> bool:
    """Whether ``given`` holds exactly the credentials ``expected``, compared
    in constant time where they are strings."""
    if not isinstance(given, dict):
        return False
    given = {k: v for k, v in given.items() if k != "sessionId"}
    if set(given) != set(expected):
        return False
    same = True
    for key, value in expected.items():
        other = given[key]
        if isinstance(value, str) and isinstance(other, str):
            same &= hmac.compare_digest(value.encode(), other.encode())
        else:
            same &= value == other
    return same


def _names(*values: Any) -> bool:
    return all(isinstance(v, str) and v for v in values)


def _room(value: Any) -> bool:
    return value is None or isinstance(value, str)
