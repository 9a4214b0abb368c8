"""Proposing and admitting: ask the sampler, screen the proposal, time it on this host, admit or reject.

A proposal of an architecture the study has already admitted (the same space
and canonical architecture string, from this driver or another) is told the
earlier trial's result at once (PRUNED where that one has none yet), records
which trial it repeats, and is neither trained nor counted towards
``--trials``, unless ``repeat_architectures`` is set. A proposal whose
predicted upper bound exceeds the budget is told at once as
infeasible (constraint > 0, zero training). On the local device the others are
timed first (``search.screening.candidate_timing``): one measured over the
budget is told infeasible too, and the screen is refitted on the new timings
before the next proposal. Trials a dead driver left running are adopted here.
"""

from __future__ import annotations

import logging

from optuna.trial import TrialState

from search.errors import SearchError
from search.loop.state import ActiveTrial, SearchState, architecture_key, trial_seed
from search.study.candidates import rebuild_candidate, sample_candidate
from search.study.coordination import driver_tag, orphaned
from search.study.record import LATENCY_CONSTRAINT, TrialRecord, TrialStatus, frozen_trial, live_trial
from spaces import NasError

__all__ = ["Proposer", "MAX_INFEASIBLE_IN_A_ROW", "MAX_MEASURED_OUT_IN_A_ROW", "MAX_DUPLICATES_IN_A_ROW"]

log = logging.getLogger(__name__)
MAX_INFEASIBLE_IN_A_ROW = 2000
MAX_MEASURED_OUT_IN_A_ROW = 100
MAX_DUPLICATES_IN_A_ROW = 1000


