"""Profile a device that cannot run this stack: a folder of ONNX models plus one runner script.

``make_kit`` writes ``models/*.onnx``, ``manifest.json`` and ``run_kit.py`` (a
copy of ``onnx_timing.py``: python3 + numpy + onnxruntime only). On the device,
``python3 run_kit.py --provider cpu|cuda|tensorrt`` writes ``results.csv`` and
``environment.json``; ``import_kit`` validates them into a profile.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from spaces import NasError, create_space

from .errors import ProfileError
from .importers import read_plain_csv
from .measure import ExportJob, ProfileRequest, export_models, model_paths
from .onnx_timing import PROVIDERS, RESULT_COLUMNS, Protocol
from .profile import (
    DEVICE_FILE,
    DeviceInfo,
    Measurement,
    Profile,
    load_profile,
    open_csv,
    parse_measurement,
    save_profile,
    validate_device_name,
)
from .sampling import plan_architectures
from .store import user_dir

__all__ = ["make_kit", "write_kit", "read_kit", "KitResults", "import_kit", "import_csv", "read_json_object",
           "MANIFEST", "RESULTS", "RUNNER", "ENVIRONMENT"]

MANIFEST, RESULTS, RUNNER, ENVIRONMENT = "manifest.json", "results.csv", "run_kit.py", "environment.json"


def make_kit(spaces: tuple[str, ...], count: int, out: str | Path, precisions: tuple[str, ...] = ("fp32",),
             batch: int = 1, protocol: Protocol | None = None, seed: int = 0, workers: int = 2,
             progress=None) -> Path:
    out = Path(out)
    if (out / MANIFEST).exists():
        raise NasError(f"{out} already holds a kit; choose an empty --out folder")
    protocol = protocol or Protocol()
    request = ProfileRequest(device="kit", spaces=spaces, count=count, precisions=precisions, batch=batch,
                             protocol=protocol, seed=seed, workers=workers)
    models = out / "models"
    models.mkdir(parents=True, exist_ok=True)
    jobs, entries = [], []
    for space_name in spaces:
        space = create_space(space_name)
        for config in plan_architectures(space, count, seed):
            shape = space.input_shape(config)
            fp32, int8 = model_paths(models, space_name, config.arch_str)
            jobs.append(ExportJob(space_name, config.arch_str, shape, str(fp32),
                                  str(int8) if "int8" in precisions else None))
            for precision, path in (("fp32", fp32), ("int8", int8)):
                if precision in precisions:
                    entries.append({"file": f"models/{path.name}", "space": space_name,
                                    "arch_str": config.arch_str,
                                    "input_shape": [batch, *shape], "precision": precision})
    export_models(jobs, request, progress)
    readme = ("Measure these models on the target device (needs python3, numpy, onnxruntime):\n"
              f"  python3 {RUNNER} --provider cpu        # or cuda / tensorrt\n"
              "Re-running continues where it stopped. Bring the folder back and run:\n"
              "  python -m search profile import THIS_FOLDER --device NAME\n")
    return write_kit(out, entries, protocol, batch, readme)


def write_kit(out: Path, entries: list[dict], protocol: Protocol, batch: int, readme: str,
              **manifest_fields) -> Path:
    """Finish a kit whose models lie in ``out``: ``manifest.json``, the runner and ``README.txt``.

    Each entry names its model ``file`` (relative to ``out``), ``space``, ``arch_str``, ``input_shape``
    (batch first) and ``precision``; other keys (a finalized ``variant``) travel with it to ``read_kit``.
    """
    for entry in entries:
        missing = [k for k in ("file", "space", "arch_str", "input_shape", "precision") if k not in entry]
        if missing:
            raise ValueError(f"kit entry {entry} lacks {', '.join(missing)}")
    shutil.copyfile(Path(__file__).with_name("onnx_timing.py"), out / RUNNER)
    manifest = {"format": 1, "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                **manifest_fields, "protocol": asdict(protocol), "batch": batch, "models": entries}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    (out / "README.txt").write_text(readme)
    return out


def read_json_object(path: Path) -> dict:
    """A kit's JSON file as a dict; a missing or malformed file is one ProfileError naming it."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ProfileError(f"{path}: missing (was the kit's runner run?)") from None
    except json.JSONDecodeError as exc:
        raise ProfileError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise ProfileError(f"{path}: expected a JSON object")
    return data


