"""Async modes: eventlet, gevent and threading behind one interface.

:func:`get_async_mode` picks one by name, or the best installed one.
"""

from __future__ import annotations

import importlib
import importlib.util
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
_lock = threading.Lock()


def get_async_mode(name: str | None = None) -> AsyncMode:
    """Return the async mode called ``name``, or the best available one.

    With no name: inside a gunicorn worker, the mode matching the worker
    class; in a process monkey patched by gevent or eventlet, that library's
    mode; otherwise eventlet if installed, then gevent, then threading.

    Raises:
        ConfigurationError: the named mode is unknown or not installed.
    """
    if name is None:
        name = _gunicorn_worker_mode() or patched_mode() or _first_installed()
    if name not in _CLASSES:
        raise ConfigurationError(f"unknown async_mode {name!r}; choose one of {', '.join(MODES)}")
    with _lock:
        mode = _instances.get(name)
        if mode is None:
            module_name, class_name = _CLASSES[name]
            try:
                module = importlib.import_module(module_name)
            except ImportError as exc:
                raise ConfigurationError(
                    f"async_mode {name!r} needs the {name} package: pip install 'realtime[{name}]'"
                ) from exc
            mode = getattr(module, class_name)()
            _instances[name] = mode
        return mode


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


def _first_installed() -> str:
    for name in ("eventlet", "gevent"):
        if importlib.util.find_spec(name) is not None:
            return name
    return "threading"
