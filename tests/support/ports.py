"""Ports for test programs to listen on."""

from __future__ import annotations

import random
import socket
from pathlib import Path

__all__ = ["free_port"]


def free_port() -> int:
    """A free port for a program to listen on, below the kernel's ephemeral range.

    The program binds it later (and again after a reloader restart); an
    outgoing connection of another test could take a port of the ephemeral
    range meanwhile, as its local port, and the bind would then fail.
    """
    low = _ephemeral_range_start()
    rng = random.SystemRandom()
    for _ in range(200):
        port = rng.randrange(20_000, low)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port between 20000 and {low}")


def _ephemeral_range_start() -> int:
    try:
        text = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text()
        low = int(text.split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768
    return low if low > 21_000 else 32_768
