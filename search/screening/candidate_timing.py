"""Time the candidates the predictor let through, on this host, before any training is spent on them.

On the ``local`` device the budget need not rest on a prediction: a candidate
costs about a second to export and time (the profile's protocol), against
minutes to train. So the driver times each generation's candidates together,
while no training runs, rejects those measured over the budget, and appends
the timings to the ``local`` profile. The predictor is refitted on them before
the next generation is proposed, so it learns the region the search explores,
the region a profile sampled evenly over the space covers least.

Weights do not change latency, so an untrained model of the architecture is
timed, exported exactly as ``search profile`` exports its models.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
from pathlib import Path

from hwprofiles.measure import ExportJob, export_job, measure_in_chunks, model_paths
from hwprofiles.profile import Profile
from search.screening.local_profile import local_profile_request
from search.study.candidates import Candidate

__all__ = ["CandidateTimer"]

log = logging.getLogger(__name__)


class CandidateTimer:
    """Measures candidates into one profile of this host; ``measure`` returns their p50 in ms."""

    def __init__(self, profile: Profile, precision: str, in_chans: int, work: Path):
        self.profile, self.precision, self.in_chans, self.work = profile, precision, in_chans, Path(work)
        self.request = local_profile_request(profile, tuple(profile.spaces), precision, 1)
        self.timed: dict[tuple[str, str, str], float] = {}  # what this timer appended, newest profile or not

    def _job(self, cand: Candidate) -> tuple[tuple[str, str, str], ExportJob]:
        """The profile row's key (space, arch_str, input shape) and the export that times it."""
        shape = cand.space.input_shape(cand.config, self.in_chans)
        fp32, int8 = model_paths(self.work, cand.space.name, cand.config.arch_str)
        job = ExportJob(cand.space.name, cand.config.arch_str, shape, str(fp32),
                        str(int8) if self.precision == "int8" else None)
        return (cand.space.name, cand.config.arch_str, "x".join(map(str, shape))), job

    def _known(self) -> dict[tuple[str, str, str], float]:
        """Timings this profile already holds (first measurements, this precision and batch)."""
        rows = {(m.space, m.arch_str, m.input_shape): m.latency_ms for m in self.profile.measurements
                if m.repeat == 0 and m.precision == self.precision and m.batch == self.request.batch}
        return {**rows, **self.timed}

    def measure(self, cands: list[Candidate]) -> list[float]:
        """p50 latency of each candidate: from the profile where it was timed before, else timed now
        (all new ones together, their rounds interleaved) and appended to the profile."""
        known = self._known()
        keys, jobs = [], {}
        for cand in cands:
            key, job = self._job(cand)
            keys.append(key)
            if key not in known:
                jobs.setdefault(key, job)
        if jobs:
            self.work.mkdir(parents=True, exist_ok=True)
            try:
                with _driver_torch_state_kept():
                    for job in jobs.values():
                        export_job(job, self.request.batch, self.request.seed)
                rows = measure_in_chunks([(j, self.precision) for j in jobs.values()], self.request, 0,
                                         "measure", None)
            finally:
                shutil.rmtree(self.work, ignore_errors=True)
            for key, row in zip(jobs, rows):
                known[key] = self.timed[key] = row.latency_ms
            log.info("timed %d candidate(s) on this host; %d appended to the %s profile so far",
                     len(rows), len(self.timed), self.profile.name)
        return [known[key] for key in keys]


@contextlib.contextmanager
def _driver_torch_state_kept():
    """export_job sets one thread and seeds torch, as the profile's exports (in their own processes) do;
    here it runs in the driver's process, whose thread count and random stream stay as they were."""
    import torch

    before = torch.get_num_threads()
    try:
        with torch.random.fork_rng(devices=[]):
            yield
    finally:
        torch.set_num_threads(before)
