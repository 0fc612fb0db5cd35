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
    heads = ("What the CPU was doing", "Self time, top", "By allocation site")
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


# -- perf --------------------------------------------------------------------------
#
# py-spy reads the Python stack of the OS thread; with eventlet and gevent the
# time of green threads that switch mid-sample lands on whichever frame the
# thread state points at, which is not always the one that ran
# (profiles/NOTES.md). perf samples what the CPU executes: exact, but below
# Python (CPython 3.11 has no perf trampoline; `-X perf` came with 3.12), so
# its summary is by what the interpreter was doing: evaluating bytecode,
# allocating, collecting garbage, switching greenlets, or in which system call.


def perf() -> str | None:
    """The ``perf`` binary, if it is installed and allowed to sample other processes."""
    found = shutil.which("perf")
    if found is None:
        return None
    try:
        probe = subprocess.run(
            [found, "stat", "-e", "task-clock", "true"],
            capture_output=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return found if probe.returncode == 0 else None


def perf_record(pid: int, seconds: float, output: Path, rate: int = 999) -> subprocess.Popen[bytes]:
    """Start sampling ``pid`` (every thread) with kernel call chains into ``output``."""
    exe = perf()
    if exe is None:
        raise harness.BenchError("perf is not installed or not allowed")
    command = [
        exe,
        "record",
        "-e",
        "cpu-clock",
        "-F",
        str(rate),
        "-g",
        "-p",
        str(pid),
        "-o",
        str(output),
        "--",
        "sleep",
        str(max(1, int(seconds))),
    ]
    return harness.spawn(
        harness.pinned(command, harness.CLIENT_CORE),
        log_name=f"perf-{output.stem}",
        stdout=False,
    )


def perf_script(data: Path) -> str:
    """``perf script``'s text of ``data``: each sample, its call chain leaf first."""
    exe = perf()
    if exe is None:
        raise harness.BenchError("perf is not installed or not allowed")
    done = subprocess.run(
        [exe, "script", "-i", str(data), "-F", "comm,tid,ip,sym,dso"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return done.stdout


_PERF_FRAME = re.compile(r"^\s*[0-9a-f]+\s+(?P<sym>.*?)(?:\+0x[0-9a-f]+)?\s+\((?P<dso>[^()]*)\)$")
_SYSCALL = re.compile(r"^(?:__x64_sys_|__do_sys_|__se_sys_|ksys_)(?P<name>\w+)$")

#: What a leaf symbol of the interpreter is doing, first match wins.
_ACTIVITY = (
    (
        "garbage collection",
        re.compile(
            r"^(gc_|deduce_unreachable|move_unreachable|visit_|"
            r"subtract_refs|update_refs|_PyGC_|collect)"
        ),
    ),
    (
        "memory allocation (pymalloc, malloc)",
        re.compile(
            r"(Malloc|Free|Realloc|_PyMem_|pymalloc|^malloc|^free|^_int_|^cfree|arena|"
            r"^mmap|^munmap|^tcache)"
        ),
    ),
    ("deallocation", re.compile(r"(dealloc|_Py_Dealloc)")),
    (
        "bytecode evaluation",
        re.compile(
            r"^(_PyEval_|PyEval_|_PyFunction_Vectorcall|"
            r"_PyObject_Vectorcall|call_function|do_call_core)"
        ),
    ),
)


def _activity(sym: str, dso: str) -> str:
    base = dso.rsplit("/", 1)[-1]
    if dso == "[kernel.kallsyms]":
        return "kernel"
    if "greenlet" in base:
        return "greenlet switches (greenlet's C code)"
    if "libpython" in base or base in ("python", "python3", "python3.11"):
        for name, pattern in _ACTIVITY:
            if pattern.search(sym):
                return name
        return "other interpreter work (dicts, attributes, calls, objects)"
    if base.startswith("libc"):
        for name, pattern in _ACTIVITY:
            if name.startswith("memory") and pattern.search(sym):
                return name
        return "libc (other)"
    if base.startswith(("orjson", "_json")):
        return "JSON (orjson / json)"
    if "eventlet" in dso or "gevent" in dso or base.startswith(("_corecffi", "corecext", "libev")):
        return "the event loop's C code (libev, libuv)"
    return f"other native code ({base or '?'})"


def summarize_perf(script: str, title: str, seconds: float, rate: int, top: int = 25) -> str:
    """A text summary of ``perf script`` output: what the server's CPU did."""
    activity: Counter[str] = Counter()
    leaf_syms: Counter[str] = Counter()
    syscalls: Counter[str] = Counter()
    threads: set[str] = set()
    total = kernel = 0
    for block in script.split("\n\n"):
        lines = [line for line in block.splitlines() if line.strip()]
        if not lines:
            continue
        head = lines[0].split()
        if len(head) >= 2:
            threads.add(head[1])
        frames = []
        for line in lines[1:]:
            match = _PERF_FRAME.match(line)
            if match:
                frames.append((match["sym"], match["dso"]))
        if not frames:
            continue
        total += 1
        sym, dso = frames[0]
        what = _activity(sym, dso)
        activity[what] += 1
        leaf_syms[f"{sym} ({dso.rsplit('/', 1)[-1]})"] += 1
        if what == "kernel":
            kernel += 1
            call = next(
                (m["name"] for s, _ in frames if (m := _SYSCALL.match(s)) is not None), None
            )
            if call is None:
                names = " ".join(s for s, _ in frames)
                call = (
                    "page faults"
                    if "page_fault" in names
                    else "interrupts, softirqs and scheduling"
                )
            syscalls[call] += 1
    if not total:
        return f"{title}\n\nno samples\n"
    expected = seconds * rate
    lines = [
        title,
        "",
        f"{total} samples of the server's CPU time, every thread ({len(threads)} seen), "
        f"asked at {rate} Hz over {seconds:.0f} s ({total / expected:.2f} of that: perf "
        "throttles, read the shares). perf samples the machine code that runs, so no time "
        "is misattributed, but CPython 3.11 shows no Python function to it: the "
        "interpreter's time is grouped by what it was doing.",
        "",
        "What the CPU was doing (leaf of each sample):",
    ]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in activity.most_common()]
    lines += ["", "Kernel time by system call (or what else entered the kernel):"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in syscalls.most_common(12)]
    lines += ["", f"Self time, top {top} symbols:"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in leaf_syms.most_common(top)]
    return "\n".join(lines) + "\n"
