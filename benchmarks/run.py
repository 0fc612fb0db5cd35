"""Run the benchmarks: ``python -m benchmarks.run`` (``make bench``), or ``--quick``.

Every scenario runs against the Flask app as users write it, on realtime's
extension in each async mode (eventlet, gevent, threading), each beside
Flask-SocketIO on the same mode, and against Node's socket.io; the bare
``realtime.Server`` and the Flask app under gunicorn are secondary rows. All
in the same run: rounds of every scenario (more for echo), the order of the
servers rotating from one scenario and round to the next, a fresh server
process for each measurement, the server pinned to core 0 and the load
client to core 1. It prints a table of medians with their range and the
ratios between servers, writes the results to ``benchmarks/results/``, and
(for a full run) regenerates ``docs/performance.md`` and its plots in
``docs/_static/perf/``.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import harness, profiled_runs, profiling, report, scenarios
from benchmarks.harness import BENCH, NODE_DIR, ROOT, BenchError, ServerSpec

RESULTS = BENCH / "results"
DOCS_PAGE = ROOT / "docs" / "performance.md"
PLOTS = ROOT / "docs" / "_static" / "perf"

#: The ``bench`` extra: what the harness needs beyond realtime's test extra.
BENCH_EXTRA = {
    "Flask-SocketIO": ("flask_socketio", "Flask-SocketIO==5.7.0"),
    "matplotlib": ("matplotlib", "matplotlib==3.11.2"),
    "py-spy": (None, "py-spy==0.4.3"),
    "eventlet": ("eventlet", "eventlet>=0.36"),
    "gevent": ("gevent", "gevent>=23.9"),
    # Flask-SocketIO's WebSocket on gevent (its run() picks gevent-websocket's
    # handler) and on threading (simple-websocket), as its documentation says.
    "gevent-websocket": ("geventwebsocket", "gevent-websocket==0.10.1"),
    "simple-websocket": ("simple_websocket", "simple-websocket>=1.0"),
    "gunicorn": ("gunicorn", "gunicorn>=23"),
}
PYTHON_VERSIONS = (
    "Flask-SocketIO",
    "python-socketio",
    "python-engineio",
    "Flask",
    "eventlet",
    "gevent",
    "gevent-websocket",
    "simple-websocket",
    "gunicorn",
    "websockets",
    "orjson",
    "matplotlib",
    "py-spy",
)
NODE_PACKAGES = ("socket.io", "engine.io", "ws")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="one round (three of echo) of smaller scenarios against the Flask apps, the "
        "bare engine on eventlet and Node, no profiles; results go to "
        "benchmarks/results/quick.json, docs and profiles untouched",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        help="rounds of every scenario (default 3, quick 1); echo runs 2 * rounds + 1",
    )
    parser.add_argument("--servers", help="comma-separated server keys (default: all)")
    parser.add_argument("--scenarios", help="comma-separated scenario keys or prefixes")
    parser.add_argument("--no-profile", action="store_true", help="skip the profiles")
    parser.add_argument(
        "--ws-client",
        choices=("raw", "ws"),
        default="raw",
        help="the load client's WebSocket: its own (default) or the ws package (a cross-check)",
    )
    parser.add_argument(
        "--baseline",
        metavar="DIR",
        type=Path,
        help="also run the Flask app on eventlet imported from DIR (a folder holding a realtime/ "
        "package, another tree or a copy of an older one) as server rt-base, interleaved "
        "with the others, and print this tree's ratios to it (A/B)",
    )
    parser.add_argument(
        "--publish",
        action="store_true",
        help="write latest.json, docs/performance.md and the plots even for a partial run",
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="regenerate the table, docs page and plots from benchmarks/results/latest.json",
    )
    return parser.parse_args(argv)


# -- requirements ------------------------------------------------------------------


def check_requirements() -> list[str]:
    """What is missing, each with how to get it."""
    missing = []
    for name, (module, requirement) in BENCH_EXTRA.items():
        found = (
            importlib.util.find_spec(module) is not None
            if module
            else profiling.py_spy() is not None
        )
        if not found:
            missing.append(f"{name}: {sys.executable} -m pip install '{requirement}'")
    if shutil.which("node") is None or shutil.which("npm") is None:
        missing.append("Node.js 20 or later with npm (apt-get install nodejs npm)")
    elif not harness.node_version().startswith(("v2", "v3")):
        missing.append(f"Node.js 20 or later (found {harness.node_version()})")
    return missing


def install_node_modules() -> None:
    """``npm ci`` into benchmarks/node when its lock file changed since the last install."""
    lock = NODE_DIR / "package-lock.json"
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()
    stamp = NODE_DIR / "node_modules" / ".bench-installed"
    if stamp.exists() and stamp.read_text().strip() == digest:
        return
    print("installing the Node packages of the benchmark (npm ci in benchmarks/node)...")
    try:
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=NODE_DIR,
            check=True,
            timeout=600,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise SystemExit(f"npm ci failed in {NODE_DIR}: {exc}") from exc
    stamp.write_text(digest + "\n")


def versions() -> dict[str, str]:
    found: dict[str, str] = {"python": platform.python_version(), "node": harness.node_version()}
    for name in PYTHON_VERSIONS:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "missing"
    for name in NODE_PACKAGES:
        manifest = NODE_DIR / "node_modules" / name / "package.json"
        found[name] = json.loads(manifest.read_text())["version"] if manifest.exists() else "?"
    found["realtime"] = _git_revision()
    return found


def _git_revision() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", "realtime"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head} (with uncommitted changes in realtime/)" if dirty else head


def source_digest(root: Path = ROOT) -> str:
    """A digest of realtime's source under ``root``."""
    digest = hashlib.sha256()
    for path in sorted((root / "realtime").rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "system": platform.platform(terse=True),
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["memory_gib"] = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    info["pinned"] = harness.pinning_available()
    info["load_average_at_start"] = list(os.getloadavg())
    return info


# -- running -----------------------------------------------------------------------


def warnings_for(scenario: scenarios.Scenario, metrics: dict[str, Any]) -> list[str]:
    out = []
    if metrics.get("failures"):
        out.append(f"{metrics['failures']} clients failed to connect: {metrics.get('firstError')}")
    if metrics.get("missing"):
        out.append(f"{metrics['missing']} deliveries missing after the drain")
    if metrics.get("orderErrors"):
        out.append(
            f"{metrics['orderErrors']} deliveries out of the order sent (first: "
            f"{metrics.get('firstOrderError')}); {metrics.get('clientsDisagreeing', 0)} clients "
            "saw another order than the sender"
        )
    if metrics.get("drainTimedOut"):
        out.append("the fan-out did not drain in time")
    if (metrics.get("clientCpu") or 0) >= report.CLIENT_BOUND:
        out.append(f"load client saturated ({metrics['clientCpu']:.2f} cores)")
    other = metrics.get("otherCpuServerCore") or 0
    if other >= 0.25:
        out.append(f"other processes took {other:.2f} of the server's core (noisy)")
    return out


def run_one(
    scenario: scenarios.Scenario, server: ServerSpec, round_index: int, tag: str
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "scenario": scenario.key,
        "server": server.key,
        "round": round_index,
    }
    started = time.monotonic()
    name = f"{tag}-{scenario.key}-{server.key}-r{round_index + 1}"
    try:
        with harness.running_server(server, f"{name}-server") as running:
            metrics = harness.ClientRun(
                running, scenario.params, scenario.timeout, f"{name}-client"
            ).run()
        record.update(ok=True, metrics=metrics, warnings=warnings_for(scenario, metrics))
    except BenchError as exc:
        record.update(ok=False, error=str(exc))
    record["elapsed"] = round(time.monotonic() - started, 1)
    return record


def progress(record: dict[str, Any], scenario: scenarios.Scenario, rounds: int) -> str:
    who = report.short(record["server"])
    head = f"[{record['round'] + 1}/{rounds}] {scenario.key:<24} {who:<24}"
    if not record.get("ok"):
        return f"{head} FAILED: {record['error'].splitlines()[0]} ({record['elapsed']} s)"
    m = record["metrics"]
    figures = "  ".join(
        f"{metric.label} {metric.show(m.get(metric.key))}" for metric in scenario.metrics
    )
    cpu = f"server {m.get('serverCpu', 0):.2f} / client {m.get('clientCpu', 0):.2f} cores"
    warn = f"  !! {'; '.join(record['warnings'])}" if record.get("warnings") else ""
    return f"{head} {figures}  ({cpu}, {record['elapsed']} s){warn}"


def baseline_server(folder: Path, subject: ServerSpec) -> ServerSpec:
    """The subject (the Flask app on eventlet) as it runs, but importing a copy of ``folder``."""
    if not (folder / "realtime" / "__init__.py").exists():
        raise SystemExit(f"--baseline {folder}: no realtime/ package in it")
    target = harness.log_dir() / "baseline"
    shutil.copytree(
        folder / "realtime", target / "realtime", ignore=shutil.ignore_patterns("__pycache__")
    )
    return dataclasses.replace(
        subject, key=report.AB_BASELINE, label=f"{subject.label} from {folder}", source=target
    )


def select_servers(args: argparse.Namespace, known: dict[str, ServerSpec]) -> list[str]:
    if args.servers:
        chosen = [s.strip() for s in args.servers.split(",") if s.strip()]
        unknown = [s for s in chosen if s not in known]
        if unknown:
            raise SystemExit(f"unknown servers {unknown}; known: {', '.join(known)}")
        return chosen
    if args.quick:
        return list(scenarios.QUICK_SERVERS)
    return [*scenarios.PRIMARY_SERVERS, *scenarios.SECONDARY_SERVERS]


def select_scenarios(args: argparse.Namespace) -> list[scenarios.Scenario]:
    plan = scenarios.scenarios(args.quick)
    if args.scenarios:
        wanted = [s.strip() for s in args.scenarios.split(",") if s.strip()]
        plan = [s for s in plan if any(s.key.startswith(w) for w in wanted)]
        if not plan:
            raise SystemExit(f"no scenario matches {wanted}")
    if args.ws_client != "raw":
        plan = [dataclasses.replace(s, params={**s.params, "wsImpl": args.ws_client}) for s in plan]
    return plan


def eligible(scenario: scenarios.Scenario, server: ServerSpec) -> bool:
    if server.only is not None and not scenario.key.startswith(server.only):
        return False
    return scenario.transport is None or scenario.transport in server.transports


def schedule(plan: list[scenarios.Scenario], rounds: int) -> list[tuple[scenarios.Scenario, int]]:
    """(scenario, round) in the order they run.

    The run goes through every scenario ``rounds`` times; a scenario with
    more rounds than that runs several of them back to back in each pass,
    so that its rounds are spread over the run like the others'.
    """
    out = []
    for base in range(rounds):
        for scenario in plan:
            total = scenario.rounds(rounds)
            out += [(scenario, r) for r in range(total) if r * rounds // total == base]
    return out


def run_rounds(
    plan: list[scenarios.Scenario],
    known: dict[str, ServerSpec],
    chosen: list[str],
    rounds: int,
) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    position = {s.key: i for i, s in enumerate(plan)}
    for scenario, round_index in schedule(plan, rounds):
        order = [s for s in chosen if eligible(scenario, known[s])]
        shift = (round_index + position[scenario.key]) % max(1, len(order))
        for key in order[shift:] + order[:shift]:
            record = run_one(scenario, known[key], round_index, "bench")
            records.append(record)
            print(progress(record, scenario, scenario.rounds(rounds)), flush=True)
    return records


# -- main --------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.report_only:
        return report_only()
    missing = check_requirements()
    if missing:
        print("The benchmarks need (the 'bench' extra):", file=sys.stderr)
        for item in missing:
            print(f"  - {item}", file=sys.stderr)
        return 2
    harness.install_cleanup()
    fd_limit = harness.raise_fd_limit()
    install_node_modules()
    found_versions = versions()
    known = scenarios.servers(found_versions)
    if args.baseline is not None:
        known[report.AB_BASELINE] = baseline_server(args.baseline, known[scenarios.SUBJECT])
    chosen = select_servers(args, known)
    if args.baseline is not None and report.AB_BASELINE not in chosen:
        chosen.append(report.AB_BASELINE)
    plan = select_scenarios(args)
    biggest = max((int(s.params.get("clients", 0)) for s in plan), default=0)
    if fd_limit < biggest + 1000:
        print(f"warning: the open-files limit ({fd_limit}) is too low for {biggest:,} clients")
    if not harness.pinning_available():
        print("warning: no taskset or fewer than 2 cores: server and client are not pinned")
    rounds = args.rounds or (1 if args.quick else 3)
    started = time.monotonic()
    meta = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "rounds": rounds,
        "machine": machine(),
        "versions": found_versions,
        "fd_limit": fd_limit,
        "command": " ".join(["python -m benchmarks.run", *(argv or sys.argv[1:])]),
        # What the Python servers import: a copy taken now (see snapshot_source).
        "source_digest": source_digest(harness.snapshot_source()),
    }
    print(
        f"{len(plan)} scenarios x {len(chosen)} servers x {rounds} rounds; "
        f"logs in {harness.log_dir()}",
        flush=True,
    )
    records: list[dict[str, Any]] = []
    summaries: dict[str, str] = {}
    profile_notes: list[str] = []
    interrupted = False
    try:
        records = run_rounds(plan, known, chosen, rounds)
        if not args.no_profile and not args.quick:
            summaries, profile_notes = profiled_runs.run_profiles(plan, known, chosen)
    except KeyboardInterrupt:
        interrupted = True
        print("\ninterrupted: stopping every process this run started")
    finally:
        harness.stop_all()
    meta["elapsed_s"] = round(time.monotonic() - started, 1)
    meta["source_changed"] = source_digest() != meta["source_digest"]
    meta["load_average_at_end"] = list(os.getloadavg())
    results = {
        "meta": meta,
        "servers": {key: known[key].label for key in chosen},
        "scenarios": [{"key": s.key, "title": s.title, "params": s.params} for s in plan],
        "records": records,
        "profiles": {key: profiling.top_self(text, 12) for key, text in summaries.items()},
        "profile_notes": profile_notes,
        "interrupted": interrupted,
    }
    full = (
        not args.quick
        and not args.servers
        and not args.scenarios
        and args.baseline is None
        and not interrupted
    )
    write_outputs(results, publish=full or args.publish)
    return 130 if interrupted else 0


def report_only() -> int:
    from benchmarks import docs_page

    results = json.loads((RESULTS / "latest.json").read_text())
    print(docs_page.table_of(results))
    docs_page.publish(results, DOCS_PAGE, PLOTS)
    print(f"\nwrote {DOCS_PAGE.relative_to(ROOT)} and {PLOTS.relative_to(ROOT)}/")
    return 0


def write_outputs(results: dict[str, Any], *, publish: bool) -> None:
    """Print the table; write the results file, and the docs page when ``publish``."""
    from benchmarks import docs_page

    meta = results["meta"]
    results["targets"] = docs_page.targets_of(results)
    print(docs_page.table_of(results))
    print(f"\n{len(results['records'])} runs in {meta['elapsed_s']:.0f} s")
    if meta["source_changed"]:
        print(
            "note: realtime's source in the checkout changed during the run; every round "
            "measured the copy taken at its start"
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "latest.json" if publish else "quick.json" if meta["quick"] else "partial.json"
    (RESULTS / name).write_text(json.dumps(results, indent=1) + "\n")
    print(f"results: {(RESULTS / name).relative_to(ROOT)}")
    if publish:
        docs_page.publish(results, DOCS_PAGE, PLOTS)
        print(f"wrote {DOCS_PAGE.relative_to(ROOT)} and {PLOTS.relative_to(ROOT)}/")


if __name__ == "__main__":
    sys.exit(main())
