"""Finalize a study: distill, quantize, export and measure its winners; ship the fastest good variant.

For each of the ``top`` most accurate trials of the Pareto front:

1. variants: ``fp32`` (the trial's own weights); ``distilled`` (its weights
   trained ``epochs`` more with Hinton distillation from a teacher); ``int8``
   (ONNX Runtime static QDQ of the best float variant, calibrated on real
   training images); with ``--compress ...,prune`` and ``...,lowrank``: ``pruned``
   (the best float variant with half the hidden channels of its blocks cut,
   ``search.finalize.prune``) and ``lowrank`` (its 1x1 convolutions and linear layers
   factorized by SVD, ``search.finalize.lowrank``), each fine-tuned with distillation
   from the model it was cut from;
2. each variant is exported to ONNX files that take raw uint8 pixels (the
   standardisation is the graph's first op) and measured on this host with the
   device profile's protocol: latency p50/p90/p99 at batch 1, throughput at
   batch 8, peak memory, file size, energy, and validation accuracy through
   ONNX Runtime;
3. every choice is made on the validation split: the best float variant, the
   quantization-aware-training trigger, a compression pass kept or dropped, and
   the shipped variant (the fastest within ``tolerance`` of the most accurate);
   the test split stays sealed (``ImageData.with_sealed_test``) until then, and
   is evaluated once per variant after the choice;
4. the measurements are appended to the ``local`` profile, so the predictor
   learns from the winners.

Artifacts go to ``runs/<study>/final/trial-NNNNN/``: ``model.onnx``,
``model.int8.onnx`` where int8 ships, ``model_card.json`` (with the input
contract ``search.deploy`` reads), ``MODEL_CARD.md``; the study records where
they are, and ``final/ladder.json`` lists the family (``search.finalize.ladder``).
"""

from __future__ import annotations

import copy
import logging
import math
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hwprofiles.onnx_timing import Protocol
from hwprofiles.profile import Profile, append_measurements
from hwprofiles.store import LOCAL_DEVICE, open_profile
from search.errors import SearchError
from search.finalize.card import Measured, write_card
from search.finalize.ladder import LadderEntry, write_ladder
from search.finalize.lowrank import factorize
from search.finalize.prune import prune_channels
from search.finalize.qat import quantization_aware_finetune
from search.finalize.remote import write_variant_kit
from search.finalize.selection import INT8_VARIANTS, choose_variant, variant_measurements
from search.finalize.settings import FinalizeSettings
from search.finalize.teacher import Teacher, make_teacher, train_more
from search.finalize.variants import (
    THROUGHPUT_BATCH,
    VariantFiles,
    calibration_batches,
    export_variant,
    int8_op_share,
    measure_variants,
    onnx_accuracy,
    quantize_variant,
)
from search.pixels import Normalization
from search.study.pareto import pareto_front
from search.study.retrieve import load_trained_model, trial_normalization
from search.study.storage import StudyHandle, load_study
from search.training.datasets import ImageData, Split, load_dataset
from search.training.distillation import Distillation
from search.training.trainer import model_pixels

__all__ = ["finalize_study"]

log = logging.getLogger(__name__)
# passes that change the graph: compression -> (variant, transform, share kept of what it cuts)
RESHAPING = {"prune": ("pruned", prune_channels, 0.5), "lowrank": ("lowrank", factorize, 0.5)}
Progress = Callable[[str, int, int], None]


@dataclass
class _Variants:
    """One trial's variants as they are built: models, exported files, figures, notes."""

    shape: tuple[int, ...]
    work: Path
    normalization: Normalization
    val: tuple[np.ndarray, np.ndarray]  # the validation split as the files take it: uint8 pixels, labels
    models: dict[str, Any] = field(default_factory=dict)  # float variants: torch modules
    files: dict[str, VariantFiles] = field(default_factory=dict)
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def best_float(self) -> str:
        return max(self.models, key=lambda n: self.rows[n]["val_accuracy"])

    def export(self, name: str, model) -> VariantFiles:
        self.files[name] = export_variant(model, self.shape, self.work, name, self.normalization)
        return self.files[name]

    def val_accuracy(self, name: str) -> float:
        return onnx_accuracy(self.files[name].single, *self.val)


