"""docs/flask/migration.md's tables, held to Flask-SocketIO and python-socketio.

The page promises a row for every public name of Flask-SocketIO 5 and of
python-socketio's ``Server`` and ``Namespace``: module names, methods,
attributes, and the constructor options (the engine options they pass on to
python-engineio's ``Server`` included). This test walks those names in the
installed packages (``dir()``, the attributes their methods assign to
``self``, the parameters their constructors take or document) and holds
each row to what ours does:

- every name they have needs a row (a name with none is reported);
- **same**: ours has the name, and where it is callable, accepts every call
  theirs accepts: each positional parameter in its place, each keyword
  (documented ones included), and requires nothing more;
- **different**: ours has the name (the row says what differs);
- **not supported**: ours does not have it (if it does, the row is stale).

An option "exists" when ours can be built with it set to their default.
"""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import engineio
import flask_socketio
import pytest
import socketio
from flask import Flask

import realtime
import realtime.flask_integration as integration

PAGE = Path(__file__).resolve().parents[2] / "docs" / "flask" / "migration.md"
STATUSES = ("same", "different", "not supported")

P = inspect.Parameter
POSITIONAL = (P.POSITIONAL_ONLY, P.POSITIONAL_OR_KEYWORD)
BY_KEYWORD = (P.POSITIONAL_OR_KEYWORD, P.KEYWORD_ONLY)
#: Parameters of a constructor that are not options.
NOT_OPTIONS = {"self", "app", "args", "kwargs"}
#: Option values to build with instead of their default (None would pick
#: an async mode by what is installed).
SAMPLE_VALUES = {"async_mode": "threading"}


class InstanceAttribute:
    """Stands for an attribute their methods assign to ``self``: known by name only."""


INSTANCE_ATTRIBUTE = InstanceAttribute()


# -- what they have ------------------------------------------------------------


def module_names(module: ModuleType) -> dict[str, Any]:
    """A module's public names, minus the libraries it imports (its submodules stay)."""
    names = {}
    for name in dir(module):
        value = getattr(module, name)
        if name.startswith("_"):
            continue
        if inspect.ismodule(value) and not value.__name__.startswith(f"{module.__name__}."):
            continue
        names[name] = value
    return names


def class_members(cls: type) -> dict[str, Any]:
    """A class's public attributes and methods, and those its methods assign to ``self``."""
    members: dict[str, Any] = dict.fromkeys(instance_attributes(cls), INSTANCE_ATTRIBUTE)
    members.update({name: getattr(cls, name) for name in dir(cls) if not name.startswith("_")})
    return members


def instance_attributes(cls: type) -> set[str]:
    names: set[str] = set()
    for klass in cls.__mro__[:-1]:
        tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        class_def = tree.body[0]
        assert isinstance(class_def, ast.ClassDef)
        for node in class_def.body:
            if isinstance(node, ast.FunctionDef) and node.args.args:
                names |= _assigned_to(node.args.args[0].arg, node.body)
    return {name for name in names if not name.startswith("_")}


def _assigned_to(self_name: str, body: list[ast.stmt]) -> set[str]:
    """Attributes of ``self_name`` assigned in ``body``, nested classes left out
    (their methods' first argument is another instance)."""
    found = set()
    stack: list[ast.AST] = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.ClassDef):
            continue
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            targets = [node.target]
        for target in targets:
            for item in target.elts if isinstance(target, ast.Tuple) else [target]:
                if (
                    isinstance(item, ast.Attribute)
                    and isinstance(item.value, ast.Name)
                    and item.value.id == self_name
                ):
                    found.add(item.attr)
        stack.extend(ast.iter_child_nodes(node))
    return found


def documented_parameters(obj: Any) -> list[str]:
    """The names of a docstring's ``:param name:`` lines."""
    doc = inspect.getdoc(obj) or ""
    return re.findall(r"^\s*:param\s+\**(\w+):", doc, re.MULTILINE)


def constructor_options(*classes: type) -> dict[str, Any]:
    """Each option the constructors take or document, with its default (None if unsaid)."""
    options: dict[str, Any] = {}
    for cls in classes:
        for parameter in inspect.signature(cls).parameters.values():
            if parameter.kind in POSITIONAL + BY_KEYWORD and parameter.name not in NOT_OPTIONS:
                default = None if parameter.default is P.empty else parameter.default
                options.setdefault(parameter.name, default)
        for name in documented_parameters(cls):
            if name not in NOT_OPTIONS:
                options.setdefault(name, None)
    return options


# -- whether ours has it, compatibly -------------------------------------------


@dataclass
class Verdict:
    present: bool
    problems: list[str] = field(default_factory=list)


