"""Web Push in the Socket.IO server: users, their subscriptions, and the offline fallback.

What :class:`realtime.Server` takes from :mod:`realtime.push` (see
docs/push.md):

- ``Server(web_push={"private_key": ..., "subject": ...})`` makes
  :attr:`~WebPushAPI.push`, a :class:`~realtime.push.WebPush` on the
  server's async mode, keeping subscriptions in Redis when the message queue
  is a Redis URL.
- A socket is tied to a user by :meth:`~WebPushAPI.set_user`, which puts it
  in the user's room, ``user:<user>`` (:func:`user_room`): an emit there
  reaches every tab of the user, on every process, and the room survives
  connection state recovery like any other.
- The client's ``io.push.subscribe(socket)`` asks for the public key and
  hands over its subscription with the ``realtime:push`` event; the server
  answers it for the socket's user, and refuses it for a socket tied to no
  user. ``{op: "resubscribe", subscription, oldEndpoint}`` replaces one (the
  service worker's ``pushsubscriptionchange``, passed on by a page).
- :meth:`~WebPushAPI.emit_to_user` emits to the user's room and, when no
  live connection of the user is in it (in any process), sends a push
  instead: the message given with the emit, or the one a handler
  registered with :meth:`~WebPushAPI.push_fallback` maps the event to.
- With connection state recovery, that push waits while a connection of
  the user that dropped may still be recovered: :class:`RecoveryWindows`
  (a monitor of the dispatcher) tells the push's holds
  (:mod:`realtime.push.held`) when a user's socket drops and when one comes
  back; a held push is sent when the last window closed, unless one of them
  came back (and got the event replayed) or the user is live again.
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeAlias

from realtime.exceptions import BrokerUnavailable, ConfigurationError
from realtime.socketio.managers.pubsub import PubSubManager

if TYPE_CHECKING:
    # realtime.push (and the cryptography package under it) is loaded only
    # by a server that has the web_push option.
    from realtime.async_modes import AsyncMode
    from realtime.engine import DisconnectReason
    from realtime.engine.outgoing import Outgoing
    from realtime.protocol.engineio import EngineSid
    from realtime.push import Message, PushResult, WebPush
    from realtime.push.held import HeldPush
    from realtime.push.webpush import Urgency
    from realtime.socketio.clients import Socket
    from realtime.socketio.dispatch import Dispatcher
    from realtime.socketio.handlers import HandlerRegistry
    from realtime.socketio.managers.base import Manager
    from realtime.socketio.recovery.log import RecoveryLog

__all__ = [
    "PUSH_EVENT",
    "USER_ROOM_PREFIX",
    "FallbackHandler",
    "RecoveryWindows",
    "WebPushAPI",
    "WebPushOption",
    "user_room",
]

#: The event the client's ``io.push`` API sends (``op``: key, subscribe, unsubscribe, resubscribe).
PUSH_EVENT = "realtime:push"
#: The prefix of a user's room.
USER_ROOM_PREFIX = "user:"
#: Maps an event to a user nobody could get into a push message, or None for none:
#: ``fn(user, event, data)``.
FallbackHandler: TypeAlias = "Callable[[str, str, Any], Message | None]"
#: What the ``web_push`` option takes.
WebPushOption: TypeAlias = "Mapping[str, Any] | WebPush | None"
#: The question one process asks the others: is anyone of this room here?
_LIVE_QUERY = "push.live"
#: Seconds to wait for the other processes' answers.
_LIVE_TIMEOUT = 2.0

logger = logging.getLogger("realtime.push")


def user_room(user: str) -> str:
    """The room of ``user``'s connections: ``"user:" + user``."""
    return USER_ROOM_PREFIX + user


