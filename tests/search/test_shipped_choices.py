"""The published profiles' predictor choices ship with them, so a fresh machine refits without choosing."""

from __future__ import annotations

import json

import pytest

import predictors.cache
from hwprofiles.store import SHIPPED_CHOICES_DIR, open_profile
from predictors import CODE_VERSION, clear_cache
from search.screening.fitting import SOURCE_ROWS_CAP, predictor_for_profile
from search.screening.shipped_choices import main, shipped_fits, stale_fits


def test_every_shipped_fit_has_a_choice_of_this_code_version_and_these_rows():
    stale = [fit.describe() for fit in stale_fits()]
    assert not stale, ("shipped predictor choices are missing or stale (the predictors' code version or a "
                       f"profile changed): run `python -m search.screening.shipped_choices`: {stale}")
    assert main(["--check"]) == 0


def test_the_fits_shipped_are_each_profile_on_all_its_rows_and_on_the_few_shot_sources_subset():
    fits = {(f.profile.name, f.space, f.max_rows) for f in shipped_fits()}
    assert ("gold_6226", "nb201", None) in fits and ("gold_6226", "nb201", SOURCE_ROWS_CAP) in fits
    assert ("raspi4", "fbnet", SOURCE_ROWS_CAP) in fits and len(fits) == 32


def test_a_fresh_cache_refits_a_published_predictor_from_its_shipped_choice(tmp_path, monkeypatch):
    monkeypatch.setenv("SEARCH_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(predictors.cache, "fit_predictor",
                        lambda *a, **k: pytest.fail("cross-validated although a choice ships"))
    clear_cache()
    predictor = predictor_for_profile(open_profile("titan_rtx_1"), "fbnet", "fp32", SOURCE_ROWS_CAP)
    shipped = [json.loads(p.read_text()) for p in SHIPPED_CHOICES_DIR.glob("fbnet-fp32-*.json")]
    assert any(s["choice"] == predictor.choice and s["code_version"] == CODE_VERSION and s["n_train"] == 900
               for s in shipped)
    assert not list(tmp_path.rglob("*.json"))  # nothing written: the shipped choice was enough
    clear_cache()
