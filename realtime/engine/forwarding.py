"""Serving a session from any process of a deployment (no sticky sessions).

A session id starts with the id of the process that owns it (its *node*).
A request that reaches another process is served as if it were local:

* Plain HTTP requests (polling GETs and POSTs, and the POSTs of the SSE and
  streaming transports) are forwarded to the owner, which runs them through
  its own WSGI code path and sends the response back.
* A WebSocket, SSE or streaming connection opened on another process is
  *relayed*: that process keeps the client's connection and moves packets
  between it and the owner, which stays the one sequencer of the session.

The owner is found from the sid alone, with no lookup. A sid whose owner
has gone gets the protocol's "unknown sid" error at once: the broker says
when a message reached no one. Everything goes through a :class:`ClusterLink`,
which a broker-backed manager provides; the engine knows no broker.
"""

from __future__ import annotations

import enum
import io
import itertools
import logging
import secrets
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from realtime.engine.http import Request, Response
from realtime.engine.session import DisconnectReason, Session
from realtime.protocol.engineio import Packet, PacketType

if TYPE_CHECKING:
    from realtime.async_modes import AsyncMode
    from realtime.engine.outgoing import Outgoing

__all__ = [
    "NODE_ID_LENGTH",
    "ClusterEvents",
    "ClusterLink",
    "Forwarder",
    "RelayBuffer",
    "RelayRefused",
    "RemoteChannel",
    "new_node_id",
    "owner_of",
]

logger = logging.getLogger("realtime.engine")

#: Session ids start with this many characters naming their owner.
NODE_ID_LENGTH = 8
#: Seconds a process waits for the owner to answer a forwarded POST, or to
#: accept a relayed connection.
REPLY_TIMEOUT = 10.0
#: Seconds a request is sent again to an owner heard from lately that does
#: not listen right now (it subscribes again after a broker restart).
RESEND_WINDOW = 1.5

Message = dict[str, Any]
StartResponse = Callable[..., Any]


class ClusterEvents(Protocol):
    """What a link tells the engine about the other processes."""

    def node_lost(self, node: str) -> None:
        """Process ``node`` is gone: it fell silent, or nothing listens for it any more."""

    def link_lost(self) -> None:
        """This process lost its link: what others sent meanwhile may be missed."""


class ClusterLink(Protocol):
    """How a process sends messages to another and receives its own."""

    node_id: str

    def send(self, node: str, message: Message) -> bool:
        """Send ``message`` to process ``node``; False if no such process listens."""

    def on_message(self, handler: Callable[[Message], None]) -> None:
        """Call ``handler`` with each message addressed to this process."""

    def watch(self, events: ClusterEvents) -> None:
        """Tell ``events`` when a process is gone, or when this one lost the link."""

    def heard_lately(self, node: str) -> bool:
        """Whether ``node`` was heard from lately: a message that reached no one
        may mean it is subscribing again (after a broker restart), not gone."""

    @property
    def connected(self) -> bool:
        """Whether this process hears the others now (replies can reach it)."""


def new_node_id() -> str:
    """A fresh, random process id of :data:`NODE_ID_LENGTH` characters."""
    return secrets.token_urlsafe(6)


def owner_of(sid: str) -> str:
    """The node id a session id starts with."""
    return sid[:NODE_ID_LENGTH]


def _pack_packets(packets: Iterable[Packet]) -> list[str | bytes]:
    return [p.data if isinstance(p.data, bytes) else p.encode_text() for p in packets]


def _unpack_packets(items: Iterable[str | bytes]) -> list[Packet]:
    return [
        Packet(PacketType.MESSAGE, item)
        if isinstance(item, bytes)
        else Packet.decode(item, from_server=True)
        for item in items
    ]


