"""Training admitted trials rung by rung: jobs out to the runner, results onto the trials, halving between
rungs.

Results are told in trial-number order after each rung, and every trial trains
with its own seed, so the same ``--seed`` gives the same study on CPU however
many workers run it. Everything a trial learns is written to it as soon as it
arrives (rung accuracies, checkpoint path and sha256), so Ctrl-C loses nothing.
A job lost with its worker, or timed out, is the infrastructure's fault, not
the trial's: it is tried once more.
"""

from __future__ import annotations

import functools
import logging
import os

from search.execution.evaluators import TabularEvaluator
from search.execution.jobs import EvalJob, JobResult
from search.execution.runners import Runner
from search.loop.halving import promote, rung_epochs
from search.loop.state import ActiveTrial, SearchState
from search.study.record import TrialRecord, TrialStatus

__all__ = ["RungTrainer", "RETRIED_ERRORS"]

log = logging.getLogger(__name__)
RETRIED_ERRORS = ("worker lost", "timed out")  # JobResult.error prefixes of faults outside the trial


class RungTrainer:
    def __init__(self, state: SearchState, runner: Runner, tabular: bool):
        self.state, self.runner = state, runner
        settings = state.settings
        self.rungs = (TabularEvaluator.TABLE_EPOCHS,) if tabular else rung_epochs(settings.epochs,
                                                                                 settings.halving_rate)
        self.save_checkpoints = not tabular

    def job(self, a: ActiveTrial, retry: bool = False) -> EvalJob:
        epochs = self.rungs[a.rung]
        done = self.rungs[a.rung - 1] if a.rung else 0
        art = self.state.handle.artifacts
        # a retry writes elsewhere: the first attempt, abandoned but maybe still running, cannot overwrite it
        name = f"epoch{epochs:03d}{'.retry' if retry else ''}.pt"
        save = str(art / "trials" / f"{a.number:05d}" / name) if self.save_checkpoints else None
        return EvalJob(a.number, a.cand.space.name, a.cand.config.to_json(), a.seed, epochs, self.rungs[-1],
                       self.state.settings.space_options.get(a.cand.space.name, {}),
                       resume=str(art / a.checkpoint) if a.checkpoint else None,
                       resume_sha256=a.checkpoint_sha256, save=save, cost=a.cost * (epochs - done),
                       from_epoch=done)

    def record(self, a: ActiveTrial, r: JobResult) -> None:
        """Write one rung's result onto the trial at once (so an interruption keeps it)."""
        rec = a.record
        rec.worker = r.worker
        if r.node:
            rec.ray_node = r.node
        if not r.ok:
            return
        a.rung_acc[str(self.rungs[a.rung])] = r.val_accuracy
        rec.rung_acc, rec.val_accuracy, rec.epochs = a.rung_acc, r.val_accuracy, r.epochs
        rec.train_seconds, rec.history = r.train_seconds, list(r.history)
        if r.test_accuracy is not None:
            rec.test_accuracy = r.test_accuracy
        if r.normalization is not None:
            rec.normalization = r.normalization
        if r.checkpoint:
            previous = a.checkpoint
            a.checkpoint = os.path.relpath(r.checkpoint, self.state.handle.artifacts)
            a.checkpoint_sha256 = r.checkpoint_sha256
            rec.checkpoint, rec.checkpoint_sha256 = a.checkpoint, a.checkpoint_sha256
            if previous and previous != a.checkpoint:
                (self.state.handle.artifacts / previous).unlink(missing_ok=True)

    def finish(self, a: ActiveTrial, status: TrialStatus, reason: str | None = None) -> None:
        s = self.state
        a.record.set_status(status, reason)
        if status is TrialStatus.COMPLETE:
            accuracy = a.rung_acc[str(self.rungs[-1])]
            s.study.tell(a.trial, [accuracy, a.upper_ms])
            s.status.note_best(accuracy, a.upper_ms)
        else:
            s.study.tell(a.trial, state=status.optuna_state)
        s.status.evaluated += 1
        s.show()

    def _on_result(self, by_number: dict[int, ActiveTrial], errors: dict[int, str], r: JobResult) -> None:
        self.record(by_number[r.trial], r)
        if not r.ok:
            errors[r.trial] = r.error or "unknown error"

    def _rung_pool(self, epochs: int) -> dict[int, tuple[float, float]]:
        key = str(epochs)
        pool = {}
        for t in self.state.study.get_trials(deepcopy=False):
            record = TrialRecord.of(t)
            acc = (record.rung_acc or {}).get(key)
            if acc is not None:
                pool[t.number] = (float(acc), float(record.predicted_upper_ms))
        return pool

    def _run_rung(self, batch: list[ActiveTrial], epochs: int) -> dict[int, str]:
        """Run one rung's jobs (a fault outside the trial gets one more try); the errors by trial number."""
        by_number = {a.number: a for a in batch}
        errors: dict[int, str] = {}
        pending = [a for a in batch if str(epochs) not in a.rung_acc]  # adopted ones may have it
        todo = [self.job(a) for a in pending]
        if todo:
            log.info("training %d trial(s) for %d epoch(s): %s", len(todo), epochs,
                     ", ".join(str(a.number) for a in pending))
        self.runner.run(todo, functools.partial(self._on_result, by_number, errors))
        again = [by_number[n] for n, e in errors.items() if e.startswith(RETRIED_ERRORS)]
        if again:
            for a in again:
                reason = errors.pop(a.number)
                a.record.retried = reason
                log.warning("retrying trial %d once: %s", a.number, reason)
            self.runner.run([self.job(a, retry=True) for a in again],
                            functools.partial(self._on_result, by_number, errors))
        return errors

    def evaluate(self, active: list[ActiveTrial]) -> None:
        """Train ``active`` rung by rung; tell each trial when it completes, is pruned or fails."""
        rate = self.state.settings.halving_rate
        while active:
            rung = min(a.rung for a in active)
            batch = sorted((a for a in active if a.rung == rung), key=lambda a: a.number)
            epochs = self.rungs[rung]
            errors = self._run_rung(batch, epochs)
            ok = [a for a in batch if a.number not in errors]
            for a in batch:
                if a.number in errors:
                    self.finish(a, TrialStatus.FAILED, errors[a.number])
            keep: set[int] = set()
            if rung == len(self.rungs) - 1:
                for a in ok:
                    self.finish(a, TrialStatus.COMPLETE)
            else:
                keep = promote(self._rung_pool(epochs), [a.number for a in ok], rate)
                for a in ok:
                    if a.number in keep:
                        a.rung += 1
                        a.record.rung = a.rung
                    else:
                        self.finish(a, TrialStatus.PRUNED, f"stopped after {epochs} epochs: outside the top "
                                                           f"1/{rate:g} of its rung by Pareto rank")
            active = [a for a in active if a.rung != rung or a.number in keep]
