"""The rules that keep the tree reading as the architecture (docs/architecture.md).

Each rule is read off the source: every import counts, including those inside
functions and under ``if TYPE_CHECKING`` (a type-only import still stands for
a two-way reference).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.imports import ROOT, cycles, graph, imported_names, modules

#: The layers, lowest first: a module imports only from its own layer and
#: those below it (the longest matching prefix decides a module's layer).
LAYERS = {
    "realtime.exceptions": 0,
    "realtime.protocol": 1,
    "realtime.async_modes": 2,
    "realtime.serving": 2,
    "realtime.engine": 3,
    "realtime.push": 3,
    "realtime.socketio.managers": 4,
    "realtime.socketio": 5,
    "realtime.flask_integration": 6,
    "realtime": 7,
}
CONCURRENCY = ("threading", "_thread", "eventlet", "gevent", "greenlet")
MAX_LINES = 700


def layer(module: str) -> int:
    best = max((p for p in LAYERS if module == p or module.startswith(p + ".")), key=len)
    return LAYERS[best]


def foreign_imports(module: str) -> set[str]:
    """The top-level packages ``module`` imports that are not realtime's."""
    path = modules()[module]
    names = imported_names(path, module, path.name == "__init__.py")
    return {name.split(".")[0] for name in names if name and not name.startswith("realtime")}


def test_the_graph_sees_known_edges() -> None:
    # Guards the reader itself: a parser that saw nothing would pass every rule.
    edges = graph()
    assert "realtime.socketio.dispatch" in edges["realtime.socketio.server"]
    assert "realtime.engine.forwarding" in edges["realtime.engine.server"]
    assert "realtime.protocol.socketio" in edges["realtime.protocol.default_parser"]


def test_no_import_circle() -> None:
    assert cycles(graph()) == []


def test_each_layer_imports_only_what_is_below() -> None:
    upward = [
        f"{module} -> {target}"
        for module, targets in graph().items()
        for target in targets
        if layer(target) > layer(module)
    ]
    assert upward == []


def test_the_managers_know_nothing_of_the_messaging_layer_above_them() -> None:
    reaching_up = [
        f"{module} -> {target}"
        for module, targets in graph().items()
        if module.startswith("realtime.socketio.managers")
        for target in targets
        if target.startswith("realtime.socketio")
        and not target.startswith("realtime.socketio.managers")
    ]
    assert reaching_up == []


def test_only_the_async_modes_import_concurrency_libraries() -> None:
    offenders = {
        module: sorted(foreign_imports(module) & set(CONCURRENCY))
        for module in modules()
        if not module.startswith("realtime.async_modes")
    }
    assert {m: libs for m, libs in offenders.items() if libs} == {}


def test_nothing_below_the_flask_integration_imports_flask() -> None:
    offenders = [
        module
        for module in modules()
        if not module.startswith("realtime.flask_integration")
        and "flask" in foreign_imports(module)
    ]
    assert offenders == []


#: What the protocol layer may import: no I/O, no clock, no concurrency.
PURE = {
    "__future__",
    "base64",
    "binascii",
    "collections",
    "dataclasses",
    "datetime",
    "enum",
    "functools",
    "importlib",
    "itertools",
    "json",
    "math",
    "msgpack",
    "orjson",
    "re",
    "struct",
    "typing",
}


@pytest.mark.parametrize(
    "module", sorted(m for m in modules() if m.startswith("realtime.protocol"))
)
def test_the_protocol_layer_imports_nothing_impure(module: str) -> None:
    assert foreign_imports(module) - PURE == set()
    code = (
        "import sys; before = set(sys.modules); "
        f"import {module}; "
        "new = {m.split('.')[0] for m in set(sys.modules) - before}; "
        "bad = {'socket', 'select', 'selectors', 'threading', 'time', 'asyncio', 'eventlet', "
        "'gevent', 'greenlet', 'flask', 'werkzeug', 'redis', 'kombu'}; "
        "print(','.join(sorted(new & bad)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.strip() == ""


def test_no_module_is_over_700_lines() -> None:
    long = {
        module: count
        for module, path in modules().items()
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}