class RemoteChannel:
    """The owner's end of a relayed connection: packets go to the relaying process.

    Args:
        link: the cluster link.
        node: the process holding the client's connection.
        cid: the relay's id there.
        name: the transport's name (``websocket``, ``sse``, ``streaming``).
        on_lost: called when the relaying process cannot be reached.
    """

    def __init__(
        self, link: ClusterLink, node: str, cid: int, name: str, on_lost: Callable[[], None]
    ) -> None:
        self._link = link
        self.node = node
        self.cid = cid
        self.name = name
        self._on_lost = on_lost
        self._closed = False
        #: Called once the channel is closed, whoever closed it.
        self.on_closed: Callable[[], None] = lambda: None

    def write_packets(self, packets: Sequence[Packet]) -> None:
        if not self._closed:
            self._send({"op": "relay_out", "cid": self.cid, "packets": _pack_packets(packets)})

    def write_outgoing(self, outgoing: Outgoing) -> None:
        self.write_packets(outgoing.packets)

    def close(self, graceful: bool) -> None:
        if not self._closed:
            self._closed = True
            self._link.send(self.node, {"op": "relay_close", "cid": self.cid, "graceful": graceful})
            self.on_closed()

    def _send(self, message: Message) -> None:
        if not self._link.send(self.node, message):
            self._closed = True
            self.on_closed()
            self._on_lost()


class RelayEnd(Protocol):
    """The relaying process's end: the client's real connection."""

    def write_packets(self, packets: Sequence[Packet]) -> None: ...
    def close(self, graceful: bool) -> None: ...


class RelayBuffer:
    """A relay end that holds what arrives until the real connection exists.

    The owner must accept a relay before the client gets its ``101``, so what
    the owner sends in between waits here, in order.
    """

    def __init__(self) -> None:
        self._target: RelayEnd | None = None
        self._held: list[Packet] = []
        self._closed: bool | None = None

    def attach(self, target: RelayEnd) -> None:
        self._target = target
        if self._held:
            target.write_packets(self._held)
            self._held = []
        if self._closed is not None:
            target.close(self._closed)

    def write_packets(self, packets: Sequence[Packet]) -> None:
        if self._target is not None:
            self._target.write_packets(packets)
        else:
            self._held.extend(packets)

    def close(self, graceful: bool) -> None:
        if self._target is not None:
            self._target.close(graceful)
        else:
            self._closed = graceful


class RelayRefused(enum.Enum):
    """Why the owner of a session did not take a relayed connection."""

    #: No process holds the session: its owner is gone, or never had it.
    UNKNOWN_SESSION = "unknown session"
    #: The session is there but cannot take the connection now: it is
    #: already upgraded or upgrading, or it is closing.
    SESSION_BUSY = "session busy"


class _Gate:
    """Whether a relayed client may be read: the numbers of the last pause
    and resume its owner sent."""

    __slots__ = ("event", "paused", "resumed")

    def __init__(self, mode: AsyncMode) -> None:
        self.event = mode.event()
        self.event.set()
        self.paused = 0
        self.resumed = 0


class _Pending:
    """A request waiting for another process's reply."""

    def __init__(self, mode: AsyncMode, node: str) -> None:
        self.event = mode.event()
        self.node = node
        self.reply: Message | None = None

    def give_up(self) -> None:
        """The process asked is gone: the request ends now, with no reply."""
        self.event.set()


