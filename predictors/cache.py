"""Deterministic refit + cache of predictors, keyed by a hash of the data and the code version.

The profile's CSV stays the source of truth: a predictor is never stored, only
refit. The key is a sha256 over :data:`CODE_VERSION`, the space, precision,
number of classes, coverage, seed and every row (arch, input shape, latency).
Fitted predictors live in an in-process LRU; optionally the *model choice*
(candidate name, conformal quantile, CV scores) is written as JSON in
``cache_dir`` so a later process skips cross-validation and refits only the
chosen model, which gives the same predictions. Nothing is ever pickled.
Choices shipped with data (``shipped_dir``, read only) are looked up first: a
fresh machine refits the published profiles' predictors without cross-validating.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .data import LatencyData, default_num_classes, rows_to_data
from .errors import PredictorError
from .models import LatencyPredictor, choice_parts, fit_predictor, refit_predictor

__all__ = ["CODE_VERSION", "choice_file_name", "data_hash", "fit_key", "predictor_for_rows", "read_choice",
           "clear_cache"]

log = logging.getLogger(__name__)

#: Bump when features or models change: every cached choice becomes stale.
CODE_VERSION = "predictors-11"  # 2: the space encoding joins the features; 3: a Gaussian-process candidate;
# 4: lookup candidates over the encoding (and nb201 counts its ops as each runtime runs them); 5: blends;
# 6: trimmed lookups; 7: a boosted correction fitted on the rows the trimmed lookup kept;
# 8: the trimmed lookup is a biweighted fit in relative error; 9: the upper bound from 20-fold residuals;
# 10: nb201 counts the ops of dead nodes that TFLite still runs; 11: no large boosting, the GP up to 600 rows,
# the CV's residuals calibrate from 900 rows on
_MAX_ENTRIES = 32
_MEMORY: OrderedDict[str, LatencyPredictor] = OrderedDict()


def data_hash(rows: Sequence[Any], space_name: str, precision: str, num_classes: int,
              coverage: float, random_state: int) -> str:
    """sha256 hex digest identifying a fit: the code version, its settings and its rows (order-sensitive)."""
    h = hashlib.sha256()
    h.update(json.dumps([CODE_VERSION, space_name, precision, num_classes, coverage, random_state]).encode())
    for r in rows:
        if r.space == space_name and r.precision == precision:
            h.update(f"\n{r.arch_str}\t{r.input_shape}\t{float(r.latency_ms)!r}".encode())
    return h.hexdigest()


def fit_key(rows: Sequence[Any], space_name: str, precision: str = "fp32", num_classes: int | None = None,
            coverage: float = 0.9, random_state: int = 0) -> str:
    """The key :func:`predictor_for_rows` files a fit under (the space's default classes unless given)."""
    classes = default_num_classes(space_name) if num_classes is None else num_classes
    return data_hash(rows, space_name, precision, classes, coverage, random_state)


def clear_cache() -> None:
    _MEMORY.clear()


def choice_file_name(space_name: str, precision: str, key: str) -> str:
    return f"{space_name}-{precision}-{key[:16]}.json"


def read_choice(path: Path, key: str) -> dict[str, Any] | None:
    """The model choice stored at ``path`` for the fit ``key`` (a :func:`data_hash`); None where the file
    is missing, unreadable, of another code version or of other data."""
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        log.warning("ignoring unreadable predictor cache %s: %s", path, exc)
        return None
    if not isinstance(data, dict) or data.get("code_version") != CODE_VERSION or data.get("hash") != key:
        return None
    try:
        choice_parts(data.get("choice"))
    except PredictorError:
        return None
    return data


def predictor_for_rows(rows: Sequence[Any], space: Any, precision: str = "fp32",
                       num_classes: int | None = None,
                       coverage: float = 0.9, random_state: int = 0, cache_dir: str | Path | None = None,
                       shipped_dir: str | Path | None = None) -> LatencyPredictor:
    """The predictor of one (profile, space, precision), fitted or taken from the cache.

    ``rows`` are measurement rows (e.g. ``profile.select(space=..., precision=...)``);
    ``space`` a ``spaces.SearchSpace``. Same rows and settings -> same key -> same predictions.
    A choice in ``shipped_dir`` (read only), then in ``cache_dir``, is refitted without cross-validation;
    a new choice is written to ``cache_dir``.
    """
    if num_classes is None:
        num_classes = default_num_classes(space.name)
    rows = list(rows)
    key = fit_key(rows, space.name, precision, num_classes, coverage, random_state)
    if key in _MEMORY:
        _MEMORY.move_to_end(key)
        return _MEMORY[key]
    data: LatencyData = rows_to_data(rows, space, precision, num_classes)
    name = choice_file_name(space.name, precision, key)
    choice_file = Path(cache_dir) / name if cache_dir else None
    stored = (read_choice(Path(folder) / name, key) for folder in (shipped_dir, cache_dir) if folder)
    cached = next((choice for choice in stored if choice is not None), None)
    if cached is not None:
        predictor = refit_predictor(data.X, data.latency_ms, precision, cached["choice"],
                                    cached["log_upper_q"], coverage, random_state, cached.get("cv_scores"))
    else:
        predictor = fit_predictor(data.X, data.latency_ms, precision, coverage, random_state)
        if choice_file is not None:
            try:
                choice_file.parent.mkdir(parents=True, exist_ok=True)
                payload = {"code_version": CODE_VERSION, "hash": key, "space": space.name,
                           "num_classes": num_classes, **predictor.to_dict()}
                choice_file.write_text(json.dumps(payload, indent=1) + "\n")
            except OSError as exc:
                log.warning("cannot write predictor cache %s: %s", choice_file, exc)
    _MEMORY[key] = predictor
    while len(_MEMORY) > _MAX_ENTRIES:
        _MEMORY.popitem(last=False)
    return predictor

