"""From the records of a run to medians, ratios, a text table, plots and the docs page."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.scenarios import (
    CLIENT_CPU,
    COMPARISONS,
    SERVER_CPU,
    TARGETS,
    Comparison,
    Metric,
    Scenario,
    Target,
)

#: A load client busier than this (in cores) may be what limits the run.
CLIENT_BOUND = 0.9
SHORT = {
    "flask-eventlet": "rt Flask/eventlet",
    "flask-gevent": "rt Flask/gevent",
    "flask-threading": "rt Flask/threading",
    "fsio-eventlet": "FSIO/eventlet",
    "fsio-gevent": "FSIO/gevent",
    "fsio-threading": "FSIO/threading",
    "node": "socket.io/Node",
    "bare-eventlet": "rt bare/eventlet",
    "bare-gevent": "rt bare/gevent",
    "bare-threading": "rt bare/threading",
    "flask-gunicorn": "rt Flask/gunicorn-gevent",
    "rt-base": "rt baseline",
}
#: The A/B baseline of ``--baseline``: the subject imported from another tree.
AB_BASELINE = "rt-base"


def short(server: str) -> str:
    return SHORT.get(server, server)


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
    """One server's median over another's, and the ratios of each round.

    Both ran in every round, back to back (the order rotating), so the
    ratio of a round compares them under that moment's noise.
    """

    value: float
    per_round: list[float]

    @property
    def low(self) -> float:
        return min(self.per_round, default=0.0)

    @property
    def high(self) -> float:
        return max(self.per_round, default=0.0)

    def show(self) -> str:
        if len(self.per_round) < 2:
            return f"{self.value:.2f}x"
        return f"{self.value:.2f}x [{self.low:.2f}-{self.high:.2f}]"


def ratio(
    records: list[dict[str, Any]], scenario: str, subject: str, other: str, metric: Metric
) -> Ratio | None:
    ours = metric_stat(records, scenario, subject, metric)
    theirs = metric_stat(records, scenario, other, metric)
    if ours is None or theirs is None or not theirs.median:
        return None
    per_round = []
    for mine in _ok(records, scenario, subject):
        for them in _ok(records, scenario, other):
            a, b = mine["metrics"].get(metric.key), them["metrics"].get(metric.key)
            if them["round"] == mine["round"] and a is not None and b:
                per_round.append(a / b)
    return Ratio(ours.median / theirs.median, per_round)


# -- targets -----------------------------------------------------------------------


@dataclass
class Verdict:
    target: Target
    measured: str
    met: bool | None
    #: Rounds in which the target held, of the rounds measured.
    rounds_met: int = 0
    rounds: int = 0

    def show_rounds(self) -> str:
        return f"{self.rounds_met} of {self.rounds}" if self.rounds else "-"


def _holds(target: Target, value: float) -> bool:
    return value >= target.bound if target.at_least else value <= target.bound


def verdict(records: list[dict[str, Any]], target: Target) -> Verdict:
    if target.baseline is None:
        ours = metric_stat(records, target.scenario, target.subject, target.metric)
        if ours is None:
            return Verdict(target, "not measured", None)
        values = [
            r["metrics"][target.metric.key]
            for r in _ok(records, target.scenario, target.subject)
            if r["metrics"].get(target.metric.key) is not None
        ]
        return Verdict(
            target,
            f"{ours.show(target.metric)} {target.metric.unit} "
            f"(bound {target.metric.show(target.bound)} {target.metric.unit})",
            _holds(target, ours.median),
            sum(_holds(target, v) for v in values),
            len(values),
        )
    found = ratio(records, target.scenario, target.subject, target.baseline, target.metric)
    if found is None:
        return Verdict(target, "not measured", None)
    return Verdict(
        target,
        found.show(),
        _holds(target, found.value),
        sum(_holds(target, v) for v in found.per_round),
        len(found.per_round),
    )


def verdicts(records: list[dict[str, Any]]) -> list[Verdict]:
    return [verdict(records, target) for target in TARGETS]


# -- tables ------------------------------------------------------------------------

#: The figures of the summary at the top of the page: (scenario, metric).
HEADLINE = (
    ("echo", "acksPerSecond"),
    ("echo", "latencyP99Ms"),
    ("connect-5k", "connectsPerSecond"),
    ("upgrade", "connectsPerSecond"),
    ("fanout", "deliveriesPerSecond"),
    ("connect-10k", "bytesPerConnection"),
)


def columns(records: list[dict[str, Any]], scenario: str, servers: list[str]) -> list[str]:
    """The servers (in ``servers``' order) with a record in ``scenario``."""
    present = {r["server"] for r in records if r["scenario"] == scenario}
    return [s for s in servers if s in present]


def comparisons(records: list[dict[str, Any]], scenario: str) -> list[Comparison]:
    present = {r["server"] for r in records if r["scenario"] == scenario and r.get("ok")}
    found = [c for c in COMPARISONS if c.subject in present and c.other in present]
    if AB_BASELINE in present:
        from benchmarks.scenarios import SUBJECT

        found.append(Comparison(SUBJECT, AB_BASELINE, "A/B: this tree/baseline"))
    return found


def _cell(records: list[dict[str, Any]], scenario: str, server: str, metric: Metric) -> str:
    found = metric_stat(records, scenario, server, metric)
    failed = [
        r
        for r in records
        if r["scenario"] == scenario and r["server"] == server and not r.get("ok")
    ]
    cell = found.show(metric) if found else "failed"
    if found and failed:
        cell += f" ({len(failed)} failed)"
    return cell


def server_table(
    records: list[dict[str, Any]], scenario: Scenario, servers: list[str]
) -> tuple[list[str], list[list[str]]]:
    """One row per server: every metric of ``scenario`` with its range, and CPU."""
    metrics = (*scenario.metrics, SERVER_CPU, CLIENT_CPU)
    header = ["", *(f"{m.label} ({m.unit})" for m in metrics)]
    rows = [
        [short(server), *(_cell(records, scenario.key, server, m) for m in metrics)]
        for server in columns(records, scenario.key, servers)
    ]
    return header, rows


def ratio_table(
    records: list[dict[str, Any]], scenario: Scenario
) -> tuple[list[str], list[list[str]]]:
    """One row per metric of ``scenario``: the ratios of :data:`COMPARISONS`."""
    found = comparisons(records, scenario.key)
    header = ["ratio", *(c.name for c in found)]
    rows = []
    for metric in scenario.metrics:
        row = [metric.label]
        for c in found:
            r = ratio(records, scenario.key, c.subject, c.other, metric)
            row.append(r.show() if r else "-")
        rows.append(row)
    return header, rows


def _metric(plan: list[Scenario], scenario: str, key: str) -> Metric | None:
    for s in plan:
        if s.key == scenario:
            return next((m for m in s.metrics if m.key == key), None)
    return None


def headline_tables(
    records: list[dict[str, Any]], plan: list[Scenario], servers: list[str]
) -> tuple[tuple[list[str], list[list[str]]], tuple[list[str], list[list[str]]]]:
    """The summary: the headline figures of every server, then their ratios."""
    picked = [(s, _metric(plan, s, k)) for s, k in HEADLINE]
    shown = [(s, m) for s, m in picked if m is not None]
    header = ["", *(f"{s}: {m.label} ({m.unit})" for s, m in shown)]
    rows = []
    for server in servers:
        cells = [
            _cell(records, s, server, m) if server in columns(records, s, servers) else ""
            for s, m in shown
        ]
        if any(cells):
            rows.append([short(server), *cells])
    ratio_rows = []
    for c in COMPARISONS:
        cells = []
        for s, m in shown:
            r = ratio(records, s, c.subject, c.other, m)
            cells.append(r.show() if r else "")
        if any(cells):
            ratio_rows.append([c.name, *cells])
    return (header, rows), (["ratio", *header[1:]], ratio_rows)


def _mode_of(server: str) -> str | None:
    """The async mode a server key runs in (gunicorn's worker is gevent's)."""
    if server == "flask-gunicorn":
        return "gevent"
    head, _, mode = server.partition("-")
    return mode if head in ("flask", "fsio", "bare") and mode else None


def echo_table(
    records: list[dict[str, Any]], servers: list[str], scenario: str = "echo"
) -> tuple[list[str], list[list[str]]]:
    """The headline: echo for every server, with its ratios to Flask-SocketIO on the
    same mode, to Node, and (for the Flask app) to the bare ``Server`` on the same mode.
    """
    from benchmarks.scenarios import ACKS, LAT_P99

    header = [
        f"{scenario}, 50 clients",
        "acks/s",
        "p99 latency (ms)",
        "acks/s vs Flask-SocketIO, same mode",
        "acks/s vs Node",
        "acks/s vs bare Server, same mode",
    ]
    rows = []
    for server in columns(records, scenario, servers):
        mode = _mode_of(server)
        cells = [short(server), _cell(records, scenario, server, ACKS)]
        cells.append(_cell(records, scenario, server, LAT_P99))
        others = [
            f"fsio-{mode}" if mode and not server.startswith("fsio") else None,
            "node" if server != "node" else None,
            f"bare-{mode}" if mode and server.startswith("flask") else None,
        ]
        for other in others:
            found = ratio(records, scenario, server, other, ACKS) if other else None
            cells.append(found.show() if found else "")
        rows.append(cells)
    return header, rows


def _text(header: list[str], rows: list[list[str]]) -> list[str]:
    everything = [header, *rows]
    widths = [max(len(row[i]) for row in everything) for i in range(len(header))]
    return [
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip()
        for row in everything
    ]


NOISY = "other processes took"


def warnings_of(records: list[dict[str, Any]]) -> list[str]:
    """Failures and warnings, one line each; noise is summed up in one line."""
    out = []
    noisy: list[tuple[float, str]] = []
    for r in records:
        where = f"{r['scenario']} / {short(r['server'])} / round {r['round'] + 1}"
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


def verdict_line(v: Verdict) -> str:
    mark = {True: "MET   ", False: "MISSED", None: "n/a   "}[v.met]
    rounds = f" ({v.show_rounds()} rounds)" if v.rounds else ""
    return f"  {mark} {v.target.mode:<9} {v.target.text}: {v.measured}{rounds}"


def text_table(records: list[dict[str, Any]], plan: list[Scenario], servers: list[str]) -> str:
    lines = []
    for scenario in plan:
        header, rows = server_table(records, scenario, servers)
        if not rows:
            continue
        lines.append(f"\n== {scenario.key}: {scenario.title}")
        lines.extend(_text(header, rows))
        r_header, r_rows = ratio_table(records, scenario)
        if len(r_header) > 1:
            lines.append("")
            lines.extend(_text(r_header, r_rows))
    header, rows = echo_table(records, servers)
    if rows:
        lines.append("\n== headline: echo, every server, medians with their range")
        lines.extend(_text(header, rows))
    lines.append("\n== targets of issue 15 (the Flask app)")
    lines.extend(verdict_line(v) for v in verdicts(records))
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


def client_bound(records: list[dict[str, Any]]) -> list[str]:
    out = []
    for r in records:
        cpu = r.get("metrics", {}).get("clientCpu")
        if r.get("ok") and cpu is not None and cpu >= CLIENT_BOUND:
            out.append(
                f"{r['scenario']} / {short(r['server'])} / round "
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
    "flask-eventlet": "#08519c",
    "flask-gevent": "#3182bd",
    "flask-threading": "#6baed6",
    "fsio-eventlet": "#a50f15",
    "fsio-gevent": "#de2d26",
    "fsio-threading": "#fb6a4a",
    "node": "#2ca02c",
    "bare-eventlet": "#9e9ac8",
    "bare-gevent": "#bcbddc",
    "bare-threading": "#dadaeb",
    "flask-gunicorn": "#fdae6b",
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
                label=short(server),
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
