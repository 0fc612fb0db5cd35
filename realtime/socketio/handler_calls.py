"""How the server calls application code: flags a call runs under.

A handler may run inline, on the task that read its packet (``async_handlers``
off, or a test client), and an in-process test client wants what a handler
raises rather than a log line; both are told through context variables set
around the call. A ``TypeError`` from the call itself (the client sent more
or fewer arguments than the handler takes) is the client's mistake, logged
in one line (:func:`arity_mismatch`).
"""

from __future__ import annotations

import contextlib
import contextvars
import re
from collections.abc import Iterator

__all__ = ["INLINE", "RAISING", "arity_mismatch", "handler_errors_raise", "in_inline_handler"]

#: True while a handler runs inline, on the task that read its packet.
INLINE: contextvars.ContextVar[bool] = contextvars.ContextVar("realtime_inline", default=False)


def in_inline_handler() -> bool:
    """True inside a handler run inline: the reading task is busy with it, so
    nothing more (an acknowledgement, say) can arrive from that client."""
    return INLINE.get()


#: True while an in-process test client sends: what handlers raise reaches it.
RAISING: contextvars.ContextVar[bool] = contextvars.ContextVar("realtime_raising", default=False)


@contextlib.contextmanager
def handler_errors_raise() -> Iterator[None]:
    """Within this block, on this task, an exception a handler raises (and
    the application's error handlers did not take) propagates to the caller
    instead of being logged: how a test client learns that a handler broke,
    as with Flask-SocketIO's. Handlers must run inline (``async_handlers``
    off), as they do for a test client."""
    token = RAISING.set(True)
    try:
        yield
    finally:
        RAISING.reset(token)


#: What Python says when a function is called with arguments it does not take.
_ARITY = re.compile(r"\(\) (?:takes|missing|got an unexpected|got multiple)")


def arity_mismatch(exc: BaseException) -> bool:
    """Whether ``exc`` says a handler was called with arguments it does not
    take (the client sent too many or too few), rather than that something
    inside it failed: a TypeError raised by the call itself, in this
    package's code, worded as Python words it."""
    if not isinstance(exc, TypeError):
        return False
    tb = exc.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    module = str(tb.tb_frame.f_globals.get("__name__", ""))
    return module.startswith("realtime.") and _ARITY.search(str(exc)) is not None
