"""Transports: how Engine.IO packets travel over HTTP."""

from realtime.engine.transports.base import Transport
from realtime.engine.transports.polling import PollingTransport
from realtime.engine.transports.sse_streaming import SseTransport, StreamingTransport
from realtime.engine.transports.websocket import WebSocketTransport

__all__ = [
    "PollingTransport",
    "SseTransport",
    "StreamingTransport",
    "Transport",
    "WebSocketTransport",
]
