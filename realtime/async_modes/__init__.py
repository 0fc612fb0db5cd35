"""Async modes: eventlet, gevent and threading behind one interface.

:func:`get_async_mode` picks one by name, or the best installed one.
"""

from __future__ import annotations

import importlib
import logging
import sys
import threading

from realtime.async_modes.base import (
    GC_THRESHOLDS,
    AsyncMode,
    EmbeddedServer,
    ServerOptions,
    short_lock,
)
from realtime.exceptions import ConfigurationError

__all__ = [
    "GC_THRESHOLDS",
    "MODES",
    "AsyncMode",
    "EmbeddedServer",
    "ServerOptions",
    "get_async_mode",
    "patched_mode",
    "short_lock",
    "under_gunicorn",
]

#: Mode names, in the order they are tried when none is asked for.
MODES = ("eventlet", "gevent", "threading")

_CLASSES = {
    "eventlet": ("realtime.async_modes.eventlet_mode", "EventletMode"),
    "gevent": ("realtime.async_modes.gevent_mode", "GeventMode"),
    "threading": ("realtime.async_modes.threading_mode", "ThreadingMode"),
}
_instances: dict[str, AsyncMode] = {}
#: Modes whose library failed to import, and why (tried once per process).
_failures: dict[str, ModeUnavailable] = {}
#: Modes skipped with a warning already.
_warned: set[str] = set()
_lock = threading.Lock()
logger = logging.getLogger("realtime")


def get_async_mode(name: str | None = None) -> AsyncMode:
    """Return the async mode called ``name``, or the best available one.

    With no name: inside a gunicorn worker, the mode matching the worker
    class; in a process monkey patched by gevent or eventlet, that library's
    mode; otherwise eventlet if it imports, then gevent, then threading. A
    library that is installed but fails to import (a broken install, or one
    that does not support this Python yet) is skipped with one warning that
    names the error, as python-engineio does.

    Raises:
        ConfigurationError: the named mode is unknown, not installed, or
            fails to import (the message carries the import error).
    """
    if name is None:
        bound = _gunicorn_worker_mode() or patched_mode()
        if bound is None:
            return _first_that_imports()
        name = bound
    if name not in _CLASSES:
        raise ConfigurationError(f"unknown async_mode {name!r}; choose one of {', '.join(MODES)}")
    try:
        return _load(name)
    except ModeUnavailable as exc:
        raise ConfigurationError(str(exc)) from exc.__cause__


class ModeUnavailable(Exception):
    """An async mode's library is missing or fails to import."""


def _load(name: str) -> AsyncMode:
    """The instance of mode ``name``, made once.

    Raises:
        ModeUnavailable: its library is missing or fails to import.
    """
    with _lock:
        mode = _instances.get(name)
        if mode is not None:
            return mode
        failure = _failures.get(name)
        if failure is not None:
            raise failure
        module_name, class_name = _CLASSES[name]
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:  # a broken install raises more than ImportError
            failure = _unavailable(name, exc)
            _failures[name] = failure
            raise failure from exc
        made: AsyncMode = getattr(module, class_name)()
        _instances[name] = made
        return made


def _unavailable(name: str, exc: Exception) -> ModeUnavailable:
    missing = exc.name if isinstance(exc, ModuleNotFoundError) else None
    if missing is not None and (missing == name or missing.startswith(f"{name}.")):
        return ModeUnavailable(
            f"async_mode {name!r} needs the {name} package: pip install 'realtime[{name}]'"
        )
    return ModeUnavailable(
        f"async_mode {name!r}: the {name} package is installed but failed to import "
        f"({type(exc).__name__}: {exc})"
    )


def _first_that_imports() -> AsyncMode:
    for name in MODES:
        try:
            return _load(name)
        except ModeUnavailable as exc:
            if "is installed but failed to import" in str(exc) and name not in _warned:
                _warned.add(name)
                logger.warning("%s; trying the next async mode", exc)
    raise AssertionError("threading mode always imports")  # pragma: no cover


#: gunicorn worker modules, and the mode a process running them needs.
_GUNICORN_WORKERS = {
    "gunicorn.workers.ggevent": "gevent",
    "gunicorn.workers.geventlet": "eventlet",
    "gunicorn.workers.gthread": "threading",
    "gunicorn.workers.sync": "threading",
}


def _gunicorn_worker_mode() -> str | None:
    # gunicorn imports its worker class before it loads the app, so the
    # worker module is already there when the app builds its server.
    for module, mode in _GUNICORN_WORKERS.items():
        if module in sys.modules:
            return mode
    return None


def under_gunicorn() -> bool:
    """True in a gunicorn worker process (or its master, with ``--preload``)."""
    return _gunicorn_worker_mode() is not None


def patched_mode() -> str | None:
    gevent_monkey = sys.modules.get("gevent.monkey")
    if gevent_monkey is not None and gevent_monkey.is_module_patched("socket"):
        return "gevent"
    eventlet_patcher = sys.modules.get("eventlet.patcher")
    if eventlet_patcher is not None and eventlet_patcher.is_monkey_patched("socket"):
        return "eventlet"
    return None
