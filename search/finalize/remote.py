"""Finalized variants measured on a remote device: a kit of their ONNX files, and its results read back.

finalize can only time what runs here. For a device other than ``local`` it
measures every variant on this host (the card says so) and also writes
``kit/`` in each finalized trial's folder: the variants' batch-1 ONNX files, a
manifest with the device profile's timing protocol, and ``run_kit.py`` (a copy
of ``hwprofiles/onnx_timing.py``: python3, numpy and onnxruntime only). On the
device ``python3 run_kit.py`` writes ``results.csv``; with it back in the kit
folder, ``python -m search finalize --study NAME --import-measurements``
puts the device's p50/p90/p99 beside each variant, ships again the fastest
variant within the tolerance *on the device*, compares the prediction with
the device's measurement, rewrites the card and the ladder, and appends the
device's measurements to its profile (a measured one, not a shipped published
one), so the predictor learns from the winners.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from hwprofiles.kit import ENVIRONMENT, RESULTS, RUNNER, read_json_object, read_kit, write_kit
from hwprofiles.onnx_timing import Protocol
from hwprofiles.profile import append_measurements
from hwprofiles.store import LOCAL_DEVICE, SHIPPED_DIR, open_profile
from search.errors import SearchError
from search.files import sha256_file
from search.finalize.card import render_card
from search.finalize.ladder import LadderEntry, write_ladder
from search.finalize.selection import INT8_VARIANTS, choose_variant, variant_measurements
from search.study.storage import load_study

__all__ = ["KIT", "write_variant_kit", "read_variant_results", "import_device_measurements",
           "append_to_device_profile"]

KIT = "kit"


def write_variant_kit(folder: Path, singles: dict[str, Path], input_shape: tuple[int, ...],
                      protocol: Protocol, device: str, space: str, arch_str: str) -> Path:
    """``folder/kit``: every variant's batch-1 model, the manifest and the runner (``hwprofiles.kit``)."""
    kit = folder / KIT
    models = kit / "models"
    models.mkdir(parents=True, exist_ok=True)
    entries = []
    for variant, path in singles.items():
        shutil.copyfile(path, models / f"{variant}.onnx")
        entries.append({"file": f"models/{variant}.onnx", "variant": variant, "space": space,
                        "arch_str": arch_str, "input_shape": [1, *input_shape],
                        "precision": "int8" if variant in INT8_VARIANTS else "fp32"})
    readme = (f"Measure these models on {device} (needs python3, numpy, onnxruntime):\n"
              f"  python3 {RUNNER} --provider cpu        # or cuda / tensorrt\n"
              f"Then put {RESULTS} (and {ENVIRONMENT}) back in this folder and run:\n"
              "  python -m search finalize --study STUDY --import-measurements\n")
    return write_kit(kit, entries, protocol, 1, readme, kind="finalized variants", device=device)


def read_variant_results(kit: Path) -> tuple[dict[str, dict[str, float]], dict[str, Any]]:
    """(variant -> the device's p50/p90/p99 ms and runs, the device's environment)."""
    results = read_kit(kit)
    out = {entry["variant"]: {"p50_ms": m.p50_ms, "p90_ms": m.p90_ms, "p99_ms": m.p99_ms, "runs": m.runs}
           for entry, m in results.measured if "variant" in entry}
    if not out:
        raise SearchError(f"{kit / RESULTS}: no results of finalized variants")
    return out, results.environment


def _ship(card: dict[str, Any], folder: Path, kit: Path) -> None:
    """Re-choose the shipped variant on the device's p50 and put its files in place."""
    rows = {n: {**v, "p50_ms": v["device"]["p50_ms"]} for n, v in card["variants"].items() if "device" in v}
    shipped, reasons = choose_variant(rows, card.get("tolerance", 0.01), card["search"]["budget_ms"])
    float_shipped = card["variants"][shipped].get("quantized_from", shipped)
    shutil.copyfile(kit / "models" / f"{float_shipped}.onnx", folder / "model.onnx")
    artifacts = {"model.onnx": float_shipped}
    (folder / "model.int8.onnx").unlink(missing_ok=True)
    if shipped in INT8_VARIANTS:
        shutil.copyfile(kit / "models" / f"{shipped}.onnx", folder / "model.int8.onnx")
        artifacts["model.int8.onnx"] = shipped
    reasons.update({n: "not measured on the device" for n in card["variants"] if n not in rows})
    card.update(shipped=shipped, not_shipped=reasons)
    card["files"] = {name: {"sha256": sha256_file(folder / name), "bytes": (folder / name).stat().st_size,
                            "variant": variant} for name, variant in artifacts.items()}


