"""The model card of a finalized trial: ``model_card.json`` (for tools) and ``MODEL_CARD.md`` (for people).

Every figure in it is measured (or labelled as an estimate where the host has
no energy counter); predicted figures are shown beside the measured ones and
named as predictions. Files are listed with their sha256.
"""

from __future__ import annotations

import json
import platform
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from hwprofiles.onnx_timing import Protocol
from search import __version__
from search.files import sha256_file
from search.finalize.selection import DECISION_RULE, INT8_VARIANTS
from search.pixels import input_contract
from search.study.record import TrialRecord
from search.training.datasets import ImageData

__all__ = ["write_card", "render_card", "Measured"]


@dataclass(frozen=True)
class Measured:
    """How finalize measured the variants on this host: read from the run's profile and settings."""

    runtime: str
    runtime_version: str
    provider: str
    threads: int
    batch: int
    throughput_batch: int
    protocol: Protocol
    local: bool  # this host is the profile's device

    def describe(self) -> str:
        return (f"{self.runtime} {self.runtime_version} {self.provider}, {self.threads} thread(s), batch "
                f"{self.batch} (throughput at batch {self.throughput_batch})")


def _versions() -> dict[str, str]:
    import onnxruntime
    import optuna
    import timm
    import torch

    return {"search": __version__, "torch": torch.__version__, "timm": timm.__version__,
            "onnxruntime": onnxruntime.__version__, "optuna": optuna.__version__,
            "python": platform.python_version()}


def _input(data: ImageData, result: dict[str, Any]) -> dict[str, Any]:
    contract = input_contract(data.in_chans, data.native_size, result["resolution"], result["normalization"],
                              data.labels)
    return {**contract, "dataset": data.name}


def write_card(folder: Path, handle, result: dict[str, Any], teacher, settings, profile, measured: Measured,
               appended: int, data: ImageData) -> Path:
    trial, cand, rows = result["trial"], result["cand"], result["rows"]
    local = measured.local
    record = TrialRecord.of(trial)
    identity = handle.settings
    files = {name: {"sha256": sha256_file(folder / name), "bytes": (folder / name).stat().st_size,
                    "variant": variant} for name, variant in result["artifacts"].items()}
    card = {
        "study": handle.name, "trial": trial.number,
        "architecture": {"space": cand.space.name, "arch_str": cand.config.arch_str,
                         "config": cand.config.to_dict(), "input_shape": list(result["shape"]),
                         "params": record.n_params, "flops": record.flops},
        "dataset": identity.get("dataset"),
        "input": _input(data, result),
        "splits": {"train": len(data.train), "val": len(data.val), "test": len(data.test),
                   "choices": "validation", "reported": "test, evaluated once per variant after every choice",
                   "decision_rule": DECISION_RULE},
        "search": {"val_accuracy": trial.values[0], "epochs": record.epochs, "seed": record.seed,
                   "predicted_p50_ms": record.predicted_p50_ms,
                   "predicted_upper_ms": record.predicted_upper_ms, "budget_ms": identity.get("budget_ms"),
                   "screening_measured_p50_ms": record.measured_p50_ms},
        "variants": rows, "shipped": result["shipped"], "not_shipped": result["reasons"],
        "notes": result["notes"], "tolerance": settings.tolerance,
        "measured_vs_predicted": {
            "measured_p50_ms": rows["fp32"]["p50_ms"], "predicted_p50_ms": record.predicted_p50_ms,
            "error_pct": (record.predicted_p50_ms - rows["fp32"]["p50_ms"]) / rows["fp32"]["p50_ms"] * 100
            if record.predicted_p50_ms else None},
        "teacher": None if teacher is None else {"description": teacher.description,
                                                 "val_accuracy": teacher.val_accuracy,
                                                 "resolution": teacher.resolution,
                                                 "alpha": settings.alpha, "temperature": settings.temperature,
                                                 "epochs": settings.epochs},
        "device": {"profile": profile.name, "measured_on": "this host (the profile's device)" if local else
                   f"this host, not the device {profile.name} (remote: kit/ measures the variants there; "
                   "then python -m search finalize --import-measurements)",
                   "runtime": measured.describe(),
                   "measurement": {**{k: v for k, v in asdict(measured).items() if k != "local"},
                                   "protocol": asdict(measured.protocol)},
                   "protocol": asdict(measured.protocol),
                   "rows_appended_to_profile": appended},
        "versions": {**_versions(), **(record.versions or {})},
        "seeds": {"trial": record.seed, "finalize": settings.seed},
        "files": files,
    }
    (folder / "model_card.json").write_text(json.dumps(card, indent=1, default=str) + "\n")
    (folder / "MODEL_CARD.md").write_text(render_card(card))
    return folder / "model_card.json"


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v:.4g}"


