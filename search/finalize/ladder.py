"""The fallback ladder: finalized models of one study as a family a service can switch between.

``ladder.json`` lists each shipped model with its measured latency, its
validation accuracy (what the ladder chooses by) and its test accuracy (measured
once, reported). Under load a service asks for the most accurate model that fits
a tighter budget::

    from search.finalize.ladder import load_ladder, select
    ladder = load_ladder("runs/STUDY/final/ladder.json")
    entry = select(ladder, budget_ms=0.3)        # None when no model fits
    session = onnxruntime.InferenceSession(entry.path)

This module needs only the standard library, so it can ship with the models.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["LadderEntry", "write_ladder", "load_ladder", "select"]

LADDER_VERSION = 2  # 2: val_accuracy, and select() chooses by it


@dataclass(frozen=True)
class LadderEntry:
    trial: int
    variant: str  # fp32, distilled, int8, ...
    path: str  # relative to the ladder file
    p50_ms: float
    p90_ms: float
    val_accuracy: float
    test_accuracy: float
    arch_str: str


def write_ladder(path: str | Path, entries: list[LadderEntry], device: str, budget_ms: float) -> Path:
    path = Path(path)
    ordered = sorted(entries, key=lambda e: (e.p50_ms, -e.val_accuracy))
    payload = {"version": LADDER_VERSION, "device": device, "budget_ms": budget_ms,
               "latency_statistic": "p50 at batch 1, measured", "models": [asdict(e) for e in ordered]}
    path.write_text(json.dumps(payload, indent=1) + "\n")
    return path


def load_ladder(path: str | Path) -> list[LadderEntry]:
    """The ladder's entries with absolute model paths (plain JSON: nothing in the file is executed)."""
    path = Path(path)
    data = json.loads(path.read_text())
    if not isinstance(data, dict) or data.get("version") != LADDER_VERSION:
        raise ValueError(f"{path}: not a version-{LADDER_VERSION} ladder manifest")
    entries = []
    for item in data["models"]:
        model = (path.parent / item["path"]).resolve()
        if path.parent.resolve() not in model.parents:
            raise ValueError(f"{path}: model path {item['path']!r} leaves the ladder's folder")
        entries.append(LadderEntry(**{**item, "path": str(model)}))
    return entries


def select(ladder: list[LadderEntry], budget_ms: float, statistic: str = "p50_ms") -> LadderEntry | None:
    """The model most accurate on validation whose measured ``statistic`` (p50_ms or p90_ms) is within
    ``budget_ms``."""
    fitting = [e for e in ladder if getattr(e, statistic) <= budget_ms]
    return max(fitting, key=lambda e: (e.val_accuracy, -e.p50_ms), default=None)
