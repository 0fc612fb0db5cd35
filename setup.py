"""Packaging for realtime (metadata here, build system and tool settings in
pyproject.toml)."""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent

EXTRAS = {
    "eventlet": ["eventlet>=0.36"],
    "gevent": ["gevent>=23.9"],
    "flask": ["flask>=2.3"],
    "redis": ["redis>=5", "msgpack>=1.0"],
    "msgpack": ["msgpack>=1.0"],
    "kombu": ["kombu>=5.3", "msgpack>=1.0"],
    # Web Push (realtime.push): keys, VAPID signatures and aes128gcm.
    "push": ["cryptography>=42"],
    # Prometheus metrics (metrics_path=, realtime.socketio.metrics).
    "metrics": ["prometheus_client>=0.17"],
}
# The benchmarks measure against Flask-SocketIO in each async mode (with the
# WebSocket packages its documentation asks for on gevent and threading) and
# Node's socket.io (from benchmarks/node), run the Flask app under gunicorn,
# plot the results and profile the server.
EXTRAS["bench"] = sorted(
    {
        *EXTRAS["eventlet"],
        *EXTRAS["gevent"],
        *EXTRAS["flask"],
        "Flask-SocketIO>=5.7,<6",
        "gevent-websocket>=0.10.1",
        "simple-websocket>=1.0",
        "gunicorn>=23",
        "matplotlib>=3.8",
        "py-spy>=0.3.14",
    }
)
EXTRAS["test"] = sorted(
    {
        *EXTRAS["eventlet"],
        *EXTRAS["gevent"],
        *EXTRAS["flask"],
        *EXTRAS["msgpack"],
        *EXTRAS["redis"],
        *EXTRAS["kombu"],
        *EXTRAS["push"],
        *EXTRAS["metrics"],
        # The reference aes128gcm implementation, which the tests decrypt
        # realtime.push's messages with.
        "http_ece>=1.2",
        # docs/flask/migration.md's tables are checked against it
        # (tests/flask_integration/test_migration_table.py).
        "Flask-SocketIO>=5.7,<6",
        # async def handlers run as Flask runs async views (flask[async]).
        "asgiref>=3.2",
        "gunicorn>=23",
        "hypothesis>=6.100",
        "mypy>=1.10",
        "playwright>=1.45",
        "pytest>=8",
        "pytest-timeout>=2.3",
        "pytest-xdist>=3.5",
        "python-engineio[client]>=4.9",
        "python-socketio[client]>=5.11",
        "requests>=2.31",
        "ruff>=0.6",
        "websocket-client>=1.7",
        "myst-parser>=3",
        "sphinx>=7.3",
    }
)

setup(
    name="realtime",
    version="0.1.0.dev0",
    description=(
        "Two-way real-time communication for Flask and WSGI apps: an "
        "Engine.IO v4 / Socket.IO v5 compatible server"
    ),
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.11",
    packages=find_packages(include=["realtime", "realtime.*"]),
    # static/* is the files of realtime/static, not its build/ folder (the
    # scripts that generate some of them, and their node_modules).
    package_data={"realtime": ["py.typed", "static/*"]},
    install_requires=["websockets>=13", "orjson>=3.9", "werkzeug>=3.0"],
    extras_require=EXTRAS,
    classifiers=[
        "Framework :: Flask",
        "Programming Language :: Python :: 3",
        "Topic :: Internet :: WWW/HTTP :: WSGI :: Application",
        "Typing :: Typed",
    ],
)
