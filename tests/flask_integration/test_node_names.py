"""docs/flask/migration.md's table of Node's socket.io 4 names, held to the code.

Every Node name the issue promised has a row, and each name of ours a row
gives exists on both :class:`realtime.Server` and the Flask extension.
"""

from __future__ import annotations

import re
from pathlib import Path

import realtime
from realtime.flask_integration import Realtime

PAGE = Path(__file__).resolve().parents[2] / "docs" / "flask" / "migration.md"
SECTION = "## Coming from Node's socket.io 4"
NODE_NAMES = (
    "io.use",
    "socket.use",
    "fetchSockets",
    "socketsJoin",
    "socketsLeave",
    "disconnectSockets",
    "serverSideEmit",
    "except",
    "volatile",
    "onAny",
    "onAnyOutgoing",
    "disconnecting",
)


def rows() -> list[tuple[str, str]]:
    text = PAGE.read_text()
    section = text[text.index(SECTION) :].split("\n## ", 1)[0]
    found = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| `") and len(cells) >= 2:
            found.append((cells[0], cells[1]))
    return found


def test_every_node_name_has_a_row() -> None:
    node_column = " ".join(node for node, _ in rows())
    for name in NODE_NAMES:
        assert name in node_column, f"no row for Node's {name}"


def test_each_of_our_names_exists_on_the_server_and_the_extension() -> None:
    ours = set()
    for _, cell in rows():
        for code in re.findall(r"`([^`]+)`", cell):
            match = re.match(r"@?(?:sio\.)?([a-z_]+)", code)
            assert match is not None, code
            ours.add(match.group(1))
    assert {"use", "event_middleware", "fetch_sockets", "server_side_emit"} <= ours
    for name in ours:
        assert callable(getattr(realtime.Server, name)), name
        assert callable(getattr(Realtime, name)), name
