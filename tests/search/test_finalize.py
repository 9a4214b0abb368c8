"""Finalize: variants measured and chosen, model cards, the fallback ladder, on a real tiny study."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import onnxruntime as ort
import pytest

from hwprofiles.store import open_profile
from hwprofiles.timing import use_timing_backend
from search.cli.main import main
from search.files import sha256_file
from search.finalize.ladder import LadderEntry, load_ladder, select, write_ladder
from search.finalize.pipeline import finalize_study
from search.finalize.remote import import_device_measurements
from search.finalize.selection import choose_variant
from search.finalize.settings import FinalizeSettings
from search.loop.driver import run_search
from search.study.settings import RunSettings
from search.study.storage import load_study
from spaces import NasError

from ..browser import rendered_dom
from ..fake_timing import FakeTiming
from ..tiny import TINY


def _row(acc, p50):
    return {"val_accuracy": acc, "p50_ms": p50}


def test_ship_the_fastest_variant_within_a_point_of_the_best():
    rows = {"fp32": _row(0.950, 1.0), "distilled": _row(0.960, 1.02), "int8": _row(0.955, 0.6)}
    shipped, reasons = choose_variant(rows, 0.01, budget_ms=2.0)
    assert shipped == "int8"
    assert "same graph as distilled" in reasons["fp32"] and "slower" in reasons["distilled"]


def test_an_int8_model_that_loses_accuracy_is_not_shipped():
    rows = {"fp32": _row(0.95, 1.0), "int8": _row(0.90, 0.5)}
    shipped, reasons = choose_variant(rows, 0.01, budget_ms=2.0)
    assert shipped == "fp32" and "below the best" in reasons["int8"]


def test_a_variant_within_budget_beats_a_faster_one_only_if_accurate_enough():
    rows = {"fp32": _row(0.95, 3.0), "int8": _row(0.948, 1.5)}
    assert choose_variant(rows, 0.01, budget_ms=2.0)[0] == "int8"


def test_the_choice_reads_no_test_figure():
    """A test accuracy beside each row changes nothing: the choice is made on validation."""
    rows = {"fp32": _row(0.95, 1.0), "int8": _row(0.90, 0.5)}
    honest = choose_variant(rows, 0.01, budget_ms=2.0)
    rows["int8"]["test_accuracy"], rows["fp32"]["test_accuracy"] = 0.99, 0.5
    assert choose_variant(rows, 0.01, budget_ms=2.0) == honest


def test_ladder_selects_the_most_accurate_model_that_fits(tmp_path):
    entries = [LadderEntry(1, "fp32", "a/model.onnx", 1.0, 1.2, 0.90, 0.99, "a"),
               LadderEntry(2, "int8", "b/model.int8.onnx", 2.0, 2.5, 0.95, 0.10, "b")]
    ladder = load_ladder(write_ladder(tmp_path / "ladder.json", entries, "local", 3.0))
    assert select(ladder, 3.0).trial == 2
    assert select(ladder, 1.5).trial == 1
    assert select(ladder, 2.2, statistic="p90_ms").trial == 1
    assert select(ladder, 0.5) is None
    (tmp_path / "evil.json").write_text(json.dumps({"version": 2, "models": [
        {**entries[0].__dict__, "path": "../../etc/passwd"}]}))
    with pytest.raises(ValueError, match="leaves"):
        load_ladder(tmp_path / "evil.json")


def test_unknown_compressions_are_refused():
    with pytest.raises(NasError, match="unknown compression"):
        FinalizeSettings(study="s", compress=("magic",))
    with pytest.raises(NasError, match="unknown qat mode"):
        FinalizeSettings(study="s", qat="sometimes")


@dataclass
class Finalized:
    runs: Path
    out: dict
    entry: LadderEntry
    folder: Path
    card: dict
    rows_before: int


@pytest.fixture(scope="module")
def finalized(_tiny_local_profile, tmp_path_factory):
    """One real tiny study, finalized with every pass (QAT forced), shared by the tests below; timing is the
    deterministic fake's, and the local profile and predictor cache are this module's own copies."""
    root, cache = _tiny_local_profile
    tmp = tmp_path_factory.mktemp("finalize")
    shutil.copytree(root / "local", tmp / "profiles" / "local")
    runs = tmp / "runs"
    with pytest.MonkeyPatch.context() as mp, use_timing_backend(FakeTiming()):
        mp.setenv("SEARCH_PROFILES_DIR", str(tmp / "profiles"))
        mp.setenv("SEARCH_CACHE_DIR", str(cache))
        run_search(RunSettings(space_options=TINY, trials=2, epochs=1, halving_rate=None, generation=2,
                               population=2, workers=1, batch_size=64, runs_dir=str(runs), profile_count=12,
                               study="f"))
        rows_before = len(open_profile("local").measurements)
        out = finalize_study(FinalizeSettings(study="f", runs_dir=str(runs), top=1, epochs=1, qat="always",
                                              compress=("distill", "quantize", "prune", "lowrank")))
        (entry,) = out["models"]
        folder = runs / "f" / "final" / f"trial-{entry.trial:05d}"
        card = json.loads((folder / "model_card.json").read_text())
        yield Finalized(runs, out, entry, folder, card, rows_before)


ALL_VARIANTS = {"fp32", "distilled", "int8", "int8-qat", "pruned", "lowrank"}


def test_every_variant_is_built_measured_and_described(finalized):
    card = finalized.card
    assert set(card["variants"]) == ALL_VARIANTS
    for variant in card["variants"].values():
        assert 0 <= variant["test_accuracy"] <= 1 and 0 <= variant["val_accuracy"] <= 1
        assert variant["p99_ms"] >= variant["p50_ms"] > 0
        assert variant["throughput_per_s"] > 0 and variant["file_bytes"] > 0 and "energy_source" in variant
    assert card["variants"]["int8"]["file_bytes"] < card["variants"]["fp32"]["file_bytes"]
    assert card["variants"]["int8"]["int8_ops"]["int8"] > 0


def test_reshaping_passes_cut_the_model_and_are_measured_like_the_others(finalized):
    for name in ("pruned", "lowrank"):  # shipped only if it earns it
        variant = finalized.card["variants"][name]
        assert variant["changed"] >= 1 and 0 < variant["params_kept"] < 1


def test_quantization_aware_fine_tuning_runs_when_asked_and_the_card_says_what_it_did(finalized):
    card = finalized.card
    assert card["variants"]["int8-qat"]["int8_ops"]["int8"] > 0
    assert any("quantization-aware" in n for n in card["notes"])
    assert card["variants"]["int8"]["calibration"] == {"method": "minmax", "images": 128,
                                                       "from": "the training split"}


def test_the_shipped_variant_and_its_files_are_what_the_card_says(finalized):
    card, entry, folder = finalized.card, finalized.entry, finalized.folder
    assert card["shipped"] == entry.variant and set(card["not_shipped"]) == ALL_VARIANTS - {entry.variant}
    for name, f in card["files"].items():
        assert sha256_file(folder / name) == f["sha256"]
        session = ort.InferenceSession(str(folder / name), providers=["CPUExecutionProvider"])
        assert session.get_inputs()[0].type == "tensor(uint8)"  # raw pixels in, preprocessing in the graph
    assert card["splits"]["choices"] == "validation" and "decision_rule" in card["splits"]
    assert card["device"]["measurement"]["threads"] == 1 and card["teacher"]["resolution"] == 16
    assert (folder / "model.int8.onnx").exists() == entry.variant.startswith("int8")
    assert (folder / "MODEL_CARD.md").read_text().startswith("# Model card")
    assert load_study("f", None, finalized.runs).study.user_attrs["final"]["cards"] == {
        str(entry.trial): f"final/{folder.name}"}
    assert select(load_ladder(finalized.runs / "f" / "final" / "ladder.json"), 1e9).trial == entry.trial


def test_the_card_shows_the_timing_the_search_screened_it_with(finalized):
    """The search timed the architecture on this host (untrained, same graph) before training it."""
    assert finalized.card["search"]["screening_measured_p50_ms"] > 0
    assert "Timed when the search screened it" in (finalized.folder / "MODEL_CARD.md").read_text()


def test_the_winners_measurements_join_the_local_profile(finalized):
    """fp32 and int8 rows; not pruned or lowrank ones, whose graphs its architecture string does not
    describe."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SEARCH_PROFILES_DIR", str(finalized.runs.parent / "profiles"))
        assert len(open_profile("local").measurements) == finalized.rows_before + 2