class Forwarder:
    """The cluster side of one engine server.

    Args:
        link: the cluster link.
        mode: the async mode.
        local_request: runs a WSGI request through this server as a local one.
        sessions: looks up a local session by sid.
        upgrade_timeout: seconds a relayed upgrade may take.
    """

    def __init__(
        self,
        link: ClusterLink,
        mode: AsyncMode,
        local_request: Callable[[dict[str, Any], StartResponse], Iterable[bytes]],
        sessions: Callable[[str], Session | None],
        upgrade_timeout: float,
    ) -> None:
        self.link = link
        self.node_id = link.node_id
        self._mode = mode
        self._local_request = local_request
        self._sessions = sessions
        self._upgrade_timeout = upgrade_timeout
        self._ids = itertools.count(1)
        self._pending: dict[int, _Pending] = {}
        # Entry side: the client connections relayed from here, by relay id,
        # with the owner they are relayed to.
        self._relays: dict[int, tuple[str, RelayEnd]] = {}
        # Relays whose owner asked to stop reading the client (its handlers
        # are behind), by relay id: the gate opens when it says go on.
        self._gates: dict[int, _Gate] = {}
        self._remote: dict[tuple[str, int], tuple[Session, RemoteChannel]] = {}
        # Owner side: relayed connections whose client is held back now.
        self._held_back: set[tuple[str, int]] = set()
        self._pauses = itertools.count(1)
        #: Counters for monitoring: requests this process forwarded to the
        #: owner of their session, requests it served for other processes,
        #: and connections it relayed to their session's owner.
        self.stats = {"forwarded": 0, "served_for_others": 0, "relayed": 0}
        link.on_message(self._on_message)
        link.watch(self)

    def owns(self, sid: str) -> bool:
        return owner_of(sid) == self.node_id

    # -- entry process: forwarding plain HTTP requests ------------------------

    def forward_http(
        self, request: Request, body: bytes, wait: float, hangup: Callable[[], None] | None = None
    ) -> Response | None:
        """Have the owner serve ``request``; its response, or None if it is gone.

        ``hangup`` is set by the caller's hang-up watch to tell the owner the
        client gave up a long poll.
        """
        environ = request.environ
        message = {
            "op": "http",
            "from": self.node_id,
            "method": request.method,
            "path": environ.get("PATH_INFO", ""),
            "query": environ.get("QUERY_STRING", ""),
            "headers": {k: str(v) for k, v in environ.items() if k.startswith("HTTP_")},
            "content_type": environ.get("CONTENT_TYPE", ""),
            "remote": environ.get("REMOTE_ADDR", ""),
            "scheme": environ.get("wsgi.url_scheme", "http"),
            "body": body,
        }
        self.stats["forwarded"] += 1
        reply = self._request(owner_of(request.query.get("sid", "")), message, wait)
        if reply is None:
            return None
        return Response(
            str(reply["status"]), bytes(reply["body"]), [tuple(h) for h in reply["headers"]]
        )

    def abandon(self, sid: str) -> None:
        """The entry process's client gave up a forwarded long poll."""
        self.link.send(owner_of(sid), {"op": "abandon", "sid": sid})

    def _request(self, node: str, message: Message, wait: float) -> Message | None:
        rid = next(self._ids)
        pending = self._pending[rid] = _Pending(self._mode, node)
        message["rid"] = rid
        try:
            if not self._send_soon(node, message, expect_reply=True):
                return None
            pending.event.wait(wait)
            return pending.reply
        finally:
            self._pending.pop(rid, None)

    def _send_soon(self, node: str, message: Message, *, expect_reply: bool = False) -> bool:
        """Send ``message``; if nothing listens for ``node`` but it was heard from
        lately (it subscribes again after a broker restart), try again for a moment.

        With ``expect_reply``, also wait for this process to hear the others:
        a request sent before that would have its reply lost.
        """
        deadline = self._mode.monotonic() + RESEND_WINDOW
        while (expect_reply and not self.link.connected) or not self.link.send(node, message):
            if self._mode.monotonic() >= deadline or not self.link.heard_lately(node):
                return False
            self._mode.sleep(0.1)
        return True

    # -- entry process: relaying a connection -------------------------------

    def open_relay(self, sid: str, transport: str, end: RelayEnd) -> int | RelayRefused:
        """Ask the owner to probe a connection relayed from here; its relay id,
        or why the owner did not take it (it is gone, or the session cannot
        upgrade now)."""
        cid = next(self._ids)
        self._relays[cid] = (owner_of(sid), end)
        reply = self._request(
            owner_of(sid),
            {
                "op": "relay_begin",
                "from": self.node_id,
                "sid": sid,
                "cid": cid,
                "transport": transport,
            },
            REPLY_TIMEOUT,
        )
        if reply is None or not reply.get("ok"):
            self._relays.pop(cid, None)
            # An owner that predates "known" says only ok=False: unknown.
            known = reply is not None and bool(reply.get("known"))
            return RelayRefused.SESSION_BUSY if known else RelayRefused.UNKNOWN_SESSION
        self.stats["relayed"] += 1
        return cid

    def relay_in(self, sid: str, cid: int, packets: Sequence[Packet]) -> bool:
        """Packets the relayed client sent; False if the owner is gone."""
        return self.link.send(
            owner_of(sid),
            {"op": "relay_in", "sid": sid, "cid": cid, "packets": _pack_packets(packets)},
        )

    def relay_ended(self, sid: str, cid: int) -> None:
        """The relayed client's connection ended."""
        gate = self._gates.pop(cid, None)
        if gate is not None:
            gate.event.set()
        if self._relays.pop(cid, None) is not None:
            self.link.send(owner_of(sid), {"op": "relay_end", "sid": sid, "cid": cid})

    def relay_wait(self, cid: int) -> None:
        """Return once the owner lets the relayed client be read again (at
        once, unless its handlers are behind: see :meth:`Session.flow_control`)."""
        gate = self._gates.get(cid)
        if gate is None:
            return
        while not gate.event.wait(1.0):
            if cid not in self._relays:
                return

    def _relay_gate(self, message: Message, pause: bool) -> None:
        """The owner says: stop reading relay ``cid``'s client, or read on.

        Each pause has a number, and its resume the same one: whichever of
        the two arrives last, the later pause wins.
        """
        cid, seq = message.get("cid"), message.get("seq")
        if not isinstance(cid, int) or not isinstance(seq, int) or cid not in self._relays:
            return
        gate = self._gates.get(cid)
        if gate is None:
            gate = self._gates[cid] = _Gate(self._mode)
        if pause:
            if seq > gate.resumed:
                gate.paused = max(gate.paused, seq)
                gate.event.clear()
        else:
            gate.resumed = max(gate.resumed, seq)
            if gate.resumed >= gate.paused:
                gate.event.set()

    # -- receiving ------------------------------------------------------------

    def _on_message(self, message: Message) -> None:
        op = message.get("op")
        if op == "reply":
            pending = self._pending.get(message.get("rid", -1))
            if pending is not None:
                pending.reply = message
                pending.event.set()
        elif op == "http":
            self._mode.submit(self._serve_http, message)
        elif op == "abandon":
            session = self._sessions(message["sid"])
            if session is not None:
                session.close(DisconnectReason.TRANSPORT_CLOSE)
        elif op == "relay_out":
            relay = self._relays.get(message["cid"])
            if relay is not None:
                relay[1].write_packets(_unpack_packets(message["packets"]))
        elif op in ("relay_pause", "relay_resume"):
            self._relay_gate(message, op == "relay_pause")
        elif op == "relay_close":
            relay = self._relays.pop(message["cid"], None)
            if relay is not None:
                relay[1].close(bool(message.get("graceful")))
        elif op in ("relay_begin", "relay_in", "relay_end"):
            self._owner_side(op, message)
        else:
            logger.debug("ignored a cluster message of kind %r", op)

    def _reply(self, message: Message, **fields: Any) -> None:
        node, reply = message["from"], {"op": "reply", "rid": message["rid"], **fields}
        if not self.link.send(node, reply):
            # The asker may be subscribing again (after a broker restart);
            # not on this task, which may be the broker's listener.
            self._mode.spawn(self._send_soon, node, reply)

    def _serve_http(self, message: Message) -> None:
        self.stats["served_for_others"] += 1
        environ: dict[str, Any] = {
            "REQUEST_METHOD": message["method"],
            "PATH_INFO": message["path"],
            "QUERY_STRING": message["query"],
            "REMOTE_ADDR": message["remote"],
            "wsgi.url_scheme": message["scheme"],
            "wsgi.input": io.BytesIO(message["body"]),
            "CONTENT_LENGTH": str(len(message["body"])),
            "CONTENT_TYPE": message["content_type"],
            "SERVER_NAME": "forwarded",
            "SERVER_PORT": "0",
            "realtime.forwarded_from": message["from"],
            **message["headers"],
        }
        captured: dict[str, Any] = {}

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        try:
            body = b"".join(self._local_request(environ, start_response))
        except Exception:
            logger.exception("error serving a request forwarded from %s", message["from"])
            captured = {"status": "500 Internal Server Error", "headers": []}
            body = b""
        headers = [h for h in captured["headers"] if h[0].lower() != "content-length"]
        self._reply(message, status=captured["status"], headers=headers, body=body)

    # -- owner process: relayed connections ------------------------------------

    def _owner_side(self, op: str, message: Message) -> None:
        sid, cid = message["sid"], message["cid"]
        if op == "relay_begin":
            session = self._sessions(sid)
            accepted = False
            if session is not None:
                channel = RemoteChannel(
                    self.link,
                    message["from"],
                    cid,
                    message["transport"],
                    lambda: self._relay_lost(sid, cid),
                )
                accepted = session.begin_probe(channel, self._upgrade_timeout)
                if accepted:
                    key = (sid, cid)
                    self._remote[key] = (session, channel)
                    channel.on_closed = lambda: self._forget_relay(key)
            self._reply(message, ok=accepted, known=session is not None)
            return
        entry = self._remote.get((sid, cid))
        if entry is None:
            return
        session, channel = entry
        if op == "relay_end":
            self._relay_lost(sid, cid)
            return
        for packet in _unpack_packets(message["packets"]):
            if session.probe_channel is channel:
                if packet.type is PacketType.PING and packet.data == "probe":
                    session.probe_ping(channel)
                elif packet.type is PacketType.UPGRADE:
                    session.complete_upgrade(channel)
                else:
                    session.abandon_probe(channel)
            else:
                session.receive(packet)
        self._hold_back(sid, cid, session, channel.node)

    def _hold_back(self, sid: str, cid: int, session: Session, node: str) -> None:
        """Ask the relaying process to stop reading the client while its
        handlers here are behind (the back-pressure a local connection gets
        from its own reader)."""
        key = (sid, cid)
        if key in self._held_back:
            return
        backlogged = session.flow_control()
        if backlogged is None:
            return
        seq = next(self._pauses)

        def resume() -> None:
            self._held_back.discard(key)
            self.link.send(node, {"op": "relay_resume", "cid": cid, "seq": seq})

        self._held_back.add(key)
        if backlogged(resume):
            self.link.send(node, {"op": "relay_pause", "cid": cid, "seq": seq})
        else:
            self._held_back.discard(key)

    # -- when a process is gone (ClusterEvents) -----------------------------------

    def node_lost(self, node: str) -> None:
        """Process ``node`` is gone: end every request and relay that needs it.

        Its clients relayed through here are disconnected, so that they
        reconnect (and recover, with connection state recovery); its
        requests for sessions here are void; sessions here whose connection
        it relayed are closed as lost.
        """
        self._end(lambda other: other == node)

    def link_lost(self) -> None:
        """This process lost the broker: every relay and forwarded request may have
        missed messages, so each ends now."""
        self._end(lambda other: True)

    def _end(self, gone: Callable[[str], bool]) -> None:
        for pending in list(self._pending.values()):
            if gone(pending.node):
                pending.give_up()
        for cid, (node, end) in list(self._relays.items()):
            if gone(node) and self._relays.pop(cid, None) is not None:
                logger.info("closing a connection relayed to process %s, which is gone", node)
                end.close(False)
        for (sid, cid), (_, channel) in list(self._remote.items()):
            if gone(channel.node):
                self._relay_lost(sid, cid)

    def _forget_relay(self, key: tuple[str, int]) -> None:
        self._remote.pop(key, None)
        self._held_back.discard(key)

    def _relay_lost(self, sid: str, cid: int) -> None:
        self._held_back.discard((sid, cid))
        entry = self._remote.pop((sid, cid), None)
        if entry is None:
            return
        session, channel = entry
        if session.probe_channel is channel:
            session.abandon_probe(channel)
        elif not session.closed:
            session.close(DisconnectReason.TRANSPORT_CLOSE)