def make_web_push(
    option: Mapping[str, Any] | WebPush | None,
    mode: AsyncMode,
    message_queue: str | None,
    channel: str,
) -> WebPush | None:
    """The server's :class:`WebPush` for its ``web_push`` option (None without one).

    Subscriptions go to Redis when the message queue is a Redis URL (unless
    the option names a ``redis_url`` or a ``store`` of its own).

    Raises:
        ConfigurationError: the option cannot work.
    """
    if option is None:
        return None
    try:
        push = importlib.import_module("realtime.push")
    except ImportError as exc:
        raise ConfigurationError(
            f"web_push needs the push extra: pip install 'realtime[push]' ({exc})"
        ) from exc
    if isinstance(option, push.WebPush):
        given: WebPush = option
        return given
    if not isinstance(option, Mapping) or "private_key" not in option or "subject" not in option:
        raise ConfigurationError(
            'web_push takes {"private_key": ..., "subject": "mailto:..."} (and optionally '
            "the other options of realtime.push.WebPush), or a realtime.push.WebPush"
        )
    settings = dict(option)
    queue = (message_queue or "").partition("://")[0].lower()
    if "store" not in settings and "redis_url" not in settings and queue in {"redis", "rediss"}:
        settings["redis_url"] = message_queue
    settings.setdefault("key_prefix", f"{channel}:push")
    try:
        made: WebPush = push.WebPush(async_mode=mode, **settings)
    except TypeError as exc:
        raise ConfigurationError(f"web_push: {exc}") from exc
    return made


