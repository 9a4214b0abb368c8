"""A device profile is data: ``device.json`` plus ``measurements.csv``.

``device.json`` says what was measured and how (hardware, runtime, threads,
batch, protocol, provenance, noise floor); ``measurements.csv`` has one row per
measured (architecture, input shape, precision). Loading validates every row
and names file and line on the first problem; nothing is ever unpickled.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, NamedTuple

from spaces import NasError, create_space, list_spaces

from .errors import ProfileError

__all__ = ["DeviceInfo", "Measurement", "Profile", "load_profile", "save_profile", "append_measurements",
           "MEASUREMENT_COLUMNS", "DEVICE_FILE", "MEASUREMENTS_FILE", "validate_device_name"]

DEVICE_FILE = "device.json"
MEASUREMENTS_FILE = "measurements.csv"
PRECISIONS = ("fp32", "int8")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def validate_device_name(name: Any) -> str:
    """Device names become folder names: keep them to letters, digits, ``_ . -``."""
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ProfileError(
            f"invalid device name {name!r}: use 1-64 letters, digits, '_', '.', '-' (not starting with '.')"
        )
    return name


@dataclass(frozen=True)
class DeviceInfo:
    name: str
    description: str = ""
    cpu: str = ""
    gpu: str = ""
    cores: int | None = None
    runtime: str = ""
    runtime_version: str = ""
    threads: int | None = None
    batch: int = 1
    precisions: tuple[str, ...] = ("fp32",)
    protocol: dict[str, Any] = field(default_factory=dict)
    date: str = ""
    provenance: dict[str, Any] = field(default_factory=dict)
    noise_floor_pct: float | None = None

    def __post_init__(self) -> None:
        validate_device_name(self.name)
        if not isinstance(self.batch, int) or isinstance(self.batch, bool) or self.batch < 1:
            raise ProfileError(f"device {self.name}: 'batch' must be a positive int, got {self.batch!r}")
        for p in self.precisions:
            if p not in PRECISIONS:
                raise ProfileError(f"device {self.name}: unknown precision {p!r}; valid: "
                                   f"{', '.join(PRECISIONS)}")
        if self.noise_floor_pct is not None and not (
            isinstance(self.noise_floor_pct, (int, float)) and math.isfinite(self.noise_floor_pct)
            and self.noise_floor_pct >= 0
        ):
            raise ProfileError(f"device {self.name}: 'noise_floor_pct' must be >= 0, got "
                               f"{self.noise_floor_pct!r}")

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["precisions"] = list(self.precisions)
        return out

    @classmethod
    def from_dict(cls, data: Any, source: str = DEVICE_FILE) -> DeviceInfo:
        if not isinstance(data, dict):
            raise ProfileError(f"{source}: expected a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ProfileError(f"{source}: unknown key(s) {unknown}; valid: {sorted(known)}")
        if "name" not in data:
            raise ProfileError(f"{source}: missing key 'name'")
        data = dict(data)
        if "precisions" in data:
            if not isinstance(data["precisions"], list):
                raise ProfileError(f"{source}: 'precisions' must be a list")
            data["precisions"] = tuple(data["precisions"])
        try:
            return cls(**data)
        except TypeError as exc:
            raise ProfileError(f"{source}: {exc}") from None
        except ProfileError as exc:
            raise ProfileError(f"{source}: {exc}") from None


class Measurement(NamedTuple):
    """One measured architecture. ``latency_ms`` is the figure predictors fit (p50 where known)."""

    space: str
    arch_str: str
    input_shape: str  # "CxHxW"
    precision: str
    batch: int
    latency_ms: float
    mean_ms: float | None = None
    p50_ms: float | None = None
    p90_ms: float | None = None
    p99_ms: float | None = None
    std_ms: float | None = None
    runs: int | None = None
    peak_memory_bytes: int | None = None
    model_bytes: int | None = None
    repeat: int = 0  # 0 = first measurement; >0 = a re-measurement for the noise floor


MEASUREMENT_COLUMNS = Measurement._fields
_REQUIRED = ("space", "arch_str", "input_shape", "precision", "batch", "latency_ms")
_FLOAT_COLS = ("latency_ms", "mean_ms", "p50_ms", "p90_ms", "p99_ms", "std_ms")
_INT_COLS = ("batch", "runs", "peak_memory_bytes", "model_bytes", "repeat")
_SHAPE_RE = re.compile(r"^\d+x\d+x\d+$")


@dataclass(frozen=True)
class Profile:
    device: DeviceInfo
    measurements: tuple[Measurement, ...]
    path: Path | None = None

    @property
    def name(self) -> str:
        return self.device.name

    @property
    def spaces(self) -> tuple[str, ...]:
        return tuple(sorted({m.space for m in self.measurements}))

    def select(self, space: str | None = None, precision: str | None = None, repeat: int | None = 0
               ) -> list[Measurement]:
        return [m for m in self.measurements
                if (space is None or m.space == space) and (precision is None or m.precision == precision)
                and (repeat is None or m.repeat == repeat)]

    def with_device(self, **changes: Any) -> Profile:
        return replace(self, device=replace(self.device, **changes))


def _parse_number(text: str, kind: type, column: str, where: str) -> Any:
    try:
        value = kind(text)
    except ValueError:
        raise ProfileError(f"{where}: column {column!r} is not a number: {text!r}") from None
    if kind is float and not math.isfinite(value):
        raise ProfileError(f"{where}: column {column!r} must be finite, got {text!r}")
    if value < 0:
        raise ProfileError(f"{where}: column {column!r} must not be negative, got {text!r}")
    return value


def parse_measurement(row: dict[str, str], where: str, spaces_known: Iterable[str]) -> Measurement:
    for column in _REQUIRED:
        if not row.get(column):
            raise ProfileError(f"{where}: missing value for column {column!r}")
    if row["space"] not in spaces_known:
        raise ProfileError(f"{where}: unknown space {row['space']!r}; valid: {', '.join(spaces_known)}")
    if row["precision"] not in PRECISIONS:
        raise ProfileError(f"{where}: unknown precision {row['precision']!r}; valid: {', '.join(PRECISIONS)}")
    if not _SHAPE_RE.match(row["input_shape"]):
        raise ProfileError(f"{where}: input_shape must look like 3x32x32, got {row['input_shape']!r}")
    values: dict[str, Any] = {"space": row["space"], "arch_str": row["arch_str"],
                              "input_shape": row["input_shape"], "precision": row["precision"]}
    for column in _FLOAT_COLS + _INT_COLS:
        text = row.get(column)
        if text not in (None, ""):
            values[column] = _parse_number(text, float if column in _FLOAT_COLS else int, column, where)
    if values["latency_ms"] <= 0:
        raise ProfileError(f"{where}: latency_ms must be positive, got {row['latency_ms']!r}")
    if values["batch"] < 1:
        raise ProfileError(f"{where}: batch must be >= 1, got {row['batch']!r}")
    return Measurement(**values)


def open_csv(path: Path):
    """Open a CSV for reading; a missing or unreadable file is a ProfileError naming it."""
    try:
        return open(path, newline="")
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read: {exc.strerror}") from None


def read_measurements(path: Path, check_arch: bool = True) -> list[Measurement]:
    """Read and validate a measurements CSV; errors name ``file:line``."""
    known = list_spaces()
    parsers: dict[str, Any] = {}
    out = []
    with open_csv(path) as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        missing = [c for c in _REQUIRED if c not in header]
        if missing:
            raise ProfileError(f"{path}:1: missing column(s) {missing}; need at least {list(_REQUIRED)}")
        unknown = [c for c in header if c not in MEASUREMENT_COLUMNS]
        if unknown:
            raise ProfileError(f"{path}:1: unknown column(s) {unknown}; valid: {list(MEASUREMENT_COLUMNS)}")
        for row in reader:
            where = f"{path}:{reader.line_num}"
            if None in row or any(v is None for v in row.values()):
                raise ProfileError(f"{where}: wrong number of fields")
            m = parse_measurement(row, where, known)
            if check_arch:
                if m.space not in parsers:
                    parsers[m.space] = create_space(m.space).parse
                try:
                    parsers[m.space](m.arch_str)
                except NasError as exc:
                    raise ProfileError(f"{where}: bad arch_str for space {m.space}: {exc}") from None
            out.append(m)
    return out


def _format(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def write_measurements(path: Path, measurements: Iterable[Measurement], append: bool = False) -> None:
    exists = path.exists() and path.stat().st_size > 0
    with open(path, "a" if append else "w", newline="") as fh:
        writer = csv.writer(fh)
        if not (append and exists):
            writer.writerow(MEASUREMENT_COLUMNS)
        for m in measurements:
            writer.writerow([_format(v) for v in m])
        fh.flush()
        os.fsync(fh.fileno())


def load_profile(path: str | Path, check_arch: bool = True) -> Profile:
    path = Path(path)
    device_file = path / DEVICE_FILE
    if not device_file.is_file():
        raise ProfileError(f"{path}: not a profile (no {DEVICE_FILE})")
    try:
        data = json.loads(device_file.read_text())
    except json.JSONDecodeError as exc:
        raise ProfileError(f"{device_file}:{exc.lineno}: invalid JSON: {exc.msg}") from None
    device = DeviceInfo.from_dict(data, str(device_file))
    measurements_file = path / MEASUREMENTS_FILE
    rows = read_measurements(measurements_file, check_arch) if measurements_file.exists() else []
    return Profile(device, tuple(rows), path)


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def save_device(path: Path, device: DeviceInfo) -> None:
    path.mkdir(parents=True, exist_ok=True)
    _atomic_write_text(path / DEVICE_FILE, json.dumps(device.to_dict(), indent=2) + "\n")


def save_profile(profile: Profile, path: str | Path) -> Path:
    """Write both files; the CSV goes through a temporary file so a crash leaves the old one."""
    path = Path(path)
    save_device(path, profile.device)
    tmp = path / (MEASUREMENTS_FILE + ".tmp")
    write_measurements(tmp, profile.measurements)
    os.replace(tmp, path / MEASUREMENTS_FILE)
    return path


def append_measurements(path: str | Path, measurements: Iterable[Measurement]) -> None:
    """Append rows as they are measured (each flushed to disk: Ctrl-C loses nothing measured)."""
    write_measurements(Path(path) / MEASUREMENTS_FILE, measurements, append=True)
