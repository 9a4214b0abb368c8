"""``predict``: classify image files with a shipped model folder, one line per image."""

from __future__ import annotations

from search.deploy.predict import add_predict_args, predict_files

__all__ = ["MODEL_COMMANDS"]

MODEL_COMMANDS = {
    "predict": ("classify image files with a shipped model folder: path, label, probability per line",
                add_predict_args, predict_files),
}
