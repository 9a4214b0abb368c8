"""Getting models out of a study: the Pareto front, one trial's record, a rebuilt model on disk.

Everything is read from the study DB; a model is rebuilt from the trial's
stored params through ``optuna.trial.FixedTrial`` (the same ``sample()`` code
the search used) and its weights come from the checkpoint the trial
references, after its sha256 is checked.
"""

from __future__ import annotations

import json
import logging
import pickle
import shutil
from pathlib import Path
from typing import Any

import numpy as np
from optuna.trial import FrozenTrial

from search.errors import SearchError
from search.files import sha256_file
from search.pixels import Normalization, input_contract
from search.study.candidates import Candidate, rebuild_candidate
from search.study.pareto import pareto_front
from search.study.record import TrialRecord
from search.study.storage import StudyHandle
from search.training.datasets import ImageData
from search.training.trainer import accuracy, prepare_images
from spaces import create_space
from spaces.export import export_onnx

__all__ = ["pareto_front", "find_trial", "trial_candidate", "load_trained_model", "export_trial",
           "evaluate_on_test", "trial_normalization", "load_exported_input"]

log = logging.getLogger(__name__)


def find_trial(handle: StudyHandle, number: int) -> FrozenTrial:
    trials = handle.study.get_trials(deepcopy=False)
    for t in trials:
        if t.number == number:
            return t
    raise SearchError(f"study {handle.name!r} has no trial {number} "
                      f"(it has {len(trials)} trials, 0..{len(trials) - 1})")


def trial_candidate(handle: StudyHandle, trial: FrozenTrial) -> Candidate:
    """The architecture of ``trial``, rebuilt from its params, checked against its stored config."""
    settings = handle.settings
    names = settings.get("spaces") or [TrialRecord.of(trial).space]
    options = settings.get("space_options") or {}
    spaces = {n: create_space(n, **options.get(n, {})) for n in names}
    cand = rebuild_candidate(trial.params, spaces)
    stored = TrialRecord.of(trial).config
    if stored is not None and cand.config.to_dict() != stored:
        raise SearchError(f"trial {trial.number}: params rebuild {cand.config.arch_str}, "
                          "but the stored config differs")
    return cand


def _data_shape(handle: StudyHandle) -> tuple[int, int]:
    data = handle.study.user_attrs.get("data") or {}
    return int(data.get("in_chans", 3)), int(data.get("num_classes", 10))


def _inside_study(handle: StudyHandle, relative: str, what: str) -> Path:
    """A path the study recorded, refused if it leads out of the study's folder."""
    path = (handle.artifacts / relative).resolve()
    if handle.artifacts.resolve() not in path.parents:
        raise SearchError(f"{what} {relative!r} leaves the study folder")
    return path


def load_trained_model(handle: StudyHandle, trial: FrozenTrial):
    """(candidate, model in eval mode with the trial's trained weights)."""
    import torch

    record = TrialRecord.of(trial)
    checkpoint = record.checkpoint
    if not checkpoint:
        raise SearchError(f"trial {trial.number} has no checkpoint "
                          f"(status {record.status.value if record.status else 'unknown'}"
                          f"; tabular trials have none)")
    path = _inside_study(handle, checkpoint, f"trial {trial.number}: checkpoint")
    if not path.is_file():
        raise SearchError(f"trial {trial.number}: checkpoint {path} is missing")
    expected = record.checkpoint_sha256
    if expected and sha256_file(path) != expected:
        raise SearchError(f"trial {trial.number}: checkpoint {path} does not match the sha256 "
                          "the study recorded")
    cand = trial_candidate(handle, trial)
    in_chans, num_classes = _data_shape(handle)
    model = cand.space.build(cand.config, num_classes=num_classes, in_chans=in_chans)
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state["model"])
    return cand, model.eval()