def signature_problems(theirs: Any, ours: Any, *, drop_self: bool) -> list[str]:
    """Ways a call that works on ``theirs`` would fail, or mean something else, on ``ours``."""
    try:
        their_signature, our_signature = inspect.signature(theirs), inspect.signature(ours)
    except (TypeError, ValueError):  # a builtin without a signature: nothing to compare
        return []
    their_params = list(their_signature.parameters.values())[1 if drop_self else 0 :]
    our_params = list(our_signature.parameters.values())
    their_positional = [p for p in their_params if p.kind in POSITIONAL]
    our_positional = [p for p in our_params if p.kind in POSITIONAL]
    our_kinds = {p.kind for p in our_params}
    problems = []
    for index, param in enumerate(their_positional):
        if index < len(our_positional):
            mine = our_positional[index].name
            if mine != param.name and param.kind is P.POSITIONAL_OR_KEYWORD:
                problems.append(f"positional argument {index + 1} is {param.name}, here {mine}")
        elif P.VAR_POSITIONAL not in our_kinds:
            problems.append(f"{param.name} cannot be passed by position")
    their_kinds = [p.kind for p in their_params]
    pass_through = their_kinds == [P.VAR_POSITIONAL, P.VAR_KEYWORD]
    if P.VAR_POSITIONAL in their_kinds and P.VAR_POSITIONAL not in our_kinds and not pass_through:
        problems.append("takes any number of positional arguments there, not here")
    keywords = [p.name for p in their_params if p.kind in BY_KEYWORD]
    keywords += [n for n in documented_parameters(theirs) if n not in NOT_OPTIONS]
    our_keywords = {p.name for p in our_params if p.kind in BY_KEYWORD}
    if P.VAR_KEYWORD not in our_kinds:
        problems += [f"no {n}= keyword" for n in dict.fromkeys(keywords) if n not in our_keywords]
    their_required = {p.name for p in their_params if p.default is P.empty}
    problems += [
        f"{p.name} is required here"
        for p in our_params
        if p.kind in POSITIONAL + BY_KEYWORD
        and p.default is P.empty
        and p.name not in their_required
    ]
    return problems


def member_verdict(theirs: Any, owner: Any, name: str, *, drop_self: bool) -> Verdict:
    """Whether ``owner`` (ours) has ``name`` as theirs does."""
    if name not in dir(owner):
        return Verdict(present=False)
    try:
        ours = getattr(owner, name)
    except Exception:  # a property that needs a context: present, not comparable
        return Verdict(present=True)
    if inspect.isclass(theirs):
        return Verdict(present=True, problems=class_problems(theirs, ours))
    if inspect.isroutine(theirs):
        if not callable(ours) or inspect.isclass(ours):
            return Verdict(present=True, problems=["not callable here"])
        return Verdict(present=True, problems=signature_problems(theirs, ours, drop_self=drop_self))
    if inspect.ismodule(theirs):
        return Verdict(present=True, problems=submodule_problems(theirs, ours))
    return Verdict(present=True)


def class_problems(theirs: type, ours: Any) -> list[str]:
    """A class is called to build one (its constructor), or read for its constants."""
    if not inspect.isclass(ours):
        return ["not a class here"]
    if issubclass(theirs, BaseException) and not issubclass(ours, BaseException):
        return ["not an exception here"]
    if theirs.__init__ is not object.__init__:
        return signature_problems(theirs, ours, drop_self=False)
    constants = [n for n in dir(theirs) if not n.startswith("_")]
    return [f"no {n} here" for n in constants if n not in dir(ours)]


def submodule_problems(theirs: ModuleType, ours: Any) -> list[str]:
    """A submodule is imported from: it must hold the package's names it holds there."""
    if not inspect.ismodule(ours):
        return ["not a module here"]
    package = flask_socketio
    held = [
        n
        for n in dir(theirs)
        if not n.startswith("_") and getattr(package, n, None) is getattr(theirs, n)
    ]
    return [f"no {n} in it" for n in held if n not in dir(ours)]


def option_verdict(build: Callable[[dict[str, Any]], None], name: str, default: Any) -> Verdict:
    try:
        build({name: SAMPLE_VALUES.get(name, default)})
    except Exception as exc:
        return Verdict(present=False, problems=[f"{type(exc).__name__}: {exc}"])
    return Verdict(present=True)


def build_extension(options: dict[str, Any]) -> None:
    extension = integration.SocketIO(Flask("migration"), **{**SAMPLE_VALUES, **options})
    extension.server.shutdown()


def build_server(options: dict[str, Any]) -> None:
    realtime.Server(**{**SAMPLE_VALUES, **options}).shutdown()


# -- the surfaces --------------------------------------------------------------


