"""Markdown pieces the benchmark renderers share."""

from __future__ import annotations


def _table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _meta(r: dict) -> str:
    m = r["machine"]
    return f"_{r['date']} · {m['cpu']}, {m['cores']} cores · Python {m['python']}_"


def _met(ok: bool) -> str:
    return "yes" if ok else "**no**"
