from __future__ import annotations

import json
from functools import cache

import numpy as np
import pytest

from hwprofiles.profile import load_profile
from hwprofiles.store import SHIPPED_DIR
from predictors import (
    FEATURE_NAMES,
    PredictorError,
    evaluate,
    evaluate_split,
    fit_fewshot,
    fit_flops_baseline,
    fit_predictor,
    plot_predicted_vs_measured,
    predictor_for_rows,
    rows_to_data,
)
from predictors.cache import clear_cache
from spaces import NasError, create_space

FAST = ("additive", "additive+gbm_small")


@cache
def _data(device: str, space_name: str):
    rows = load_profile(SHIPPED_DIR / device, check_arch=False).select(space=space_name)
    return rows, rows_to_data(rows, create_space(space_name))


def _xy(device: str, space_name: str = "fbnet"):
    _, data = _data(device, space_name)
    return data.X, data.latency_ms


def test_predictor_beats_flops_baseline_and_covers():
    X, y = _xy("gold_6226")
    order = np.random.default_rng(0).permutation(len(y))
    tr, te = order[:300], order[300:1800]
    predictor = fit_predictor(X[tr], y[tr], candidates=FAST, n_splits=3, calibration_folds=3)
    p50, upper = predictor.predict_with_upper(X[te])
    within10 = np.mean(np.abs(p50 - y[te]) / y[te] <= 0.1)
    flops = fit_flops_baseline(X[tr], y[tr]).predict(X[te])
    flops_within10 = np.mean(np.abs(flops - y[te]) / y[te] <= 0.1)
    assert within10 > flops_within10 + 0.2
    assert 0.8 <= np.mean(y[te] <= upper) <= 0.98


def test_nb201_evaluate_reports_both_models(tmp_path):
    _, data = _data("gold_6226", "nb201")
    X = data.X[:400]
    result = evaluate(X, data.latency_ms[:400], train_size=250, seed=1, return_predictions=True)
    assert result["predictor"]["within10"] > result["flops_baseline"]["within10"]
    assert ({"within5", "within10", "mape", "spearman", "kendall", "upper_coverage"}
            <= set(result["predictor"]))
    pred = result["predictions"]
    png = plot_predicted_vs_measured(pred["measured_ms"], pred["p50_ms"], tmp_path / "scatter.png", "gold",
                                     pred["upper_ms"], pred["flops_ms"])
    assert png.stat().st_size > 1000


def test_fit_is_deterministic_and_cache_refits_identically(tmp_path):
    rows, _ = _data("titan_rtx_1", "fbnet")
    space = create_space("fbnet")
    subset = rows[:80]
    clear_cache()
    first = predictor_for_rows(subset, space, cache_dir=tmp_path)
    assert predictor_for_rows(subset, space, cache_dir=tmp_path) is first  # in-process cache
    clear_cache()
    second = predictor_for_rows(subset, space, cache_dir=tmp_path)  # refit from the JSON choice, no CV
    assert second is not first
    X, _ = _xy("titan_rtx_1")
    np.testing.assert_array_equal(first.predict(X[:500]), second.predict(X[:500]))
    saved = json.loads(next(tmp_path.glob("*.json")).read_text())
    assert saved["choice"] == first.choice and "additive" in saved
    clear_cache()
    other = predictor_for_rows(rows[:81], space)  # different data -> different key -> a new fit
    assert other is not first


def test_score_configs_batch():
    X, y = _xy("gold_6226")
    predictor = fit_predictor(X[:200], y[:200], candidates=FAST, n_splits=3, calibration_folds=3)
    space = create_space("fbnet")
    rows, _ = _data("gold_6226", "fbnet")
    configs = [space.parse(r.arch_str) for r in rows[:50]]
    p50, upper = predictor.score(space, configs, num_classes=100)
    np.testing.assert_allclose(p50, predictor.predict(X[:50]))
    assert (upper >= p50).all()


