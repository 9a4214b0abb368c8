"""What the report shows, read once from the study and its model cards: one point per architecture.

A study may hold several trials of one architecture (repeats asked for with
``--repeat-architectures``, duplicates told the stored result, or studies made
before duplicates were recognised); the report shows each architecture once,
at its best accuracy, with how many trials proposed it (screened out or
repeated ones included).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from search.loop.state import architecture_key
from search.study.pareto import non_dominated_ranks
from search.study.record import TrialRecord, TrialStatus
from search.study.storage import StudyHandle

__all__ = ["ArchitecturePoint", "ShippedModel", "StudyView", "read_view"]


@dataclass(frozen=True)
class ArchitecturePoint:
    """One architecture: its best trial of a status, and how many trials of the study proposed it (any
    status)."""

    trial: int
    trials: int
    space: str
    arch: str
    val_accuracy: float
    upper_ms: float | None
    predicted_p50_ms: float | None
    test_accuracy: float | None


@dataclass(frozen=True)
class ShippedModel:
    card: dict[str, Any]
    folder: Path  # the card's folder

    @property
    def variant(self) -> dict[str, Any]:
        return self.card["variants"][self.card["shipped"]]


@dataclass(frozen=True)
class StudyView:
    name: str
    settings: dict[str, Any]
    records: list[tuple[int, TrialRecord]]  # every trial, by number
    trained: list[ArchitecturePoint]  # trained fully
    stopped: list[ArchitecturePoint]  # stopped early by successive halving, never trained fully
    front: list[ArchitecturePoint]  # the non-dominated trained ones, fastest first
    shipped: list[ShippedModel]

    @property
    def tabular(self) -> bool:
        """Accuracy looked up in a table: nothing trained, nothing to finalize."""
        return self.settings.get("evaluator") == "tabular"

    def count_by_status(self) -> dict[str, int]:
        count: dict[str, int] = {}
        for _, record in self.records:
            name = "unknown" if record.status is None else record.status.value
            count[name] = count.get(name, 0) + 1
        return count

    def evaluated(self) -> tuple[int, int]:
        """Evaluations (what counts towards ``--trials``) and the distinct architectures among them."""
        keys = [architecture_key(r.space, r.arch_str) for _, r in self.records
                if r.status is not None and r.status.evaluated]
        return len(keys), len(set(keys))


def _key(record: TrialRecord) -> str:
    return architecture_key(record.space, record.arch_str)


def _best_per_architecture(records: Iterable[tuple[int, TrialRecord]], status: TrialStatus,
                           proposals: dict[str, int], exclude: frozenset[str] = frozenset()
                           ) -> list[ArchitecturePoint]:
    best: dict[str, tuple[int, TrialRecord]] = {}
    for number, record in records:
        if record.status is not status or record.val_accuracy is None or _key(record) in exclude:
            continue
        have = best.get(_key(record))
        if have is None or record.val_accuracy > have[1].val_accuracy:
            best[_key(record)] = (number, record)
    return [ArchitecturePoint(number, proposals[key], r.space, r.arch_str, r.val_accuracy,
                              r.predicted_upper_ms, r.predicted_p50_ms, r.test_accuracy)
            for key, (number, r) in best.items()]


def _shipped(handle: StudyHandle) -> list[ShippedModel]:
    models = []
    for folder in (handle.study.user_attrs.get("final") or {}).get("cards", {}).values():
        path = handle.artifacts / folder / "model_card.json"
        if path.is_file():
            models.append(ShippedModel(json.loads(path.read_text()), path.parent))
    return sorted(models, key=lambda m: m.card["trial"])


def read_view(handle: StudyHandle) -> StudyView:
    records = sorted((t.number, TrialRecord.of(t)) for t in handle.study.get_trials(deepcopy=False))
    proposals: dict[str, int] = {}
    for _, record in records:
        if record.arch_str:
            proposals[_key(record)] = proposals.get(_key(record), 0) + 1
    trained = _best_per_architecture(records, TrialStatus.COMPLETE, proposals)
    stopped = _best_per_architecture(records, TrialStatus.PRUNED, proposals,
                                     exclude=frozenset(architecture_key(p.space, p.arch) for p in trained))
    timed = [p for p in trained if p.upper_ms is not None]
    ranks = non_dominated_ranks([(p.val_accuracy, p.upper_ms) for p in timed])
    front = sorted((p for p, rank in zip(timed, ranks) if rank == 0),
                   key=lambda p: (p.upper_ms, -p.val_accuracy, p.trial))
    return StudyView(handle.name, handle.settings, records, trained, stopped, front, _shipped(handle))
