"""A device with few measurements is screened by the few-shot transfer from the other profiles of the space
(``--prior auto``), says so in every trial, and ``devices`` shows which devices get it."""

from __future__ import annotations

import numpy as np
import pytest

from hwprofiles.kit import import_csv
from hwprofiles.store import open_profile
from search.cli.main import main
from search.errors import SearchError
from search.loop.driver import run_search
from search.screening.fitting import uses_fewshot
from search.study.settings import FEWSHOT_BELOW_ROWS, RunSettings
from search.study.storage import load_study

SHOTS = 20


@pytest.fixture
def new_device(tmp_path, monkeypatch):
    """``newdev``: 20 of pixel3's measured nb201 architectures, imported as a user's kit CSV would be; and
    ``tinydev`` with 3 of them."""
    monkeypatch.setenv("SEARCH_PROFILES_DIR", str(tmp_path / "profiles"))
    monkeypatch.setenv("SEARCH_CACHE_DIR", str(tmp_path / "cache"))
    rows = open_profile("pixel3").select(space="nb201", precision="fp32")
    pick = np.random.default_rng(0).choice(len(rows), SHOTS, replace=False)
    csv = tmp_path / "newdev.csv"
    csv.write_text("arch_str,latency_ms\n" + "".join(f"{rows[i].arch_str},{rows[i].latency_ms}\n"
                                                     for i in pick))
    import_csv(csv, "newdev", "nb201")
    (tmp_path / "tiny.csv").write_text("".join(csv.read_text().splitlines(keepends=True)[:4]))
    import_csv(tmp_path / "tiny.csv", "tinydev", "nb201")  # 3 rows: too few to lend a predictor
    return tmp_path


def _search(shared_data, tmp_path, study: str, prior: str) -> list[str]:
    # sources fitted on 20 rows each (--predictor-rows caps them too): this tests the plumbing, not accuracy
    settings = RunSettings(device="newdev", spaces=("nb201",), evaluator="tabular",
                           accuracy_table=str(shared_data / "nb201_accuracy.csv"), trials=3, generation=3,
                           population=3, workers=1, runs_dir=str(tmp_path / "runs"), predictor_rows=SHOTS,
                           latency_ms=1e4, prior=prior, study=study)
    run_search(settings)
    trials = load_study(study, None, settings.runs_dir).study.get_trials()
    return [t.user_attrs["versions"]["screen"] for t in trials if "versions" in t.user_attrs]


def test_a_device_with_few_rows_is_screened_by_transfer_and_each_trial_says_so(new_device, shared_data):
    screens = _search(shared_data, new_device, "fewshot", "auto")
    sources = ("2080ti_1", "gold_6226", "pixel3", "raspi4", "samsung_a50", "silver_4114", "titan_rtx_1",
               "titan_rtx_32")
    assert screens and set(screens) == {f"nb201 few-shot: {SHOTS} rows + 8 devices ({', '.join(sources)})"}
    assert set(_search(shared_data, new_device, "own", "none")) == {f"nb201 full: {SHOTS} rows"}


def test_devices_shows_which_devices_get_the_transfer(new_device, capsys):
    assert main(["devices"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:] if line.strip()}
    assert "nb201 few-shot" in lines["newdev"]
    assert "fbnet full, nb201 full" in lines["gold_6226"]


def test_the_transfer_is_for_devices_below_the_threshold_unless_turned_off():
    assert uses_fewshot(FEWSHOT_BELOW_ROWS - 1, "auto") and not uses_fewshot(FEWSHOT_BELOW_ROWS, "auto")
    assert not uses_fewshot(5, "none")
    with pytest.raises(SearchError, match="--prior must be one of auto, none"):
        uses_fewshot(5, "always")
    with pytest.raises(SearchError, match="--prior must be one of auto, none"):
        RunSettings(prior="always")


def test_a_refit_reads_a_source_profile_again_only_when_its_files_changed(new_device, monkeypatch):
    import hwprofiles.profile as profile_module
    from search.screening import fitting

    opened = []
    monkeypatch.setattr(fitting, "_SOURCES", {})
    real = profile_module.load_profile
    monkeypatch.setattr(fitting, "load_profile", lambda path, *a, **k: opened.append(path.name) or real(
        path, *a, **k))
    fitting.fewshot_sources("newdev", "nb201", "fp32")  # the shipped sources' choices ship: no CV
    first = len(opened)
    fitting.fewshot_sources("newdev", "nb201", "fp32")
    assert first >= 8 and len(opened) == first  # nothing changed: nothing read again
    rows = open_profile("pixel3").select(space="nb201")[:FEWSHOT_BELOW_ROWS + 5]
    extra = new_device / "extra.csv"
    extra.write_text("arch_str,latency_ms\n" + "".join(f"{r.arch_str},{r.latency_ms}\n" for r in rows))
    import_csv(extra, "tinydev", "nb201")  # tinydev now has enough rows to lend a predictor
    names = [n for n, _ in fitting.fewshot_sources("newdev", "nb201", "fp32")]
    assert "tinydev" in names and opened[first:] == ["tinydev"]
