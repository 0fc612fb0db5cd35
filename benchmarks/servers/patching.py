"""Monkey patching first thing, as eventlet's and gevent's documentation say.

A user's app file starts with ``import eventlet; eventlet.monkey_patch()``
(or gevent's ``monkey.patch_all()``) before importing anything else. The
benchmark's Flask apps take their mode on the command line, so they call
:func:`patch_for_command_line` as their first statement instead; it imports
nothing but the standard library's ``sys`` before patching.
"""

from __future__ import annotations

import sys


def mode_on_command_line(default: str = "eventlet") -> str:
    """The value of ``--mode`` (``--mode M`` or ``--mode=M``) in ``sys.argv``."""
    argv = sys.argv[1:]
    for index, arg in enumerate(argv):
        if arg == "--mode" and index + 1 < len(argv):
            return argv[index + 1]
        if arg.startswith("--mode="):
            return arg.split("=", 1)[1]
    return default


def patch_for_command_line() -> str:
    """Monkey patch the standard library for the ``--mode`` asked for; return the mode."""
    mode = mode_on_command_line()
    if mode == "eventlet":
        import eventlet

        eventlet.monkey_patch()
    elif mode == "gevent":
        from gevent import monkey

        monkey.patch_all()
    return mode
