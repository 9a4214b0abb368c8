"""Finalize: variants measured and chosen, model cards, the fallback ladder, on a real tiny study."""

from __future__ import annotations

import json

import pytest

from hwprofiles.store import open_profile
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

from ..tiny import TINY


def _row(acc, p50):
    return {"test_accuracy": acc, "p50_ms": p50}


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


def test_ladder_selects_the_most_accurate_model_that_fits(tmp_path):
    entries = [LadderEntry(1, "fp32", "a/model.onnx", 1.0, 1.2, 0.90, "a"),
               LadderEntry(2, "int8", "b/model.int8.onnx", 2.0, 2.5, 0.95, "b")]
    ladder = load_ladder(write_ladder(tmp_path / "ladder.json", entries, "local", 3.0))
    assert select(ladder, 3.0).trial == 2
    assert select(ladder, 1.5).trial == 1
    assert select(ladder, 2.2, statistic="p90_ms").trial == 1
    assert select(ladder, 0.5) is None
    (tmp_path / "evil.json").write_text(json.dumps({"version": 1, "models": [
        {**entries[0].__dict__, "path": "../../etc/passwd"}]}))
    with pytest.raises(ValueError, match="leaves"):
        load_ladder(tmp_path / "evil.json")


def test_unknown_compressions_are_refused():
    with pytest.raises(NasError, match="unknown compression"):
        FinalizeSettings(study="s", compress=("magic",))
    with pytest.raises(NasError, match="unknown qat mode"):
        FinalizeSettings(study="s", qat="sometimes")


def test_finalize_a_study_end_to_end(local_device, tmp_path, capsys):
    runs = tmp_path / "runs"
    run_search(RunSettings(space_options=TINY, trials=2, epochs=1, halving_rate=None, generation=2, population=2,
                           workers=1, batch_size=64, runs_dir=str(runs), profile_count=12, study="f"))
    rows_before = len(open_profile("local").measurements)
    out = finalize_study(FinalizeSettings(study="f", runs_dir=str(runs), top=1, epochs=1, qat="always",
                                          compress=("distill", "quantize", "prune", "lowrank")))
    (entry,) = out["models"]
    folder = runs / "f" / "final" / f"trial-{entry.trial:05d}"
    card = json.loads((folder / "model_card.json").read_text())
    assert set(card["variants"]) == {"fp32", "distilled", "int8", "int8-qat", "pruned", "lowrank"}
    for name in ("pruned", "lowrank"):  # measured like the others; shipped only if it earns it
        assert card["variants"][name]["changed"] >= 1 and 0 < card["variants"][name]["params_kept"] < 1
    assert card["variants"]["int8-qat"]["int8_ops"]["int8"] > 0 and any("quantization-aware" in n
                                                                       for n in card["notes"])
    for variant in card["variants"].values():
        assert 0 <= variant["test_accuracy"] <= 1 and variant["p99_ms"] >= variant["p50_ms"] > 0
        assert variant["throughput_per_s"] > 0 and variant["file_bytes"] > 0 and "energy_source" in variant
    assert card["variants"]["int8"]["file_bytes"] < card["variants"]["fp32"]["file_bytes"]
    assert card["variants"]["int8"]["int8_ops"]["int8"] > 0
    assert card["shipped"] == entry.variant and set(card["not_shipped"]) == {"fp32", "distilled", "int8",
                                                                              "int8-qat", "pruned", "lowrank"} - {entry.variant}
    for name, f in card["files"].items():
        assert sha256_file(folder / name) == f["sha256"]
    assert (folder / "MODEL_CARD.md").read_text().startswith("# Model card")
    # the search timed it on this host (untrained, same graph): the card shows that timing beside the others
    assert card["search"]["screening_measured_p50_ms"] > 0
    assert "Timed when the search screened it" in (folder / "MODEL_CARD.md").read_text()
    assert (folder / "model.int8.onnx").exists() == entry.variant.startswith("int8")
    assert not (folder / "kit").exists()  # measured here: no device kit
    with pytest.raises(NasError, match="for remote devices"):
        import_device_measurements("f", None, str(runs))
    # the winner's fp32 and int8 rows; not pruned or lowrank ones, whose graphs its architecture string does not describe
    assert len(open_profile("local").measurements) == rows_before + 2
    assert load_study("f", None, runs).study.user_attrs["final"]["cards"] == {str(entry.trial): f"final/{folder.name}"}
    assert select(load_ladder(runs / "f" / "final" / "ladder.json"), 1e9).trial == entry.trial
    # export hands the finalized files out too
    assert main(["export", "--study", "f", "--runs-dir", str(runs), "--trial", str(entry.trial),
                 "--out", str(tmp_path / "x")]) == 0
    assert (tmp_path / "x" / "final" / "model_card.json").is_file()
    # an exported model serves as the teacher of another finalize, as it is
    again = finalize_study(FinalizeSettings(study="f", runs_dir=str(runs), top=1, epochs=1, teacher=str(tmp_path / "x"),
                                            compress=("distill",)))
    assert again["teacher"]["description"].startswith("exported model") and 0 <= again["teacher"]["val_accuracy"] <= 1
    with pytest.raises(NasError, match="not an exported model"):
        finalize_study(FinalizeSettings(study="f", runs_dir=str(runs), teacher=str(tmp_path), compress=("distill",)))


def test_finalize_refuses_a_tabular_study(shared_data, tmp_path):
    runs = tmp_path / "runs"
    run_search(RunSettings(device="pixel3", spaces=("nb201",), evaluator="tabular", trials=2, generation=2,
                           population=2, workers=1, latency_ms=20.0, predictor_rows=300, runs_dir=str(runs),
                           accuracy_table=str(shared_data / "nb201_accuracy.csv"), study="t"))
    with pytest.raises(NasError, match="no trained weights"):
        finalize_study(FinalizeSettings(study="t", runs_dir=str(runs)))
