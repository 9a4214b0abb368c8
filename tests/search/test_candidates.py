from __future__ import annotations

import optuna
import pytest

from search.study.candidates import rebuild_candidate, sample_candidate
from spaces import NasError, create_space


def _spaces(*names):
    return {n: create_space(n) for n in names}


@pytest.mark.parametrize("names", [("mobile_cnn",), ("mobile_cnn", "sparse_vit")])
def test_sampled_candidates_rebuild_from_their_params(names):
    spaces = _spaces(*names)
    study = optuna.create_study(directions=["maximize", "minimize"],
                                sampler=optuna.samplers.RandomSampler(seed=0))
    seen = set()
    for _ in range(12):
        trial = study.ask()
        cand = sample_candidate(trial, spaces)
        seen.add(cand.space.name)
        again = rebuild_candidate(trial.params, spaces)
        assert again.space.name == cand.space.name and again.config == cand.config
        study.tell(trial, [0.5, 1.0])
    assert seen == set(names)  # both spaces get drawn in a shared study


def test_several_spaces_prefix_their_params():
    spaces = _spaces("mobile_cnn", "sparse_vit")
    trial = optuna.create_study(directions=["maximize", "minimize"]).ask()
    cand = sample_candidate(trial, spaces)
    assert trial.params["space"] == cand.space.name
    assert all(k == "space" or k.startswith(cand.space.name + ".") for k in trial.params)


def test_params_of_another_space_are_refused():
    with pytest.raises(NasError, match="stored params"):
        rebuild_candidate({"s0_depth": 1}, _spaces("mobile_cnn"))