@dataclass
class Ours:
    """One of each of our objects, to look names up on."""

    extension: integration.SocketIO
    namespace: integration.Namespace
    client: integration.SocketIOTestClient
    server: realtime.Server
    core_namespace: realtime.Namespace


@dataclass(frozen=True)
class Surface:
    """One table of the page: whose names, and how ours is asked about each."""

    key: str
    names: Callable[[], dict[str, Any]]
    verdict: Callable[[Ours, str, Any], Verdict]


def _members_of(attribute: str) -> Callable[[Ours, str, Any], Verdict]:
    def verdict(ours: Ours, name: str, theirs: Any) -> Verdict:
        return member_verdict(theirs, getattr(ours, attribute), name, drop_self=True)

    return verdict


def _module_verdict(ours: Ours, name: str, theirs: Any) -> Verdict:
    return member_verdict(theirs, integration, name, drop_self=False)


SURFACES = [
    Surface("flask_socketio", lambda: module_names(flask_socketio), _module_verdict),
    Surface(
        "flask_socketio.SocketIO",
        lambda: class_members(flask_socketio.SocketIO),
        _members_of("extension"),
    ),
    Surface(
        "flask_socketio.SocketIO(**options)",
        lambda: constructor_options(engineio.Server, socketio.Server, flask_socketio.SocketIO),
        lambda ours, name, default: option_verdict(build_extension, name, default),
    ),
    Surface(
        "flask_socketio.Namespace",
        lambda: class_members(flask_socketio.Namespace),
        _members_of("namespace"),
    ),
    Surface(
        "flask_socketio.SocketIOTestClient",
        lambda: class_members(flask_socketio.SocketIOTestClient),
        _members_of("client"),
    ),
    Surface("socketio.Server", lambda: class_members(socketio.Server), _members_of("server")),
    Surface(
        "socketio.Server(**options)",
        lambda: constructor_options(engineio.Server, socketio.Server),
        lambda ours, name, default: option_verdict(build_server, name, default),
    ),
    Surface(
        "socketio.Namespace",
        lambda: class_members(socketio.Namespace),
        _members_of("core_namespace"),
    ),
]


# -- the page ------------------------------------------------------------------


def page_rows(text: str) -> dict[str, dict[str, str]]:
    """``{table key: {name: status}}`` from the page's tables.

    A table belongs to the ``###`` heading above it, whose first backticked
    text is its key; a row's name is the first backticked text of its first
    cell, its status the start of the second. Tables under other headings
    (prose, behaviour) are not read.

    Raises:
        ValueError: a row with an unknown status, or a name listed twice.
    """
    tables: dict[str, dict[str, str]] = {}
    key: str | None = None
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("#"):
            found = re.search(r"`([^`]+)`", line)
            key = found.group(1) if found and line.startswith("### ") else None
            continue
        if key is None or not line.startswith("|"):
            continue
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        name = re.match(r"`([^`]+)`", cells[0]) if cells else None
        if name is None:
            continue  # the header or the separator
        status = cells[1].strip("* ").lower() if len(cells) > 1 else ""
        known = next((s for s in STATUSES if status.startswith(s)), None)
        if known is None:
            raise ValueError(f"line {number}: status {cells[1]!r} is none of {STATUSES}")
        rows = tables.setdefault(key, {})
        row = name.group(1).removesuffix("()")
        if row in rows:
            raise ValueError(f"line {number}: {key} {row} is listed twice")
        rows[row] = known
    return tables


def table_problems(surface: Surface, rows: dict[str, str], ours: Ours) -> list[str]:
    """What is wrong with the table of ``surface``, one line per name."""
    problems = []
    for name, theirs in sorted(surface.names().items()):
        where = f"{surface.key} {name}"
        status = rows.get(name)
        if status is None:
            problems.append(f"{where}: no row on the page")
            continue
        verdict = surface.verdict(ours, name, theirs)
        if status == "same" and (not verdict.present or verdict.problems):
            why = "; ".join(verdict.problems) if verdict.problems else "ours has no such name"
            problems.append(f"{where}: the row says same, but {why}")
        elif status == "different" and not verdict.present:
            problems.append(f"{where}: the row says different, but ours does not have it")
        elif status == "not supported" and verdict.present:
            problems.append(f"{where}: the row says not supported, but ours has it")
    return problems


# -- the tests -----------------------------------------------------------------


@pytest.fixture(scope="module")
def ours() -> Iterator[Ours]:
    app = Flask("migration")
    extension = integration.SocketIO(app, async_mode="threading")
    namespace = integration.Namespace("/ns")
    extension.on_namespace(namespace)
    server = realtime.Server(async_mode="threading")
    core_namespace = realtime.Namespace("/ns")
    server.register_namespace(core_namespace)
    client = extension.test_client(app)
    yield Ours(extension, namespace, client, server, core_namespace)
    client.disconnect()
    extension.server.shutdown()
    server.shutdown()


