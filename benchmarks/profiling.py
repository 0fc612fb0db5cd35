"""py-spy profiles of a server under load, summarized as text.

py-spy samples the server from outside and writes collapsed stacks. It
pauses the server for each sample (a few tens of microseconds, 250 times a
second): ``--nonblocking`` would not, but then loses a third of its samples
to torn stacks on this workload. :func:`summarize` turns them into
self and inclusive time per function and per package, which is what a
reader needs to see where the time goes.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

from benchmarks import harness

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")


def py_spy() -> str | None:
    found = shutil.which("py-spy")
    if found:
        return found
    beside = Path(harness.python_command()[0]).parent / "py-spy"
    return str(beside) if beside.exists() else None


def record(pid: int, seconds: float, output: Path, rate: int = 250) -> subprocess.Popen[bytes]:
    """Start sampling ``pid`` for ``seconds`` into ``output`` (collapsed stacks)."""
    exe = py_spy()
    if exe is None:
        raise harness.BenchError("py-spy is not installed")
    command = [
        exe,
        "record",
        "--pid",
        str(pid),
        "--rate",
        str(rate),
        "--duration",
        str(max(1, int(seconds))),
        "--format",
        "raw",
        "--output",
        str(output),
    ]
    return harness.spawn(
        harness.pinned(command, harness.CLIENT_CORE), log_name=f"py-spy-{output.stem}", stdout=False
    )


def _short(path: str) -> str:
    if "/src/realtime/" in path:  # the run's snapshot of the source (harness.snapshot_source)
        return "realtime/" + path.split("/src/realtime/", 1)[1]
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1]
    if "/lib/python3" in path:
        return "stdlib/" + path.rsplit("/lib/python3", 1)[1].split("/", 1)[-1]
    return path.removeprefix(str(harness.ROOT) + "/")


def _frame(text: str) -> tuple[str, str]:
    match = _FRAME.match(text)
    if not match:
        return text, "?"
    file = _short(match["file"])
    return f"{match['func']} ({file})", file


def _package(file: str) -> str:
    if file.startswith("("):
        return file
    if file.startswith("stdlib"):
        return "stdlib"
    head = file.split("/", 1)[0]
    if head == "realtime":
        parts = file.split("/")
        return "/".join(parts[:2]) if len(parts) > 2 else file
    return head.removesuffix(".py")


NO_FRAME = "<no Python frame: C code such as greenlet switches>"


def summarize(collapsed: str, title: str, seconds: float, rate: int, top: int = 30) -> str:
    """A text summary of py-spy's collapsed stacks: where the server's time went."""
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    by_package: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [_frame(f) for f in stack.split(";") if f]
        if not frames:
            # The thread ran, but in no Python frame (C code: a greenlet
            # switch, the hub between its Python calls).
            frames = [(NO_FRAME, "(no Python frame)")]
        leaf, leaf_file = frames[-1]
        self_time[leaf] += count
        by_package[_package(leaf_file)] += count
        for name in {name for name, _ in frames}:
            inclusive[name] += count
    if not total:
        return f"{title}\n\nno samples\n"
    # Stacks with no Python frame still count; they have no inclusive entry.
    inclusive.pop(NO_FRAME, None)
    expected = seconds * rate
    lines = [
        title,
        "",
        f"{total} samples of the server's Python stacks at {rate} Hz over {seconds:.0f} s "
        f"(busy {min(1.0, total / expected):.0%} of the time: idle waits are not sampled).",
        "Percentages are of the samples taken.",
        "",
        "Self time by package (where the leaf frame was):",
    ]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in by_package.most_common(15)]
    lines += ["", f"Self time, top {top} functions:"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in self_time.most_common(top)]
    ours = [(name, n) for name, n in inclusive.most_common() if "(realtime/" in name]
    lines += ["", f"Inclusive time (function on the stack) of realtime's functions, top {top}:"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in ours[:top]]
    lines += ["", f"Inclusive time, every function, top {top}:"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in inclusive.most_common(top)]
    return "\n".join(lines) + "\n"


def top_self(summary: str, count: int = 8) -> list[str]:
    """The first ``count`` lines of a summary's main list (self time, or sites)."""
    lines = summary.splitlines()
    heads = ("Self time, top", "By allocation site")
    try:
        start = next(i for i, line in enumerate(lines) if line.startswith(heads))
    except StopIteration:
        return []
    body = lines[start + 1 :]
    if body and body[0].strip().startswith("share"):
        body = body[1:]
    out = []
    for line in body[:count]:
        if not line.strip():
            break
        out.append(line.strip())
    return out


def _site(stack: list[str]) -> str:
    """The allocation's innermost frame outside the standard library."""
    for frame in reversed(stack):
        file, _, line = frame.rpartition(":")
        short = _short(file)
        if not short.startswith("stdlib/"):
            return f"{short}:{line}"
    file, _, line = stack[-1].rpartition(":") if stack else ("?", "", "?")
    return f"{_short(file)}:{line}"


def summarize_memory(
    rows: list[dict[str, object]], connections: int, title: str, top: int = 12
) -> str:
    """A text summary of the allocations alive per connection (tracemalloc)."""
    total = sum(int(str(r["size"])) for r in rows)
    if not total or not connections:
        return f"{title}\n\nnothing traced\n"
    by_site: Counter[str] = Counter()
    for row in rows:
        by_site[_site(list(row["stack"]))] += int(str(row["size"]))  # type: ignore[call-overload]
    lines = [
        title,
        "",
        f"Python allocations alive after {connections:,} clients connected, minus before: "
        f"{total / 1024 / 1024:.1f} MiB, {total / connections / 1024:.1f} KiB per connection "
        "(tracemalloc; the resident set also holds what Python's allocators keep).",
        "",
        "By allocation site (innermost frame outside the standard library):",
        "   share  per connection  site",
    ]
    for site, size in by_site.most_common(20):
        lines.append(f"  {100 * size / total:5.1f}%  {size / connections:8.0f} B      {site}")
    lines += ["", f"The {top} largest call stacks (most recent call last):"]
    for row in sorted(rows, key=lambda r: -int(str(r["size"])))[:top]:
        size = int(str(row["size"]))
        lines.append(
            f"  {100 * size / total:5.1f}%  {size / connections:8.0f} B per connection, "
            f"{int(str(row['count'])) / connections:.1f} blocks"
        )
        for frame in list(row["stack"])[-6:]:  # type: ignore[call-overload]
            file, _, line = str(frame).rpartition(":")
            lines.append(f"           {_short(file)}:{line}")
    return "\n".join(lines) + "\n"
