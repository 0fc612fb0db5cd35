"""The profiles of a run: separate runs of a scenario with a profiler attached.

- py-spy (Python stacks) on the echo of the Flask app in each mode, its
  fan-out, its connects at 5,000 clients and its connects over polling then
  upgrade on eventlet, and on the bare engine's echo, for comparison;
- perf (machine code, every thread) on the echo of the Flask app in each
  mode: py-spy misattributes time where green threads switch
  (``profiles/NOTES.md``), perf does not;
- tracemalloc on 1,000 idle WebSocket connections of the Flask app in each
  mode: where the memory per connection goes.

Each writes ``benchmarks/profiles/<scenario>-<server>[.perf].txt`` and
returns its summary for the docs page.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from typing import Any

from benchmarks import harness, profiling, scenarios
from benchmarks.harness import BENCH, BenchError, ServerSpec

PROFILES = BENCH / "profiles"


@dataclass(frozen=True)
class Profile:
    """One profiled run: ``tool`` on ``server`` during ``scenario`` (or memory)."""

    scenario: str  # a scenario key, or "memory"
    server: str
    tool: str  # "py-spy", "perf" or "tracemalloc"

    @property
    def key(self) -> str:
        return f"{self.scenario} / {self.server} / {self.tool}"

    @property
    def file(self) -> str:
        suffix = ".perf" if self.tool == "perf" else ""
        return f"{self.scenario}-{self.server}{suffix}.txt"


FLASK = scenarios.FLASK
PLAN = (
    Profile("echo", FLASK["eventlet"], "py-spy"),
    Profile("echo", FLASK["eventlet"], "perf"),
    Profile("echo", "bare-eventlet", "py-spy"),
    Profile("fanout", FLASK["eventlet"], "py-spy"),
    Profile("connect-5k", FLASK["eventlet"], "py-spy"),
    Profile("upgrade", FLASK["eventlet"], "py-spy"),
    Profile("echo", FLASK["gevent"], "py-spy"),
    Profile("echo", FLASK["gevent"], "perf"),
    Profile("echo", FLASK["threading"], "py-spy"),
    Profile("echo", FLASK["threading"], "perf"),
    Profile("memory", FLASK["eventlet"], "tracemalloc"),
    Profile("memory", FLASK["gevent"], "tracemalloc"),
    Profile("memory", FLASK["threading"], "tracemalloc"),
)


def run_profiles(
    plan: list[scenarios.Scenario], known: dict[str, ServerSpec], chosen: list[str]
) -> tuple[dict[str, str], list[str]]:
    """Every profile of :data:`PLAN` whose server and scenario the run has.

    Returns the summaries by :attr:`Profile.key`, and notes on what could
    not be profiled (perf missing, a profiler that failed).
    """
    summaries: dict[str, str] = {}
    notes: list[str] = []
    keys = {s.key for s in plan}
    full = {s.key: s for s in scenarios.scenarios(quick=False)}
    has_perf = profiling.perf() is not None
    if not has_perf:
        notes.append(
            "perf is not available (not installed, or perf_event_paranoid forbids it): "
            "no perf profiles; apt-get install linux-perf"
        )
    for profile in PLAN:
        if profile.server not in chosen:
            continue
        if profile.tool == "perf" and not has_perf:
            continue
        spec = known[profile.server]
        if profile.tool == "tracemalloc":
            if not any(k.startswith("connect") for k in keys):
                continue
            summary = memory_profile(spec)
        elif profile.scenario in keys:
            summary = sampled_profile(full[profile.scenario], spec, profile.tool)
        else:
            continue
        if summary is None:
            notes.append(f"the profile {profile.key} failed (see the run's output)")
            continue
        PROFILES.mkdir(parents=True, exist_ok=True)
        (PROFILES / profile.file).write_text(summary)
        summaries[profile.key] = summary
        print(f"profile {profile.key}: benchmarks/profiles/{profile.file}", flush=True)
    return summaries, notes


#: How long a connect scenario is sampled (5,000 clients take 1.5-3 s; the
#: upgrade scenario's 1,000 about 1 s).
CONNECT_SECONDS = 2.0


def sampled_profile(scenario: scenarios.Scenario, spec: ServerSpec, tool: str) -> str | None:
    """Run ``scenario`` once with ``tool`` sampling the server's measured window."""
    key = scenario.key
    # A connect scenario has no measured window of set length: the sampler
    # starts as the clients start connecting, for about as long as it takes.
    connect = scenario.params["scenario"] in ("connect", "upgrade")
    first_phase = "baseline" if connect else "measure"
    seconds = CONNECT_SECONDS if connect else scenario.params["durationMs"] / 1000
    rate = 250 if tool == "py-spy" else 999
    raw = harness.log_dir() / f"{key}-{spec.key}.{'collapsed' if tool == 'py-spy' else 'perf'}"
    sampler: list[subprocess.Popen[bytes]] = []
    try:
        with harness.running_server(spec, f"profile-{key}-{spec.key}-{tool}-server") as server:

            def start(phase: str) -> None:
                if phase == first_phase and not sampler:
                    record = profiling.record if tool == "py-spy" else profiling.perf_record
                    sampler.append(record(server.pid, seconds, raw, rate))

            client = harness.ClientRun(
                server,
                scenario.params,
                scenario.timeout,
                f"profile-{key}-{spec.key}-{tool}-client",
                start,
            )
            metrics = client.run()
            if sampler:
                sampler[0].wait(timeout=seconds + 30)
    except (BenchError, subprocess.TimeoutExpired) as exc:
        print(f"profile of {key} on {spec.key} ({tool}) failed: {exc}")
        return None
    finally:
        for process in sampler:
            harness.stop(process)
    if not raw.exists():
        print(f"profile of {key} on {spec.key}: {tool} wrote nothing")
        return None
    title = (
        f"{spec.label}, scenario {key}: {scenario.title}\n"
        f"measured under {tool}: {_headline(scenario, metrics)}"
    )
    if tool == "perf":
        return profiling.summarize_perf(profiling.perf_script(raw), title, seconds, rate)
    collapsed = raw.read_text()
    if len(collapsed) < 2_000_000:
        PROFILES.mkdir(parents=True, exist_ok=True)
        (PROFILES / f"{key}-{spec.key}.collapsed.txt").write_text(collapsed)
    return profiling.summarize(collapsed, title, seconds, rate)


