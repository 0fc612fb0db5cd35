"""RabbitMQ (AMQP 0-9-1) as the broker, through kombu and py-amqp.

What exists on the broker, and why:

- one exchange (``realtime`` unless told otherwise), of type ``direct`` and
  durable, so it is there for publishers from the first message on and
  after a restart. It holds no messages.
- one queue per subscription, named ``<exchange>.<host>.<pid>.<random>``,
  exclusive, auto-deleted and not durable: it lives exactly as long as the
  connection of the process that listens on it. It is bound to the exchange
  once per channel, with the channel's name as the routing key.

A message published on a channel is copied by the exchange to every queue
bound with that channel's name: every subscriber gets it (fan-out, as with
Redis pub/sub), and a subscriber's channels share one queue, so what a
publisher sends reaches it in order whichever channel it took. Publishing
is mandatory and confirmed: RabbitMQ returns a message no queue took before
it confirms it, so :meth:`KombuBroker.publish` knows at once when nobody
listens on a channel (0), though not how many do when somebody does (None).

See https://www.rabbitmq.com/docs/confirms and
https://www.rabbitmq.com/docs/publishers#unroutable.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import queue
import socket
import ssl
import uuid
from collections.abc import Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

from realtime.exceptions import BrokerUnavailable, ConfigurationError
from realtime.socketio.managers.brokers.base import Broker, Reconnection, Subscriber

if TYPE_CHECKING:
    from realtime.async_modes import AsyncMode

__all__ = ["KombuBroker"]

#: URL scheme -> whether it means TLS.
_SCHEMES = {"amqp": False, "pyamqp": False, "amqps": True}
_FIRST_BACKOFF = 0.5
#: Seconds between reconnection attempts, at most.
_MAX_BACKOFF = 2.0
#: Seconds to open a connection (TCP and the AMQP handshake).
_CONNECT_TIMEOUT = 2.0
#: Seconds a publish may take, confirmation included, before the broker
#: counts as unavailable: a request never waits on a broker for longer.
_PUBLISH_TIMEOUT = 3.0
#: Seconds of silence after which either side takes a subscription for dead
#: (AMQP heartbeats; RabbitMQ closes after two missed ones).
_HEARTBEAT = 30
#: Seconds a listener waits for a message before it checks heartbeats and
#: whether the broker was closed.
_POLL = 1.0
#: AMQP routing keys and queue names are short strings.
_MAX_NAME = 255


class KombuBroker(Broker):
    """RabbitMQ through kombu, with py-amqp's sockets made cooperative.

    Args:
        url: ``amqp://user:password@host:port/vhost``; ``amqps://`` for TLS,
            ``pyamqp://`` as a synonym of ``amqp://`` (kombu's URL syntax).
        mode: the async mode.
        logger: where to report losing and finding the broker.
        exchange: the exchange every process of a deployment shares.
        publishers: how many connections may publish at once; a publish
            beyond waits for one of them (at most a few seconds).
        options: extra keyword arguments for ``kombu.Connection`` (``ssl``,
            ``login_method``, ``connect_timeout``, ``transport_options``...).

    Raises:
        ConfigurationError: kombu is missing, or the URL cannot be used.
    """

    def __init__(
        self,
        url: str,
        mode: AsyncMode,
        logger: logging.Logger,
        *,
        exchange: str = "realtime",
        publishers: int = 8,
        options: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(url, mode, logger)
        scheme = url.partition("://")[0].lower()
        if scheme not in _SCHEMES:
            raise ConfigurationError(f"the RabbitMQ broker does not serve {scheme}:// URLs")
        if not exchange:
            raise ConfigurationError("the RabbitMQ broker needs an exchange name")
        _check_name("exchange name", exchange)
        try:
            self._kombu = importlib.import_module("kombu")
            pyamqp = importlib.import_module("kombu.transport.pyamqp")
        except ImportError as exc:
            raise ConfigurationError(
                "an amqp:// message_queue needs the kombu package: pip install 'realtime[kombu]'"
            ) from exc
        # kombu loads its transports lazily, after any cooperative import
        # could reach them; the one module that opens sockets is swapped in
        # explicitly instead.
        sockets = mode.import_blocking("amqp.transport")
        self._transport = _cooperative_transport(pyamqp, sockets, tls=_SCHEMES[scheme])
        self._options = {"connect_timeout": _CONNECT_TIMEOUT, **(options or {})}
        if _SCHEMES[scheme] and not isinstance(self._options.get("ssl"), dict):
            self._options["ssl"] = _verified_tls()
        self._exchange = self._kombu.Exchange(
            exchange, type="direct", durable=True, auto_delete=False, delivery_mode=1
        )
        self._closed = False
        self._lock = mode.lock()
        #: Connections ready to publish, the most recently used last.
        self._idle: list[_Publisher] = []
        #: One token per connection that may publish: taken while publishing.
        self._permits = mode.queue()
        for _ in range(max(1, publishers)):
            self._permits.put(None)
        #: py-amqp connections of the running subscriptions.
        self._listening: list[Any] = []
        try:
            self._connection(heartbeat=0).info()
        except (ValueError, TypeError) as exc:
            raise ConfigurationError(f"bad message_queue URL {self.describe()}: {exc}") from exc

    # -- publishing ---------------------------------------------------------------

    def publish(self, channel: str, data: bytes) -> int | None:
        """Publish ``data`` on ``channel``: 0 if no subscriber took it, else None.

        AMQP tells a publisher that a message reached no queue, not how many
        it reached, hence None (unknown, at least one) otherwise.

        Raises:
            BrokerUnavailable: RabbitMQ cannot be reached, or did not confirm
                the message within a few seconds.
            ConfigurationError: ``channel`` is longer than AMQP allows.
        """
        _check_name("channel name", channel)
        try:
            self._permits.get(timeout=_PUBLISH_TIMEOUT)
        except queue.Empty:
            raise BrokerUnavailable(
                f"every connection publishing to {self.describe()} stayed busy "
                f"for {_PUBLISH_TIMEOUT} s"
            ) from None
        try:
            publisher = self._take_publisher()
            try:
                returned = publisher.publish(channel, data)
            except Exception as exc:
                # py-amqp reports a dead connection as OSError, its own
                # errors, and sometimes AttributeError; any of them means this
                # connection is done and the message was not confirmed.
                publisher.discard()
                raise BrokerUnavailable(f"cannot publish to {self.describe()}: {exc!r}") from exc
            self._give_back(publisher)
        finally:
            self._permits.put(None)
        return 0 if returned else None

    def _take_publisher(self) -> _Publisher:
        while True:
            with self._lock:
                publisher = self._idle.pop() if self._idle else None
            if publisher is None:
                return self._open_publisher()
            if publisher.alive():
                return publisher
            publisher.discard()

    def _give_back(self, publisher: _Publisher) -> None:
        with self._lock:
            if not self._closed:
                self._idle.append(publisher)
                return
        publisher.close()

    def _open_publisher(self) -> _Publisher:
        # Confirms make publish synchronous, like Redis's PUBLISH: one round
        # trip, after which the message is in every queue it routes to, so a
        # process publishing from several tasks over several connections
        # still keeps each task's messages in order.
        options = dict(self._options.get("transport_options") or {}, confirm_publish=True)
        connection = self._connection(heartbeat=0, transport_options=options)
        try:
            connection.ensure_connection(max_retries=0)
            publisher = _Publisher(connection)
            publisher.producer = self._kombu.Producer(
                connection.channel(), exchange=self._exchange, on_return=publisher.on_return
            )
        except Exception as exc:
            _collect(connection)
            raise BrokerUnavailable(f"cannot connect to {self.describe()}: {exc!r}") from exc
        return publisher

    def _connection(self, heartbeat: int, **overrides: Any) -> Any:
        """A new, unconnected ``kombu.Connection`` on the cooperative transport."""
        settings = {**self._options, **overrides, "heartbeat": heartbeat}
        return self._kombu.Connection(self.url, transport=self._transport, **settings)

    # -- listening ----------------------------------------------------------------

    def subscribe(self, channels: Sequence[str], subscriber: Subscriber) -> None:
        for channel in channels:
            _check_name("channel name", channel)
        self.mode.spawn(self._listen, list(channels), subscriber)

    def _listen(self, channels: list[str], subscriber: Subscriber) -> None:
        reconnection = Reconnection(self, _FIRST_BACKOFF, _MAX_BACKOFF)
        while not self._stopping():
            connection = self._connection(heartbeat=_HEARTBEAT)
            amqp = None
            try:
                connection.ensure_connection(max_retries=0)
                # py-amqp's own connection, driven directly: kombu's wrapper
                # would reconnect by itself, sleeping where the async mode
                # cannot see it.
                amqp = connection.connection
                with self._lock:
                    self._listening.append(amqp)
                self._consume(connection, channels, subscriber)
                if self._stopping():
                    return
                reconnection.up(subscriber)
                while not self._stopping():
                    with contextlib.suppress(TimeoutError):
                        amqp.drain_events(timeout=_POLL)
                    amqp.heartbeat_tick()
            except Exception as exc:
                # Whatever py-amqp raises here (connection closed by the
                # broker, reset, heartbeats missed) means: reconnect.
                if self._stopping():
                    return
                reconnection.down(subscriber, exc)
            finally:
                if amqp is not None:
                    with self._lock:
                        self._listening.remove(amqp)
                _collect(connection)

    def _consume(self, connection: Any, channels: list[str], subscriber: Subscriber) -> None:
        """Declare this subscription's queue, bind it and start consuming.

        Once this returns, RabbitMQ routes every message published on
        ``channels`` to the queue.
        """
        kombu = self._kombu
        # A fresh name each time: the queue of a connection the broker has
        # not noticed is dead yet still holds the old one.
        name = f"{self._exchange.name}.{_host()}.{os.getpid()}.{uuid.uuid4().hex[:12]}"
        subscription = kombu.Queue(
            name[:_MAX_NAME],
            bindings=[kombu.binding(self._exchange, routing_key=c) for c in channels],
            exclusive=True,
            auto_delete=True,
            durable=False,
        )

        def deliver(message: Any) -> None:
            # py-amqp leaves the body of an empty message as "".
            data = message.body or b""
            try:
                subscriber.message(message.delivery_info["routing_key"], data)
            except Exception:
                self.logger.exception("error handling a broker message")

        kombu.Consumer(
            connection.channel(), queues=[subscription], no_ack=True, on_message=deliver
        ).consume()

    def _stopping(self) -> bool:
        # A method, not the attribute: close() flips it from another task.
        return self._closed

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
            listening = list(self._listening)
        for amqp in listening:
            # Wakes the listener, which sees the broker closed and stops. A
            # socket shutdown is safe from any task, unlike the AMQP close
            # handshake, which would read concurrently with the listener.
            with contextlib.suppress(Exception):
                amqp.transport.sock.shutdown(socket.SHUT_RDWR)
        for publisher in idle:
            publisher.close()


class _Publisher:
    """One connection and channel publishing with confirms, used by one task at a time."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        # py-amqp's connection, for checks that must not make kombu reconnect.
        self.amqp = connection.connection
        self.producer: Any = None
        self.returned = False

    def on_return(self, exc: Exception, exchange: str, routing_key: str, message: Any) -> None:
        # RabbitMQ returns an unroutable mandatory message before confirming it.
        self.returned = True

    def publish(self, channel: str, data: bytes) -> bool:
        """Publish; True if no queue took the message."""
        self.returned = False
        self.producer.publish(
            data,
            routing_key=channel,
            mandatory=True,
            content_type="application/octet-stream",
            content_encoding="binary",
            timeout=_PUBLISH_TIMEOUT,
        )
        return self.returned

    def alive(self) -> bool:
        """False when the broker closed this idle connection (a restart, say).

        Reads what arrived without waiting: a close from the broker or the
        end of the stream shows here, before a message is lost to it.
        """
        if not self.amqp.connected:
            return False
        try:
            self.amqp.drain_events(timeout=0)
        except TimeoutError:
            return True
        except Exception:
            return False
        return True

    def close(self) -> None:
        """Close politely, for a connection that is fine."""
        try:
            # The close handshake waits for the broker's answer; not forever.
            self.amqp.transport.sock.settimeout(_CONNECT_TIMEOUT)
            self.connection.release()
        except Exception:
            self.discard()

    def discard(self) -> None:
        """Drop a connection that failed, without talking to the broker."""
        _collect(self.connection)