class Proposer:
    def __init__(self, state: SearchState):
        self.state = state
        self.infeasible_in_a_row = self.measured_out_in_a_row = self.duplicates_in_a_row = 0
        self.last_was_duplicate = False

    def propose(self) -> ActiveTrial | None:
        """One proposal, screened: the trial to train, or None when it was told at once."""
        s = self.state
        trial = s.study.ask()
        record = TrialRecord.live(trial)
        record.driver = driver_tag()
        try:
            cand = sample_candidate(trial, s.spaces)
        except NasError as exc:
            record.set_status(TrialStatus.INVALID, str(exc))
            s.study.tell(trial, state=TrialStatus.INVALID.optuna_state)
            return None
        record.space, record.arch_str = cand.space.name, cand.config.arch_str
        s.status.proposed += 1
        key = architecture_key(cand.space.name, cand.config.arch_str)
        self.last_was_duplicate = not s.settings.repeat_architectures and key in s.admitted
        if self.last_was_duplicate:  # recognised before it is screened: what else it would record is known
            self._tell_duplicate(trial, record, s.admitted[key])
            return None
        score = s.screen.score(cand.space, cand.config)
        layers = cand.space.layers(cand.config, cand.space.input_shape(cand.config, s.screen.in_chans),
                                   s.screen.num_classes)
        flops, params = sum(layer.flops for layer in layers), sum(layer.params for layer in layers)
        seed = trial_seed(s.settings.seed, trial.number)
        record.config = cand.config.to_dict()
        record.seed, record.predicted_p50_ms, record.predicted_upper_ms = seed, score.p50_ms, score.upper_ms
        record.budget_ms, record.flops, record.n_params, record.versions = (s.budget_ms, flops, params,
                                                                            s.versions)
        if score.upper_ms > s.budget_ms:
            trial.set_constraint(LATENCY_CONSTRAINT, score.upper_ms - s.budget_ms)
            record.set_status(TrialStatus.INFEASIBLE,
                              f"predicted upper bound {score.upper_ms:.4g} ms > budget "
                              f"{s.budget_ms:.4g} ms (p50 {score.p50_ms:.4g} ms); not trained")
            # told as complete with a violated constraint, so the sampler learns where the feasible
            # region is
            s.study.tell(trial, [0.0, score.upper_ms])
            return None
        record.set_status(TrialStatus.TRAINING)
        s.admitted.setdefault(key, trial.number)
        s.status.feasible += 1
        return ActiveTrial(trial, record, cand, seed, score.upper_ms, float(flops))

    def _tell_duplicate(self, trial, record: TrialRecord, number: int) -> None:
        """Tell ``trial`` what trial ``number``, the same architecture, was told; train nothing."""
        s = self.state
        original = frozen_trial(s.study, s.handle.backend, number)
        told = TrialRecord.of(original).status
        record.repeats = number
        record.set_status(TrialStatus.DUPLICATE,
                          f"the architecture of trial {number} ({told}); not evaluated again")
        # another driver writes the status before it tells the values: complete only once both are there
        if told is TrialStatus.COMPLETE and original.state == TrialState.COMPLETE and original.values:
            trial.set_constraint(LATENCY_CONSTRAINT, original.constraints.get(
                LATENCY_CONSTRAINT, original.values[1] - s.budget_ms))
            s.study.tell(trial, list(original.values))
        else:  # pruned, failed, still training or being told: nothing the sampler may rank it by yet
            s.study.tell(trial, state=TrialState.PRUNED)
        self.duplicates_in_a_row += 1
        if self.duplicates_in_a_row >= MAX_DUPLICATES_IN_A_ROW:
            raise SearchError(f"{self.duplicates_in_a_row} proposals in a row were architectures the study "
                              "has already evaluated: the space looks exhausted (give --trials fewer, or "
                              "--repeat-architectures)")

    def propose_batch(self, want: int) -> list[ActiveTrial]:
        """Propose until ``want`` trials are admitted to training."""
        batch: list[ActiveTrial] = []
        while len(batch) < want:
            proposed: list[ActiveTrial] = []
            while len(proposed) < want - len(batch):
                a = self.propose()
                if a is None:
                    if not self.last_was_duplicate:
                        self._screened_out()
                    continue
                self.infeasible_in_a_row = self.duplicates_in_a_row = 0
                proposed.append(a)
            batch += self.admit(proposed)
        return batch

    def _screened_out(self) -> None:
        self.infeasible_in_a_row += 1
        if self.infeasible_in_a_row % 50 == 0:
            self.state.show()
        if self.infeasible_in_a_row >= MAX_INFEASIBLE_IN_A_ROW:
            raise SearchError(f"{self.infeasible_in_a_row} proposals in a row were predicted over the budget "
                              f"of {self.state.budget_ms:g} ms; raise --latency-ms")

    def admit(self, proposed: list[ActiveTrial]) -> list[ActiveTrial]:
        """Those of ``proposed`` that go on to training. With a timer (the local device) each is timed
        first and one measured over the budget is told as infeasible, untrained; the predictor is then
        refitted on the new timings, before the next proposal."""
        s = self.state
        measured: list[float | None] = [None] * len(proposed)
        if s.timer is not None and proposed:
            timed_before = len(s.timer.timed)
            measured = list(s.timer.measure([a.cand for a in proposed]))
            if len(s.timer.timed) > timed_before:
                s.refit()
        admitted = []
        for a, ms in zip(proposed, measured):
            # the constraint holds the larger of the predicted bound and the timing (both must meet the
            # budget)
            a.trial.set_constraint(LATENCY_CONSTRAINT, (a.upper_ms if ms is None else max(a.upper_ms, ms))
                                   - s.budget_ms)
            if ms is not None:
                a.record.measured_p50_ms = ms
            if ms is None or ms <= s.budget_ms:
                admitted.append(a)
                self.measured_out_in_a_row = 0
            else:
                self._measured_out(a, ms)
        return admitted

    def _measured_out(self, a: ActiveTrial, ms: float) -> None:
        s = self.state
        key = architecture_key(a.cand.space.name, a.cand.config.arch_str)
        if s.admitted.get(key) == a.number:  # not trained after all: a later proposal of it is timed again
            del s.admitted[key]
        a.record.set_status(TrialStatus.INFEASIBLE, f"measured p50 {ms:.4g} ms on this host > budget "
                                                    f"{s.budget_ms:.4g} ms (predicted upper bound "
                                                    f"{a.upper_ms:.4g} ms); not trained")
        s.study.tell(a.trial, [0.0, ms])
        s.status.feasible -= 1
        s.status.measured_out += 1
        self.measured_out_in_a_row += 1
        if self.measured_out_in_a_row >= MAX_MEASURED_OUT_IN_A_ROW:
            raise SearchError(f"{self.measured_out_in_a_row} candidates in a row were measured over the "
                              f"budget of {s.budget_ms:g} ms on this host; raise --latency-ms")

    def adopt_orphans(self) -> list[ActiveTrial]:
        """Trials a dead driver left running: continue them from their last recorded rung.
        Called under the claims lock, so an orphan is adopted once."""
        s, me = self.state, driver_tag()
        adopted = []
        for frozen in s.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            if not orphaned(frozen, s.study.user_attrs, me):
                continue
            trial = live_trial(s.study, s.handle.backend, frozen.number)
            record = TrialRecord.live(trial)
            record.driver = me
            if record.status is not TrialStatus.TRAINING:
                record.set_status(TrialStatus.INTERRUPTED,
                                  "the driver stopped before this trial was screened")
                s.study.tell(trial, state=TrialStatus.INTERRUPTED.optuna_state)
                continue
            if LATENCY_CONSTRAINT not in frozen.constraints:
                # stopped between proposal and timing: it goes on as the prediction screened it
                trial.set_constraint(LATENCY_CONSTRAINT, float(record.predicted_upper_ms) - s.budget_ms)
            cand = rebuild_candidate(frozen.params, s.spaces)
            adopted.append(ActiveTrial(trial, record, cand, int(record.seed),
                                       float(record.predicted_upper_ms), float(record.flops or 0.0),
                                       int(record.rung or 0), dict(record.rung_acc or {}),
                                       record.checkpoint, record.checkpoint_sha256))
        if adopted:
            log.warning("resuming %d trial(s) an interrupted driver left unfinished: %s", len(adopted),
                        ", ".join(str(a.number) for a in adopted))
        return adopted