def memory_profile(spec: ServerSpec, clients: int = 1000) -> str | None:
    """Where a server's memory per connection goes: tracemalloc during a connect run."""
    report_path = harness.log_dir() / f"memory-{spec.key}.json"
    traced = dataclasses.replace(spec, command=(*spec.command, "--tracemalloc", str(report_path)))
    params = {"scenario": "connect", "clients": clients, "concurrency": 100, "holdMs": 1500}
    try:
        with harness.running_server(traced, f"profile-memory-{spec.key}-server") as server:

            def signal_server(phase: str) -> None:
                if phase == "baseline":
                    os.kill(server.pid, signal.SIGUSR1)
                elif phase == "connected":
                    os.kill(server.pid, signal.SIGUSR2)

            metrics = harness.ClientRun(
                server, params, 180, f"profile-memory-{spec.key}-client", signal_server
            ).run()
            deadline = time.monotonic() + 60
            while not report_path.exists() and time.monotonic() < deadline:
                time.sleep(0.2)
    except BenchError as exc:
        print(f"memory profile of {spec.key} failed: {exc}")
        return None
    if not report_path.exists():
        print(f"memory profile of {spec.key}: the server wrote no report")
        return None
    rows = json.loads(report_path.read_text())
    title = (
        f"{spec.label}: memory of {clients:,} idle WebSocket connections\n"
        f"resident set per connection in this run (under tracemalloc): "
        f"{(metrics.get('bytesPerConnection') or 0) / 1024:.1f} KiB"
    )
    return profiling.summarize_memory(rows, int(metrics.get("connected") or 0), title)


def _headline(scenario: scenarios.Scenario, metrics: dict[str, Any]) -> str:
    return ", ".join(f"{m.label} {m.show(metrics.get(m.key))}" for m in scenario.metrics)
