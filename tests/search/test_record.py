"""The trial record: typed attributes written through to the study, statuses as an enum, no private Optuna
API."""

from __future__ import annotations

import ast
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from search.study.record import TrialRecord, TrialStatus, live_trial

SEARCH = Path(__file__).resolve().parents[2] / "search"


@pytest.fixture
def study(tmp_path):
    storage = optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 'study.db'}")
    return optuna.create_study(storage=storage, study_name="s", directions=["maximize", "minimize"]), storage


def test_a_live_record_writes_through_and_a_stored_one_reads_back(study):
    study, _ = study
    trial = study.ask()
    record = TrialRecord.live(trial)
    record.val_accuracy, record.rung_acc = 0.75, {"1": 0.5, "3": 0.75}
    record.set_status(TrialStatus.PRUNED, "stopped after 3 epochs")
    study.tell(trial, state=TrialStatus.PRUNED.optuna_state)
    stored = TrialRecord.of(study.get_trials()[0])
    assert stored.status is TrialStatus.PRUNED and stored.reason == "stopped after 3 epochs"
    assert stored.val_accuracy == 0.75 and stored.rung_acc == {"1": 0.5, "3": 0.75}
    assert study.get_trials()[0].state == TrialState.PRUNED
    with pytest.raises(AttributeError, match="read-only"):
        stored.val_accuracy = 0.1


def test_statuses_that_count_towards_the_trials():
    assert ({s for s in TrialStatus if s.evaluated}
            == {TrialStatus.COMPLETE, TrialStatus.PRUNED, TrialStatus.FAILED})
    assert TrialStatus.INFEASIBLE.optuna_state == TrialState.COMPLETE  # told with a violated constraint
    assert TrialStatus.INTERRUPTED.optuna_state == TrialState.FAIL


def test_an_unknown_stored_status_is_an_error_not_a_silent_none(study):
    study, _ = study
    trial = study.ask()
    trial.set_user_attr("status", "exploded")
    with pytest.raises(ValueError):
        _ = TrialRecord.of(study.get_trials()[0]).status


def test_a_running_trial_is_found_by_number_for_adoption(study):
    """What a driver does with the trials a dead one left: a live Trial from the number alone."""
    study, storage = study
    first, second = study.ask(), study.ask()
    TrialRecord.live(second).set_status(TrialStatus.TRAINING)
    adopted = live_trial(study, storage, second.number)
    record = TrialRecord.live(adopted)
    assert record.status is TrialStatus.TRAINING
    record.set_status(TrialStatus.COMPLETE)
    study.tell(adopted, [0.9, 1.0])
    frozen = {t.number: t for t in study.get_trials()}
    assert (frozen[second.number].state == TrialState.COMPLETE
            and frozen[first.number].state == TrialState.RUNNING)


def _modules():
    return [(p, ast.parse(p.read_text())) for p in sorted(SEARCH.rglob("*.py"))]


def test_only_the_record_names_the_status_attribute():
    offenders = [f"{p.relative_to(SEARCH)}:{n.lineno}" for p, tree in _modules() if p.name != "record.py"
                 for n in ast.walk(tree) if isinstance(n, ast.Constant) and n.value == "status"]
    assert offenders == []


def test_no_private_attribute_of_another_object_is_read():
    """``frozen._trial_id`` and the like: private API breaks with any Optuna or torch release."""
    offenders = [f"{p.relative_to(SEARCH)}:{n.lineno}: {ast.unparse(n)}" for p, tree in _modules()
                 for n in ast.walk(tree)
                 if isinstance(n, ast.Attribute) and n.attr.startswith("_") and not n.attr.startswith("__")
                 and not (isinstance(n.value, ast.Name) and n.value.id in ("self", "cls"))]
    assert offenders == []
