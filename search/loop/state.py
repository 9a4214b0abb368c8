"""What the search loop shares between its parts: the study, the screen, the budget, and the counts shown.

``SearchState`` is the loop's working memory (one per driver); ``SearchStatus``
is what the progress bar shows, recounted from the study because other drivers
may share it; ``SearchOutcome`` is what ``run_search`` returns.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from search.screening.candidate_timing import CandidateTimer
from search.screening.screen import Screen
from search.study.candidates import Candidate
from search.study.coordination import driver_tag
from search.study.record import TrialRecord, TrialStatus
from search.study.settings import RunSettings
from search.study.storage import StudyHandle
from spaces import SearchSpace

__all__ = ["SearchState", "SearchStatus", "SearchOutcome", "ActiveTrial", "counts_towards_trials",
           "trial_seed", "architecture_key", "admitted_architectures"]


def trial_seed(seed: int, number: int) -> int:
    return (seed * 1_000_003 + number) % 2**31


ADMITTED = (TrialStatus.TRAINING, TrialStatus.COMPLETE, TrialStatus.PRUNED, TrialStatus.FAILED)


def architecture_key(space: str, arch_str: str) -> str:
    """One architecture, however its parameters were spelled: the space and its canonical string."""
    return f"{space}:{arch_str}"


def admitted_architectures(trials: list[FrozenTrial]) -> dict[str, int]:
    """The first trial that was admitted to training, per architecture."""
    index: dict[str, int] = {}
    for t in trials:
        record = TrialRecord.of(t)
        if record.status in ADMITTED and record.arch_str:
            index.setdefault(architecture_key(record.space, record.arch_str), t.number)
    return index


def counts_towards_trials(t: FrozenTrial, me: Mapping[str, Any]) -> str | None:
    """How a trial counts towards ``--trials`` for the driver ``me``: "evaluated" once told, "elsewhere"
    while another driver trains it or is telling its end (its status is written before the tell, a
    moment in which it is neither; counting it as nothing let a second driver claim one trial too
    many), or None."""
    record = TrialRecord.of(t)
    status = record.status
    if status is None:
        return None
    if status.evaluated and t.state != TrialState.RUNNING:
        return "evaluated"
    if (t.state == TrialState.RUNNING and (status is TrialStatus.TRAINING or status.evaluated)
            and record.driver != me):
        return "elsewhere"
    return None


@dataclass
class SearchOutcome:
    study: str
    storage: str
    artifacts: Path
    budget_ms: float
    evaluated: int
    proposed: int
    feasible: int
    best: dict[str, Any] | None
    timed: bool = False  # candidates were timed on this host before training
    measured_out: int = 0  # of them, measured over the budget and not trained


@dataclass
class SearchStatus:
    """What the progress bar shows."""

    evaluated: int = 0
    total: int = 0
    proposed: int = 0
    feasible: int = 0
    measured_out: int = 0
    best_accuracy: float | None = None
    best_latency_ms: float | None = None

    def note_best(self, accuracy: float | None, latency_ms: float | None) -> None:
        if accuracy is not None and (self.best_accuracy is None or accuracy > self.best_accuracy):
            self.best_accuracy, self.best_latency_ms = accuracy, latency_ms

    def recount(self, trials: list[FrozenTrial], me: Mapping[str, Any]) -> int:
        """Count ``trials`` afresh; return those that count towards ``--trials``: evaluated ones, plus
        those another driver is training now."""
        self.evaluated = self.proposed = self.feasible = self.measured_out = 0
        self.best_accuracy = self.best_latency_ms = None
        elsewhere = 0
        for t in trials:
            record = TrialRecord.of(t)
            if record.status is None:
                continue
            self.proposed += 1
            if record.status not in (TrialStatus.INFEASIBLE, TrialStatus.DUPLICATE):
                self.feasible += 1
            elif record.measured_p50_ms is not None:
                self.measured_out += 1
            counted = counts_towards_trials(t, me)
            if counted == "evaluated":
                self.evaluated += 1
            elif counted == "elsewhere":
                elsewhere += 1
            if record.status is TrialStatus.COMPLETE:
                self.note_best(record.val_accuracy, record.predicted_upper_ms)
        return self.evaluated + elsewhere


@dataclass
class ActiveTrial:
    """A trial admitted to training, as the driver holds it between rungs."""

    trial: optuna.trial.Trial
    record: TrialRecord
    cand: Candidate
    seed: int
    upper_ms: float
    cost: float
    rung: int = 0  # index of the next rung to reach
    rung_acc: dict[str, float] = field(default_factory=dict)
    checkpoint: str | None = None  # relative to the study's artifacts folder
    checkpoint_sha256: str | None = None

    @property
    def number(self) -> int:
        return self.trial.number


@dataclass
class SearchState:
    """One driver's view of the search: fixed for the run except the screen, which refits as timings
    arrive."""

    settings: RunSettings
    handle: StudyHandle
    spaces: dict[str, SearchSpace]
    screen: Screen
    budget_ms: float
    versions: dict[str, str]
    report: Callable[[SearchStatus], None]
    timer: CandidateTimer | None = None
    status: SearchStatus = field(default_factory=SearchStatus)
    admitted: dict[str, int] = field(default_factory=dict)  # architecture_key -> the first trial admitted

    @property
    def study(self) -> optuna.Study:
        return self.handle.study

    def sync(self) -> int:
        """Recount the study from the DB (other drivers may share it; see ``SearchStatus.recount``) and
        index the architectures it has admitted."""
        trials = self.study.get_trials(deepcopy=False)
        self.admitted = admitted_architectures(trials)
        return self.status.recount(trials, driver_tag())

    def show(self) -> None:
        self.report(self.status)

    def refit(self) -> None:
        """The screen refitted on the profile as the timer left it; later trials record its versions."""
        assert self.timer is not None
        self.screen = self.screen.reloaded()
        self.timer.profile = self.screen.profile
        self.versions = {**self.versions, **self.screen.versions()}
