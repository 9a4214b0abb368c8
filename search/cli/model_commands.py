"""``predict``: classify image files with a shipped model folder, one line per image."""

from __future__ import annotations

import argparse
import json
import sys

from search.cli.argtypes import EXIT_USAGE
from search.deploy import DeployError, load_model

__all__ = ["MODEL_COMMANDS"]


def _add_predict_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, metavar="DIR",
                   help="a finalized model folder (runs/STUDY/final/trial-NNNNN, or an export's final/)")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files, any size and mode")
    p.add_argument("--json", action="store_true",
                   help="one JSON object per line, with every class's probability")


def _cmd_predict(args: argparse.Namespace) -> int:
    model = load_model(args.model)
    failed = 0
    for path in args.images:
        try:
            (p,) = model.predict(path)
        except DeployError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failed += 1
            continue
        if args.json:
            print(json.dumps({"image": path, "label": p.label, "index": p.index,
                              "probabilities": dict(zip(model.labels, map(float, p.probabilities)))}))
        else:
            print(f"{path}\t{p.label}\t{p.probability:.4f}")
    return EXIT_USAGE if failed else 0


MODEL_COMMANDS = {
    "predict": ("classify image files with a shipped model folder: path, label, probability per line",
                _add_predict_args, _cmd_predict),
}
