"""What the tool knows about: the registered search spaces, described for people."""

from __future__ import annotations

from dataclasses import dataclass

from spaces import create_space, list_spaces

__all__ = ["SpaceSummary", "describe_spaces", "format_count"]


@dataclass(frozen=True)
class SpaceSummary:
    name: str
    description: str
    architectures: int


def describe_spaces() -> list[SpaceSummary]:
    out = []
    for name in list_spaces():
        space = create_space(name)
        out.append(SpaceSummary(name, space.description, space.size()))
    return out


def format_count(n: int) -> str:
    """Exact below a million, else scientific (``3.1e+21``): sizes span 20 orders."""
    return f"{n:,}" if n < 1_000_000 else f"{n:.2e}"
