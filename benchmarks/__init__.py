"""Benchmarks of realtime against Flask-SocketIO and Node's socket.io (``make bench``)."""
