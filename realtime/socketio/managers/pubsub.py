"""Rooms and fan-out across the server processes of a deployment, over a broker.

Each process keeps the rooms of its own clients (a :class:`MemoryManager`)
and publishes what concerns the others on the broker: broadcasts and
``close_room`` to every process, operations on one client (``enter_room``,
``leave_room``, ``disconnect``, ``call(sid=...)``) to the process that serves
it, which a sid names in its first characters. What a process sends reaches
every other one in the order it was sent.

Messages (msgpack maps, see :mod:`realtime.socketio.managers.broker_link`; ``from`` is the
sender's node id, ``ns`` a namespace, ``parts`` an encoded EVENT packet with
``fmt`` the name of its packet format):

========================  ============  ============================================
op                        to            fields
========================  ============  ============================================
``m.emit``                every process from, ns, rooms (None: all), exclude (rooms whose
                                        members are skipped; a sid is its own room),
                                        fmt, parts, volatile (optional)
``m.request``             every process from, rid, ns, rooms, exclude, fmt, parts
                          or the owner  (or sid instead of rooms and exclude)
``m.members``             the asker     rid, sids: who got the request there
``m.answer``              the asker     rid, sid, args: one client's acknowledgement
``m.gone``                the asker     rid, sid: that client left before answering
``m.enter`` / ``m.leave`` the owner     ns, sid, room
``m.close_room``          every process from, ns, room
``m.disconnect``          the owner     ns, sid
``m.moved``               every process sid, node: the client came back on another
                                        process (connection state recovery)
``m.query`` / ``m.reply``  every / asker questions to every process and their answers
                                        (:mod:`realtime.socketio.managers.queries`)
========================  ============  ============================================

A sid names the process that made it, and requests for a client go there,
unless an ``m.moved`` said the client now lives elsewhere.

With connection state recovery on (Redis only), events emitted without a
callback, and ``m.enter``, ``m.leave``, ``m.close_room`` and
``m.disconnect``, go through the deployment's recovery log instead, a Redis
Stream every process reads in the same order (:attr:`PubSubManager.ordered`,
:mod:`realtime.socketio.recovery.redis_log`). Volatile events are never kept:
they stay ``m.emit`` messages, without an offset, and each process delivers
them in order with the log, under the offset its clients are at.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from realtime.async_modes import get_async_mode, patched_mode
from realtime.engine.forwarding import NODE_ID_LENGTH, owner_of
from realtime.engine.outgoing import Outgoing
from realtime.exceptions import BrokerUnavailable, ConfigurationError
from realtime.protocol.parsers import Parser, get_parser
from realtime.protocol.socketio import Serializer, SioPacket, SocketSid
from realtime.socketio.managers.broker_link import BrokerLink, BrokerMonitor
from realtime.socketio.managers.brokers import open_broker
from realtime.socketio.managers.emit_args import Target, as_exclude, as_rooms, event_packet
from realtime.socketio.managers.formats import Formats
from realtime.socketio.managers.gathering import Gathering, Gatherings
from realtime.socketio.managers.memory import MemoryManager
from realtime.socketio.managers.ordered_log import OrderedLog, StreamWriter
from realtime.socketio.managers.outbox import Deduplicator, Outbox, OutboxOptions
from realtime.socketio.managers.queries import Queries

if TYPE_CHECKING:
    from realtime.async_modes import AsyncMode
    from realtime.socketio.managers.base import Members
    from realtime.socketio.managers.gathering import AnswerCallback

__all__ = ["KombuManager", "PubSubManager", "RedisManager"]

logger = logging.getLogger("realtime.socketio")

#: Seconds between two warnings that publishing failed.
WARNING_INTERVAL = 10.0

_FANOUT_OPS = frozenset({"m.emit", "m.request", "m.close_room", "m.moved", "m.query"})
#: Clients remembered as moved to another process, at most (the oldest go first).
MAX_MOVED = 100_000


class PubSubManager(MemoryManager):
    """Rooms and broadcasts shared by every server process that uses the same broker.

    Give it to :class:`realtime.Server` as ``client_manager=``, or pass
    ``message_queue=url`` to the server, which makes one.

    Args:
        url: the broker: ``redis://host:port/db``, ``rediss://...``,
            ``unix://...``, or an AMQP URL (``amqp://...``).
        channel: the name every broker channel of the deployment starts
            with; processes with the same channel act as one server.
        write_only: only publish: for a process that serves no clients and
            emits to those of the others (see :class:`realtime.Emitter`).
        logger: where broker trouble is reported (``realtime.socketio``).
        serializer: the packet format of a write-only manager's
            :meth:`emit` (the servers re-encode other formats).
        json: the JSON module of that format.
        async_mode: the async mode of a write-only manager (default: the
            one the process is patched for, else threading).
        outbox: bounds of what waits for the broker while it is away
            (:class:`~realtime.socketio.managers.outbox.OutboxOptions` fields:
            ``max_messages``, ``max_bytes``).
    """

    def __init__(
        self,
        url: str = "redis://localhost:6379/0",
        channel: str = "socketio",
        write_only: bool = False,
        logger: logging.Logger | None = None,
        *,
        serializer: str | Parser = "default",
        json: Serializer | None = None,
        async_mode: str | None = None,
        outbox: OutboxOptions | Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if not channel:
            raise ConfigurationError("channel must be a non-empty string")
        self.url = url
        self.channel = channel
        self.write_only = write_only
        self.logger = logger or globals()["logger"]
        self._link: BrokerLink | None = None
        self._parser = get_parser(serializer, serializer=json) if json else get_parser(serializer)
        self._formats = Formats(lambda: self.parser, self.warn)
        self._rids = itertools.count(1)
        self._gatherings = Gatherings()
        self._last_warning = 0.0
        self._moved: dict[str, str] = {}
        self._queries: Queries | None = None
        self.outbox_options = OutboxOptions.from_option(outbox)
        self._outbox: Outbox | None = None
        self._dedup = Deduplicator()
        # The deployment's ordered log, with connection state recovery on
        # (see use_ordered_log): room changes go through it too.
        self.ordered: OrderedLog | None = None
        self._writer: StreamWriter | None = None
        if write_only:
            mode = get_async_mode(async_mode or patched_mode() or "threading")
            self.cluster_link(mode)

    # -- set-up -----------------------------------------------------------------

    def cluster_link(self, mode: AsyncMode) -> BrokerLink:
        if self._link is None:
            broker = open_broker(self.url, mode, self.logger, channel=self.channel)
            self._link = BrokerLink(broker, self.channel, fanout=True, listen=not self.write_only)
            self._queries = Queries(self._link, mode, self.logger)
            self._outbox = Outbox(self._send_now, mode, self.outbox_options, self.logger)
            self._link.on_manager_message(self._on_message)
        return self._link

    @property
    def clustered(self) -> bool:
        return True

    def broker_reachable(self) -> bool | None:
        return self._link is not None and self._link.connected

    def monitor_broker(self, monitor: BrokerMonitor | None) -> None:
        if self._link is not None:
            self._link.monitor = monitor

    @property
    def link(self) -> BrokerLink:
        """The link to the broker (once a server or ``write_only`` made it).

        Raises:
            ConfigurationError: the manager is not attached to a server.
        """
        return self._require_link()

    def ordered_log_host(self, mode: AsyncMode) -> PubSubManager | None:
        """This manager, if its broker is Redis (which keeps the recovery log)."""
        link = self.cluster_link(mode)
        return self if getattr(link.broker, "client", None) is not None else None

    def use_ordered_log(self, log: OrderedLog) -> None:
        """Send room changes through ``log``, the deployment's ordered log
        (connection state recovery with Redis): every process then applies
        them in order with the events around them."""
        self.ordered = log

    @property
    def node_id(self) -> str:
        return self._require_link().node_id

    def _require_link(self) -> BrokerLink:
        if self._link is None:
            raise ConfigurationError("the manager is not attached to a server")
        return self._link

    def close(self) -> None:
        """Disconnect from the broker (what waits in the outbox is dropped)."""
        if self._outbox is not None:
            self._outbox.close()
        if self._link is not None:
            self._link.close()

    # -- what this process asks of the others -------------------------------------

    def broadcast(
        self,
        namespace: str,
        outgoing: Outgoing,
        rooms: Sequence[str] | None = None,
        exclude: Iterable[str] = (),
    ) -> list[SocketSid]:
        excluded = list(exclude)
        reached = self.broadcast_here(namespace, outgoing, rooms, excluded) if self._host else []
        self.broadcast_elsewhere(namespace, outgoing, rooms, excluded)
        return reached

    def broadcast_elsewhere(
        self,
        namespace: str,
        outgoing: Outgoing,
        rooms: Sequence[str] | None = None,
        exclude: Iterable[str] = (),
    ) -> None:
        """Deliver to the other processes' clients only (the broadcast's publish)."""
        message = {
            "op": "m.emit",
            "ns": namespace,
            "rooms": None if rooms is None else list(rooms),
            "exclude": list(exclude),
            **self._encoded(outgoing),
        }
        if outgoing.volatile:
            # Never queued: not in the outbox either, while the broker is away.
            message["volatile"] = True
            self._publish_all(message)
        else:
            self._post(None, message)

    def request(
        self,
        namespace: str,
        outgoing: Outgoing,
        rooms: Sequence[str] | None = None,
        exclude: Iterable[str] = (),
        *,
        sid: str | None = None,
        on_answer: AnswerCallback | None = None,
    ) -> Gathering:
        link = self._require_link()
        rid = f"{link.node_id}:{next(self._rids)}"
        gathering = self._gatherings.open(rid, link.broker.mode, on_answer)
        message: dict[str, Any] = {"op": "m.request", "rid": rid, "ns": namespace}
        message.update(self._encoded(outgoing))
        if sid is not None:
            message["sid"] = sid
            # The owner reports, or nobody: then the client is gone already.
            gathering.expect(1 if self._send(self.owner(sid), message) else 0)
        else:
            message["rooms"] = None if rooms is None else list(rooms)
            message["exclude"] = list(exclude)
            receivers = self._publish_all(message)
            # This process gets its own request too and reports it as empty,
            # so the receivers the broker counts are exactly the reports due.
            gathering.expect(receivers)
            if receivers is None and on_answer is not None:
                link.broker.mode.spawn(self._gatherings.settle_later, rid, link.broker.mode)
        self._gatherings.settle(rid)
        return gathering

    def forget(self, gathering: Gathering) -> None:
        self._gatherings.forget(gathering)

    def enter_room(self, namespace: str, sid: SocketSid, room: str) -> None:
        self._membership("m.enter", namespace, sid, room)

    def leave_room(self, namespace: str, sid: SocketSid, room: str) -> None:
        self._membership("m.leave", namespace, sid, room)

    def _membership(self, op: str, namespace: str, sid: SocketSid, room: str) -> None:
        ordered = self.ordered
        if self._elsewhere(namespace, sid):
            message = {"op": op, "ns": namespace, "sid": sid, "room": room}
            if not self._append_ordered(message):
                self._post(self.owner(sid), message)
            return
        if ordered is not None:
            # Events this process emitted before reach the client first.
            ordered.catch_up()
        if op == "m.enter":
            super().enter_room(namespace, sid, room)
        else:
            super().leave_room(namespace, sid, room)

    def close_room(self, namespace: str, room: str) -> None:
        message = {"op": "m.close_room", "ns": namespace, "room": room}
        if self._append_ordered(message):
            if self.ordered is not None:
                self.ordered.catch_up()
            return
        super().close_room(namespace, room)
        self._post(None, message)

    def close_room_here(self, namespace: str, room: str) -> None:
        super().close_room(namespace, room)

    def _append_ordered(self, message: dict[str, Any]) -> bool:
        """Append a room change to the deployment's ordered log, if it has one.

        Raises:
            BrokerUnavailable: a write-only manager cannot reach Redis.
        """
        if self.ordered is not None:
            return self.ordered.append(message)
        if self.write_only:
            writer = self._stream_writer()
            if writer is not None:
                return writer.append_if_read(message)
        return False

    def remove(self, namespace: str, sid: SocketSid) -> None:
        if self.ordered is not None:
            self.ordered.catch_up()
        super().remove(namespace, sid)

    def apply_ordered(self, message: dict[str, Any]) -> None:
        """A change read from the ordered log, applied to this process's clients."""
        op, namespace = message["op"], message["ns"]
        if op == "m.close_room":
            super().close_room(namespace, str(message["room"]))
        elif op == "m.enter":
            super().enter_room(namespace, SocketSid(message["sid"]), str(message["room"]))
        elif op == "m.leave":
            super().leave_room(namespace, SocketSid(message["sid"]), str(message["room"]))
        elif op == "m.disconnect" and message["sid"] in self._eio.get(namespace, {}):
            assert self._host is not None
            self._host.disconnect(message["sid"], namespace)

    def disconnect_elsewhere(self, sid: str, namespace: str) -> bool:
        if not self._elsewhere(namespace, SocketSid(sid)):
            return False
        message = {"op": "m.disconnect", "ns": namespace, "sid": sid}
        if not self._append_ordered(message):
            self._post(self.owner(sid), message)
        return True

    def _elsewhere(self, namespace: str, sid: str) -> bool:
        """``sid`` is not a client of this process, and names another one."""
        if sid in self._eio.get(namespace, {}) or len(sid) <= NODE_ID_LENGTH:
            return False
        return self._link is None or self.owner(sid) != self._link.node_id

    def owner(self, sid: str) -> str:
        """The node id of the process that serves client ``sid``."""
        return self._moved.get(sid) or owner_of(sid)

    # -- connection state recovery across processes ------------------------------

    def broadcast_here(
        self,
        namespace: str,
        outgoing: Outgoing,
        rooms: Sequence[str] | None = None,
        exclude: Iterable[str] = (),
    ) -> list[SocketSid]:
        """Deliver to this process's clients only (the others read the same log,
        or ``ignore_queue`` asked for this process only)."""
        return super().broadcast_here(namespace, outgoing, rooms, exclude)

    def moved_here(self, sid: str) -> None:
        """Client ``sid`` came back on this process: requests for it now come here."""
        link = self._require_link()
        if self.owner(sid) == link.node_id:
            return
        self._remember_move(sid, link.node_id)
        self._publish_all({"op": "m.moved", "sid": sid, "node": link.node_id})

    def _remember_move(self, sid: str, node: str) -> None:
        moved = self._moved
        moved.pop(sid, None)
        if owner_of(sid) != node:
            moved[sid] = node
            if len(moved) > MAX_MOVED:
                del moved[next(iter(moved))]

    @property
    def queries(self) -> Queries:
        """Questions to every other process, and this one's answers.

        Raises:
            ConfigurationError: the manager is not attached to a server.
        """
        if self._queries is None:
            raise ConfigurationError("the manager is not attached to a server")
        return self._queries

    # -- a write-only manager: an emitter ---------------------------------------

    @property
    def parser(self) -> Parser:
        """The packet format this manager encodes in."""
        return self._host.parser if self._host is not None else self._parser

    def publish_emit(
        self,
        namespace: str,
        outgoing: Outgoing,
        rooms: Sequence[str] | None = None,
        exclude: Iterable[str] = (),
    ) -> None:
        """Publish a broadcast to every process (:class:`realtime.Emitter`).

        When the deployment has connection state recovery on, the event
        goes to its log instead, which the servers deliver from.

        Raises:
            BrokerUnavailable: the broker cannot be reached.
        """
        message = {
            "ns": namespace,
            "rooms": None if rooms is None else list(rooms),
            "exclude": list(exclude),
            **self._encoded(outgoing),
        }
        writer = self._stream_writer()
        if writer is not None and writer.append_if_read(message):  # an event of the log: no op
            return
        self._publish_all({"op": "m.emit", **message}, strict=True)

    def _stream_writer(self) -> StreamWriter | None:
        """The recovery log's writer, on Redis; None on another broker."""
        if self._writer is None:
            self._writer = StreamWriter.on(self._require_link().broker, self.channel)
        return self._writer

    def emit(
        self,
        event: str,
        data: Any = None,
        to: Target = None,
        room: Target = None,
        skip_sid: Target = None,
        namespace: str | None = None,
        callback: Callable[..., Any] | None = None,
        **_ignored: Any,
    ) -> None:
        """Emit from a write-only manager, as python-socketio's ``RedisManager`` does.

        Raises:
            ConfigurationError: the manager serves a server (use the
                server's ``emit``), or ``callback`` is given (a write-only
                process receives no answers).
            BrokerUnavailable: the broker cannot be reached.
        """
        if not self.write_only:
            raise ConfigurationError("this manager serves a server: call the server's emit()")
        if callback is not None:
            raise ConfigurationError("a write-only manager receives no acknowledgements")
        namespace = namespace or "/"
        packet = event_packet(event, data, namespace)
        self.publish_emit(
            namespace,
            Outgoing(self._parser.encoder.encode(packet)),
            as_rooms(to if to is not None else room),
            as_exclude(skip_sid),
        )

    # -- publishing -------------------------------------------------------------

    def _encoded(self, outgoing: Outgoing) -> dict[str, Any]:
        return {"fmt": self._format(), "parts": [packet.data for packet in outgoing.packets]}

    def _format(self) -> str:
        return self.parser.name

    def _publish_all(self, message: dict[str, Any], strict: bool = False) -> int | None:
        """Publish to every process; the receivers (0 when the broker is away).

        Raises:
            BrokerUnavailable: the broker is away and ``strict`` or write-only.
        """
        link = self._require_link()
        message["from"] = link.node_id
        try:
            return link.send_all(message)
        except BrokerUnavailable as exc:
            if strict or self.write_only:
                raise
            self.warn("cannot reach the other server processes (%s); local clients only", exc)
            return 0

    def _post(self, node: str | None, message: dict[str, Any]) -> None:
        """Send to every process (``node`` None) or one, in order, through the
        outbox when the broker is away (a write-only manager raises instead).

        Raises:
            BrokerUnavailable: the broker is away and this manager is write-only.
        """
        if self.write_only or self._outbox is None:
            if node is None:
                self._publish_all(message)
            else:
                self._send(node, message)
            return
        self._outbox.post(node, message)

    def _send_now(self, node: str | None, message: dict[str, Any]) -> bool:
        """The outbox's way out: publish; False if a process that should have
        got it did not (it resubscribes after an outage, say).

        Raises:
            BrokerUnavailable: the broker cannot be reached.
        """
        link = self._require_link()
        message["from"] = link.node_id
        peers = link.peers()
        if node is None:
            receivers = link.send_all(message)
            # Every process (this one too) listens to the fan-out channel.
            return receivers is None or receivers > len(peers)
        receivers = link.publish(link.node_channel(node), message)
        # A process that is gone for good gets nothing, and nothing waits for it.
        return receivers is None or receivers > 0 or node not in peers

    def _send(self, node: str, message: dict[str, Any]) -> bool:
        """Send to one process; False if it cannot have got it.

        Raises:
            BrokerUnavailable: the broker is away and this manager is write-only.
        """
        link = self._require_link()
        message["from"] = link.node_id
        if self.write_only:
            receivers = link.publish(link.node_channel(node), message)
            return receivers is None or receivers > 0
        return link.send(node, message)

    def warn(self, text: str, *args: Any) -> None:
        """Log a warning about the broker, at most once every ``WARNING_INTERVAL`` s."""
        now = time.monotonic()
        if now - self._last_warning >= WARNING_INTERVAL:
            self._last_warning = now
            self.logger.warning(text, *args)

    # -- what the others ask of this process -------------------------------------

    def _on_message(self, message: dict[str, Any]) -> None:
        op = message.get("op")
        if self._host is None or self._link is None:
            return
        origin = message.get("from")
        if origin == self._link.node_id and op in _FANOUT_OPS:
            if op == "m.request":
                self._gatherings.report(message["rid"], [])
            return
        if "seq" in message and not self._dedup.first_time(str(origin), message["seq"]):
            return  # sent twice (again from an outbox): handled already
        try:
            handler = _HANDLERS.get(str(op))
            if handler is None:
                self.logger.debug("ignored a broker message of kind %r", op)
                return
            handler(self, message)
        except (KeyError, TypeError, ValueError) as exc:
            self.logger.warning("ignored a malformed broker message %r: %s", op, exc)

    def _on_emit(self, message: dict[str, Any]) -> None:
        if self.ordered is not None and message.get("volatile"):
            # It carries no offset: the log gives it this process's own.
            self.ordered.deliver_volatile(message)
            return
        outgoing = self._outgoing(message)
        if outgoing is None:
            return
        namespace = message["ns"]
        members = self._local_members(namespace, message.get("rooms"), message.get("exclude"))
        if members:
            self.deliver(namespace, outgoing, members)

    def _on_request(self, message: dict[str, Any]) -> None:
        assert self._host is not None and self._link is not None
        namespace, origin, rid = message["ns"], message["from"], message["rid"]
        if "sid" in message:
            eio_sid = self._eio.get(namespace, {}).get(message["sid"])
            members: Members = [] if eio_sid is None else [(message["sid"], eio_sid)]
        else:
            members = self._local_members(namespace, message.get("rooms"), message.get("exclude"))
        packet = self.decode_packet(message) if members else None
        if packet is None:
            members = []
        self._link.send(origin, {"op": "m.members", "rid": rid, "sids": [s for s, _ in members]})
        if packet is not None and members:
            link = self._link

            def pending(sid: SocketSid) -> _RemoteAnswer:
                return _RemoteAnswer(link, origin, rid, sid)

            self._host.ask(namespace, packet, members, pending)

    def _on_enter(self, message: dict[str, Any]) -> None:
        super().enter_room(message["ns"], SocketSid(message["sid"]), str(message["room"]))

    def _on_leave(self, message: dict[str, Any]) -> None:
        super().leave_room(message["ns"], SocketSid(message["sid"]), str(message["room"]))

    def _on_close_room(self, message: dict[str, Any]) -> None:
        super().close_room(message["ns"], str(message["room"]))

    def _on_disconnect(self, message: dict[str, Any]) -> None:
        assert self._host is not None
        self._host.disconnect(message["sid"], message["ns"])

    def _on_moved(self, message: dict[str, Any]) -> None:
        self._remember_move(str(message["sid"]), str(message["node"]))

    def _on_query(self, message: dict[str, Any]) -> None:
        self.queries.on_query(message)

    def _on_reply(self, message: dict[str, Any]) -> None:
        self.queries.on_reply(message)

    def _local_members(
        self, namespace: str, rooms: Sequence[str] | None, exclude: Iterable[str] | None
    ) -> Members:
        members = self.members(namespace, rooms)
        skip = self.excluded(namespace, exclude) if exclude else None
        return [m for m in members if m[0] not in skip] if skip else members

    def _outgoing(self, message: dict[str, Any]) -> Outgoing | None:
        """The message's packet, in this server's packet format."""
        return self._formats.outgoing(message)

    def decode_packet(self, message: dict[str, Any]) -> SioPacket | None:
        """The packet of a message's ``fmt`` and ``parts``, decoded; None if it is no event."""
        return self._formats.decode(message)


