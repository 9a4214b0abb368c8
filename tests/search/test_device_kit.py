"""Finalize for a remote device: the variants' kit, run by its own runner, read back into the cards."""

from __future__ import annotations

import csv
import dataclasses
import json
import shutil
import subprocess
import sys

import pytest

from hwprofiles.profile import Profile, load_profile, save_profile
from search.cli.main import main
from search.files import sha256_file
from search.finalize.ladder import load_ladder
from search.finalize.pipeline import finalize_study
from search.finalize.remote import KIT, import_device_measurements
from search.finalize.settings import FinalizeSettings
from search.loop.driver import run_search
from search.study.settings import RunSettings
from spaces import NasError

from ..tiny import TINY


@pytest.fixture
def remote_study(local_device, tmp_path, monkeypatch):
    """A study searched and finalized for ``box``, a device this host is not (its profile: the tiny local
    one)."""
    local = load_profile(local_device / "local")
    profiles = tmp_path / "profiles"
    box = Profile(dataclasses.replace(local.device, name="box"), local.measurements, profiles / "box")
    save_profile(box, profiles / "box")
    monkeypatch.setenv("SEARCH_PROFILES_DIR", str(profiles))
    runs = tmp_path / "runs"
    run_search(RunSettings(device="box", space_options=TINY, trials=2, epochs=1, halving_rate=None,
                           generation=2, population=2, workers=1, batch_size=64, runs_dir=str(runs),
                           study="r"))
    out = finalize_study(FinalizeSettings(study="r", runs_dir=str(runs), top=1, epochs=1,
                                          compress=("quantize",)))
    (entry,) = out["models"]
    return runs, runs / "r" / "final" / f"trial-{entry.trial:05d}"


def _rewrite_results(kit, p50_by_variant):
    manifest = json.loads((kit / "manifest.json").read_text())
    variant = {m["file"]: m["variant"] for m in manifest["models"]}
    with open(kit / "results.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        row["p50_ms"] = row["latency_ms"] = str(p50_by_variant[variant[row["model"]]])
        row["p90_ms"] = row["p99_ms"] = str(2 * p50_by_variant[variant[row["model"]]])
    with open(kit / "results.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_a_remote_device_kit_measures_the_variants_and_ships_on_its_figures(remote_study, capsys):
    """Also: results that do not match the kit are one clear error (one study serves both, to keep CI
    short)."""
    runs, folder = remote_study
    kit = folder / KIT
    card = json.loads((folder / "model_card.json").read_text())
    assert "this host, not the device box" in card["device"]["measured_on"]
    manifest = json.loads((kit / "manifest.json").read_text())
    assert {m["variant"] for m in manifest["models"]} == set(card["variants"]) == {"fp32", "int8"}
    # before the device has run it, nothing changes and the trial is listed as waiting
    assert import_device_measurements("r", None, str(runs))["waiting"] == [card["trial"]]

    # "the device": this host, running the kit's own runner as a user would on the target
    done = subprocess.run([sys.executable, "run_kit.py", "--provider", "cpu", "--threads", "1"], cwd=kit,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    # the device disagrees with this host: the less accurate variant is far slower there
    best = max(card["variants"], key=lambda n: (card["variants"][n]["test_accuracy"], n == "int8"))
    _rewrite_results(kit, {n: (0.5 if n == best else 50.0) for n in card["variants"]})

    assert main(["finalize", "--study", "r", "--runs-dir", str(runs), "--import-measurements"]) == 0
    assert "measured on the device" in capsys.readouterr().out
    card = json.loads((folder / "model_card.json").read_text())
    assert card["shipped"] == best
    assert {n: v["device"]["p50_ms"] for n, v in card["variants"].items()} == {
        n: (0.5 if n == best else 50.0) for n in card["variants"]}
    predicted = card["search"]["predicted_p50_ms"]
    assert card["measured_vs_predicted"]["device_error_pct"] == pytest.approx(
        (predicted - card["variants"]["fp32"]["device"]["p50_ms"])
        / card["variants"]["fp32"]["device"]["p50_ms"] * 100)
    assert (folder / "model.int8.onnx").exists() == (best == "int8")
    for name, f in card["files"].items():
        assert sha256_file(folder / name) == f["sha256"]
    assert "## Measured on the device" in (folder / "MODEL_CARD.md").read_text()
    (entry,) = load_ladder(runs / "r" / "final" / "ladder.json")
    assert entry.variant == best and entry.p50_ms == 0.5
    # the device's figures join its profile, once: the predictor learns from the winners
    profile = load_profile(runs.parent / "profiles" / "box")
    arch = card["architecture"]["arch_str"]
    added = {m.precision: m.latency_ms for m in profile.measurements
             if m.arch_str == arch and m.p90_ms == 2 * m.p50_ms}
    assert added == {"fp32": card["variants"]["fp32"]["device"]["p50_ms"],
                     "int8": card["variants"]["int8"]["device"]["p50_ms"]}
    assert import_device_measurements("r", None, str(runs))["profile"]["appended"] == 0

    # results that do not match the kit are one clear error; a trial without a kit waits
    (kit / "results.csv").write_text("model,latency_ms,mean_ms,p50_ms,p90_ms,p99_ms,std_ms,runs,model_bytes,"
                                     "peak_memory_bytes\nmodels/other.onnx,1,1,1,1,1,0,10,1,1\n")
    with pytest.raises(NasError, match="not in the kit's manifest"):
        import_device_measurements("r", None, str(runs))
    (kit / "results.csv").write_text("model,latency_ms,mean_ms,p50_ms,p90_ms,p99_ms,std_ms,runs,model_bytes,"
                                     "peak_memory_bytes\nmodels/fp32.onnx,1,1,nan,1,1,0,10,1,1\n")
    with pytest.raises(NasError, match="'p50_ms' must be finite"):
        import_device_measurements("r", None, str(runs))
    shutil.rmtree(kit)
    assert import_device_measurements("r", None, str(runs))["waiting"] == [f"{card['trial']} (no kit)"]


def test_a_shipped_published_profile_is_never_appended_to():
    from hwprofiles.profile import Measurement
    from hwprofiles.store import open_profile
    from search.finalize.remote import append_to_device_profile

    before = len(open_profile("pixel3", check_arch=False).measurements)
    row = Measurement("nb201", "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "3x32x32", "fp32", 1, 1.0)
    out = append_to_device_profile("pixel3", [row])
    assert out["appended"] == 0 and "shipped" in out["why"]
    assert len(open_profile("pixel3", check_arch=False).measurements) == before
