"""AsyncMode.run_in_thread: a blocking call on a native thread, other tasks running meanwhile."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import threading, time
from realtime.async_modes import get_async_mode

mode = get_async_mode("{mode}")
ticks = []

def ticker():
    for _ in range(100):
        ticks.append(time.monotonic())
        mode.sleep(0.01)

def blocking(seconds):
    # time.sleep of an unpatched process blocks its thread, green or not.
    time.sleep(seconds)
    return threading.get_ident()

mode.spawn(ticker)
mode.sleep(0.05)
start = time.monotonic()
ident = mode.run_in_thread(blocking, 0.5)
end = time.monotonic()
during = [t for t in ticks if start < t < end]
native = ident != threading.get_ident()
print(len(during), native)
"""


@pytest.mark.parametrize("mode", ["eventlet", "gevent", "threading"])
def test_other_tasks_run_while_a_blocking_call_waits(mode: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(mode=mode)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    ticks, native = done.stdout.split()
    # About 50 ticks in half a second; a blocked hub lets one or two through.
    assert int(ticks) >= 15, done.stdout
    # The green modes hand the call to another thread; threads make it themselves.
    assert native == ("False" if mode == "threading" else "True")