class WebPushAPI:
    """Web Push on :class:`realtime.Server` (a base class of it)."""

    manager: Manager
    mode: AsyncMode
    handlers: HandlerRegistry
    _push: WebPush | None
    _push_fallback: FallbackHandler | None
    _recovery: RecoveryLog | None
    _dispatcher: Dispatcher

    if TYPE_CHECKING:
        # The server's own methods.
        def enter_room(self, sid: str, room: str, namespace: str | None = None) -> None: ...
        def leave_room(self, sid: str, room: str, namespace: str | None = None) -> None: ...
        def rooms(self, sid: str, namespace: str | None = None) -> list[str]: ...
        def emit(
            self, event: str, data: Any = None, *, to: Any = None, namespace: str | None = None
        ) -> None: ...

    def _setup_web_push(
        self,
        option: Mapping[str, Any] | WebPush | None,
        message_queue: str | None,
        channel: str,
    ) -> None:
        self._push = make_web_push(option, self.mode, message_queue, channel)
        self._push_fallback = None
        if self._push is None:
            return
        # The default namespace's own handler (which a catch-all handler of
        # the application does not shadow), and every other namespace's.
        self.handlers.add(
            "/", PUSH_EVENT, lambda sid, request=None: self._on_push_event("/", sid, request)
        )
        self.handlers.add("*", PUSH_EVENT, self._on_push_event)
        if isinstance(self.manager, PubSubManager):
            self.manager.queries.serve(_LIVE_QUERY, self._answer_live)
        if self._recovery is not None:
            window = self._recovery.options.max_disconnection_duration
            self._dispatcher.monitors.add(
                RecoveryWindows(self._push, self.manager, self.mode, window)
            )
            self._push.holds.start(self._still_unreached)

    @property
    def push(self) -> WebPush:
        """The server's :class:`~realtime.push.WebPush` (the ``web_push`` option).

        Raises:
            ConfigurationError: the server has no ``web_push`` option.
        """
        if self._push is None:
            raise ConfigurationError(
                'Web Push is not configured: pass web_push={"private_key": ..., '
                '"subject": "mailto:..."} (python -m realtime.push makes a key)'
            )
        return self._push

    # -- users ---------------------------------------------------------------

    def set_user(self, sid: str, user: str, namespace: str | None = None) -> None:
        """Tie client ``sid`` to ``user`` (in the user's room, leaving another user's).

        Call it once the client is known (in the connect handler, after its
        credentials were checked): the client's ``io.push`` calls then
        subscribe this user, and :meth:`emit_to_user` reaches it.
        """
        if not isinstance(user, str) or not user:
            raise ConfigurationError(f"a user is a non-empty string, not {user!r}")
        for room in self.rooms(sid, namespace):
            if room.startswith(USER_ROOM_PREFIX) and room != user_room(user):
                self.leave_room(sid, room, namespace)
        self.enter_room(sid, user_room(user), namespace)

    def user_of(self, sid: str, namespace: str | None = None) -> str | None:
        """The user client ``sid`` was tied to with :meth:`set_user`, or None."""
        for room in self.rooms(sid, namespace):
            if room.startswith(USER_ROOM_PREFIX):
                return room[len(USER_ROOM_PREFIX) :]
        return None

    def user_is_connected(self, user: str, namespace: str | None = None) -> bool:
        """Whether a live connection of ``user`` is in ``namespace``, in any process.

        A client that dropped and may still come back with connection state
        recovery is not live.
        """
        namespace = namespace or "/"
        if self.manager.members(namespace, [user_room(user)]):
            return True
        if not isinstance(self.manager, PubSubManager) or not self.manager.clustered:
            return False
        try:
            answers = self.manager.queries.ask_all(
                _LIVE_QUERY,
                {"ns": namespace, "room": user_room(user)},
                _LIVE_TIMEOUT,
                enough=lambda answer: bool(answer.answer and answer.answer.get("live")),
            )
        except BrokerUnavailable:
            # Without the others' word, better a push too many than none.
            return False
        return any(a.answer and a.answer.get("live") for a in answers.answers)

    def _answer_live(self, question: dict[str, Any]) -> dict[str, Any] | None:
        namespace, room = str(question.get("ns", "/")), str(question.get("room", ""))
        return {"live": bool(self.manager.members(namespace, [room]))} if room else None

    # -- the fallback ----------------------------------------------------------

    def push_fallback(self, handler: FallbackHandler) -> FallbackHandler:
        """Register ``handler(user, event, data)``: the push for an event nobody got.

        Used by :meth:`emit_to_user` when it is given no ``push`` message:
        the handler returns the message (a dict, sent as JSON to the service
        worker: ``title``, ``body``, ``url``, ``tag``, ``data``...) or None
        for no push. Usable as a decorator.
        """
        self._push_fallback = handler
        return handler

    def emit_to_user(
        self,
        user: str,
        event: str,
        data: Any = None,
        namespace: str | None = None,
        push: Message | bool | None = None,
        ttl: int = 3600,
        urgency: Urgency = "normal",
        delay: float | None = None,
    ) -> bool:
        """Emit to every connection of ``user``; a push when none is live.

        Args:
            user: whose connections (see :meth:`set_user`).
            event, data, namespace: as :meth:`emit` takes them.
            push: the push message when no connection is live; None to ask
                the :meth:`push_fallback` handler (no push without one);
                False for no push.
            ttl, urgency: the push's (see :meth:`realtime.push.WebPush.send`).
            delay: None (the default): push at once; but with connection
                state recovery, while a connection of the user that dropped
                may still be recovered, hold the push until its window
                closed, and send it only if it did not come back (with the
                event replayed) and the user is still not live. A number:
                wait that many seconds (0: none), then push only if still no
                connection of the user is live (recovery windows aside).

        Returns:
            True when a live connection got the event, False when a push was
            sent (or would have been) instead.

        Raises:
            PushMessageTooLarge: the push message is too large for a push.
            ConfigurationError: a push is due but the server has no
                ``web_push`` option.
        """
        namespace = namespace or "/"
        self.emit(event, data, to=user_room(user), namespace=namespace)
        if self.user_is_connected(user, namespace):
            return True
        if push is False:
            return False
        message: Message | None
        if push is None or push is True:
            handler = self._push_fallback
            message = handler(user, event, data) if handler is not None else None
        else:
            message = push
        if message is None:
            return False
        push_to = self.push
        if delay is None and self._recovery is not None:
            windows = self._recovery_windows(push_to, namespace, user)
            if windows:
                push_to.hold(
                    user, message, windows=windows, scope=namespace, ttl=ttl, urgency=urgency
                )
                return False
        if not delay or delay <= 0:
            push_to.send_later(user, message, ttl=ttl, urgency=urgency, callback=_log_results)
            return False
        push_to.check(message, ttl, urgency)
        wait = delay

        def later(pushed: Message) -> None:
            self.mode.sleep(wait)
            try:
                if not self.user_is_connected(user, namespace):
                    _log_results(push_to.send(user, pushed, ttl=ttl, urgency=urgency))
            except Exception:
                logger.exception("push to user %r failed", user)

        self.mode.spawn(later, message)
        return False

    @staticmethod
    def _recovery_windows(push: WebPush, namespace: str, user: str) -> dict[str, float]:
        try:
            return push.holds.store.windows(namespace, user, time.time())
        except Exception:
            # Without the store's word, better a push too many than none.
            logger.warning("recovery windows of %r cannot be read; pushing now", user)
            return {}

    def _still_unreached(self, held: HeldPush) -> bool:
        """A held push is due: still send it unless the user is live again."""
        return not self.user_is_connected(held.user, held.scope)

    # -- the client's requests ---------------------------------------------------

    def _on_push_event(self, namespace: str, sid: str, request: Any = None) -> dict[str, Any]:
        push = self.push
        if not isinstance(request, dict) or request.get("op") not in {
            "key",
            "subscribe",
            "unsubscribe",
            "resubscribe",
        }:
            return {"error": "expected {op: 'key' | 'subscribe' | 'unsubscribe' | 'resubscribe'}"}
        if request["op"] == "key":
            return {"publicKey": push.public_key}
        user = self.user_of(sid, namespace)
        if user is None:
            return {"error": "this connection is tied to no user (set_user)"}
        if request["op"] == "unsubscribe":
            endpoint = request.get("endpoint")
            if not isinstance(endpoint, str):
                return {"error": "unsubscribe needs an endpoint"}
            return {"removed": push.unsubscribe(user, endpoint)}
        subscription = request.get("subscription")
        if not isinstance(subscription, dict):
            return {"error": "subscribe needs a subscription (PushSubscription.toJSON())"}
        old_endpoint = request.get("oldEndpoint") if request["op"] == "resubscribe" else None
        try:
            if isinstance(old_endpoint, str):
                push.resubscribe(user, subscription, old_endpoint)
            else:
                push.subscribe(user, subscription)
        except ValueError as exc:  # InvalidSubscription
            return {"error": getattr(exc, "reason", str(exc))}
        return {"subscribed": True}