def test_a_local_study_has_no_device_kit(finalized):
    assert not (finalized.folder / "kit").exists()
    with pytest.raises(NasError, match="for remote devices"):
        import_device_measurements("f", None, str(finalized.runs))


def test_the_report_shows_the_shipped_model_with_a_link_to_its_card(finalized, tmp_path):
    out = tmp_path / "elsewhere" / "report"  # links are relative to wherever the report is written
    assert main(["report", "--study", "f", "--runs-dir", str(finalized.runs), "--out", str(out)]) == 0
    page = (out / "report.html").read_text()
    links = re.findall(r'<a href="([^":]+)">', page)  # the page's own links (Plotly's script has others)
    assert [(out / link).resolve() for link in links] == [finalized.folder / "MODEL_CARD.md",
                                                         finalized.folder / "model_card.json"]
    shipped = finalized.card["variants"][finalized.card["shipped"]]
    row = next(line for line in (out / "summary.md").read_text().splitlines()
               if line.startswith(f"| {finalized.entry.trial} | `{finalized.card['shipped']}`"))
    assert f"{shipped['test_accuracy'] * 100:.2f}%" in row and f"{shipped['p50_ms']:.4g}" in row
    # the star of the shipped model, named in the legend the chart drew (not only in its script's data)
    drawn = rendered_dom(out / "report.html").split('id="pareto-front"', 1)[1]
    chart = re.sub(r"<script\b.*?</script>", "", drawn, flags=re.S)
    assert 'class="main-svg"' in chart and f"shipped: trial {finalized.entry.trial}" in chart


