"""The import rule of docs/ARCHITECTURE.md, read from the source: every import, those inside functions too.

- top level: ``search`` -> ``hwprofiles``, ``predictors``, ``spaces``; ``hwprofiles`` -> ``spaces``;
  ``predictors`` -> ``spaces``; ``spaces`` -> nothing of the project;
- inside ``search``: a room imports only itself and the rooms before it in ``ROOMS``; the modules at
  the root of ``search`` (the version, file helpers) import no room;
- no cycle between modules;
- an import inside a function only defers a heavy or optional dependency (``DEFERRED``), directly or
  through a project module that imports one at its top.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]
PACKAGES = ("search", "hwprofiles", "predictors", "spaces")
ALLOWED = {"search": {"hwprofiles", "predictors", "spaces"}, "hwprofiles": {"spaces"},
           "predictors": {"spaces"}, "spaces": set()}
ROOMS = ("training", "execution", "study", "screening", "loop", "finalize", "report", "deploy", "cli")
#: third-party modules an import inside a function may defer, and why
DEFERRED = {
    "torch": "a 1-2 s import: commands that neither train nor export start without it",
    "torchvision": "imported by timm with torch",
    "timm": "imports torch",
    "onnx": "only export and graph inspection need it",
    "onnxscript": "only export needs it",
    "onnxruntime": "only timing and accuracy through ONNX Runtime need it",
    "sklearn": "a 1 s import: only fitting predictors and the digits data need it",
    "matplotlib": "only plots need it, and its backend is chosen first",
    "plotly": "only the report's interactive chart needs it",
    "ray": "a multi-second import: only --workers > 1 needs it",
    "PIL": "only image folders need it",
    "optuna": "only the study's commands need it",
    "sqlalchemy": "optuna's storage layer: only the study's commands need it",
    "fcntl": "POSIX only: the file locks of drivers",
}


@dataclass(frozen=True)
class Import:
    source: str  # importing module, dotted
    target: str  # imported module, dotted (the deepest project module the statement names)
    line: int
    deferred: bool  # inside a function


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(node: ast.ImportFrom, source: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = source.split(".")
    base = base if is_package else base[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def read_imports(root: Path, packages: tuple[str, ...] = PACKAGES) -> tuple[list[Import], set[str]]:
    files = [p for pkg in packages for p in sorted((root / pkg).rglob("*.py"))]
    modules = {module_name(p, root) for p in files}
    found = []
    for path in files:
        source = module_name(path, root)
        tree = ast.parse(path.read_text(), str(path))
        deferred_nodes = {id(n) for fn in ast.walk(tree)
                          if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef))
                          for n in ast.walk(fn)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(node, source, path.name == "__init__.py")
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            else:
                continue
            for target in dict.fromkeys(targets):
                found.append(Import(source, target, node.lineno, id(node) in deferred_nodes))
    return found, modules


def _package(module: str) -> str:
    return module.split(".")[0]


def _room(module: str) -> str | None:
    """The room of a ``search`` module; None for the root modules (``search``, ``search.files``, ...)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in ROOMS) else None


def _project_target(imp: Import, modules: set[str]) -> str | None:
    """The project module ``imp`` names (its deepest existing prefix), or None for a third-party import."""
    parts = imp.target.split(".")
    while parts:
        name = ".".join(parts)
        if name in modules:
            return name
        parts.pop()
    return None


