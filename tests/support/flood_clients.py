"""Clients of the flood app (:mod:`tests.support.flood_app`)."""

from __future__ import annotations

import requests
import socketio

from tests.support.peer import InOrder


def ordered_client(url: str, transport: str) -> socketio.Client:
    """A connected python-socketio client on ``transport`` that handles its
    messages in arrival order, with a long request timeout."""
    client = socketio.Client(reconnection=False, request_timeout=30)
    InOrder(client)
    client.connect(url, transports=[transport], wait_timeout=20)
    return client


def flood_stats(url: str, sid: str) -> dict[str, object]:
    """What the process at ``url`` saw of client ``sid`` (``GET /flood/stats``)."""
    answer = requests.get(f"{url}/flood/stats", params={"sid": sid}, timeout=10)
    got: dict[str, object] = answer.json()
    return got