class _RemoteAnswer:
    """Where a client's acknowledgement goes when another process asked for it."""

    __slots__ = ("_link", "_origin", "_rid", "_sid")

    def __init__(self, link: BrokerLink, origin: str, rid: str, sid: str) -> None:
        self._link = link
        self._origin = origin
        self._rid = rid
        self._sid = sid

    def __call__(self, args: list[Any]) -> None:
        message = {"op": "m.answer", "rid": self._rid, "sid": self._sid, "args": args}
        if not self._link.send(self._origin, {"from": self._link.node_id, **message}):
            logger.debug("the process that asked %s is gone", self._sid)

    def abandon(self) -> None:
        message = {"op": "m.gone", "rid": self._rid, "sid": self._sid}
        self._link.send(self._origin, {"from": self._link.node_id, **message})


_HANDLERS: dict[str, Callable[[PubSubManager, dict[str, Any]], None]] = {
    "m.emit": PubSubManager._on_emit,
    "m.request": PubSubManager._on_request,
    "m.members": lambda m, message: m._gatherings.report(message["rid"], message["sids"]),
    "m.answer": lambda m, message: m._gatherings.answer(
        message["rid"], message["sid"], list(message["args"])
    ),
    "m.gone": lambda m, message: m._gatherings.gone(message["rid"], message["sid"]),
    "m.enter": PubSubManager._on_enter,
    "m.leave": PubSubManager._on_leave,
    "m.close_room": PubSubManager._on_close_room,
    "m.disconnect": PubSubManager._on_disconnect,
    "m.moved": PubSubManager._on_moved,
    "m.query": PubSubManager._on_query,
    "m.reply": PubSubManager._on_reply,
}


class RedisManager(PubSubManager):
    """python-socketio's name: a :class:`PubSubManager` on Redis."""


class KombuManager(PubSubManager):
    """python-socketio's name: a :class:`PubSubManager` on RabbitMQ (``amqp://``)."""

    def __init__(
        self,
        url: str = "amqp://guest:guest@localhost:5672//",
        channel: str = "socketio",
        write_only: bool = False,
        logger: logging.Logger | None = None,
        **options: Any,
    ) -> None:
        super().__init__(url, channel, write_only, logger, **options)
