"""Finalize a study: distill, quantize, export and measure its winners; ship the fastest good variant.

For each of the ``top`` most accurate trials of the Pareto front:

1. variants: ``fp32`` (the trial's own weights); ``distilled`` (its weights
   trained ``epochs`` more with Hinton distillation from a teacher); ``int8``
   (ONNX Runtime static QDQ of the best float variant, calibrated on real
   training images); with ``--compress ...,prune`` and ``...,lowrank``: ``pruned``
   (the best float variant with half the hidden channels of its blocks cut,
   ``search.prune``) and ``lowrank`` (its 1x1 convolutions and linear layers
   factorized by SVD, ``search.lowrank``), each fine-tuned with distillation
   from the model it was cut from;
2. each variant is exported to ONNX and measured on this host with the device
   profile's protocol: latency p50/p90/p99 at batch 1, throughput at batch 8,
   peak memory, file size, energy, and accuracy on the untouched test split
   through ONNX Runtime;
3. the shipped variant is the fastest within ``tolerance`` (1 point) of the
   most accurate one; the card says why the others were not shipped;
4. the measurements are appended to the ``local`` profile, so the predictor
   learns from the winners.

Artifacts go to ``runs/<study>/final/trial-NNNNN/``: ``model.onnx``,
``model.int8.onnx`` where int8 ships, ``model_card.json``, ``MODEL_CARD.md``;
the study records where they are, and ``final/ladder.json`` lists the family
(``search.ladder``).
"""

from __future__ import annotations

import copy
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hwprofiles.profile import Measurement, append_measurements
from hwprofiles.runner import Protocol
from spaces import NasError, UnknownNameError

from .datasets import ImageData, load_dataset
from .device_kit import write_variant_kit
from .ladder import LadderEntry, write_ladder
from .lowrank import factorize
from .modelcard import write_card
from .prune import prune_channels
from .qat import quantization_aware_finetune
from .retrieve import completed, load_exported_model, load_trained_model, pareto_front
from .study import StudyHandle, load_study
from .train import Distillation, Trainer, TrainSettings, accuracy, prepare_images
from .variants import (
    calibration_batches,
    export_variant,
    int8_op_share,
    measure_variants,
    onnx_accuracy,
    quantize_variant,
)

__all__ = ["FinalizeSettings", "finalize_study", "choose_variant", "COMPRESSIONS"]

