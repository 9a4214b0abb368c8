"""Measure this host: build, export and time sampled architectures into a profile.

Two phases, so timings are taken on a quiet machine and nothing is lost:

1. export: worker processes build each planned architecture, export it to
   ONNX and quantize it (int8 as shipped); files are cached in the profile's
   ``work/`` folder, so an interrupted run re-uses them;
2. measure: the main process times each model with the protocol of
   ``onnx_timing.py`` and appends the row to ``measurements.csv`` at once.

At the end a subset is timed again to estimate the noise floor (run-to-run
spread), which is stored in ``device.json``. Re-running continues where it
stopped; a profile measured with other settings is refused, not mixed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import math
import multiprocessing
import shutil
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from spaces import NasError, create_space, list_spaces
from spaces.export import export_onnx

from .errors import ProfileError
from .host import host_description
from .onnx_timing import CHUNK, Protocol, time_callable
from .profile import (
    DEVICE_FILE,
    DeviceInfo,
    Measurement,
    Profile,
    append_measurements,
    load_profile,
    save_device,
    validate_device_name,
)
from .quantize import TRANSFORMER_OPS, quantize_int8
from .sampling import plan_architectures
from .store import user_dir
from .timing import timing_backend

__all__ = ["ProfileRequest", "ExportJob", "RUNTIMES", "export_job", "open_or_create", "export_models",
           "measure_jobs", "measure_in_chunks", "model_paths", "profile_local"]

log = logging.getLogger(__name__)
RUNTIMES = ("onnxruntime", "torch")
Progress = Callable[[str, int, int], None]  # (phase, done, total)


@dataclass(frozen=True)
class ProfileRequest:
    device: str
    spaces: tuple[str, ...] = ("mobile_cnn",)
    count: int = 20
    precisions: tuple[str, ...] = ("fp32", "int8")
    threads: int = 1
    batch: int = 1
    runtime: str = "onnxruntime"
    protocol: Protocol = field(default_factory=Protocol)
    seed: int = 0
    remeasure_fraction: float = 0.1
    workers: int = 2
    root: Path | None = None  # profiles folder; the user directory by default
    #: constructor options per space, e.g. {"mobile_cnn": {"resolutions": (32,)}}
    space_options: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        validate_device_name(self.device)
        for space in self.spaces:
            if space not in list_spaces():
                raise NasError(f"unknown space {space!r}; valid: {', '.join(list_spaces())}")
        for p in self.precisions:
            if p not in ("fp32", "int8"):
                raise NasError(f"unknown precision {p!r}; valid: fp32, int8")
        if self.runtime not in RUNTIMES:
            raise NasError(f"unknown runtime {self.runtime!r}; valid: {', '.join(RUNTIMES)}")
        if self.runtime == "torch" and "int8" in self.precisions:
            raise NasError("int8 is measured with onnxruntime (the model that ships); use --precision fp32 "
                           "with --runtime torch")
        for name in ("count", "threads", "batch", "workers"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise NasError(f"--{name} must be a positive integer, got {value!r}")
        if not self.spaces or not self.precisions:
            raise NasError("give at least one space and one precision")

    @property
    def folder(self) -> Path:
        return (self.root or user_dir()) / self.device

    def settings(self) -> dict:
        """What must match for measurements to belong in one profile."""
        return {"runtime": self.runtime, "threads": self.threads, "batch": self.batch,
                "protocol": asdict(self.protocol)}


@dataclass(frozen=True)
class ExportJob:
    space: str
    arch_str: str
    input_shape: tuple[int, int, int]
    fp32_path: str
    int8_path: str | None


def _runtime_version(runtime: str) -> str:
    if runtime == "torch":
        import torch

        return torch.__version__
    import onnxruntime

    return onnxruntime.__version__


def open_or_create(request: ProfileRequest) -> Profile:
    folder = request.folder
    if (folder / DEVICE_FILE).is_file():
        profile = load_profile(folder)
        timing = profile.device.protocol.get("timing")
        have = {"runtime": profile.device.runtime, "threads": profile.device.threads,
                "batch": profile.device.batch,
                "protocol": asdict(Protocol.from_dict(timing)) if isinstance(timing, dict) else timing}
        want = request.settings()
        if have != want:
            raise ProfileError(
                f"profile {request.device!r} at {folder} was measured with {have}; this run asks for {want}. "
                f"Use another --device name, or the same settings to continue it."
            )
        return profile
    host = host_description()
    device = DeviceInfo(
        name=request.device, description=host["description"], cpu=host["cpu"], cores=host["cores"],
        runtime=request.runtime, runtime_version=_runtime_version(request.runtime), threads=request.threads,
        batch=request.batch, precisions=request.precisions,
        protocol={"timing": asdict(request.protocol), "statistic": "p50",
                  "int8": "ORT static QDQ, uint8 activations, int8 per-channel weights, calibrated on 8 "
                          "random-normal batches (latency only)",
                  "input": "random normal, batch fixed in the exported graph"},
        date=dt.date.today().isoformat(), provenance={"source": "measured on this host by search profile"},
    )
    save_device(folder, device)
    return Profile(device, (), folder)


def model_paths(work: Path, space: str, arch_str: str) -> tuple[Path, Path]:
    key = hashlib.sha256(f"{space}:{arch_str}".encode()).hexdigest()[:20]
    return work / f"{space}-{key}.onnx", work / f"{space}-{key}.int8.onnx"


def export_job(job: ExportJob, batch: int, seed: int) -> ExportJob:
    """Runs in a worker process: build, export and (for int8) quantize one architecture."""
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(seed)
    space = create_space(job.space)
    config = space.parse(job.arch_str)
    fp32, int8 = Path(job.fp32_path), job.int8_path
    if not fp32.exists():
        tmp = fp32.with_suffix(".tmp.onnx")
        export_onnx(space.build(config, in_chans=job.input_shape[0], img_size=job.input_shape[1]),
                    job.input_shape, tmp, batch=batch)
        tmp.replace(fp32)
    if int8 and not Path(int8).exists():
        rng = np.random.default_rng(seed)
        calibration = [rng.standard_normal((batch, *job.input_shape)).astype(np.float32) for _ in range(8)]
        ops = TRANSFORMER_OPS if job.space == "sparse_vit" else None
        tmp = Path(int8).with_suffix(".tmp.onnx")
        quantize_int8(fp32, tmp, calibration, op_types=ops)
        tmp.replace(int8)
    return job


def export_models(jobs: list[ExportJob], request: ProfileRequest, progress: Progress | None) -> None:
    pending = [j for j in jobs
               if not Path(j.fp32_path).exists() or (j.int8_path and not Path(j.int8_path).exists())]
    done = len(jobs) - len(pending)
    if progress:
        progress("export", done, len(jobs))
    if not pending:
        return
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=min(request.workers, len(pending)), mp_context=context)
    try:
        futures = [pool.submit(export_job, job, request.batch, request.seed) for job in pending]
        for future in as_completed(futures):
            future.result()
            done += 1
            if progress:
                progress("export", done, len(jobs))
    except BaseException:
        # Ctrl-C or a failed export: stop now; finished files are kept (written via rename)
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _time_torch(job: ExportJob, request: ProfileRequest) -> dict:
    import torch

    torch.set_num_threads(request.threads)
    space = create_space(job.space)
    model = space.build(space.parse(job.arch_str), in_chans=job.input_shape[0],
                        img_size=job.input_shape[1]).eval()
    x = torch.randn(request.batch, *job.input_shape)
    with torch.no_grad():
        return time_callable(lambda: model(x), request.protocol)


def measure_jobs(items: list[tuple[ExportJob, str]], request: ProfileRequest,
                 repeat: int) -> list[Measurement]:
    """Time (job, precision) pairs; ONNX models are timed together, their rounds interleaved."""
    if request.runtime == "torch":
        timed = [_time_torch(job, request) for job, _ in items]
    else:
        models = [(str(job.fp32_path if precision == "fp32" else job.int8_path),
                   (request.batch, *job.input_shape))
                  for job, precision in items]
        timed = timing_backend().time_models(models, request.protocol, request.threads)
    return [Measurement(job.space, job.arch_str, "x".join(map(str, job.input_shape)), precision,
                        request.batch, stats["latency_ms"], stats["mean_ms"], stats["p50_ms"],
                        stats["p90_ms"], stats["p99_ms"], stats["std_ms"], stats["runs"],
                        stats.get("peak_memory_bytes"), stats.get("model_bytes"),
                        repeat)
            for (job, precision), stats in zip(items, timed)]


def measure_in_chunks(todo: list[tuple[ExportJob, str]], request: ProfileRequest, repeat: int, phase: str,
                       progress: Progress | None) -> list[Measurement]:
    """Measure ``todo`` a chunk at a time, appending each chunk to the profile as soon as it is timed."""
    out: list[Measurement] = []
    for start in range(0, len(todo), CHUNK):
        if progress:
            progress(phase, start, len(todo))
        rows = measure_jobs(todo[start:start + CHUNK], request, repeat)
        append_measurements(request.folder, rows)
        out.extend(rows)
    if progress and todo:
        progress(phase, len(todo), len(todo))
    return out


def noise_floor_pct(first: dict[tuple, float], again: dict[tuple, float]) -> tuple[float, float, int]:
    """(p90, median, pairs) of |again - first| / first in %, over the keys measured twice."""
    diffs = [abs(again[k] - first[k]) / first[k] * 100 for k in again if k in first]
    if not diffs:
        return math.nan, math.nan, 0
    return float(np.percentile(diffs, 90)), float(np.median(diffs)), len(diffs)


def profile_local(request: ProfileRequest, progress: Progress | None = None) -> Profile:
    profile = open_or_create(request)
    folder, work = request.folder, request.folder / "work"
    work.mkdir(parents=True, exist_ok=True)
    key = lambda m: (m.space, m.arch_str, m.input_shape, m.precision, m.batch)  # noqa: E731
    done = {key(m) for m in profile.measurements if m.repeat == 0}

    jobs: list[ExportJob] = []
    for space_name in request.spaces:
        space = create_space(space_name, **request.space_options.get(space_name, {}))
        for config in plan_architectures(space, request.count, request.seed):
            shape = space.input_shape(config)
            fp32, int8 = model_paths(work, space_name, config.arch_str)
            jobs.append(ExportJob(space_name, config.arch_str, shape, str(fp32),
                             str(int8) if "int8" in request.precisions else None))
    shape_str = lambda j: "x".join(map(str, j.input_shape))  # noqa: E731
    todo = [(j, p) for j in jobs for p in request.precisions
            if (j.space, j.arch_str, shape_str(j), p, request.batch) not in done]
    log.info("profile %s: %d architectures planned, %d measurements to take", request.device, len(jobs),
             len(todo))

    if request.runtime == "onnxruntime":
        export_models(sorted({j for j, _ in todo}, key=jobs.index), request, progress)
    measure_in_chunks(todo, request, 0, "measure", progress)
    if progress and not todo:
        progress("measure", 0, 0)

    _remeasure_for_noise(load_profile(folder), jobs, request, progress)
    profile = load_profile(folder)
    if not any(m.repeat == 0 and m.space in request.spaces for m in profile.measurements):
        raise ProfileError(f"no measurements were taken for {request.device}")
    shutil.rmtree(work, ignore_errors=True)
    return profile


def _remeasure_for_noise(profile: Profile, jobs: list[ExportJob], request: ProfileRequest,
                         progress: Progress | None) -> None:
    """Time a seeded subset again (rows with repeat=1) and store the spread in device.json."""
    rng = np.random.default_rng(request.seed + 1)
    wanted = max(3, math.ceil(request.remeasure_fraction * len(jobs)))
    subset = [jobs[i] for i in sorted(rng.choice(len(jobs), size=min(wanted, len(jobs)), replace=False))]
    first = {(m.space, m.arch_str, m.precision): m.latency_ms for m in profile.measurements if m.repeat == 0}
    again = {(m.space, m.arch_str, m.precision): m.latency_ms for m in profile.measurements if m.repeat == 1}
    todo = [(j, p) for j in subset for p in request.precisions if (j.space, j.arch_str, p) not in again]
    if todo and request.runtime == "onnxruntime":
        export_models(sorted({j for j, _ in todo}, key=subset.index), request, None)
    for m in measure_in_chunks(todo, request, 1, "noise", progress):
        again[(m.space, m.arch_str, m.precision)] = m.latency_ms
    p90, median, pairs = noise_floor_pct(first, again)
    if pairs:
        protocol = dict(profile.device.protocol)
        protocol["noise"] = {"pairs": pairs, "p90_pct": round(p90, 2), "median_pct": round(median, 2),
                             "meaning": "relative |second - first| p50 latency of re-measured models"}
        save_device(request.folder,
                    profile.with_device(noise_floor_pct=round(p90, 2), protocol=protocol).device)