class RecoveryWindows:
    """Tells the push holds when a user's socket drops recoverably, and when one comes back.

    A monitor of the dispatcher (:class:`~realtime.socketio.monitoring.Monitor`),
    on a server with connection state recovery and ``web_push``. A socket in
    a user's room that drops for a reason recovery covers opens a window of
    ``max_disconnection_duration`` seconds; a socket that resumes closes its
    own and is noted as back. A shared store is written from a task of its
    own (a monitor must not wait).

    Args:
        push: the server's WebPush (its ``holds``).
        manager: the rooms of a resumed socket.
        mode: the async mode.
        window: ``max_disconnection_duration``.
    """

    def __init__(self, push: WebPush, manager: Manager, mode: AsyncMode, window: float) -> None:
        self._store = push.holds.store
        self._manager = manager
        self._mode = mode
        self._window = window

    def _write(self, fn: Callable[..., None], *args: Any) -> None:
        if not self._store.shared:
            fn(*args)
            return

        def write() -> None:
            try:
                fn(*args)
            except Exception:
                logger.warning("cannot note a recovery window for push", exc_info=True)

        self._mode.spawn(write)

    def socket_disconnected(self, socket: Socket, reason: DisconnectReason) -> None:
        if socket.pid is None or not socket.dropped:
            return
        user = _user_in(socket.rooms_at_exit)
        if user is not None:
            until = time.time() + self._window
            self._write(self._store.opened, socket.namespace, user, socket.pid, until)

    def socket_connected(self, socket: Socket) -> None:
        if socket.pid is None or not socket.recovered:
            return
        user = _user_in(self._manager.rooms(socket.namespace, socket.sid))
        if user is not None:
            keep = self._window + GRACE_AFTER
            now = time.time()
            self._write(self._store.came_back, socket.namespace, user, socket.pid, now, keep)

    # The other moments are not this monitor's.
    def session_opened(self, eio_sid: EngineSid, environ: dict[str, Any]) -> None:
        pass

    def session_closed(self, eio_sid: EngineSid, reason: DisconnectReason) -> None:
        pass

    def message_received(self, eio_sid: EngineSid, size: int) -> None:
        pass

    def event_received(self, socket: Socket) -> None:
        pass

    def delivered(self, namespace: str, eio_sid: EngineSid, outgoing: Outgoing) -> None:
        pass

    def recovery_attempted(self, namespace: str, recovered: bool) -> None:
        pass


#: Seconds a comeback is remembered beyond a window (a held push's grace, with room).
GRACE_AFTER = 60.0


def _user_in(rooms: list[str]) -> str | None:
    for room in rooms:
        if room.startswith(USER_ROOM_PREFIX):
            return room[len(USER_ROOM_PREFIX) :]
    return None


def _log_results(results: list[PushResult]) -> None:
    for result in results:
        if not result.ok:
            logger.info("push to %s: %s", result.endpoint, result.reason)
