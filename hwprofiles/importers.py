"""Bring measurements taken elsewhere into profiles.

- ``read_plain_csv``: any CSV with columns ``arch_str,latency_ms`` for a space
  whose architecture strings we parse (``nb201``, ``fbnet``, ...).
- ``read_published``: one device column of the published NAS-Bench-201 / FBNet
  latency tables (../shared/data), which the shipped profiles are built from.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from spaces import NasError, create_space

from .errors import ProfileError
from .profile import Measurement, open_csv

__all__ = ["read_plain_csv", "read_published", "QUIRK_MAX_MS"]

#: Published NAS-Bench-201 rows below this are cells cut off by 'none' edges: a known data quirk.
QUIRK_MAX_MS = 0.1


def _latency(text: str | None, where: str, column: str) -> float:
    try:
        value = float(text or "")
    except ValueError:
        raise ProfileError(f"{where}: column {column!r} is not a number: {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise ProfileError(f"{where}: column {column!r} must be a positive finite number, got {text!r}")
    return value


def _read_rows(path: Path, space_name: str, column: str, batch: int, precision: str,
               min_ms: float = 0.0) -> tuple[list[Measurement], int]:
    space = create_space(space_name)
    out, dropped = [], 0
    with open_csv(path) as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        for needed in ("arch_str", column):
            if needed not in header:
                raise ProfileError(f"{path}:1: missing column {needed!r}; found {header}")
        for row in reader:
            where = f"{path}:{reader.line_num}"
            try:
                config = space.parse(row["arch_str"] or "")
            except NasError as exc:
                raise ProfileError(f"{where}: bad arch_str for space {space_name}: {exc}") from None
            latency = _latency(row[column], where, column)
            if latency < min_ms:
                dropped += 1
                continue
            shape = "x".join(map(str, space.input_shape(config)))
            out.append(Measurement(space_name, config.arch_str, shape, precision, batch, latency))
    if not out:
        raise ProfileError(f"{path}: no measurements found")
    return out, dropped


def read_plain_csv(path: str | Path, space: str, batch: int = 1,
                   precision: str = "fp32") -> list[Measurement]:
    """Rows of ``arch_str,latency_ms`` (other columns ignored), validated line by line."""
    rows, _ = _read_rows(Path(path), space, "latency_ms", batch, precision)
    return rows


def read_published(path: str | Path, space: str, column: str, batch: int) -> tuple[list[Measurement], int]:
    """One device column of a published table; returns (rows, rows dropped as the < 0.1 ms quirk)."""
    return _read_rows(Path(path), space, column, batch, "fp32", min_ms=QUIRK_MAX_MS)
