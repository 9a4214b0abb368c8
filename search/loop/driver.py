"""The search driver: ask, screen, evaluate rung by rung, tell. Only the driver writes to the study.

Each generation the driver asks the sampler for candidates until it holds
``generation`` feasible ones (or the trials left). A candidate whose predicted
upper bound exceeds the budget is told at once as infeasible (constraint > 0,
zero training); the others train rung by rung, and after each rung only the
top ``1 / halving_rate`` by Pareto rank go on (``search.halving``). Results
are told in trial-number order after each rung, and every trial trains with
its own seed, so the same ``--seed`` gives the same study on CPU however many
workers run it.

Everything a trial learns is written to it as soon as it arrives (rung
accuracies, checkpoint path and sha256), so Ctrl-C loses nothing: re-running
adopts the trials the interrupted driver left running and continues them from
their last checkpoint. Several drivers may share a study on a server database
(``search.coordination``): the study still ends with exactly ``--trials``.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from hwprofiles.store import LOCAL_DEVICE, open_profile
from search import __version__
from search.execution.evaluators import Evaluator, TabularEvaluator, TrainingEvaluator
from search.execution.jobs import EvalJob, JobResult
from search.execution.runners import Runner, make_runner
from search.loop.halving import promote, rung_epochs
from search.screening.candidate_timing import CandidateTimer
from search.screening.local_profile import ensure_local_profile
from search.screening.screen import Screen
from search.study.candidates import Candidate, rebuild_candidate, sample_candidate
from search.study.coordination import driver_tag, file_lock, heartbeat, orphaned, sqlite_driver_lock
from search.study.pareto import completed
from search.study.retrieve import evaluate_on_test
from search.study.settings import RunSettings
from search.study.storage import StudyHandle, load_study, open_study
from search.training.datasets import load_dataset
from search.training.settings import TrainSettings
from spaces import NasError, SearchSpace, create_space

__all__ = ["run_search", "SearchOutcome", "EVALUATED", "make_evaluator", "trial_seed"]

log = logging.getLogger(__name__)
EVALUATED = ("complete", "pruned", "failed")  # statuses that count towards --trials
MAX_INFEASIBLE_IN_A_ROW = 2000
MAX_MEASURED_OUT_IN_A_ROW = 100
LATENCY_CONSTRAINT = "latency_upper_minus_budget_ms"  # <= 0 is feasible
WAIT_FOR_OTHERS_S = 2.0
RETRIED_ERRORS = ("worker lost", "timed out")  # JobResult.error prefixes of faults outside the trial
optuna.logging.set_verbosity(optuna.logging.WARNING)


def counts_towards_trials(t: optuna.trial.FrozenTrial, me: dict) -> str | None:
    """How a trial counts towards ``--trials`` for the driver ``me``: "evaluated" once told, "elsewhere"
    while another driver trains it or is telling its end (its status is written before the tell, a
    moment in which it is neither; counting it as nothing let a second driver claim one trial too
    many), or None."""
    st = t.user_attrs.get("status")
    if st in EVALUATED and t.state != TrialState.RUNNING:
        return "evaluated"
    if t.state == TrialState.RUNNING and (st == "training" or st in EVALUATED) and t.user_attrs.get("driver") != me:
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


@dataclass
class _Active:
    number: int
    trial: optuna.trial.Trial
    cand: Candidate
    seed: int
    upper_ms: float
    cost: float
    rung: int = 0  # index of the next rung to reach
    rung_acc: dict[str, float] = field(default_factory=dict)
    checkpoint: str | None = None  # relative to the study's artifacts folder
    checkpoint_sha256: str | None = None


def trial_seed(seed: int, number: int) -> int:
    return (seed * 1_000_003 + number) % 2**31


def make_evaluator(settings: RunSettings) -> Evaluator:
    if settings.evaluator == "tabular":
        return TabularEvaluator(settings.accuracy_table)

    data = load_dataset(settings.dataset, settings.data_dir, seed=0)  # one fixed split for every search
    return TrainingEvaluator(data, TrainSettings(epochs=settings.epochs, batch_size=settings.batch_size,
                                                 lr=settings.lr, optimizer=settings.optimizer))


class _Driver:
    def __init__(self, settings: RunSettings, handle: StudyHandle, spaces: dict[str, SearchSpace], screen: Screen,
                 budget_ms: float, evaluator: Evaluator, runner: Runner, status_cb: Callable[[SearchStatus], None],
                 timer: CandidateTimer | None = None):
        self.settings, self.handle, self.study = settings, handle, handle.study
        self.spaces, self.screen, self.budget_ms, self.timer = spaces, screen, budget_ms, timer
        self.evaluator, self.runner, self.status_cb = evaluator, runner, status_cb
        tabular = isinstance(evaluator, TabularEvaluator)
        self.rungs = (TabularEvaluator.TABLE_EPOCHS,) if tabular else rung_epochs(settings.epochs,
                                                                                 settings.halving_rate)
        self.save_checkpoints = not tabular
        self.versions = {"package": __version__, "optuna": optuna.__version__, **screen.versions()}
        self.status = SearchStatus(total=settings.trials)
        self._sync()

    # -- bookkeeping ---------------------------------------------------------
    def _sync(self) -> int:
        """Recount the study from the DB (other drivers may share it); return the trials that count
        towards ``--trials``: evaluated ones, plus those another driver is training now."""
        self.status.evaluated = self.status.proposed = self.status.feasible = self.status.measured_out = 0
        self.status.best_accuracy = self.status.best_latency_ms = None
        me, elsewhere = driver_tag(), 0
        for t in self.study.get_trials(deepcopy=False):
            st = t.user_attrs.get("status")
            if st is None:
                continue
            self.status.proposed += 1
            if st != "infeasible":
                self.status.feasible += 1
            elif "measured_p50_ms" in t.user_attrs:
                self.status.measured_out += 1
            counted = counts_towards_trials(t, me)
            if counted == "evaluated":
                self.status.evaluated += 1
            elif counted == "elsewhere":
                elsewhere += 1
            if st == "complete":
                self._note_best(t.user_attrs.get("val_accuracy"), t.user_attrs.get("predicted_upper_ms"))
        return self.status.evaluated + elsewhere

    def _note_best(self, accuracy: float | None, latency_ms: float | None) -> None:
        if accuracy is not None and (self.status.best_accuracy is None or accuracy > self.status.best_accuracy):
            self.status.best_accuracy, self.status.best_latency_ms = accuracy, latency_ms

    def _report(self) -> None:
        self.status_cb(self.status)

    # -- proposing -------------------------------------------------------------
    def _propose(self) -> _Active | None:
        trial = self.study.ask()
        trial.set_user_attr("driver", driver_tag())
        try:
            cand = sample_candidate(trial, self.spaces)
        except NasError as exc:
            trial.set_user_attr("status", "invalid")
            trial.set_user_attr("reason", str(exc))
            self.study.tell(trial, state=TrialState.FAIL)
            return None
        score = self.screen.score(cand.space, cand.config)
        layers = cand.space.layers(cand.config, cand.space.input_shape(cand.config, self.screen.in_chans),
                                   self.screen.num_classes)
        flops, params = sum(layer.flops for layer in layers), sum(layer.params for layer in layers)
        seed = trial_seed(self.settings.seed, trial.number)
        attrs = {"space": cand.space.name, "arch_str": cand.config.arch_str, "config": cand.config.to_dict(),
                 "seed": seed, "predicted_p50_ms": score.p50_ms, "predicted_upper_ms": score.upper_ms,
                 "budget_ms": self.budget_ms, "flops": flops, "n_params": params, "versions": self.versions}
        for key, value in attrs.items():
            trial.set_user_attr(key, value)
        self.status.proposed += 1
        if score.upper_ms > self.budget_ms:
            trial.set_constraint(LATENCY_CONSTRAINT, score.upper_ms - self.budget_ms)
            trial.set_user_attr("status", "infeasible")
            trial.set_user_attr("reason", f"predicted upper bound {score.upper_ms:.4g} ms > budget "
                                          f"{self.budget_ms:.4g} ms (p50 {score.p50_ms:.4g} ms); not trained")
            # told as complete with a violated constraint, so the sampler learns where the feasible region is
            self.study.tell(trial, [0.0, score.upper_ms])
            return None
        trial.set_user_attr("status", "training")
        self.status.feasible += 1
        return _Active(trial.number, trial, cand, seed, score.upper_ms, float(flops))

    def _adopt_orphans(self) -> list[_Active]:
        """Trials a dead driver left running: continue them from their last recorded rung.
        Called under the claims lock, so an orphan is adopted once."""
        me = driver_tag()
        adopted = []
        for frozen in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            if not orphaned(frozen, self.study.user_attrs, me):
                continue
            trial = optuna.trial.Trial(self.study, frozen._trial_id)
            trial.set_user_attr("driver", me)
            attrs = frozen.user_attrs
            if attrs.get("status") == "training" and LATENCY_CONSTRAINT not in frozen.constraints:
                # stopped between proposal and timing: it goes on as the prediction screened it
                trial.set_constraint(LATENCY_CONSTRAINT, float(attrs["predicted_upper_ms"]) - self.budget_ms)
            if attrs.get("status") != "training":
                trial.set_user_attr("status", "interrupted")
                trial.set_user_attr("reason", "the driver stopped before this trial was screened")
                self.study.tell(trial, state=TrialState.FAIL)
                continue
            cand = rebuild_candidate(frozen.params, self.spaces)
            adopted.append(_Active(frozen.number, trial, cand, int(attrs["seed"]),
                                   float(attrs["predicted_upper_ms"]), float(attrs.get("flops", 0.0)),
                                   int(attrs.get("rung", 0)), dict(attrs.get("rung_acc", {})),
                                   attrs.get("checkpoint"), attrs.get("checkpoint_sha256")))
        if adopted:
            log.warning("resuming %d trial(s) an interrupted driver left unfinished: %s", len(adopted),
                        ", ".join(str(a.number) for a in adopted))
        return adopted

    # -- evaluating ------------------------------------------------------------
    def _job(self, a: _Active) -> EvalJob:
        epochs = self.rungs[a.rung]
        done = self.rungs[a.rung - 1] if a.rung else 0
        art = self.handle.artifacts
        save = str(art / "trials" / f"{a.number:05d}" / f"epoch{epochs:03d}.pt") if self.save_checkpoints else None
        return EvalJob(a.number, a.cand.space.name, a.cand.config.to_json(), a.seed, epochs, self.rungs[-1],
                       self.settings.space_options.get(a.cand.space.name, {}),
                       resume=str(art / a.checkpoint) if a.checkpoint else None,
                       resume_sha256=a.checkpoint_sha256, save=save, cost=a.cost * (epochs - done))

    def _record(self, a: _Active, r: JobResult) -> None:
        """Write one rung's result onto the trial at once (so an interruption keeps it)."""
        t = a.trial
        t.set_user_attr("worker", r.worker)
        if r.node:
            t.set_user_attr("ray_node", r.node)
        if not r.ok:
            return
        a.rung_acc[str(self.rungs[a.rung])] = r.val_accuracy
        t.set_user_attr("rung_acc", a.rung_acc)
        t.set_user_attr("val_accuracy", r.val_accuracy)
        t.set_user_attr("epochs", r.epochs)
        t.set_user_attr("train_seconds", r.train_seconds)
        t.set_user_attr("history", list(r.history))
        if r.test_accuracy is not None:
            t.set_user_attr("test_accuracy", r.test_accuracy)
        if r.checkpoint:
            previous = a.checkpoint
            a.checkpoint = os.path.relpath(r.checkpoint, self.handle.artifacts)
            a.checkpoint_sha256 = r.checkpoint_sha256
            t.set_user_attr("checkpoint", a.checkpoint)
            t.set_user_attr("checkpoint_sha256", a.checkpoint_sha256)
            if previous and previous != a.checkpoint:
                (self.handle.artifacts / previous).unlink(missing_ok=True)

    def _finish(self, a: _Active, status: str, reason: str | None = None) -> None:
        t = a.trial
        t.set_user_attr("status", status)
        if reason:
            t.set_user_attr("reason", reason)
        if status == "complete":
            accuracy = a.rung_acc[str(self.rungs[-1])]
            self.study.tell(t, [accuracy, a.upper_ms])
            self._note_best(accuracy, a.upper_ms)
        else:
            self.study.tell(t, state=TrialState.PRUNED if status == "pruned" else TrialState.FAIL)
        self.status.evaluated += 1
        self._report()

    def _on_result(self, by_number: dict[int, _Active], errors: dict[int, str], r: JobResult) -> None:
        self._record(by_number[r.trial], r)
        if not r.ok:
            errors[r.trial] = r.error or "unknown error"

    def _rung_pool(self, epochs: int) -> dict[int, tuple[float, float]]:
        key = str(epochs)
        pool = {}
        for t in self.study.get_trials(deepcopy=False):
            acc = (t.user_attrs.get("rung_acc") or {}).get(key)
            if acc is not None:
                pool[t.number] = (float(acc), float(t.user_attrs["predicted_upper_ms"]))
        return pool

    def evaluate(self, active: list[_Active]) -> None:
        """Train ``active`` rung by rung; tell each trial when it completes, is pruned or fails."""
        while active:
            rung = min(a.rung for a in active)
            batch = sorted((a for a in active if a.rung == rung), key=lambda a: a.number)
            epochs = self.rungs[rung]
            by_number = {a.number: a for a in batch}
            errors: dict[int, str] = {}

            todo = [self._job(a) for a in batch if str(epochs) not in a.rung_acc]  # adopted ones may have it
            self.runner.run(todo, functools.partial(self._on_result, by_number, errors))
            # a lost worker or a timeout is the infrastructure's fault, not the trial's: one more try
            again = [by_number[n] for n, e in errors.items() if e.startswith(RETRIED_ERRORS)]
            if again:
                for a in again:
                    reason = errors.pop(a.number)
                    a.trial.set_user_attr("retried", reason)
                    log.warning("retrying trial %d once: %s", a.number, reason)
                self.runner.run([self._job(a) for a in again], functools.partial(self._on_result, by_number, errors))
            ok = [a for a in batch if a.number not in errors]
            for a in batch:
                if a.number in errors:
                    self._finish(a, "failed", errors[a.number])
            last = rung == len(self.rungs) - 1
            if last:
                for a in ok:
                    self._finish(a, "complete")
                keep: set[int] = set()
            else:
                keep = promote(self._rung_pool(epochs), [a.number for a in ok], self.settings.halving_rate)
                for a in ok:
                    if a.number in keep:
                        a.rung += 1
                        a.trial.set_user_attr("rung", a.rung)
                    else:
                        self._finish(a, "pruned", f"stopped after {epochs} epochs: outside the top "
                                                  f"1/{self.settings.halving_rate:g} of its rung by Pareto rank")
            active = [a for a in active if a.rung != rung or a.number in keep]

    # -- the loop ----------------------------------------------------------------
    def _propose_batch(self, want: int) -> list[_Active]:
        batch: list[_Active] = []
        while len(batch) < want:
            proposed: list[_Active] = []
            while len(proposed) < want - len(batch):
                a = self._propose()
                if a is None:
                    self._in_a_row += 1
                    if self._in_a_row % 50 == 0:
                        self._report()
                    if self._in_a_row >= MAX_INFEASIBLE_IN_A_ROW:
                        raise NasError(f"{self._in_a_row} proposals in a row were predicted over the budget of "
                                       f"{self.budget_ms:g} ms; raise --latency-ms")
                    continue
                self._in_a_row = 0
                proposed.append(a)
            batch += self._admit(proposed)
        return batch

    def _admit(self, proposed: list[_Active]) -> list[_Active]:
        """Those of ``proposed`` that go on to training. With a timer (the local device) each is timed
        first and one measured over the budget is told as infeasible, untrained; the predictor is then
        refitted on the new timings, before the next proposal."""
        measured: list[float | None] = [None] * len(proposed)
        if self.timer is not None and proposed:
            timed_before = len(self.timer.timed)
            measured = list(self.timer.measure([a.cand for a in proposed]))
            if len(self.timer.timed) > timed_before:
                self._refit()
        admitted = []
        for a, ms in zip(proposed, measured):
            t = a.trial
            # the constraint holds the larger of the predicted bound and the timing (both must meet the budget)
            t.set_constraint(LATENCY_CONSTRAINT, (a.upper_ms if ms is None else max(a.upper_ms, ms)) - self.budget_ms)
            if ms is not None:
                t.set_user_attr("measured_p50_ms", ms)
            if ms is None or ms <= self.budget_ms:
                admitted.append(a)
                self._measured_out_in_a_row = 0
                continue
            t.set_user_attr("status", "infeasible")
            t.set_user_attr("reason", f"measured p50 {ms:.4g} ms on this host > budget {self.budget_ms:.4g} ms "
                                      f"(predicted upper bound {a.upper_ms:.4g} ms); not trained")
            self.study.tell(t, [0.0, ms])
            self.status.feasible -= 1
            self.status.measured_out += 1
            self._measured_out_in_a_row += 1
            if self._measured_out_in_a_row >= MAX_MEASURED_OUT_IN_A_ROW:
                raise NasError(f"{self._measured_out_in_a_row} candidates in a row were measured over the budget of "
                               f"{self.budget_ms:g} ms on this host; raise --latency-ms")
        return admitted

    def _refit(self) -> None:
        """The screen refitted on the profile as the timer left it; later trials record its versions."""
        assert self.timer is not None
        self.screen = self.screen.reloaded()
        self.timer.profile = self.screen.profile
        self.versions = {**self.versions, **self.screen.versions()}

    def run(self) -> None:
        """Adopt orphans, claim a generation, train it; until the study holds ``--trials`` evaluated trials.

        Drivers sharing a study (a server database) adopt and claim under one lock file in the
        artifacts folder, which they share anyway for the checkpoints; so the study ends with exactly
        ``--trials`` evaluated trials, each evaluated once, however many drivers run it.
        """
        self._report()
        self._in_a_row = self._measured_out_in_a_row = 0
        while True:
            with file_lock(self.handle.artifacts / "claims.lock"):
                adopted = self._adopt_orphans()
                left = self.settings.trials - self._sync() - len(adopted)
                batch = self._propose_batch(min(self.settings.generation, left)) if left > 0 else []
            self._report()
            if adopted or batch:
                self.evaluate(adopted)
                self.evaluate(batch)
            elif self.status.evaluated >= self.settings.trials:
                return
            else:  # another driver is training the last trials; adopt them should it die
                time.sleep(WAIT_FOR_OTHERS_S)