def test_export_hands_out_the_finalized_files_and_an_export_teaches_another_finalize(finalized, tmp_path):
    runs, trial = finalized.runs, finalized.entry.trial
    assert main(["export", "--study", "f", "--runs-dir", str(runs), "--trial", str(trial),
                 "--out", str(tmp_path / "x")]) == 0
    assert (tmp_path / "x" / "final" / "model_card.json").is_file()
    with pytest.MonkeyPatch.context() as mp, use_timing_backend(FakeTiming()):
        mp.setenv("SEARCH_PROFILES_DIR", str(runs.parent / "profiles"))
        again = finalize_study(FinalizeSettings(study="f", runs_dir=str(runs), top=1, epochs=1,
                                                teacher=str(tmp_path / "x"), compress=("distill",)))
        assert again["teacher"]["description"].startswith("exported model")
        assert 0 <= again["teacher"]["val_accuracy"] <= 1
        with pytest.raises(NasError, match="not an exported model"):
            finalize_study(FinalizeSettings(study="f", runs_dir=str(runs), teacher=str(tmp_path),
                                            compress=("distill",)))


def test_finalize_refuses_a_tabular_study(shared_data, tmp_path):
    runs = tmp_path / "runs"
    run_search(RunSettings(device="pixel3", spaces=("nb201",), evaluator="tabular", trials=2, generation=2,
                           population=2, workers=1, latency_ms=20.0, predictor_rows=300, runs_dir=str(runs),
                           accuracy_table=str(shared_data / "nb201_accuracy.csv"), study="t"))
    with pytest.raises(NasError, match="no trained weights"):
        finalize_study(FinalizeSettings(study="t", runs_dir=str(runs)))
