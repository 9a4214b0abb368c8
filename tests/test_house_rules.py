"""House rules of docs/ARCHITECTURE.md that a tool can check: short functions, and ruff clean (lines of
at most 110 characters included)."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]
PACKAGES = ("search", "hwprofiles", "predictors", "spaces")
MAX_FUNCTION_LINES = 60


def long_functions(root: Path = PROJECT, limit: int = MAX_FUNCTION_LINES) -> list[str]:
    out = []
    for pkg in PACKAGES:
        for path in sorted((root / pkg).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    lines = node.end_lineno - node.lineno + 1
                    if lines > limit:
                        out.append(f"{path.relative_to(root)}:{node.lineno} {node.name}: {lines} lines")
    return out


def test_no_function_is_longer_than_the_limit():
    assert long_functions() == []


def test_a_long_function_is_found(tmp_path):
    (tmp_path / "search").mkdir()
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    (tmp_path / "search" / "m.py").write_text(f"def f():\n{body}\n")
    for pkg in PACKAGES[1:]:
        (tmp_path / pkg).mkdir()
    assert long_functions(tmp_path) == [f"search/m.py:1 f: {MAX_FUNCTION_LINES + 1} lines"]


def test_ruff_finds_nothing():
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        pytest.fail("ruff is not installed (it is in the dev extra)")
    done = subprocess.run([ruff, "check", "--no-cache", "."], cwd=PROJECT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:]