def test_fewshot_k20_beats_flops_in_spearman():
    from scipy.stats import spearmanr

    sources = []
    for device in ("gold_6226", "titan_rtx_1", "pixel3"):
        X, y = _xy(device)
        sources.append(fit_predictor(X[:300], y[:300], candidates=FAST, n_splits=3, calibration_folds=3))
    X, y = _xy("silver_4114")
    shots = np.random.default_rng(0).choice(len(y), 20, replace=False)
    rest = np.setdiff1d(np.arange(len(y)), shots)
    fewshot = fit_fewshot(sources, X[shots], y[shots])
    p50, upper = fewshot.predict_with_upper(X[rest])
    flops = fit_flops_baseline(X[shots], y[shots]).predict(X[rest])
    assert spearmanr(p50, y[rest]).statistic > spearmanr(flops, y[rest]).statistic
    assert np.mean(y[rest] <= upper) > 0.6


def test_bad_input_raises_nas_errors():
    X, y = _xy("gold_6226")
    with pytest.raises(NasError, match="no latency"):
        fit_predictor(np.zeros((0, len(FEATURE_NAMES))), [])
    bad = y[:50].copy()
    bad[3] = np.nan
    with pytest.raises(NasError, match="finite"):
        fit_predictor(X[:50], bad)
    with pytest.raises(NasError, match="precision"):
        fit_predictor(X[:50], y[:50], precision="fp8")
    with pytest.raises(NasError, match="4 archit"):
        evaluate_split(X[:4], y[:5], X[:2], y[:2])
    with pytest.raises(PredictorError):
        rows_to_data([], create_space("fbnet"))
    with pytest.raises(NasError, match="precision"):
        rows_to_data(_data("gold_6226", "fbnet")[0][:3], create_space("fbnet"), precision="fp8")


def test_the_gaussian_process_correction_scores_as_scikit_learn_does():
    """The screen's fast posterior mean equals scikit-learn's own prediction."""
    from predictors.models import AdditiveModel, _gaussian_process, _GaussianProcessMean, _gbm_inputs

    X, y = _xy("gold_6226")
    train, test = X[:120], X[120:420]
    additive = AdditiveModel().fit(train, y[:120])
    pipeline = _gaussian_process(0).fit(_gbm_inputs(train, additive.predict(train)),
                                        np.log(y[:120]) - np.log(additive.predict(train)))
    inputs = _gbm_inputs(test, additive.predict(test))
    np.testing.assert_allclose(_GaussianProcessMean(pipeline).predict(inputs), pipeline.predict(inputs),
                               rtol=1e-6, atol=1e-8)
    chosen = fit_predictor(train, y[:120], candidates=["additive+gp"], n_splits=3, calibration_folds=3)
    assert chosen.choice == "additive+gp" and np.all(np.isfinite(chosen.predict(test)))


def test_lookup_over_the_encoding_learns_what_the_runtime_runs():
    """Pixel 3 (TFLite) runs ops that build() prunes and drops others: the op-kind sums cannot see it,
    the lookup over nb201's encoding (ops as each runtime runs them) can."""
    X, y = _xy("pixel3", "nb201")
    order = np.random.default_rng(0).permutation(len(y))
    tr, te = order[:400], order[400:2400]

    def within10(candidates):
        predictor = fit_predictor(X[tr], y[tr], candidates=candidates, n_splits=3, calibration_folds=3)
        return np.mean(np.abs(predictor.predict(X[te]) - y[te]) / y[te] <= 0.1)

    assert within10(["lookup"]) > within10(["additive"]) + 0.1


def test_the_median_correction_is_not_dragged_by_mistimed_rows():
    X, y = _xy("gold_6226", "nb201")
    order = np.random.default_rng(0).permutation(len(y))
    tr, te = order[:400], order[400:2400]
    corrupted = y[tr].copy()
    corrupted[::10] *= 3.0  # one training row in ten timed during a burst

    def within10(candidate):
        predicted = fit_predictor(X[tr], corrupted, candidates=[candidate], n_splits=3,
                                  calibration_folds=3).predict(X[te])
        return np.mean(np.abs(predicted - y[te]) / y[te] <= 0.1)

    assert within10("lookup+gbm_median") > within10("additive+gbm_small") + 0.2  # measured: 0.74 vs 0.40


