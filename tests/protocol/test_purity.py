"""The protocol layer does no I/O: importing it pulls in no I/O library."""

from __future__ import annotations

import subprocess
import sys

FORBIDDEN = (
    "socket",
    "select",
    "selectors",
    "threading",
    "eventlet",
    "gevent",
    "redis",
    "flask",
    "werkzeug",
    "realtime.engine",
    "realtime.async_modes",
)


def test_protocol_imports_no_io_modules() -> None:
    code = (
        "import sys; before = set(sys.modules); "
        "import realtime.protocol.engineio; "
        "new = set(sys.modules) - before; "
        f"bad = sorted(m for m in new if m.split('.')[0] in {FORBIDDEN!r} or m in {FORBIDDEN!r}); "
        "print(','.join(bad))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
