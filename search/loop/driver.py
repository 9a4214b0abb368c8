"""The search driver: adopt, claim a generation, train it, until the study holds ``--trials``. Only the
driver writes to the study.

Each generation the driver asks the sampler for candidates until it holds
``generation`` feasible ones, or the trials left (``search.loop.proposals``),
then trains them rung by rung with successive halving between rungs
(``search.loop.rungs``). Ctrl-C loses nothing: re-running adopts the trials the
interrupted driver left running and continues them from their last
checkpoint. Several drivers may share a study on a server database
(``search.study.coordination``): the study still ends with exactly ``--trials``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import optuna

from hwprofiles.profile import Profile
from hwprofiles.store import LOCAL_DEVICE, open_profile
from search import __version__
from search.execution.evaluators import Evaluator, TabularEvaluator, TrainingEvaluator
from search.execution.runners import make_runner
from search.execution.timeouts import JobTimeout
from search.loop.proposals import Proposer
from search.loop.rungs import RungTrainer
from search.loop.state import SearchOutcome, SearchState, SearchStatus
from search.screening.candidate_timing import CandidateTimer
from search.screening.local_profile import ensure_local_profile
from search.screening.screen import Screen
from search.study.coordination import file_lock, heartbeat, sqlite_driver_lock
from search.study.pareto import completed
from search.study.record import TrialRecord
from search.study.retrieve import evaluate_on_test
from search.study.settings import RunSettings
from search.study.storage import load_study, open_study
from search.training.datasets import load_dataset
from search.training.settings import TrainSettings
from spaces import NasError, SearchSpace, create_space

__all__ = ["run_search", "make_evaluator", "best_complete"]

log = logging.getLogger(__name__)
WAIT_FOR_OTHERS_S = 2.0
optuna.logging.set_verbosity(optuna.logging.WARNING)


def make_evaluator(settings: RunSettings) -> Evaluator:
    if settings.evaluator == "tabular":
        return TabularEvaluator(settings.accuracy_table)
    data = load_dataset(settings.dataset, settings.data_dir, seed=0)  # one fixed split for every search
    return TrainingEvaluator(data, TrainSettings(epochs=settings.epochs, batch_size=settings.batch_size,
                                                 lr=settings.lr, optimizer=settings.optimizer))


def drive(state: SearchState, proposer: Proposer, trainer: RungTrainer) -> None:
    """Adopt orphans, claim a generation, train it; until the study holds ``--trials`` evaluated trials.

    Drivers sharing a study (a server database) adopt and claim under one lock file in the
    artifacts folder, which they share anyway for the checkpoints; so the study ends with exactly
    ``--trials`` evaluated trials, each evaluated once, however many drivers run it.
    """
    settings = state.settings
    state.show()
    while True:
        with file_lock(state.handle.artifacts / "claims.lock"):
            adopted = proposer.adopt_orphans()
            left = settings.trials - state.sync() - len(adopted)
            batch = proposer.propose_batch(min(settings.generation, left)) if left > 0 else []
        state.show()
        if adopted or batch:
            trainer.evaluate(adopted)
            trainer.evaluate(batch)
        elif state.status.evaluated >= settings.trials:
            return
        else:  # another driver is training the last trials; adopt them should it die
            time.sleep(WAIT_FOR_OTHERS_S)


def _spaces(settings: RunSettings) -> dict[str, SearchSpace]:
    return {name: create_space(name, **settings.space_options.get(name, {})) for name in settings.spaces}


def _open_profile(settings: RunSettings, profile_progress) -> Profile:
    if settings.device == LOCAL_DEVICE:  # measured in the spaces as searched: their options included
        return ensure_local_profile(settings.spaces, settings.precision, settings.profile_count,
                                    profile_progress, settings.space_options)
    return open_profile(settings.device)


def best_complete(study: optuna.Study) -> optuna.trial.FrozenTrial | None:
    """The most accurate trial that finished its full training within the budget (ties: faster)."""
    return max(completed(study), key=lambda t: (t.values[0], -t.values[1], -t.number), default=None)


def _stored_budget(settings: RunSettings) -> float | None:
    """A resumed study keeps the budget it was started with, even if the profile grew since."""
    try:
        handle = load_study(settings.study_name(), settings.storage, settings.runs_dir)
    except NasError:  # no such study yet
        return None
    return handle.settings.get("budget_ms")


def _data_description(evaluator: Evaluator) -> dict:
    """What the evaluator trains on (NAS-Bench-201's CIFAR-10 for a table): shape, class names, and the
    training split's statistics every split is standardised with."""
    if not isinstance(evaluator, TrainingEvaluator):
        return {"in_chans": 3, "num_classes": 10}
    data = evaluator.data
    return {"in_chans": data.in_chans, "num_classes": data.num_classes, "native_size": data.native_size,
            "class_names": list(data.labels), "normalization": data.normalization.to_dict()}


def _seed_timeouts(timeouts: JobTimeout, study: optuna.Study) -> None:
    """A resumed study's jobs are bounded by what its earlier trials measured, from the first job on."""
    for t in study.get_trials(deepcopy=False):
        record = TrialRecord.of(t)
        if record.train_seconds and record.epochs:
            timeouts.observe(float(record.train_seconds), int(record.epochs))


def _summary(handle, evaluator: Evaluator) -> dict | None:
    """The best trial's record; with trained models, also its accuracy on the test split, touched once."""
    best = best_complete(handle.study)
    if best is None:
        return None
    summary = {"trial": best.number, **TrialRecord.of(best).attrs}
    if isinstance(evaluator, TrainingEvaluator):
        summary["test_accuracy"] = evaluate_on_test(handle, best, evaluator.data)
        handle.study.set_user_attr("winner", {"trial": best.number, "val_accuracy": best.values[0],
                                              "test_accuracy": summary["test_accuracy"],
                                              "predicted_upper_ms": best.values[1]})
    return summary


def run_search(settings: RunSettings, status_cb: Callable[[SearchStatus], None] | None = None,
               profile_progress: Callable[[str, int, int], None] | None = None,
               evaluator: Evaluator | None = None) -> SearchOutcome:
    """Run (or resume) the study ``settings`` describe until it holds ``settings.trials`` evaluated trials.

    ``evaluator`` replaces the one ``settings`` name (for library use, e.g. a custom evaluator).
    """
    spaces = _spaces(settings)
    evaluator = evaluator or make_evaluator(settings)  # a missing dataset fails before minutes of profiling
    described = _data_description(evaluator)
    in_chans, classes = described["in_chans"], described["num_classes"]
    profile = _open_profile(settings, profile_progress)
    screen = Screen(profile, spaces, settings.precision, settings.coverage, in_chans, classes,
                    settings.predictor_rows, settings.prior, profile_progress)
    budget_ms = settings.latency_ms
    if budget_ms is None:
        budget_ms = _stored_budget(settings) or screen.default_budget_ms()
        log.info("budget: %.4g ms (median measured latency on %s)", budget_ms, profile.name)
    screen.check_budget(budget_ms)
    # the workers first: an unreachable cluster fails before anything is written to the study
    timeouts = JobTimeout(settings.job_timeout_s)
    with make_runner(evaluator, settings.workers, settings.ray_address, timeouts) as runner:
        handle = open_study(settings, budget_ms, {"package_version": __version__,
                                                  "data_dir": settings.data_dir,
                                                  "data": described})
        _seed_timeouts(timeouts, handle.study)
        with sqlite_driver_lock(handle), heartbeat(handle):
            timer = None
            if settings.device == LOCAL_DEVICE and settings.time_candidates:
                timer = CandidateTimer(profile, settings.precision, in_chans, handle.artifacts / "timing")
            state = SearchState(settings, handle, spaces, screen, budget_ms,
                                {"package": __version__, "optuna": optuna.__version__, **screen.versions()},
                                status_cb or (lambda s: None), timer, SearchStatus(total=settings.trials))
            state.sync()
            drive(state, Proposer(state), RungTrainer(state, runner, isinstance(evaluator, TabularEvaluator)))
    status = state.status
    return SearchOutcome(settings.study_name(), handle.storage, handle.artifacts, budget_ms, status.evaluated,
                         status.proposed, status.feasible, _summary(handle, evaluator), timer is not None,
                         status.measured_out)