@pytest.fixture(scope="module")
def rows() -> dict[str, dict[str, str]]:
    return page_rows(PAGE.read_text(encoding="utf-8"))


def test_the_page_has_a_table_for_each_surface_and_no_other(
    rows: dict[str, dict[str, str]],
) -> None:
    assert sorted(rows) == sorted(surface.key for surface in SURFACES)


@pytest.mark.parametrize("surface", SURFACES, ids=lambda surface: surface.key)
def test_each_name_has_a_row_that_holds(
    surface: Surface, rows: dict[str, dict[str, str]], ours: Ours
) -> None:
    problems = table_problems(surface, rows.get(surface.key, {}), ours)
    assert problems == [], "docs/flask/migration.md:\n" + "\n".join(problems)


def test_the_walk_finds_the_names_everyone_uses() -> None:
    names = {surface.key: surface.names() for surface in SURFACES}
    assert {"SocketIO", "emit", "join_room", "ConnectionRefusedError"} <= set(
        names["flask_socketio"]
    )
    assert {"on", "emit", "run", "server", "manage_session"} <= set(
        names["flask_socketio.SocketIO"]
    )
    assert {"manage_session", "message_queue", "ping_interval", "cors_allowed_origins"} <= set(
        names["flask_socketio.SocketIO(**options)"]
    )
    assert {"emit", "get_received", "eio_sid"} <= set(names["flask_socketio.SocketIOTestClient"])
    assert {"emit", "enter_room", "eio", "reason"} <= set(names["socketio.Server"])
    assert {"client_manager", "async_mode", "monitor_clients"} <= set(
        names["socketio.Server(**options)"]
    )


def test_a_missing_row_is_reported(ours: Ours) -> None:
    text = PAGE.read_text(encoding="utf-8")
    removed = re.sub(r"^\| `close_room` .*\n", "", text, flags=re.MULTILINE)
    assert removed != text
    surface = next(s for s in SURFACES if s.key == "flask_socketio.SocketIO")
    problems = table_problems(surface, page_rows(removed)[surface.key], ours)
    assert problems == ["flask_socketio.SocketIO close_room: no row on the page"]


class Without:
    """``owner`` as if it had no attribute ``name``."""

    def __init__(self, owner: Any, name: str) -> None:
        self._owner, self._name = owner, name

    def __dir__(self) -> list[str]:
        return [n for n in dir(self._owner) if n != self._name]

    def __getattr__(self, name: str) -> Any:
        if name == self._name:
            raise AttributeError(name)
        return getattr(self._owner, name)


def test_a_method_ours_lost_is_reported(rows: dict[str, dict[str, str]], ours: Ours) -> None:
    surface = next(s for s in SURFACES if s.key == "flask_socketio.SocketIO")
    lost = Ours(**{**vars(ours), "extension": Without(ours.extension, "close_room")})
    problems = table_problems(surface, rows[surface.key], lost)
    assert problems == [
        "flask_socketio.SocketIO close_room: the row says same, but ours has no such name"
    ]


def test_a_changed_signature_is_reported(rows: dict[str, dict[str, str]], ours: Ours) -> None:
    class Changed:
        def close_room(self, name: str, namespace: str | None = None) -> None: ...

    surface = next(s for s in SURFACES if s.key == "flask_socketio.SocketIO")
    changed = Ours(**{**vars(ours), "extension": Changed()})
    problems = [p for p in table_problems(surface, rows[surface.key], changed) if "close_room" in p]
    assert problems == [
        "flask_socketio.SocketIO close_room: the row says same, "
        "but positional argument 1 is room, here name; no room= keyword; name is required here"
    ]


def test_signature_problems_are_found() -> None:
    def theirs(self: Any, event: str, data: Any = None, room: Any = None, **kwargs: Any) -> None:
        """:param callback: a documented keyword."""

    def same(event: str, data: Any = None, room: Any = None, callback: Any = None) -> None: ...
    def renamed(event: str, data: Any = None, to: Any = None, *, room: Any = None) -> None: ...
    def stricter(event: str, data: Any, room: Any = None, **kwargs: Any) -> None: ...

    assert signature_problems(theirs, same, drop_self=True) == []
    assert signature_problems(theirs, renamed, drop_self=True) == [
        "positional argument 3 is room, here to",
        "no callback= keyword",
    ]
    assert signature_problems(theirs, stricter, drop_self=True) == ["data is required here"]