def test_a_trimmed_lookup_leaves_out_a_slow_burst_and_keeps_the_table():
    """FBNet on gold_6226 as published: bursts of consecutive architectures timed slow. A lookup fitted
    on 500 rows with them misses more held-out architectures than one that leaves them out."""
    from predictors.models import AdditiveModel

    X, y = _xy("gold_6226")
    order = np.random.default_rng(0).permutation(len(y))
    tr, te = order[:500], order[500:]

    def within10(candidate):
        predicted = fit_predictor(X[tr], y[tr], candidates=[candidate], n_splits=3,
                                  calibration_folds=3).predict(X[te])
        return np.mean(np.abs(predicted - y[te]) / y[te] <= 0.1)

    assert within10("lookup_trimmed") > within10("lookup") + 0.03  # measured: 0.949 vs 0.897
    # rows the fit meets are all kept: an exactly additive table loses nothing to trimming
    exact = AdditiveModel(with_encoding=True).fit(X[tr], y[tr]).predict(X)
    model = AdditiveModel(with_encoding=True, trimmed=True).fit(X[tr], exact[tr])
    assert model.rows_used == 500
    np.testing.assert_allclose(model.predict(X[te]), exact[te], rtol=1e-6)


def test_a_correction_fitted_on_the_typical_rows_beats_one_fitted_on_all_on_the_raspberry_pi():
    """nb201 on the Raspberry Pi 4 as published: some rows sit far off their architecture's latency. A
    boosted correction fitted without the rows the trimmed lookup left out places more held-out
    architectures within ±10% than one fitted on them all."""
    X, y = _xy("raspi4", "nb201")
    order = np.random.default_rng(0).permutation(len(y))
    tr, te = order[:900], order[900:]

    def fitted(candidate):  # no cross-validation: one candidate, fitted once
        from predictors.models import refit_predictor

        return refit_predictor(X[tr], y[tr], "fp32", candidate, 0.1, 0.9)

    typical = fitted("lookup_trimmed+gbm_typical")
    additive, _ = typical.parts[0]
    assert 0.5 * len(tr) <= additive.rows_used < len(tr) and additive.kept_rows.sum() == additive.rows_used

    def within10(predictor):
        return np.mean(np.abs(predictor.predict(X[te]) - y[te]) / y[te] <= 0.1)

    # measured: 0.705 vs 0.675
    assert within10(typical) > within10(fitted("lookup_trimmed+gbm_median")) + 0.015


def test_a_blend_is_the_geometric_mean_of_its_two_candidates_and_is_chosen_only_by_cross_validation():
    from predictors.models import choice_parts, refit_predictor

    X, y = _xy("gold_6226")
    X, y = X[:200], y[:200]
    a, b = "additive", "additive+gbm_small"
    blend = refit_predictor(X, y, "fp32", f"{a}&{b}", 0.1, 0.9)
    single = {n: refit_predictor(X, y, "fp32", n, 0.1, 0.9).predict(X[:50]) for n in (a, b)}
    np.testing.assert_allclose(blend.predict(X[:50]), np.sqrt(single[a] * single[b]))
    chosen = fit_predictor(X, y, candidates=[a, b], n_splits=3, calibration_folds=3)
    scores = chosen.cv_scores
    (blended,) = [n for n in scores if "&" in n]  # the two best, best first
    assert set(choice_parts(blended)) == {a, b} and chosen.choice in scores
    assert scores[chosen.choice]["within10"] == max(s["within10"] for s in scores.values())
    with pytest.raises(PredictorError, match="unknown model choice"):
        choice_parts("additive&nope")
    with pytest.raises(PredictorError, match="unknown model choice"):
        choice_parts(None)
    with pytest.raises(PredictorError, match="at most 200 boosting"):  # two boosted models score too slowly
        choice_parts("additive+gbm_small&lookup+gbm_median")


def test_the_robust_relative_lookup_meets_the_raspberry_pi_goal():
    """nb201 on the Raspberry Pi 4 as published, 900 training rows: a lookup refitted with biweights in
    relative error places >= 75% of the held-out architectures within ±10% (a hard 3-sigma trim: 65%)."""
    from predictors.models import refit_predictor

    X, y = _xy("raspi4", "nb201")
    order = np.random.default_rng(0).permutation(len(y))
    tr, te = order[:900], order[900:]
    predictor = refit_predictor(X[tr], y[tr], "fp32", "lookup_trimmed", 0.1, 0.9)
    # measured: 0.793 (0.759 before dead_ops_kept)
    assert np.mean(np.abs(predictor.predict(X[te]) - y[te]) / y[te] <= 0.1) >= 0.75