def append_to_device_profile(device: str, rows: list) -> dict[str, Any]:
    """Append the device's rows to its profile, skipping rows it already has (a second import adds nothing).

    A shipped profile is published data and stays as published; a batch other than 1 is not what the kit
    timed.
    """
    profile = open_profile(device, check_arch=False)
    if SHIPPED_DIR in Path(profile.path).resolve().parents:
        return {"appended": 0,
                "why": f"{device} is a shipped profile of published measurements; it is not changed"}
    if profile.device.batch != 1:
        return {"appended": 0,
                "why": f"the profile is at batch {profile.device.batch}, the kit timed batch 1"}
    key = lambda m: (m.space, m.arch_str, m.input_shape, m.precision, m.batch)  # noqa: E731
    have = {key(m) for m in profile.measurements}
    new = [m for m in rows if key(m) not in have]
    append_measurements(profile.path, new)
    return {"appended": len(new), "path": str(profile.path)}


def import_device_measurements(study: str, storage: str | None, runs_dir: str) -> dict[str, Any]:
    """Read every finalized trial's kit results; update cards and, when all are measured, the ladder."""
    handle = load_study(study, storage, runs_dir)
    if handle.settings.get("device") == LOCAL_DEVICE:
        raise SearchError(f"study {study!r} is on the local device: finalize measured its models here "
                          "already; --import-measurements is for remote devices")
    cards = (handle.study.user_attrs.get("final") or {}).get("cards") or {}
    if not cards:
        raise SearchError(f"study {study!r} has no finalized models; run python -m search finalize first")
    measured, waiting, ladder, profile_rows = [], [], [], []
    for trial, rel in sorted(cards.items(), key=lambda kv: int(kv[0])):
        folder = handle.artifacts / rel
        kit = folder / KIT
        card = read_json_object(folder / "model_card.json")
        if "input" not in card or "splits" not in card:
            raise SearchError(f"{folder / 'model_card.json'}: written before models took raw pixels and "
                              "choices read validation; finalize the study again, then run its kits")
        if not (kit / "results.csv").is_file():
            waiting.append(int(trial) if (kit / "manifest.json").is_file() else f"{trial} (no kit)")
            continue
        results, environment = read_variant_results(kit)
        arch = card["architecture"]
        profile_rows += variant_measurements(arch["space"], arch["arch_str"], tuple(arch["input_shape"]),
                                             {n: f for n, f in results.items() if n in card["variants"]})
        for variant, figures in results.items():
            if variant in card["variants"]:
                card["variants"][variant]["device"] = figures
        _ship(card, folder, kit)
        fp32 = card["variants"].get("fp32", {}).get("device")
        predicted = card["search"].get("predicted_p50_ms")
        if fp32 and predicted:
            card["measured_vs_predicted"].update(
                device_p50_ms=fp32["p50_ms"],
                device_error_pct=(predicted - fp32["p50_ms"]) / fp32["p50_ms"] * 100)
        card["device"]["measured_on_device"] = {
            "source": f"{KIT}/results.csv", "platform": environment.get("platform"),
            "provider": environment.get("provider"), "threads": environment.get("threads"),
            "runtime_version": environment.get("runtime_version")}
        (folder / "model_card.json").write_text(json.dumps(card, indent=1, default=str) + "\n")
        (folder / "MODEL_CARD.md").write_text(render_card(card))
        shipped = card["variants"][card["shipped"]]
        path = "model.int8.onnx" if "model.int8.onnx" in card["files"] else "model.onnx"
        ladder.append(LadderEntry(int(trial), card["shipped"], f"{folder.name}/{path}",
                                  shipped["device"]["p50_ms"], shipped["device"]["p90_ms"],
                                  shipped["val_accuracy"], shipped["test_accuracy"],
                                  card["architecture"]["arch_str"]))
        measured.append({"trial": int(trial), "shipped": card["shipped"],
                         "device_p50_ms": shipped["device"]["p50_ms"], "card": str(folder / "MODEL_CARD.md")})
    ladder_path = None
    if measured and not waiting:  # a ladder mixing this host's and the device's figures would mislead
        ladder_path = write_ladder(handle.artifacts / "final" / "ladder.json", ladder,
                                   handle.settings["device"], handle.settings["budget_ms"])
    profile = append_to_device_profile(handle.settings["device"], profile_rows) if profile_rows else None
    return {"study": study, "measured": measured, "waiting": waiting, "profile": profile,
            "ladder": None if ladder_path is None else str(ladder_path)}
