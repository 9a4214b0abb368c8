"""The trial record: what the study stores about one trial, the one place that knows the attributes' names.

Optuna keeps a trial's state (RUNNING, COMPLETE, PRUNED, FAIL); the search
needs finer ones (a proposal screened out is COMPLETE with a violated
constraint, a trial being trained is RUNNING), so each trial also records a
``TrialStatus``. ``TrialRecord`` reads a finished trial (``TrialRecord.of``)
and writes a live one (``TrialRecord.live``) through typed attributes::

    record = TrialRecord.live(trial)
    record.val_accuracy = 0.93
    record.set_status(TrialStatus.PRUNED, "stopped after 3 epochs")
    TrialRecord.of(frozen).status is TrialStatus.PRUNED
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

__all__ = ["TrialStatus", "TrialRecord", "live_trial", "frozen_trial", "LATENCY_CONSTRAINT"]

#: the constraint the samplers see: the latency bound (or timing) minus the budget; <= 0 is feasible
LATENCY_CONSTRAINT = "latency_upper_minus_budget_ms"


class TrialStatus(enum.Enum):
    """Where a trial stands in the search, finer than Optuna's state."""

    INVALID = "invalid"  # the sampler proposed params no space accepts (told FAIL)
    # predicted or measured over the budget, never trained (told COMPLETE, constraint > 0)
    INFEASIBLE = "infeasible"
    TRAINING = "training"  # admitted: trained rung by rung (RUNNING)
    COMPLETE = "complete"  # trained to the last rung (told COMPLETE with its objectives)
    PRUNED = "pruned"  # stopped by successive halving (told PRUNED)
    FAILED = "failed"  # its training failed, twice where the fault was the infrastructure's (told FAIL)
    INTERRUPTED = "interrupted"  # its driver stopped before screening it (told FAIL by the next driver)
    # an architecture the study already admitted: told the stored result (or PRUNED), never trained again
    DUPLICATE = "duplicate"

    def __str__(self) -> str:
        return self.value

    @property
    def evaluated(self) -> bool:
        """Counts towards ``--trials``."""
        return self in (TrialStatus.COMPLETE, TrialStatus.PRUNED, TrialStatus.FAILED)

    @property
    def optuna_state(self) -> TrialState:
        """The Optuna state a trial ending in this status is told with."""
        return {TrialStatus.COMPLETE: TrialState.COMPLETE, TrialStatus.INFEASIBLE: TrialState.COMPLETE,
                TrialStatus.PRUNED: TrialState.PRUNED, TrialStatus.TRAINING: TrialState.RUNNING}.get(
                    self, TrialState.FAIL)


class _Attribute:
    """One recorded attribute: read from the trial's stored attributes, written through to the study."""

    def __init__(self, doc: str):
        self.__doc__ = doc

    def __set_name__(self, owner: type, name: str) -> None:
        self.key = name

    def __get__(self, record: TrialRecord | None, owner: type) -> Any:
        if record is None:
            return self
        return record.attrs.get(self.key)

    def __set__(self, record: TrialRecord, value: Any) -> None:
        record.write(self.key, value)


class TrialRecord:
    """A trial's recorded attributes. Read-only when made with ``of``; ``live`` writes to the study."""

    driver = _Attribute("host and pid of the driver that runs it")
    space = _Attribute("the space of its architecture")
    arch_str = _Attribute("its architecture string")
    config = _Attribute("its architecture as a dict")
    seed = _Attribute("its training seed")
    predicted_p50_ms = _Attribute("the screen's predicted p50 (ms)")
    predicted_upper_ms = _Attribute("the screen's upper bound at the stated coverage (ms)")
    budget_ms = _Attribute("the study's budget when it was screened (ms)")
    measured_p50_ms = _Attribute("its p50 timed on this host before training (local device)")
    flops = _Attribute("FLOPs of one forward pass")
    n_params = _Attribute("parameter count")
    versions = _Attribute("package, profile and predictor versions that screened it")
    reason = _Attribute("why it ended as it did (infeasible, pruned, failed, ...)")
    rung = _Attribute("index of the next rung it trains to")
    rung_acc = _Attribute("validation accuracy per rung, by epochs")
    val_accuracy = _Attribute("validation accuracy at its latest rung")
    test_accuracy = _Attribute("test accuracy, where it is free to know (tabular)")
    epochs = _Attribute("epochs trained")
    train_seconds = _Attribute("seconds of training")
    history = _Attribute("validation accuracy per epoch")
    checkpoint = _Attribute("its latest checkpoint, relative to the study's artifacts folder")
    checkpoint_sha256 = _Attribute("sha256 of that checkpoint")
    worker = _Attribute("host and pid of the worker that last ran it")
    ray_node = _Attribute("the Ray node that last ran it")
    retried = _Attribute("why its rung was tried a second time")
    repeats = _Attribute("the earlier trial of the same architecture (a duplicate: not evaluated again)")
    normalization = _Attribute("mean and std per channel (of pixel / 255) of the training split it used")

    def __init__(self, attrs: Mapping[str, Any], write: Callable[[str, Any], None] | None = None):
        self.attrs = dict(attrs)
        self._write = write

    @classmethod
    def of(cls, trial: FrozenTrial) -> TrialRecord:
        """The record of a stored trial, read-only."""
        return cls(trial.user_attrs)

    @classmethod
    def live(cls, trial: optuna.trial.Trial) -> TrialRecord:
        """The record of a trial this driver holds: every assignment is written to the study at once."""
        return cls(trial.user_attrs, trial.set_user_attr)

    def write(self, key: str, value: Any) -> None:
        if self._write is None:
            raise AttributeError(f"a stored trial's record is read-only (attribute {key!r})")
        self._write(key, value)
        self.attrs[key] = value

    @property
    def status(self) -> TrialStatus | None:
        value = self.attrs.get("status")
        return None if value is None else TrialStatus(value)

    def set_status(self, status: TrialStatus, reason: str | None = None) -> None:
        self.write("status", status.value)
        if reason:
            self.reason = reason


def _trial_id(study: optuna.Study, storage: optuna.storages.BaseStorage, number: int) -> int:
    return storage.get_trial_id_from_study_id_trial_number(storage.get_study_id_from_name(study.study_name),
                                                           number)


def live_trial(study: optuna.Study, storage: optuna.storages.BaseStorage, number: int) -> optuna.trial.Trial:
    """A running trial of ``study`` by its number, as an Optuna ``Trial`` (for a driver that adopts the
    trials a dead one left), found through the storage's public API."""
    return optuna.trial.Trial(study, _trial_id(study, storage, number))


def frozen_trial(study: optuna.Study, storage: optuna.storages.BaseStorage, number: int) -> FrozenTrial:
    """One trial of ``study`` by its number, as stored now, without reading the others."""
    return storage.get_trial(_trial_id(study, storage, number))