def render_card(card: dict[str, Any]) -> str:
    a, s = card["architecture"], card["search"]
    shipped = card["variants"][card["shipped"]]
    lines = [f"# Model card: {card['study']} / trial {card['trial']}", "",
             f"**Shipped:** `{card['shipped']}` — measured p50 {_ms(shipped['p50_ms'])} ms against a budget "
             f"of {_ms(s['budget_ms'])} ms; test accuracy {shipped['test_accuracy'] * 100:.2f}% "
             f"on {card['dataset']} (test split, evaluated once after every choice; chosen on its "
             f"validation accuracy, {shipped['val_accuracy'] * 100:.2f}%).",
             ""]
    lines += _input_section(card["input"])
    lines += ["", "## Architecture", "",
             f"- space `{a['space']}`, `{a['arch_str']}`",
             f"- input {'x'.join(map(str, a['input_shape']))}, {a['params']:,} parameters, "
             f"{a['flops'] / 1e6:.2f} MFLOPs", ""]
    lines += _variants_table(card)
    lines += ["", "## Why not the others", "", f"Decision rule: {card['splits']['decision_rule']}.", ""]
    lines += [f"- `{n}`: {why}" for n, why in card["not_shipped"].items()] or ["- (one variant only)"]
    lines += [f"- note: {n}" for n in card["notes"]]
    mvp = card["measured_vs_predicted"]
    lines += ["", "## Latency: measured vs predicted", "",
              f"fp32 measured p50 {_ms(mvp['measured_p50_ms'])} ms; predicted p50 "
              f"{_ms(mvp['predicted_p50_ms'])} ms (upper bound {_ms(s['predicted_upper_ms'])} ms)"
              + ("" if mvp["error_pct"] is None else f"; prediction error {mvp['error_pct']:+.1f}%") + "."
              + ("" if s.get("screening_measured_p50_ms") is None else
                 f" Timed when the search screened it (untrained weights, same graph): "
                 f"{_ms(s['screening_measured_p50_ms'])} ms."), "",
              "## Training", "",
              f"- search: validation {s['val_accuracy'] * 100:.2f}% after {s['epochs']} epochs, "
              f"seed {s['seed']}"]
    if card["teacher"]:
        t = card["teacher"]
        lines.append(f"- distillation: teacher {t['description']} "
                     f"(validation {t['val_accuracy'] * 100:.2f}%, "
                     f"input {t['resolution']}x{t['resolution']}), "
                     f"alpha {t['alpha']}, temperature {t['temperature']}, {t['epochs']} epochs")
    lines += _on_device_section(card)
    d = card["device"]
    lines += ["", "## Device", "", f"- profile `{d['profile']}`; measured on {d['measured_on']}",
              f"- {d['runtime']}; protocol {d['protocol']}",
              f"- rows appended to the profile: {d['rows_appended_to_profile']}",
              "", "## Versions and files", "",
              "- " + ", ".join(f"{k} {v}" for k, v in card["versions"].items())]
    lines += [f"- `{name}` ({f['variant']}, {f['bytes']:,} bytes): sha256 `{f['sha256']}`"
              for name, f in card["files"].items()]
    return "\n".join(lines) + "\n"


def _input_section(contract: dict[str, Any]) -> list[str]:
    norm = contract["normalization"]
    names = ", ".join(contract["class_names"])
    return ["## Input contract", "",
            f"- `{contract['dtype']}` `{contract['layout']}` {'x'.join(map(str, contract['shape']))}: "
            f"{contract['channels']} pixels 0-255 at {contract['resolution']}x{contract['resolution']}, "
            "no preprocessing by the caller",
            f"- resize: {contract['resize']}",
            f"- standardisation {norm['applied']}, mean {norm['mean']}, std {norm['std']} (from "
            f"{norm['from']})",
            f"- classes (output index order): {names}",
            "- load it: `from search.deploy import load_model` or `python -m search predict --model DIR "
            "IMAGE...`"]


def _variants_table(card: dict[str, Any]) -> list[str]:
    sizes = card["splits"]
    lines = [f"## Variants (measured on this host; validation {sizes['val']} images, test {sizes['test']})",
             "", "| variant | val acc | test acc | p50 ms | p90 ms | p99 ms | throughput/s (batch 8) | "
             "peak memory | file | energy/inference |", "|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in card["variants"].items():
        mem = "-" if r.get("peak_memory_bytes") is None else f"{r['peak_memory_bytes'] / 2**20:.1f} MiB"
        energy = "-" if r.get("energy_mj") is None else (
            f"{r['energy_mj']:.3g} mJ" + (" (estimate)" if r["energy_source"].startswith("estimate") else ""))
        lines.append(f"| {name} | {r['val_accuracy'] * 100:.2f}% | {r['test_accuracy'] * 100:.2f}% | "
                     f"{_ms(r['p50_ms'])} | "
                     f"{_ms(r['p90_ms'])} | {_ms(r['p99_ms'])} | {r['throughput_per_s']:.0f} | {mem} | "
                     f"{r['file_bytes'] / 1024:.0f} KiB | {energy} |")
    for name in INT8_VARIANTS:
        if name in card["variants"]:
            ops, cal = card["variants"][name]["int8_ops"], card["variants"][name]["calibration"]
            lines += ["", f"{name} graph: {ops['int8']} of {ops['int8'] + ops['float']} convolutions/matmuls "
                          f"run in int8 after ONNX Runtime's optimizations; calibrated ({cal['method']}) on "
                          f"{cal['images']} images from {cal['from']}."]
    return lines


def _on_device_section(card: dict[str, Any]) -> list[str]:
    """The remote device's own figures, once its kit's results were imported."""
    on_device = {n: r["device"] for n, r in card["variants"].items() if "device" in r}
    if not on_device:
        return []
    where = card["device"].get("measured_on_device") or {}
    lines = ["", f"## Measured on the device ({where.get('platform') or 'as the kit reported'}, provider "
                 f"{where.get('provider') or '-'})", "",
             "The shipped variant is chosen on these figures; the table above is this host.", "",
             "| variant | p50 ms | p90 ms | p99 ms | runs |", "|---|---|---|---|---|"]
    lines += [f"| {n} | {_ms(r['p50_ms'])} | {_ms(r['p90_ms'])} | {_ms(r['p99_ms'])} | {r['runs']} |"
              for n, r in on_device.items()]
    mvp = card["measured_vs_predicted"]
    if mvp.get("device_error_pct") is not None:
        lines += ["", f"fp32 on the device: p50 {_ms(mvp['device_p50_ms'])} ms; prediction error "
                      f"{mvp['device_error_pct']:+.1f}%."]
    return lines