log = logging.getLogger(__name__)
COMPRESSIONS = ("distill", "quantize", "prune", "lowrank")
FLOAT_VARIANTS = ("fp32", "distilled")
INT8_VARIANTS = ("int8", "int8-qat")
QAT_MODES = ("auto", "always", "never")
# passes that change the graph: compression -> (variant, transform, share kept of what it cuts)
RESHAPING = {"prune": ("pruned", prune_channels, 0.5), "lowrank": ("lowrank", factorize, 0.5)}
RESHAPED_VARIANTS = tuple(variant for variant, _, _ in RESHAPING.values())
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class FinalizeSettings:
    study: str
    storage: str | None = None
    runs_dir: str = "runs"
    top: int = 2
    teacher: str = "auto"
    epochs: int = 4
    compress: tuple[str, ...] = ("distill", "quantize")
    calibration: str = "minmax"
    alpha: float = 0.7
    temperature: float = 4.0
    tolerance: float = 0.01
    qat: str = "auto"  # quantization-aware fine-tuning: auto (when int8 loses more than tolerance), always, never
    seed: int = 0

    def __post_init__(self) -> None:
        for name in self.compress:
            if name not in COMPRESSIONS:
                raise UnknownNameError("compression", name, COMPRESSIONS)
        for name in ("top", "epochs"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise NasError(f"--{name} must be a positive integer, got {value!r}")
        if self.qat not in QAT_MODES:
            raise UnknownNameError("qat mode", self.qat, QAT_MODES)
        if not 0 <= self.tolerance < 1:
            raise NasError(f"--tolerance must be in [0, 1), got {self.tolerance!r}")


@dataclass
class _Teacher:
    model: Any
    resolution: int
    description: str
    val_accuracy: float


def _train_more(model, data: ImageData, resolution: int, epochs: int, lr: float, seed: int,
                distill: Distillation | None = None) -> float:
    """Continue training ``model`` for ``epochs`` (a fresh one-cycle schedule at ``lr``); validation accuracy."""
    settings = TrainSettings(epochs=epochs, lr=lr, seed=seed)
    trainer = Trainer(model, data, resolution, settings, epochs, distill=distill)
    accuracy = trainer.train_until(epochs)
    model.cpu().eval()
    return accuracy


def _teacher(spec: str, handle: StudyHandle, data: ImageData, settings: FinalizeSettings, lr: float) -> _Teacher:
    if spec == "auto":
        best = max(completed(handle.study), key=lambda t: (t.values[0], -t.number))
        cand, model = load_trained_model(handle, best)
        resolution = cand.space.resolution(cand.config)
        acc = _train_more(model, data, resolution, settings.epochs, lr / 3, settings.seed)
        return _Teacher(model, resolution, f"trial {best.number} ({best.user_attrs['arch_str']}), trained "
                                           f"{settings.epochs} more epochs", acc)
    if spec.startswith("timm:"):
        import timm
        import torch

        name, _, checkpoint = spec[5:].partition("=")
        try:
            model = timm.create_model(name, pretrained=False, num_classes=data.num_classes, in_chans=data.in_chans)
        except RuntimeError as exc:
            raise NasError(f"--teacher {spec}: {exc}") from None
        how = "trained here from scratch (model hubs are unreachable offline; give timm:NAME=PATH for local weights)"
        if checkpoint:
            state = torch.load(checkpoint, map_location="cpu", weights_only=True)
            model.load_state_dict(state.get("state_dict", state) if isinstance(state, dict) else state)
            how = f"weights from {checkpoint}, fine-tuned here"
        acc = _train_more(model, data, 32, settings.epochs, lr, settings.seed)
        return _Teacher(model, 32, f"timm {name}, {how}", acc)
    if spec and Path(spec).is_dir():
        import torch

        space, config, model = load_exported_model(spec)
        resolution = space.resolution(config)
        x_val, y_val = prepare_images(data.val, resolution, data.in_chans)
        try:
            with torch.no_grad():
                classes = model(x_val[:1]).shape[-1]
        except RuntimeError:
            classes = None
        if classes != data.num_classes:
            raise NasError(f"--teacher {spec}: the model does not fit the study's data ({data.in_chans} channel(s), "
                           f"{data.num_classes} classes)")
        return _Teacher(model, resolution, f"exported model {spec} ({config.arch_str}), used as it is",
                        accuracy(model, x_val, y_val))
    raise NasError(f"--teacher must be auto, timm:NAME[=CHECKPOINT] or the folder of an exported model "
                   f"(python -m search export), got {spec!r}")


def choose_variant(rows: dict[str, dict], tolerance: float, budget_ms: float) -> tuple[str, dict[str, str]]:
    """The fastest variant within ``tolerance`` of the best test accuracy; reasons for the others."""
    best = max(r["test_accuracy"] for r in rows.values())
    good = {n: r for n, r in rows.items() if r["test_accuracy"] >= best - tolerance}
    reasons = {n: f"test accuracy {r['test_accuracy'] * 100:.2f}% is more than {tolerance * 100:g} point(s) below "
                  f"the best ({best * 100:.2f}%)" for n, r in rows.items() if n not in good}
    # float variants of one architecture run the same graph: their timings differ by noise only, so the
    # more accurate one stands for them (the later one, distilled, on a tie)
    floats = [n for n in good if n in FLOAT_VARIANTS]
    if len(floats) > 1:
        keep = max(floats, key=lambda n: (good[n]["test_accuracy"], FLOAT_VARIANTS.index(n)))
        for n in floats:
            if n != keep:
                reasons[n] = (f"the same graph as {keep}, which is as or more accurate "
                              f"({good[keep]['test_accuracy'] * 100:.2f}% vs {good[n]['test_accuracy'] * 100:.2f}%)")
                del good[n]
    within = {n: r for n, r in good.items() if r["p50_ms"] <= budget_ms} or good
    shipped = min(within, key=lambda n: within[n]["p50_ms"])
    for n, r in good.items():
        if n != shipped:
            reasons[n] = f"measured p50 {r['p50_ms']:.4g} ms is slower than {shipped}'s {rows[shipped]['p50_ms']:.4g} ms"
    return shipped, reasons


def _finalize_trial(handle: StudyHandle, trial, data: ImageData, teacher: _Teacher | None,
                    settings: FinalizeSettings, lr: float, protocol: Protocol, folder: Path,
                    kit_protocol: Protocol | None) -> dict[str, Any]:
    """Build, measure and choose the variants of one trial; with ``kit_protocol`` (a remote device) also
    write the kit that measures them on the device."""
    identity = handle.settings
    cand, base = load_trained_model(handle, trial)
    resolution = cand.space.resolution(cand.config)
    shape = cand.space.input_shape(cand.config, data.in_chans)
    work = folder / "work"
    x_test, y_test = prepare_images(data.test, resolution, data.in_chans)
    x_train, _ = prepare_images(data.train, resolution, data.in_chans)

    float_models = {"fp32": base}
    notes: list[str] = []
    if "distill" in settings.compress and teacher is not None:
        student = copy.deepcopy(base)
        _train_more(student, data, resolution, settings.epochs, lr / 3, settings.seed,
                    Distillation(teacher.model, teacher.resolution, settings.alpha, settings.temperature))
        float_models["distilled"] = student
    files = {name: export_variant(m, shape, work, name) for name, m in float_models.items()}
    rows: dict[str, dict[str, Any]] = {}
    for name, f in files.items():
        rows[name] = {"test_accuracy": onnx_accuracy(f.single, x_test, y_test)}
    best_float = max(files, key=lambda n: rows[n]["test_accuracy"])
    for compression, (variant, transform, keep) in RESHAPING.items():
        if compression not in settings.compress:
            continue
        model = copy.deepcopy(float_models[best_float])
        done = transform(model, keep)
        if done.changed == 0:
            notes.append(f"{compression}: nothing in this architecture to {compression} (the pass was skipped)")
            continue
        # fine-tuned with the unreshaped model as its teacher, to recover what the cut lost
        _train_more(model, data, resolution, settings.epochs, lr / 3, settings.seed,
                    Distillation(float_models[best_float], resolution, settings.alpha, settings.temperature))
        files[variant] = export_variant(model, shape, work, variant)
        rows[variant] = {"test_accuracy": onnx_accuracy(files[variant].single, x_test, y_test),
                         "reshaped_from": best_float,
                         "changed": done.changed, "params_kept": done.params_after / done.params_before}
    if "quantize" in settings.compress:
        source = best_float
        transformer = cand.space.name == "sparse_vit"
        calibration = calibration_batches(x_train)
        q = quantize_variant(files[source], work, calibration, transformer, settings.calibration)
        files["int8"] = q
        rows["int8"] = {"test_accuracy": onnx_accuracy(q.single, x_test, y_test), "quantized_from": source,
                        "int8_ops": int8_op_share(q.single), "calibration": f"{settings.calibration}, 128 training images"}
        drop = rows[source]["test_accuracy"] - rows["int8"]["test_accuracy"]
        if settings.qat == "always" or (settings.qat == "auto" and drop > settings.tolerance):
            qat_epochs = max(1, settings.epochs // 2)
            tuned = copy.deepcopy(float_models[source])
            quantization_aware_finetune(tuned, data, resolution, qat_epochs, lr / 10, settings.seed)
            base = export_variant(tuned, shape, work, "qat-float")
            q = quantize_variant(base, work, calibration, transformer, settings.calibration,
                                 name="int8-qat")
            files["int8-qat"] = q
            rows["int8-qat"] = {"test_accuracy": onnx_accuracy(q.single, x_test, y_test), "quantized_from": source,
                                "int8_ops": int8_op_share(q.single), "qat_epochs": qat_epochs,
                                "calibration": rows["int8"]["calibration"]}
            qat_drop = rows[source]["test_accuracy"] - rows["int8-qat"]["test_accuracy"]
            notes.append(f"int8 (post-training) lost {drop * 100:.2f} points against {source}; after "
                         f"{qat_epochs} epoch(s) of quantization-aware fine-tuning int8-qat loses "
                         f"{qat_drop * 100:.2f}")
    for name, measured in measure_variants(files, shape, protocol).items():
        rows[name].update(measured)
    shipped, reasons = choose_variant(rows, settings.tolerance, identity["budget_ms"])
    if rows[shipped]["p50_ms"] > identity["budget_ms"]:
        notes.append(f"no variant meets the budget of {identity['budget_ms']:.4g} ms when measured on this host")

    folder.mkdir(parents=True, exist_ok=True)
    float_shipped = shipped if shipped not in INT8_VARIANTS else rows[shipped]["quantized_from"]
    shutil.copyfile(files[float_shipped].single, folder / "model.onnx")
    artifacts = {"model.onnx": float_shipped}
    if shipped in INT8_VARIANTS:
        shutil.copyfile(files[shipped].single, folder / "model.int8.onnx")
        artifacts["model.int8.onnx"] = shipped
    if kit_protocol is not None:
        write_variant_kit(folder, {name: f.single for name, f in files.items()}, shape, kit_protocol,
                          identity["device"])
    shutil.rmtree(work, ignore_errors=True)
    return {"trial": trial, "cand": cand, "rows": rows, "shipped": shipped, "reasons": reasons, "notes": notes,
            "artifacts": artifacts, "shape": shape}


def variant_measurements(space: str, arch_str: str, shape: tuple[int, ...],
                         figures: dict[str, dict[str, Any]]) -> list[Measurement]:
    """Profile rows of one architecture's measured variants (p50/p90/p99, and runs, memory, size where known).

    Pruned and low-rank variants are left out: their graph is not the one the architecture string describes.
    """
    rows: dict[str, Measurement] = {}
    for name, r in figures.items():
        if name in RESHAPED_VARIANTS:
            continue
        precision = "int8" if name in INT8_VARIANTS else "fp32"
        # distilled and fp32 share an architecture: one float row is enough for the predictor
        rows[precision] = Measurement(space, arch_str, "x".join(map(str, shape)), precision, 1, r["p50_ms"], None,
                                      r["p50_ms"], r["p90_ms"], r["p99_ms"], None, r.get("runs"),
                                      r.get("peak_memory_bytes"), r.get("file_bytes"))
    return list(rows.values())


def _append_to_profile(profile, result: dict[str, Any]) -> int:
    cand = result["cand"]
    rows = variant_measurements(cand.space.name, cand.config.arch_str, result["shape"], result["rows"])
    append_measurements(profile.path, rows)
    return len(rows)


def finalize_study(settings: FinalizeSettings, progress: Progress | None = None) -> dict[str, Any]:
    from hwprofiles.store import open_profile

    handle = load_study(settings.study, settings.storage, settings.runs_dir)
    identity = handle.settings
    if identity.get("evaluator") != "training":
        raise NasError(f"study {settings.study!r} used the {identity.get('evaluator')} evaluator: there are no trained "
                       "weights to finalize")
    winners = sorted(pareto_front(handle.study), key=lambda t: (-t.values[0], t.values[1]))[:settings.top]
    if not winners:
        raise NasError(f"study {settings.study!r} has no completed trial to finalize")
    data = load_dataset(identity["dataset"], handle.study.user_attrs.get("data_dir"), seed=0)
    profile = open_profile(identity["device"])
    local = profile.name == "local"
    device_protocol = Protocol.from_dict(profile.device.protocol.get("timing"))
    protocol = device_protocol if local else Protocol()  # a remote device's protocol goes with its kit
    lr = float(identity.get("lr") or 1e-2)
    steps = len(winners) + 1
    if progress:
        progress("finalize", 0, steps)
    teacher = _teacher(settings.teacher, handle, data, settings, lr) if "distill" in settings.compress else None
    if progress:
        progress("finalize", 1, steps)
    final = handle.artifacts / "final"
    cards, ladder = {}, []
    for i, trial in enumerate(winners):
        folder = final / f"trial-{trial.number:05d}"
        result = _finalize_trial(handle, trial, data, teacher, settings, lr, protocol, folder,
                                 None if local else device_protocol)
        appended = _append_to_profile(profile, result) if local else 0
        card = write_card(folder, handle, result, teacher, settings, profile, local, appended)
        cards[str(trial.number)] = str(Path("final") / folder.name)
        shipped = result["rows"][result["shipped"]]
        path = "model.int8.onnx" if result["shipped"] in INT8_VARIANTS else "model.onnx"
        ladder.append(LadderEntry(trial.number, result["shipped"], f"{folder.name}/{path}", shipped["p50_ms"],
                                  shipped["p90_ms"], shipped["test_accuracy"], result["cand"].config.arch_str))
        log.info("finalized trial %d: shipped %s (%s)", trial.number, result["shipped"], card)
        if progress:
            progress("finalize", i + 2, steps)
    ladder_path = write_ladder(final / "ladder.json", ladder, identity["device"], identity["budget_ms"])
    handle.study.set_user_attr("final", {"cards": cards, "ladder": str(Path("final") / "ladder.json")})
    return {"study": settings.study, "final": str(final), "ladder": str(ladder_path), "models": ladder,
            "teacher": None if teacher is None else {"description": teacher.description,
                                                     "val_accuracy": teacher.val_accuracy},
            "measured_on": "this host (the local device)" if local else
                           f"this host, not {identity['device']}: each trial's kit/ measures its variants there, "
                           "then python -m search finalize --import-measurements"}
