"""From the records of a run to medians, ratios, a text table, plots and the docs page."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.scenarios import (
    BASELINES,
    CLIENT_CPU,
    SERVER_CPU,
    SUBJECT,
    TARGETS,
    Metric,
    Scenario,
    Target,
)

#: A load client busier than this (in cores) may be what limits the run.
CLIENT_BOUND = 0.9
SHORT = {
    "rt-eventlet": "realtime/eventlet",
    "fsio": "Flask-SocketIO",
    "node": "socket.io/Node",
    "rt-gevent": "realtime/gevent",
    "rt-threading": "realtime/threading",
    "rt-base": "realtime/baseline",
}
#: The A/B baseline of ``--baseline``: realtime (eventlet) from another tree.
AB_BASELINE = "rt-base"
LONG = {"fsio": "Flask-SocketIO's", "node": "Node's"}
RATIO_NAMES = {"fsio": "rt/FSIO", "node": "rt/Node"}


@dataclass
class Stat:
    """The median of a metric over the rounds of a run, with its range."""

    median: float
    low: float
    high: float
    n: int

    def show(self, metric: Metric) -> str:
        if self.n == 1:
            return metric.show(self.median)
        return f"{metric.show(self.median)} [{metric.show(self.low)}-{metric.show(self.high)}]"

    def as_dict(self) -> dict[str, float]:
        return {"median": self.median, "min": self.low, "max": self.high, "n": self.n}


def stat(values: Iterable[float | None]) -> Stat | None:
    present = [float(v) for v in values if v is not None]
    if not present:
        return None
    return Stat(statistics.median(present), min(present), max(present), len(present))


def _ok(records: list[dict[str, Any]], scenario: str, server: str) -> list[dict[str, Any]]:
    return [
        r for r in records if r["scenario"] == scenario and r["server"] == server and r.get("ok")
    ]


def metric_stat(
    records: list[dict[str, Any]], scenario: str, server: str, metric: Metric
) -> Stat | None:
    return stat(r["metrics"].get(metric.key) for r in _ok(records, scenario, server))


@dataclass
class Ratio:
    """realtime's median over a baseline's, and the range of the per-round ratios."""

    value: float
    low: float
    high: float

    def show(self) -> str:
        return f"{self.value:.2f}x [{self.low:.2f}-{self.high:.2f}]"


def ratio(
    records: list[dict[str, Any]],
    scenario: str,
    baseline: str,
    metric: Metric,
    subject: str = SUBJECT,
) -> Ratio | None:
    ours = metric_stat(records, scenario, subject, metric)
    theirs = metric_stat(records, scenario, baseline, metric)
    if ours is None or theirs is None or not theirs.median:
        return None
    per_round = []
    for mine in _ok(records, scenario, subject):
        for other in _ok(records, scenario, baseline):
            a, b = mine["metrics"].get(metric.key), other["metrics"].get(metric.key)
            if other["round"] == mine["round"] and a is not None and b:
                per_round.append(a / b)
    low, high = (min(per_round), max(per_round)) if per_round else (0.0, 0.0)
    return Ratio(ours.median / theirs.median, low, high)


@dataclass
class Verdict:
    target: Target
    measured: str
    met: bool | None


def verdicts(records: list[dict[str, Any]]) -> list[Verdict]:
    out = []
    for target in TARGETS:
        if target.baseline is None:
            ours = metric_stat(records, target.scenario, SUBJECT, target.metric)
            if ours is None:
                out.append(Verdict(target, "not measured", None))
                continue
            met = ours.median >= target.bound if target.at_least else ours.median <= target.bound
            out.append(Verdict(target, f"{ours.show(target.metric)} {target.metric.unit}", met))
            continue
        found = ratio(records, target.scenario, target.baseline, target.metric)
        if found is None:
            out.append(Verdict(target, "not measured", None))
            continue
        met = found.value >= target.bound if target.at_least else found.value <= target.bound
        out.append(Verdict(target, f"{found.show()} of {LONG[target.baseline]}", met))
    return out


def _columns(records: list[dict[str, Any]], scenario: Scenario, servers: list[str]) -> list[str]:
    return [
        s
        for s in servers
        if any(r["scenario"] == scenario.key and r["server"] == s for r in records)
    ]


def _rows(records: list[dict[str, Any]], scenario: Scenario, columns: list[str]) -> list[list[str]]:
    rows = []
    for metric in (*scenario.metrics, SERVER_CPU, CLIENT_CPU):
        row = [f"{metric.label} ({metric.unit})"]
        for server in columns:
            found = metric_stat(records, scenario.key, server, metric)
            failed = [
                r
                for r in records
                if r["scenario"] == scenario.key and r["server"] == server and not r.get("ok")
            ]
            cell = found.show(metric) if found else "failed"
            if found and failed:
                cell += f" ({len(failed)} failed)"
            row.append(cell)
        for baseline in BASELINES:
            if (
                metric in (SERVER_CPU, CLIENT_CPU)
                or baseline not in columns
                or SUBJECT not in columns
            ):
                row.append("")
                continue
            found_ratio = ratio(records, scenario.key, baseline, metric)
            row.append(found_ratio.show() if found_ratio else "-")
        rows.append(row)
    return rows


NOISY = "other processes took"


def warnings_of(records: list[dict[str, Any]]) -> list[str]:
    """Failures and warnings, one line each; noise is summed up in one line."""
    out = []
    noisy: list[tuple[float, str]] = []
    for r in records:
        where = f"{r['scenario']} / {SHORT.get(r['server'], r['server'])} / round {r['round'] + 1}"
        if not r.get("ok"):
            out.append(f"{where}: FAILED: {r.get('error', '?')}")
        for warning in r.get("warnings", []):
            if warning.startswith(NOISY):
                noisy.append((r["metrics"].get("otherCpuServerCore") or 0.0, where))
            else:
                out.append(f"{where}: {warning}")
    if noisy:
        worst, where = max(noisy)
        out.append(
            f"noise: in {len(noisy)} of {len(records)} measurements other processes took "
            f"0.25 cores or more of the server's core (at most {worst:.2f}, in {where})"
        )
    return out


def text_table(records: list[dict[str, Any]], plan: list[Scenario], servers: list[str]) -> str:
    lines = []
    for scenario in plan:
        columns = _columns(records, scenario, servers)
        if not columns:
            continue
        header = ["", *(SHORT.get(s, s) for s in columns), *(RATIO_NAMES[b] for b in BASELINES)]
        rows = [header, *_rows(records, scenario, columns)]
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        lines.append(f"\n== {scenario.key}: {scenario.title}")
        for row in rows:
            lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    lines.extend(ab_lines(records, plan, servers))
    lines.append("\n== targets of issue 9 (realtime on eventlet)")
    for verdict in verdicts(records):
        mark = {True: "MET   ", False: "MISSED", None: "n/a   "}[verdict.met]
        lines.append(f"  {mark} {verdict.target.text}: {verdict.measured}")
    bound = client_bound(records)
    if bound:
        lines.append("\n== the load client may have been the bottleneck (CPU >= 0.9 cores) in:")
        lines.extend(f"  {item}" for item in bound)
    else:
        lines.append("\nThe load client never reached 0.9 cores: it was not the bottleneck.")
    problems = warnings_of(records)
    if problems:
        lines.append("\n== failures and warnings")
        lines.extend(f"  {p}" for p in problems)
    return "\n".join(lines)


def ab_lines(records: list[dict[str, Any]], plan: list[Scenario], servers: list[str]) -> list[str]:
    """realtime (eventlet) of this tree against the ``--baseline`` tree, per metric.

    Ratios are of medians, with the range of the ratios of the same round
    (the two ran back to back, so they shared that moment's noise).
    """
    if AB_BASELINE not in servers or SUBJECT not in servers:
        return []
    lines = [f"\n== A/B: {SHORT[SUBJECT]} (this tree) / {SHORT[AB_BASELINE]}"]
    for scenario in plan:
        cells = []
        for metric in (*scenario.metrics, SERVER_CPU):
            found = ratio(records, scenario.key, AB_BASELINE, metric)
            if found is not None:
                cells.append(f"{metric.label} {found.show()}")
        if cells:
            lines.append(f"  {scenario.key}: " + "; ".join(cells))
    return lines


def client_bound(records: list[dict[str, Any]]) -> list[str]:
    out = []
    for r in records:
        cpu = r.get("metrics", {}).get("clientCpu")
        if r.get("ok") and cpu is not None and cpu >= CLIENT_BOUND:
            out.append(
                f"{r['scenario']} / {SHORT.get(r['server'], r['server'])} / round "
                f"{r['round'] + 1}: client {cpu:.2f} cores, server "
                f"{r['metrics'].get('serverCpu', 0):.2f} cores"
            )
    return out


def noise(records: list[dict[str, Any]]) -> dict[str, Stat | None]:
    """CPU that processes other than the server and client took on each core."""
    ok = [r["metrics"] for r in records if r.get("ok")]
    return {
        "server core": stat(m.get("otherCpuServerCore") for m in ok),
        "client core": stat(m.get("otherCpuClientCore") for m in ok),
    }


# -- plots -------------------------------------------------------------------------

COLORS = {
    "rt-eventlet": "#1f77b4",
    "rt-gevent": "#6baed6",
    "rt-threading": "#9ecae1",
    "fsio": "#d62728",
    "node": "#2ca02c",
}


def _bars(
    ax: Any,
    records: list[dict[str, Any]],
    groups: list[tuple[str, str]],
    servers: list[str],
    metric: Metric,
) -> None:
    width = 0.8 / max(1, len(servers))
    for index, server in enumerate(servers):
        xs, ys, low, high = [], [], [], []
        for g, (scenario, _) in enumerate(groups):
            found = metric_stat(records, scenario, server, metric)
            if found is None:
                continue
            xs.append(g + (index - (len(servers) - 1) / 2) * width)
            ys.append(found.median * metric.scale)
            low.append((found.median - found.low) * metric.scale)
            high.append((found.high - found.median) * metric.scale)
        if xs:
            ax.bar(
                xs,
                ys,
                width,
                yerr=[low, high],
                capsize=2,
                label=SHORT.get(server, server),
                color=COLORS.get(server),
            )
    ax.set_xticks(range(len(groups)), [label for _, label in groups])
    ax.set_ylabel(f"{metric.label} ({metric.unit})")
    ax.grid(axis="y", alpha=0.3)


def plots(
    records: list[dict[str, Any]], plan: list[Scenario], servers: list[str], out: Path
) -> list[tuple[str, str]]:
    """Write the PNG plots into ``out``; returns (file name, caption) pairs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from benchmarks.scenarios import ACKS, CONNECTS, DELIVERIES, LAT_P50, LAT_P99, MEMORY, WIRE

    out.mkdir(parents=True, exist_ok=True)
    keys = {s.key for s in plan}
    made: list[tuple[str, str]] = []

    def save(fig: Any, name: str, caption: str) -> None:
        fig.tight_layout()
        fig.savefig(out / name, dpi=100)
        plt.close(fig)
        made.append((name, caption))

    connects = [
        (s.key, s.key.removeprefix("connect-")) for s in plan if s.key.startswith("connect")
    ]
    if "upgrade" in keys:
        connects.append(("upgrade", "polling+upgrade"))
    if connects:
        fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
        _bars(left, records, connects, servers, CONNECTS)
        left.set_title("Connects per second (higher is better)")
        memory = [g for g in connects if g[0] != "upgrade"]
        _bars(right, records, memory, servers, MEMORY)
        right.set_title("Server memory per connection (lower is better)")
        left.legend(fontsize="small")
        save(fig, "connect.png", "Connects per second, and server memory per idle connection")
    if "echo" in keys:
        fig, axes = plt.subplots(1, 3, figsize=(11, 4))
        for ax, metric, title in zip(
            axes,
            (ACKS, LAT_P50, LAT_P99),
            ("Acks per second (higher is better)", "p50 latency", "p99 latency"),
            strict=True,
        ):
            groups = [("echo", "50 clients"), ("echo-200", "200 clients")]
            _bars(ax, records, [g for g in groups if g[0] in keys], servers, metric)
            ax.set_title(title)
        axes[0].legend(fontsize="small")
        save(fig, "echo.png", "Echo with acks: throughput and latency")
    if "fanout" in keys:
        fig, ax = plt.subplots(figsize=(6, 4))
        _bars(ax, records, [("fanout", "fan-out")], servers, DELIVERIES)
        ax.set_title("Fan-out deliveries per second (higher is better)")
        ax.legend(fontsize="small")
        save(fig, "fanout.png", "Fan-out: deliveries per second to clients in a room")
    transports = [(s.key, s.key.removeprefix("transport-")) for s in plan if s.transport]
    if transports:
        fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
        _bars(left, records, transports, servers, LAT_P50)
        left.set_title("Echo latency, one client (p50)")
        _bars(right, records, transports, servers, WIRE)
        right.set_title("Bytes on the wire per echo")
        left.legend(fontsize="small")
        for ax in (left, right):
            ax.tick_params(axis="x", labelsize="small")
        save(fig, "transports.png", "Per transport: echo latency and bytes on the wire")
    return made