def load_exported_model(folder: str | Path):
    """(space, config, model in eval mode) from a folder ``python -m search export`` wrote
    (``config.json`` and ``weights.pt``); the weights load without running code from the file."""
    import torch

    folder = Path(folder)
    config_file, weights = folder / "config.json", folder / "weights.pt"
    for f in (config_file, weights):
        if not f.is_file():
            raise SearchError(f"{folder}: not an exported model (no {f.name}; "
                              "python -m search export writes one)")
    try:
        meta = json.loads(config_file.read_text())
        space = create_space(meta["space"], **(meta.get("space_options") or {}))
        config = space.from_json(json.dumps(meta["config"]))
        model = space.build(config, num_classes=int(meta["num_classes"]), in_chans=int(meta["in_chans"]))
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise SearchError(f"{config_file}: malformed ({type(exc).__name__}: {exc})") from None
    try:
        model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    except (RuntimeError, pickle.UnpicklingError, EOFError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SearchError(f"{weights}: does not fit the architecture in config.json ({first})") from None
    return space, config, model.eval()


def trial_normalization(handle: StudyHandle, trial: FrozenTrial, data: ImageData | None = None
                        ) -> Normalization | None:
    """The statistics ``trial`` trained with: its record's (the study's for a study that predates them);
    with ``data``, checked against the statistics of its training split."""
    stored = (TrialRecord.of(trial).normalization
              or (handle.study.user_attrs.get("data") or {}).get("normalization"))
    if data is None:
        return None if stored is None else Normalization.from_dict(stored)
    if stored is None:
        log.warning("trial %d recorded no training-split statistics (its study predates them; it trained "
                    "with each split's own): its preprocessing is taken as this data's training split's",
                    trial.number)
    elif Normalization.from_dict(stored) != data.normalization:
        raise SearchError(f"trial {trial.number} trained with training-split statistics {stored}, but "
                          f"the {data.name} data here gives {data.normalization.to_dict()}: the dataset "
                          "is not the one the study searched on")
    return data.normalization


def load_exported_input(folder: str | Path) -> dict | None:
    """The input contract an exported model's ``config.json`` states (None for an export that predates it)."""
    try:
        contract = json.loads((Path(folder) / "config.json").read_text()).get("input")
    except (OSError, json.JSONDecodeError, AttributeError) as exc:
        raise SearchError(f"{folder}/config.json: unreadable ({exc})") from None
    return contract if isinstance(contract, dict) else None


def evaluate_on_test(handle: StudyHandle, trial: FrozenTrial, data: ImageData) -> float:
    """Accuracy of the trained trial on the dataset's untouched test split."""
    cand, model = load_trained_model(handle, trial)
    x, y = prepare_images(data.test, cand.space.resolution(cand.config), data.in_chans,
                          trial_normalization(handle, trial, data))
    return accuracy(model, x, y)


def export_trial(handle: StudyHandle, number: int, out: str | Path) -> dict[str, Any]:
    """Write ``config.json``, ``trial.json``, ``weights.pt`` and ``model.onnx`` of a trial into ``out``."""
    import torch

    trial = find_trial(handle, number)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cand = trial_candidate(handle, trial)
    in_chans, num_classes = _data_shape(handle)
    options = (handle.settings.get("space_options") or {}).get(cand.space.name, {})
    normalization = trial_normalization(handle, trial)
    config = {"space": cand.space.name, "space_options": options, "arch_str": cand.config.arch_str,
              "config": cand.config.to_dict(), "in_chans": in_chans, "num_classes": num_classes}
    if normalization is not None:
        data = handle.study.user_attrs.get("data") or {}
        resolution = cand.space.resolution(cand.config)
        config["input"] = input_contract(in_chans, int(data.get("native_size", resolution)), resolution,
                                         normalization, data.get("class_names")
                                         or [str(i) for i in range(num_classes)])
    (out / "config.json").write_text(json.dumps(config, indent=1) + "\n")
    stored = TrialRecord.of(trial)
    record = {"study": handle.name, "trial": trial.number, "state": trial.state.name, "params": trial.params,
              "values": trial.values, "user_attrs": stored.attrs}
    (out / "trial.json").write_text(json.dumps(record, indent=1, default=str) + "\n")
    files = {"config": str(out / "config.json"), "trial": str(out / "trial.json")}
    final = (handle.study.user_attrs.get("final") or {}).get("cards", {}).get(str(number))
    if final:  # the finalized model, its int8 twin where shipped, and the model card
        source = _inside_study(handle, final, f"trial {number}: finalized folder")
        if not source.is_dir():
            raise SearchError(f"trial {number}: the finalized folder {source} is missing")
        shutil.copytree(source, out / "final", dirs_exist_ok=True)
        files["final"] = str(out / "final")
    if not stored.checkpoint:
        log.warning("trial %d has no trained weights (status %s); wrote its architecture only", number,
                    stored.status)
        return files
    cand, model = load_trained_model(handle, trial)
    torch.save(model.state_dict(), out / "weights.pt")
    files["weights"] = str(out / "weights.pt")
    if normalization is None:
        log.warning("trial %d recorded no training-split statistics (its study predates them): model.onnx "
                    "is not written, since its preprocessing is unknown", number)
        return files
    shape = cand.space.input_shape(cand.config, in_chans)
    max_diff = _export_checked(model, shape, normalization, out / "model.onnx", number)
    files.update(onnx=str(out / "model.onnx"), onnx_max_abs_diff=max_diff)
    return files


def _export_checked(model, shape: tuple[int, ...], normalization: Normalization, path: Path,
                    number: int) -> float:
    """Export ``model`` behind its preprocessing (uint8 pixels in) and check ONNX Runtime agrees with
    torch on random pixels; the largest difference."""
    import onnxruntime as ort
    import torch

    from search.training.standardise import PixelInput

    wrapped = PixelInput(model, normalization).eval()
    export_onnx(wrapped, shape, path, input_dtype="uint8")
    x = torch.randint(0, 256, (1, *shape), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = wrapped(x).numpy()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    max_diff = float(np.abs(got - expected).max())
    if max_diff > 1e-3 * max(1.0, float(np.abs(expected).max())):
        raise SearchError(f"trial {number}: the ONNX model differs from torch by {max_diff:.3g}")
    return max_diff
