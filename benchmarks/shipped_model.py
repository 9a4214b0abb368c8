"""The default demo's shipped model, given raw test images, gives exactly its card's test accuracy.

    python -m benchmarks.shipped_model [--run-dir DIR]

Runs the README's ``python -m search run`` in ``--run-dir`` (a fresh folder
with its own profile and cache folders; an existing run there is reused), then
for every finalized model folder: writes the dataset's test split as PNG files
(the raw 8x8 digits, no preprocessing), classifies them through
``search.deploy.load_model`` and through ``python -m search predict``, and
compares both accuracies with the card's test accuracy. Goal: equal, exactly.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from .common import isolated_env, write_result


def _demo(run_dir: Path) -> Path:
    """The study folder of the README's demo in ``run_dir`` (run here first if it is not there)."""
    env = isolated_env(run_dir)
    studies = sorted((run_dir / "runs").glob("*/final/ladder.json")) if (run_dir / "runs").is_dir() else []
    if not studies:
        run_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "search", "run"], cwd=run_dir, env=env, check=True)
        studies = sorted((run_dir / "runs").glob("*/final/ladder.json"))
    return studies[0].parents[1]


def _pngs(test, folder: Path) -> list[Path]:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, image in enumerate(test.images):
        paths.append(folder / f"{i:05d}.png")
        Image.fromarray(image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0)).save(paths[-1])
    return paths


def _cli_accuracy(folder: Path, paths: list[Path], labels: np.ndarray, names: list[str]) -> float:
    command = [sys.executable, "-m", "search", "predict", "--model", str(folder), *map(str, paths)]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout.splitlines()
    predicted = [names.index(line.split("\t")[1]) for line in out]
    return float((np.array(predicted) == labels).mean())


def main() -> None:
    from search.deploy import load_model
    from search.training.datasets import load_dataset

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", default="/tmp/search-shipped-model")
    args = parser.parse_args()
    study = _demo(Path(args.run_dir))
    identity = json.loads((study / "final" / "ladder.json").read_text())
    test = load_dataset("digits", seed=0).test
    paths = _pngs(test, Path(args.run_dir) / "png")
    rows = []
    for card_path in sorted((study / "final").glob("trial-*/model_card.json")):
        card, folder = json.loads(card_path.read_text()), card_path.parent
        model = load_model(folder)
        loader = float((np.array([p.index for p in model.predict(paths)]) == test.labels).mean())
        cli = _cli_accuracy(folder, paths, test.labels, model.labels)
        shipped = card["variants"][card["shipped"]]
        rows.append({"trial": card["trial"], "shipped": card["shipped"], "card_test_accuracy":
                     shipped["test_accuracy"], "card_val_accuracy": shipped["val_accuracy"],
                     "loader_accuracy": loader, "predict_cli_accuracy": cli, "images": len(paths),
                     "input": {k: card["input"][k] for k in ("dtype", "layout", "shape", "native_size")},
                     "equal": loader == cli == shipped["test_accuracy"]})
        print(rows[-1], flush=True)
    write_result("shipped_model", {
        "what": "the default demo's shipped models on the raw digits test split written as PNG files, "
                "through search.deploy.load_model and python -m search predict, against each card's test "
                "accuracy",
        "study": study.name, "device": identity["device"], "rows": rows,
        "meets_goal": bool(rows) and all(r["equal"] for r in rows),
        "command": "python -m benchmarks.shipped_model",
    })


if __name__ == "__main__":
    main()