def _cooperative_transport(pyamqp: ModuleType, sockets: ModuleType, *, tls: bool) -> type[Any]:
    """kombu's py-amqp transport, opening its sockets with ``sockets.Transport``.

    ``sockets`` is ``amqp.transport`` as the async mode imported it: with
    eventlet's green sockets, or as it is (gevent patches the process).
    """

    def open_socket(
        self: Any,
        host: str,
        connect_timeout: float | None,
        ssl: Any = False,
        read_timeout: float | None = None,
        write_timeout: float | None = None,
        socket_settings: Any = None,
        **kwargs: Any,
    ) -> Any:
        # amqp.Connection.Transport's signature; py-amqp passes these by position.
        return sockets.Transport(
            host,
            connect_timeout=connect_timeout,
            ssl=ssl,
            read_timeout=read_timeout,
            write_timeout=write_timeout,
            socket_settings=socket_settings,
            **kwargs,
        )

    connection = type("CooperativeConnection", (pyamqp.Connection,), {"Transport": open_socket})
    base = pyamqp.SSLTransport if tls else pyamqp.Transport
    return type("CooperativeTransport", (base,), {"Connection": connection})


def _verified_tls() -> dict[str, Any]:
    """py-amqp TLS settings that check the broker's certificate and name.

    py-amqp's plain ``ssl=True`` loads no CA certificates (so it accepts no
    certificate at all) and checks no host name; a context from
    ``ssl.create_default_context`` trusts the system's CAs (or
    ``SSL_CERT_FILE``) and checks the name, which kombu fills in.
    """
    return {
        "context": {"purpose": ssl.Purpose.SERVER_AUTH, "check_hostname": True},
        "server_hostname": None,
    }


def _collect(connection: Any) -> None:
    """Close ``connection``'s socket without the AMQP handshake."""
    with contextlib.suppress(Exception):
        connection.collect()


def _check_name(what: str, name: str) -> None:
    if len(name.encode()) > _MAX_NAME:
        raise ConfigurationError(f"an AMQP {what} has at most {_MAX_NAME} bytes: {name[:40]!r}...")


def _host() -> str:
    return socket.gethostname()[:64] or "host"
