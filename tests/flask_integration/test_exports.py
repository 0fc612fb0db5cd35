"""The extension's public API, and the layering around it."""

from __future__ import annotations

import ast
import builtins
import subprocess
import sys
from pathlib import Path

import realtime
import realtime.flask_integration as integration

PACKAGE = Path(realtime.__file__).resolve().parent

EXPECTED = {
    "ConnectionRefused",
    "ConnectionRefusedError",
    "EventRefused",
    "Namespace",
    "Realtime",
    "RealtimeTestClient",
    "SocketIO",
    "SocketIOTestClient",
    "call",
    "close_room",
    "disconnect",
    "emit",
    "join_room",
    "leave_room",
    "rooms",
    "send",
}


def test_all_lists_exactly_the_public_names() -> None:
    assert set(integration.__all__) == EXPECTED
    for name in EXPECTED:
        assert getattr(integration, name) is not None


def test_flask_socketio_names_are_aliases() -> None:
    assert integration.SocketIO is integration.Realtime
    assert integration.SocketIOTestClient is integration.RealtimeTestClient
    assert integration.ConnectionRefusedError is realtime.ConnectionRefused
    assert integration.ConnectionRefusedError is not builtins.ConnectionRefusedError
    assert issubclass(integration.Namespace, realtime.Namespace)


def test_the_core_does_not_shadow_the_builtin() -> None:
    assert "ConnectionRefusedError" not in realtime.__all__
    assert not hasattr(realtime, "ConnectionRefusedError")


def test_init_only_re_exports() -> None:
    tree = ast.parse((PACKAGE / "flask_integration" / "__init__.py").read_text())
    kinds = {type(node) for node in tree.body}
    assert kinds <= {ast.Expr, ast.ImportFrom, ast.Assign}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            assert isinstance(node.value, (ast.Name, ast.List))


def test_nothing_below_the_integration_imports_flask() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if "flask_integration" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path}: {n}" for n in names if n.split(".")[0] == "flask"]
    assert offenders == []


def test_importing_realtime_does_not_load_flask() -> None:
    code = (
        "import sys, realtime, realtime.socketio.server, realtime.socketio.testing; "
        "print('flask' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    )
    assert result.stdout.strip() == "False", result.stderr
