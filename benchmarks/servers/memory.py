"""Where a server's memory per connection goes: tracemalloc, driven by signals.

``trace_allocations(path)`` starts tracemalloc; SIGUSR1 then takes the
baseline snapshot and SIGUSR2 compares a new one with it and writes the
allocations still alive, grouped by call stack, to ``path`` as JSON (the
harness turns it into ``benchmarks/profiles/memory-<server>.txt``).
"""

from __future__ import annotations

import gc
import json
import signal
import tracemalloc
from pathlib import Path
from typing import Any

FRAMES = 10


def trace_allocations(path: str) -> None:
    tracemalloc.start(FRAMES)
    state: dict[str, Any] = {}

    def baseline(signum: int, frame: Any) -> None:
        gc.collect()
        state["baseline"] = tracemalloc.take_snapshot()

    def report(signum: int, frame: Any) -> None:
        gc.collect()
        now = tracemalloc.take_snapshot()
        before = state.get("baseline") or now
        stats = now.compare_to(before, "traceback")
        rows = [
            {
                "size": s.size_diff,
                "count": s.count_diff,
                "stack": [f"{f.filename}:{f.lineno}" for f in s.traceback],
            }
            for s in stats
            if s.size_diff > 0
        ]
        tmp = Path(path + ".tmp")
        tmp.write_text(json.dumps(rows))
        tmp.rename(path)

    signal.signal(signal.SIGUSR1, baseline)
    signal.signal(signal.SIGUSR2, report)