def violations(root: Path = PROJECT, packages: tuple[str, ...] = PACKAGES) -> list[str]:
    imports, modules = read_imports(root, packages)
    out = []
    graph: dict[str, set[str]] = {m: set() for m in modules}
    heavy_at_top: dict[str, set[str]] = {m: set() for m in modules}
    for imp in imports:
        target = _project_target(imp, modules)
        where = f"{imp.source.replace('.', '/')}.py:{imp.line}"
        if target is None:
            if not imp.deferred and _package(imp.target) in DEFERRED:
                heavy_at_top[imp.source].add(_package(imp.target))
            continue
        graph[imp.source].add(target)
        src_pkg, dst_pkg = _package(imp.source), _package(target)
        if dst_pkg != src_pkg and dst_pkg not in ALLOWED[src_pkg]:
            out.append(f"{where}: {src_pkg} must not import {dst_pkg} ({imp.target})")
        if src_pkg == dst_pkg == "search" and imp.source != "search.__main__":
            a, b = _room(imp.source), _room(target)
            if b is not None and (a is None or ROOMS.index(b) > ROOMS.index(a)):
                out.append(f"{where}: {a or 'the root of search'} must not import the later room "
                           f"{b} ({target})")
    for imp in imports:
        if not imp.deferred:
            continue
        where = f"{imp.source.replace('.', '/')}.py:{imp.line}"
        target = _project_target(imp, modules)
        if target is None:
            if _package(imp.target) not in DEFERRED:
                out.append(f"{where}: {imp.target} imported inside a function; only heavy or optional "
                           "dependencies are deferred (tests/test_import_rules.py DEFERRED)")
        elif not _reaches_heavy(target, graph, heavy_at_top):
            out.append(f"{where}: {target} imported inside a function defers nothing heavy; "
                       "import it at the top")
    out += [f"import cycle: {' -> '.join(c)}" for c in _cycles(graph)]
    return out


def _reaches_heavy(module: str, graph: dict[str, set[str]], heavy_at_top: dict[str, set[str]]) -> bool:
    seen, stack = set(), [module]
    while stack:
        m = stack.pop()
        if m in seen:
            continue
        seen.add(m)
        if heavy_at_top[m]:
            return True
        stack += graph[m]
    return False


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w == v:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component) + [sorted(component)[0]])

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_project_follows_the_import_rule():
    assert violations() == []


def test_every_room_exists():
    for room in ROOMS:
        assert (PROJECT / "search" / room / "__init__.py").is_file(), room


def _plant(tmp_path: Path, files: dict[str, str]) -> Path:
    for name in ("search/__init__.py", "search/training/__init__.py", "search/cli/__init__.py",
                 "search/study/__init__.py", "spaces/__init__.py", "hwprofiles/__init__.py",
                 "predictors/__init__.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return tmp_path


@pytest.mark.parametrize("files, expected", [
    ({"search/training/trainer.py": "from search.cli import main\n", "search/cli/main.py": ""},
     "training must not import the later room cli"),
    ({"search/training/trainer.py": "def f():\n    from search.cli.main import x\n",
      "search/cli/main.py": ""},
     "training must not import the later room cli"),
    ({"spaces/base.py": "import hwprofiles\n"}, "spaces must not import hwprofiles"),
    ({"hwprofiles/kit.py": "from search.study import x\n"}, "hwprofiles must not import search"),
    ({"search/files.py": "from search.training import x\n"}, "the root of search must not import"),
    ({"search/study/a.py": "from search.study.b import x\n", "search/study/b.py": "from . import a\n"},
     "import cycle: search.study.a -> search.study.b -> search.study.a"),
    ({"search/study/a.py": "def f():\n    import json\n"}, "json imported inside a function"),
    ({"search/study/a.py": "def f():\n    from search.study.b import x\n",
      "search/study/b.py": "import json\n"},
     "search.study.b imported inside a function defers nothing heavy"),
])
def test_a_planted_violation_is_found(tmp_path, files, expected):
    found = violations(_plant(tmp_path, files))
    assert any(expected in v for v in found), found


def test_deferring_a_heavy_dependency_is_allowed(tmp_path):
    root = _plant(tmp_path, {"search/study/a.py": ("def f():\n    from search.study.b import x\n"
                                                   "    import torch\n"),
                             "search/study/b.py": "import torch\n",
                             "search/cli/main.py": "from search.study import a\n"})
    assert violations(root) == []