@dataclass(frozen=True)
class KitResults:
    """What a kit brought back: its manifest, the device's environment, a measurement per timed model."""

    manifest: dict
    environment: dict
    measured: list[tuple[dict, Measurement]]  # (the model's manifest entry, its measurement)


def read_kit(folder: str | Path) -> KitResults:
    """The results of a kit run on a device, each checked against the runner's columns and the manifest."""
    folder = Path(folder)
    manifest = read_json_object(folder / MANIFEST)
    environment = read_json_object(folder / ENVIRONMENT)
    by_file = {m["file"]: m for m in manifest.get("models", [])}
    path = folder / RESULTS
    if not path.is_file():
        raise ProfileError(f"{path}: missing; run 'python3 {RUNNER}' in the kit on the device first")
    out = []
    with open_csv(path) as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames != list(RESULT_COLUMNS):
            raise ProfileError(f"{path}:1: expected columns {list(RESULT_COLUMNS)}, got {reader.fieldnames}")
        for row in reader:
            where = f"{path}:{reader.line_num}"
            entry = by_file.get(row["model"])
            if entry is None:
                raise ProfileError(f"{where}: model {row['model']!r} is not in the kit's {MANIFEST}")
            out.append((entry, _measurement(entry, row, where)))
    if not out:
        raise ProfileError(f"{path}: no results")
    return KitResults(manifest, environment, out)


def _measurement(entry: dict, row: dict[str, str], where: str) -> Measurement:
    batch, *shape = entry["input_shape"]
    fields = {k: row[k] for k in RESULT_COLUMNS if k != "model"}
    fields.update(space=entry["space"], arch_str=entry["arch_str"], precision=entry["precision"],
                  input_shape="x".join(map(str, shape)), batch=str(batch))
    m = parse_measurement(fields, where, [entry["space"]])
    for column in ("p50_ms", "p90_ms", "p99_ms", "runs"):
        if not getattr(m, column):
            raise ProfileError(f"{where}: column {column!r} must be a positive number, got "
                               f"{row.get(column)!r}")
    create_space(m.space).parse(m.arch_str)
    return m


def _store(device: DeviceInfo, rows: list[Measurement], root: Path | None) -> Profile:
    folder = (root or user_dir()) / device.name
    if (folder / DEVICE_FILE).is_file():
        existing = load_profile(folder)
        same = (existing.device.runtime, existing.device.batch) == (device.runtime, device.batch)
        if not same:
            raise ProfileError(f"profile {device.name!r} exists with runtime {existing.device.runtime!r}, "
                               f"batch {existing.device.batch}; import under another --device name")
        seen = {(m.space, m.arch_str, m.input_shape, m.precision, m.batch, m.repeat)
                for m in existing.measurements}
        rows = list(existing.measurements) + [m for m in rows if (m.space, m.arch_str, m.input_shape,
                                                                  m.precision, m.batch, m.repeat) not in seen]
        device = existing.device
    profile = Profile(device, tuple(rows), folder)
    save_profile(profile, folder)
    return profile


def import_kit(folder: str | Path, device: str, root: Path | None = None) -> Profile:
    validate_device_name(device)
    folder = Path(folder)
    results = read_kit(folder)
    manifest, environment = results.manifest, results.environment
    rows = [m for _, m in results.measured]
    provider = environment.get("provider", "cpu")
    if provider not in PROVIDERS:
        raise ProfileError(f"{folder / ENVIRONMENT}: unknown provider {provider!r}")
    info = DeviceInfo(
        name=device, description=str(environment.get("platform", "")), cores=environment.get("cores"),
        runtime=f"onnxruntime-{provider}", runtime_version=str(environment.get("runtime_version", "")),
        threads=environment.get("threads"), batch=int(manifest.get("batch", 1)),
        precisions=tuple(sorted({m.precision for m in rows})),
        protocol={"timing": manifest.get("protocol", {}), "statistic": "p50"},
        date=dt.date.today().isoformat(),
        provenance={"source": "profiling kit", "kit": str(folder.resolve())},
    )
    return _store(info, rows, root)


def import_csv(path: str | Path, device: str, space: str, root: Path | None = None) -> Profile:
    validate_device_name(device)
    rows = read_plain_csv(path, space)
    info = DeviceInfo(name=device, runtime="external", precisions=("fp32",),
                      protocol={"statistic": "as given in the imported file"},
                      date=dt.date.today().isoformat(),
                      provenance={"source": "imported CSV", "file": str(Path(path).resolve())})
    return _store(info, rows, root)
