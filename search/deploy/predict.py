"""Classify image files with a shipped model folder, one line per image: ``python -m search predict`` and,
on a machine with only numpy, Pillow and onnxruntime, ``python -m search.deploy``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from search.deploy.loader import DeployError, load_model

__all__ = ["add_predict_args", "predict_files", "main"]

EXIT_USAGE = 2


def add_predict_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, metavar="DIR",
                   help="a finalized model folder (runs/STUDY/final/trial-NNNNN, or an export's final/)")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files, any size and mode")
    p.add_argument("--json", action="store_true",
                   help="one JSON object per line, with every class's probability")


def predict_files(args: argparse.Namespace) -> int:
    """Print ``path<TAB>label<TAB>probability`` per image; a file that cannot be used is one line on
    stderr, the others are still classified, and the exit code is 2."""
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m search.deploy", description=__doc__.splitlines()[0])
    add_predict_args(parser)
    args = parser.parse_args(argv)
    try:
        return predict_files(args)
    except DeployError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
