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
from search.study.candidates import Candidate, rebuild_candidate
from search.study.pareto import pareto_front
from search.study.record import TrialRecord
from search.study.storage import StudyHandle
from search.training.trainer import accuracy, prepare_images
from spaces import create_space
from spaces.export import export_onnx

__all__ = ["pareto_front", "find_trial", "trial_candidate", "load_trained_model", "export_trial",
           "evaluate_on_test"]

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


def evaluate_on_test(handle: StudyHandle, trial: FrozenTrial, data) -> float:
    """Accuracy of the trained trial on the dataset's untouched test split."""
    cand, model = load_trained_model(handle, trial)
    x, y = prepare_images(data.test, cand.space.resolution(cand.config), data.in_chans)
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
    (out / "config.json").write_text(json.dumps({"space": cand.space.name, "space_options": options,
                                                 "arch_str": cand.config.arch_str,
                                                 "config": cand.config.to_dict(),
                                                 "in_chans": in_chans, "num_classes": num_classes},
                                                indent=1) + "\n")
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
    shape = cand.space.input_shape(cand.config, in_chans)
    onnx_path = export_onnx(model, shape, out / "model.onnx")
    import onnxruntime as ort

    x = torch.randn(1, *shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = model(x).numpy()
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    max_diff = float(np.abs(got - expected).max())
    if max_diff > 1e-3 * max(1.0, float(np.abs(expected).max())):
        raise SearchError(f"trial {number}: the ONNX model differs from torch by {max_diff:.3g}")
    files.update(weights=str(out / "weights.pt"), onnx=str(onnx_path), onnx_max_abs_diff=max_diff)
    return files