def _spaces(settings: RunSettings) -> dict[str, SearchSpace]:
    return {name: create_space(name, **settings.space_options.get(name, {})) for name in settings.spaces}


def _open_profile(settings: RunSettings, profile_progress):
    if settings.device == LOCAL_DEVICE:
        return ensure_local_profile(settings.spaces, settings.precision, settings.profile_count, profile_progress)
    return open_profile(settings.device)


def best_complete(study: optuna.Study) -> optuna.trial.FrozenTrial | None:
    """The most accurate trial that finished its full training within the budget (ties: faster)."""
    return max(completed(study), key=lambda t: (t.values[0], -t.values[1], -t.number), default=None)


def run_search(settings: RunSettings, status_cb: Callable[[SearchStatus], None] | None = None,
               profile_progress: Callable[[str, int, int], None] | None = None,
               evaluator: Evaluator | None = None) -> SearchOutcome:
    """Run (or resume) the study ``settings`` describe until it holds ``settings.trials`` evaluated trials.

    ``evaluator`` replaces the one ``settings`` name (for library use, e.g. a custom evaluator).
    """
    spaces = _spaces(settings)
    evaluator = evaluator or make_evaluator(settings)  # a missing dataset fails before minutes of profiling
    in_chans = evaluator.data.in_chans if isinstance(evaluator, TrainingEvaluator) else 3
    classes = evaluator.data.num_classes if isinstance(evaluator, TrainingEvaluator) else 10
    profile = _open_profile(settings, profile_progress)
    screen = Screen(profile, spaces, settings.precision, settings.coverage, in_chans, classes,
                    settings.predictor_rows)
    budget_ms = settings.latency_ms
    handle_name = settings.study_name()
    if budget_ms is None:
        budget_ms = _stored_budget(settings) or screen.default_budget_ms()
        log.info("budget: %.4g ms (median measured latency on %s)", budget_ms, profile.name)
    screen.check_budget(budget_ms)
    # the workers first: an unreachable cluster fails before anything is written to the study
    with make_runner(evaluator, settings.workers, settings.ray_address) as runner:
        handle = open_study(settings, budget_ms, {"package_version": __version__, "data_dir": settings.data_dir,
                                                  "data": {"in_chans": in_chans, "num_classes": classes}})
        with sqlite_driver_lock(handle), heartbeat(handle):
            timer = None
            if settings.device == LOCAL_DEVICE and settings.time_candidates:
                timer = CandidateTimer(profile, settings.precision, in_chans, handle.artifacts / "timing")
            driver = _Driver(settings, handle, spaces, screen, budget_ms, evaluator, runner,
                             status_cb or (lambda s: None), timer)
            driver.run()
    best = best_complete(handle.study)
    summary = None
    if best is not None:
        summary = {"trial": best.number, **best.user_attrs}
        if isinstance(evaluator, TrainingEvaluator):
            # the test split is touched once, for the one model the search chose
            summary["test_accuracy"] = evaluate_on_test(handle, best, evaluator.data)
            handle.study.set_user_attr("winner", {"trial": best.number, "val_accuracy": best.values[0],
                                                  "test_accuracy": summary["test_accuracy"],
                                                  "predicted_upper_ms": best.values[1]})
    return SearchOutcome(handle_name, handle.storage, handle.artifacts, budget_ms, driver.status.evaluated,
                         driver.status.proposed, driver.status.feasible, summary, timer is not None,
                         driver.status.measured_out)


def _stored_budget(settings: RunSettings) -> float | None:
    """A resumed study keeps the budget it was started with, even if the profile grew since."""
    try:
        handle = load_study(settings.study_name(), settings.storage, settings.runs_dir)
    except NasError:  # no such study yet
        return None
    return handle.settings.get("budget_ms")