@dataclass
class _Finalizer:
    """What every finalized trial of one study shares. Its data's test split is sealed: choices only."""

    handle: StudyHandle
    data: ImageData
    settings: FinalizeSettings
    teacher: Teacher | None
    lr: float
    protocol: Protocol  # what this host times with
    threads: int
    kit_protocol: Protocol | None  # a remote device's, for the kit that measures the variants there

    def trial(self, trial, folder: Path) -> dict[str, Any]:
        """Build, measure and choose the variants of one trial; write its files into ``folder``."""
        cand, base = load_trained_model(self.handle, trial)
        resolution = cand.space.resolution(cand.config)
        val = (model_pixels(self.data.val, resolution, self.data.in_chans), self.data.val.labels)
        v = _Variants(cand.space.input_shape(cand.config, self.data.in_chans), folder / "work",
                      trial_normalization(self.handle, trial, self.data), val)
        self._float_variants(v, base, resolution)
        self._reshaped_variants(v, resolution)
        if "quantize" in self.settings.compress:
            self._int8_variants(v, resolution, cand.space.name == "sparse_vit")
        for name, measured in measure_variants(v.files, v.shape, self.protocol, self.threads).items():
            v.rows[name].update(measured)
        budget = self.handle.settings["budget_ms"]
        shipped, reasons = choose_variant(v.rows, self.settings.tolerance, budget)
        if v.rows[shipped]["p50_ms"] > budget:
            v.notes.append(f"no variant meets the budget of {budget:.4g} ms when measured on this host")
        artifacts = _ship_files(v, shipped, folder)
        if self.kit_protocol is not None:
            write_variant_kit(folder, {name: f.single for name, f in v.files.items()}, v.shape,
                              self.kit_protocol, self.handle.settings["device"], cand.space.name,
                              cand.config.arch_str)
        return {"trial": trial, "cand": cand, "rows": v.rows, "shipped": shipped, "reasons": reasons,
                "notes": v.notes, "artifacts": artifacts, "shape": v.shape, "resolution": resolution,
                "variants": v, "normalization": v.normalization}

    def _float_variants(self, v: _Variants, base, resolution: int) -> None:
        v.models["fp32"] = base
        if "distill" in self.settings.compress and self.teacher is not None:
            student = copy.deepcopy(base)
            train_more(student, self.data, resolution, self.settings.epochs, self.lr / 3, self.settings.seed,
                       Distillation(self.teacher.model, self.teacher.resolution, self.settings.alpha,
                                    self.settings.temperature))
            v.models["distilled"] = student
        for name, model in v.models.items():
            v.export(name, model)
            v.rows[name] = {"val_accuracy": v.val_accuracy(name)}

    def _reshaped_variants(self, v: _Variants, resolution: int) -> None:
        source = v.best_float()
        for compression, (variant, transform, keep) in RESHAPING.items():
            if compression not in self.settings.compress:
                continue
            model = copy.deepcopy(v.models[source])
            done = transform(model, keep)
            if done.changed == 0:
                v.notes.append(f"{compression}: nothing in this architecture to {compression} "
                               "(the pass was skipped)")
                continue
            # fine-tuned with the unreshaped model as its teacher, to recover what the cut lost
            train_more(model, self.data, resolution, self.settings.epochs, self.lr / 3, self.settings.seed,
                       Distillation(v.models[source], resolution, self.settings.alpha,
                                    self.settings.temperature))
            v.export(variant, model)
            v.rows[variant] = {"val_accuracy": v.val_accuracy(variant), "reshaped_from": source,
                               "changed": done.changed, "params_kept": done.params_after / done.params_before}

    def _int8_variants(self, v: _Variants, resolution: int, transformer: bool) -> None:
        s, source = self.settings, v.best_float()
        train = self.data.train  # only the images calibration sees are resized
        chosen = np.random.default_rng(s.seed).permutation(len(train))[:s.calibration_images]
        pixels = model_pixels(Split(train.images[chosen], train.labels[chosen]), resolution,
                              self.data.in_chans)
        calibration = calibration_batches(pixels, math.ceil(len(pixels) / THROUGHPUT_BATCH), THROUGHPUT_BATCH,
                                          s.seed)
        described = {"method": s.calibration, "images": sum(len(c) for c in calibration),
                     "from": "the training split"}
        v.files["int8"] = quantize_variant(v.files[source], v.work, calibration, transformer, s.calibration)
        v.rows["int8"] = {"val_accuracy": v.val_accuracy("int8"), "quantized_from": source,
                          "int8_ops": int8_op_share(v.files["int8"].single), "calibration": described}
        drop = v.rows[source]["val_accuracy"] - v.rows["int8"]["val_accuracy"]
        if not (s.qat == "always" or (s.qat == "auto" and drop > s.tolerance)):
            return
        qat_epochs = max(1, s.epochs // 2)
        tuned = copy.deepcopy(v.models[source])
        quantization_aware_finetune(tuned, self.data, resolution, qat_epochs, self.lr / 10, s.seed)
        tuned_file = v.export("qat-float", tuned)
        del v.files["qat-float"]  # an intermediate: only its int8 twin is a variant
        v.files["int8-qat"] = quantize_variant(tuned_file, v.work, calibration, transformer, s.calibration,
                                               name="int8-qat")
        v.rows["int8-qat"] = {"val_accuracy": v.val_accuracy("int8-qat"), "quantized_from": source,
                              "int8_ops": int8_op_share(v.files["int8-qat"].single),
                              "qat_epochs": qat_epochs, "calibration": described}
        qat_drop = v.rows[source]["val_accuracy"] - v.rows["int8-qat"]["val_accuracy"]
        v.notes.append(f"int8 (post-training) lost {drop * 100:.2f} validation points against {source}; "
                       f"after {qat_epochs} epoch(s) of quantization-aware fine-tuning int8-qat loses "
                       f"{qat_drop * 100:.2f}")


def _test_once(result: dict[str, Any], test: Split, in_chans: int) -> None:
    """After every choice: each variant's accuracy on the test split, once, through its ONNX file."""
    v: _Variants = result["variants"]
    pixels = model_pixels(test, result["resolution"], in_chans)
    for name, files in v.files.items():
        v.rows[name]["test_accuracy"] = onnx_accuracy(files.single, pixels, test.labels)
    shutil.rmtree(v.work, ignore_errors=True)


def _ship_files(v: _Variants, shipped: str, folder: Path) -> dict[str, str]:
    """Copy the shipped variant (and the float model it was quantized from) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    float_shipped = shipped if shipped not in INT8_VARIANTS else v.rows[shipped]["quantized_from"]
    shutil.copyfile(v.files[float_shipped].single, folder / "model.onnx")
    artifacts = {"model.onnx": float_shipped}
    if shipped in INT8_VARIANTS:
        shutil.copyfile(v.files[shipped].single, folder / "model.int8.onnx")
        artifacts["model.int8.onnx"] = shipped
    return artifacts


def _append_to_profile(profile: Profile, result: dict[str, Any]) -> int:
    cand = result["cand"]
    rows = variant_measurements(cand.space.name, cand.config.arch_str, result["shape"], result["rows"])
    append_measurements(profile.path, rows)
    return len(rows)


def _winners(handle: StudyHandle, settings: FinalizeSettings) -> list:
    if handle.settings.get("evaluator") != "training":
        raise SearchError(f"study {settings.study!r} used the {handle.settings.get('evaluator')} evaluator: "
                          "there are no trained weights to finalize")
    winners = sorted(pareto_front(handle.study), key=lambda t: (-t.values[0], t.values[1]))[:settings.top]
    if not winners:
        raise SearchError(f"study {settings.study!r} has no completed trial to finalize")
    return winners


def _ladder_entry(trial, folder: Path, result: dict[str, Any]) -> LadderEntry:
    shipped = result["rows"][result["shipped"]]
    path = "model.int8.onnx" if result["shipped"] in INT8_VARIANTS else "model.onnx"
    return LadderEntry(trial.number, result["shipped"], f"{folder.name}/{path}", shipped["p50_ms"],
                       shipped["p90_ms"], shipped["val_accuracy"], shipped["test_accuracy"],
                       result["cand"].config.arch_str)


def _measured(profile: Profile, local: bool, protocol: Protocol) -> Measured:
    """How this host measures the variants: the local profile's threads and protocol; a remote device's
    own protocol goes with its kit, and this host times with the default one at one thread."""
    import onnxruntime

    threads = (profile.device.threads or 1) if local else 1
    return Measured("onnxruntime", onnxruntime.__version__, "CPUExecutionProvider", threads, 1,
                    THROUGHPUT_BATCH, protocol, local)


def finalize_study(settings: FinalizeSettings, progress: Progress | None = None) -> dict[str, Any]:
    """Finalize the ``top`` most accurate models of a study's Pareto front (the module's docstring)."""
    progress = progress or (lambda phase, done, total: None)
    handle = load_study(settings.study, settings.storage, settings.runs_dir)
    identity = handle.settings
    winners = _winners(handle, settings)
    data = load_dataset(identity["dataset"], handle.study.user_attrs.get("data_dir"), seed=0)
    choosing = data.with_sealed_test()  # every choice below is made without the test split
    profile = open_profile(identity["device"])
    local = profile.name == LOCAL_DEVICE
    device_protocol = Protocol.from_dict(profile.device.protocol.get("timing"))
    measured = _measured(profile, local, device_protocol if local else Protocol())
    lr = float(identity.get("lr") or 1e-2)
    progress("finalize", 0, len(winners) + 1)
    distill = "distill" in settings.compress
    teacher = make_teacher(settings.teacher, handle, choosing, settings, lr) if distill else None
    progress("finalize", 1, len(winners) + 1)
    finalizer = _Finalizer(handle, choosing, settings, teacher, lr, measured.protocol, measured.threads,
                           None if local else device_protocol)
    final = handle.artifacts / "final"
    cards, ladder = {}, []
    for i, trial in enumerate(winners):
        folder = final / f"trial-{trial.number:05d}"
        result = finalizer.trial(trial, folder)
        _test_once(result, data.test, data.in_chans)
        appended = _append_to_profile(profile, result) if local else 0
        card = write_card(folder, handle, result, teacher, settings, profile, measured, appended, data)
        cards[str(trial.number)] = str(Path("final") / folder.name)
        ladder.append(_ladder_entry(trial, folder, result))
        log.info("finalized trial %d: shipped %s (%s)", trial.number, result["shipped"], card)
        progress("finalize", i + 2, len(winners) + 1)
    ladder_path = write_ladder(final / "ladder.json", ladder, identity["device"], identity["budget_ms"])
    handle.study.set_user_attr("final", {"cards": cards, "ladder": str(Path("final") / "ladder.json")})
    return {"study": settings.study, "final": str(final), "ladder": str(ladder_path), "models": ladder,
            "teacher": None if teacher is None else {"description": teacher.description,
                                                     "val_accuracy": teacher.val_accuracy},
            "measured_on": "this host (the local device)" if local else
                           f"this host, not {identity['device']}: each trial's kit/ measures its variants "
                           "there, then python -m search finalize --import-measurements"}