def test_counting_the_dead_ops_tflite_runs_meets_the_pixel3_goal():
    """nb201 on the Pixel 3 as published, 900 training rows: with the ops of dead nodes that TFLite still runs
    counted (spaces.nb201.dead_ops_kept), the robust lookup places >= 75% of the held-out architectures within
    ±10% (72.8% without those counts)."""
    from predictors.models import refit_predictor

    X, y = _xy("pixel3", "nb201")
    order = np.random.default_rng(0).permutation(len(y))
    tr, te = order[:900], order[900:]
    predictor = refit_predictor(X[tr], y[tr], "fp32", "lookup_trimmed", 0.1, 0.9)
    assert np.mean(np.abs(predictor.predict(X[te]) - y[te]) / y[te] <= 0.1) >= 0.75  # measured: 0.752


def test_the_upper_bound_is_calibrated_on_twenty_folds_and_covers_as_stated():
    """FBNet on titan_rtx_32 as published, 500 training rows: residuals of lookups fitted on 4/5 of them
    overstate the error of the one fitted on all (the bound covered 93.5% of the held-out architectures
    for a stated 90%); calibrated on 20 folds it covers within 3 points of the statement."""
    from predictors.models import CALIBRATION_FOLDS

    X, y = _xy("titan_rtx_32")
    order = np.random.default_rng(0).permutation(len(y))
    tr, te = order[:500], order[500:]
    predictor = fit_predictor(X[tr], y[tr], coverage=0.9, candidates=["lookup"])
    assert CALIBRATION_FOLDS == 20
    assert abs(np.mean(y[te] <= predictor.predict_with_upper(X[te])[1]) - 0.9) <= 0.03  # measured: 0.891


def test_folds_fitted_in_two_processes_give_the_same_predictor_as_in_one():
    X, y = _xy("gold_6226")
    rows = np.random.default_rng(3).permutation(len(y))[:120]
    fits = [fit_predictor(X[rows], y[rows], candidates=FAST, n_splits=3, calibration_folds=6, jobs=jobs)
            for jobs in (1, 2)]
    assert fits[0].choice == fits[1].choice and fits[0].cv_scores == fits[1].cv_scores
    assert fits[0].log_upper_q == fits[1].log_upper_q
    np.testing.assert_array_equal(fits[0].predict(X[:400]), fits[1].predict(X[:400]))


def test_fit_jobs_fits_small_profiles_in_process_and_reads_the_environment(monkeypatch):
    from predictors.parallel import PARALLEL_MIN_ROWS, fit_jobs

    monkeypatch.setenv("SEARCH_FIT_JOBS", "3")
    assert fit_jobs(PARALLEL_MIN_ROWS - 1) == 1 and fit_jobs(PARALLEL_MIN_ROWS) == 3
    monkeypatch.setenv("SEARCH_FIT_JOBS", "two")
    with pytest.raises(PredictorError, match="SEARCH_FIT_JOBS"):
        fit_jobs(900)


def test_from_enough_rows_the_cross_validation_sets_the_bound_without_more_fits(monkeypatch):
    import predictors.models as models

    X, y = _xy("gold_6226")
    calls = []
    real = models._out_of_fold
    monkeypatch.setattr(models, "_out_of_fold", lambda *a, **k: calls.append(a[3]) or real(*a, **k))
    for threshold, folds in ((1000, [3, 8]), (100, [3])):
        monkeypatch.setattr(models, "CV_CALIBRATES_FROM_ROWS", threshold)
        calls.clear()
        fit_predictor(X[:120], y[:120], candidates=FAST, n_splits=3, calibration_folds=8)
        assert calls == folds  # the CV's folds, then the calibration's where the rows are fewer


def test_the_gaussian_process_is_a_candidate_only_up_to_its_row_limit(monkeypatch):
    import predictors.models as models

    X, y = _xy("titan_rtx_1")
    monkeypatch.setattr(models, "GP_MAX_ROWS", 40)
    assert "additive+gp" in fit_predictor(X[:40], y[:40], n_splits=3, calibration_folds=3).cv_scores
    assert "additive+gp" not in fit_predictor(X[:41], y[:41], n_splits=3, calibration_folds=3).cv_scores
