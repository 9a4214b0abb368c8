"""The study: run settings, its name, where it is stored, and what a trial records.

One Optuna study per search. By default it is a SQLite file in the runs
directory, ``runs/<study>/study.db``, with the trial checkpoints beside it in
``runs/<study>/trials/``; ``--storage`` takes any SQLAlchemy URL instead (the
artifacts stay in ``runs/<study>/``). The settings that define a study are
stored in it, so re-running the same command resumes it, and a command with
different settings is refused rather than mixed in.
"""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import optuna

from spaces import NasError, UnknownNameError, list_spaces

from .datasets import DATASETS
from .halving import rung_epochs
from .train import OPTIMIZERS

__all__ = ["RunSettings", "SAMPLERS", "EVALUATORS", "DIRECTIONS", "StudyHandle", "open_study", "load_study",
           "make_sampler", "study_storage", "connect_storage", "display_url"]

SAMPLERS = ("nsga2", "tpe", "gp", "random")
EVALUATORS = ("training", "tabular")
DIRECTIONS = ("maximize", "minimize")  # validation accuracy, predicted latency upper bound
DB_NAME = "study.db"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$")


@dataclass(frozen=True)
class RunSettings:
    """Everything ``python -m search run`` takes; ``identity()`` is the part that defines the study."""

    device: str = "local"
    spaces: tuple[str, ...] = ("mobile_cnn",)
    dataset: str = "digits"
    data_dir: str | None = None
    evaluator: str = "training"
    accuracy_table: str | None = None
    latency_ms: float | None = None
    precision: str = "fp32"
    coverage: float = 0.9
    trials: int = 24
    workers: int = 2
    epochs: int = 10
    halving_rate: float | None = 3.0
    generation: int = 8
    population: int = 20  # NSGA-II population; random startup trials of TPE and GP
    sampler: str = "nsga2"
    optimizer: str = "adamw"
    lr: float = 1e-2
    batch_size: int = 32
    seed: int = 0
    study: str | None = None
    storage: str | None = None
    runs_dir: str = "runs"
    ray_address: str | None = None
    profile_count: int = 40
    predictor_rows: int | None = None  # fit the screening predictor on at most this many rows (default all)
    time_candidates: bool = True  # local device: time each candidate before training it (search.candidate_timing)
    finalize: bool = True
    space_options: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in self.spaces:
            if name not in list_spaces():
                raise UnknownNameError("space", name, list_spaces())
        if not self.spaces or len(set(self.spaces)) != len(self.spaces):
            raise NasError(f"--space needs distinct space names, got {','.join(self.spaces) or 'none'}")
        if self.evaluator not in EVALUATORS:
            raise UnknownNameError("evaluator", self.evaluator, EVALUATORS)
        if self.sampler not in SAMPLERS:
            raise UnknownNameError("sampler", self.sampler, SAMPLERS)
        if self.evaluator == "training" and self.dataset not in DATASETS:
            raise UnknownNameError("dataset", self.dataset, DATASETS)
        if self.evaluator == "tabular":
            if self.spaces != ("nb201",):
                raise NasError("the tabular evaluator looks accuracies up in a NAS-Bench-201 table: use --space nb201")
            if not self.accuracy_table:
                raise NasError("--evaluator tabular needs --accuracy-table PATH (nb201_accuracy.csv format)")
        for name in ("trials", "workers", "epochs", "generation", "population", "batch_size",
                     "profile_count"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise NasError(f"--{name.replace('_', '-')} must be a positive integer, got {value!r}")
        rung_epochs(self.epochs, self.halving_rate)  # validates --halving-rate before anything is written
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            raise NasError(f"--lr must be a positive number, got {self.lr!r}")
        if self.optimizer not in OPTIMIZERS:
            raise UnknownNameError("optimizer", self.optimizer, OPTIMIZERS)
        if self.predictor_rows is not None and (not isinstance(self.predictor_rows, int) or self.predictor_rows < 10):
            raise NasError(f"--predictor-rows must be an integer >= 10, got {self.predictor_rows!r}")
        if self.latency_ms is not None and not (math.isfinite(self.latency_ms) and self.latency_ms > 0):
            raise NasError(f"--latency-ms must be a positive number, got {self.latency_ms!r}")
        if not 0 < self.coverage < 1:
            raise NasError(f"--coverage must be in (0, 1), got {self.coverage!r}")
        if self.precision not in ("fp32", "int8"):
            raise NasError(f"--precision must be fp32 or int8, got {self.precision!r}")
        if self.study is not None and not _NAME_RE.match(self.study):
            raise NasError(f"--study must be 1-128 letters, digits, '.', '_', '+' or '-', got {self.study!r}")

    def identity(self, budget_ms: float) -> dict[str, Any]:
        """What must match for a re-run to continue this study."""
        keep = ("device", "spaces", "dataset", "evaluator", "precision", "coverage", "epochs", "halving_rate",
                "generation", "population", "sampler", "optimizer", "lr", "batch_size", "seed", "space_options",
                "predictor_rows")
        out = {k: v for k, v in asdict(self).items() if k in keep}
        out["spaces"] = list(self.spaces)
        if self.evaluator == "tabular":
            out.update(dataset="nb201-table", epochs=None, halving_rate=None, optimizer=None, lr=None,
                       batch_size=None)
        out["budget_ms"] = round(float(budget_ms), 6)
        return json.loads(json.dumps(out))  # as the study stores it: tuples become lists

    def study_name(self) -> str:
        """``--study`` or a name derived from the settings (the budget only when given)."""
        if self.study:
            return self.study
        data = "nb201tab" if self.evaluator == "tabular" else self.dataset
        budget = "auto" if self.latency_ms is None else f"{self.latency_ms:g}ms"
        return "-".join((self.device, "+".join(self.spaces), data, budget, self.sampler, f"e{self.epochs}",
                         f"s{self.seed}"))


def study_storage(name: str, storage: str | None, runs_dir: str | Path) -> tuple[str, Path]:
    """(storage URL, artifacts folder) of a study: SQLite in ``runs/<name>/`` unless a URL is given."""
    artifacts = Path(runs_dir) / name
    if storage:
        return storage, artifacts
    return f"sqlite:///{(artifacts / DB_NAME).resolve()}", artifacts


def make_sampler(name: str, seed: int, population: int) -> optuna.samplers.BaseSampler:
    """A seeded sampler. The latency constraint reaches NSGA-II, TPE and GP through each trial's
    ``set_constraint`` (<= 0 is feasible); random search ignores it."""
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(population_size=max(2, population), seed=seed)
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed, multivariate=True, n_startup_trials=max(2, population))
    if name == "gp":
        return optuna.samplers.GPSampler(seed=seed, n_startup_trials=max(2, population))
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    raise UnknownNameError("sampler", name, SAMPLERS)


@dataclass
class StudyHandle:
    study: optuna.Study
    name: str
    storage: str
    artifacts: Path

    @property
    def settings(self) -> dict[str, Any]:
        return dict(self.study.user_attrs.get("identity", {}))


def display_url(storage: str) -> str:
    """``storage`` as it may be printed: without its password."""
    try:
        import sqlalchemy

        return sqlalchemy.engine.make_url(storage).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not a URL SQLAlchemy parses: nothing to hide
        return storage


def _storage_error(storage: str, exc: Exception) -> NasError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return NasError(f"cannot open the study storage {display_url(storage)}: {type(exc).__name__}: {first}")


def _with_installed_driver(storage: str) -> str:
    """``postgresql://`` means psycopg2 to SQLAlchemy 2.0 and psycopg 3 to 2.1: name the one we install."""
    import importlib.util

    for scheme in ("postgresql://", "postgres://"):
        if storage.startswith(scheme) and importlib.util.find_spec("psycopg") is not None:
            return "postgresql+psycopg://" + storage[len(scheme):]
    return storage


def connect_storage(storage: str, attempts: int = 5) -> optuna.storages.BaseStorage:
    """An Optuna RDB storage for ``storage``, with clear errors.

    Several drivers starting at once on a new server database race to create
    its tables; the losers see a duplicate-key error and simply try again.
    """
    import sqlalchemy.exc

    url = _with_installed_driver(storage)
    for attempt in range(attempts):
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs={"pool_pre_ping": True}
                                              if not storage.startswith("sqlite") else None)
        except ImportError as exc:
            scheme = storage.split(":", 1)[0]
            hint = " (pip install 'psycopg[binary]')" if scheme.startswith("postgres") else ""
            raise NasError(f"the storage {display_url(storage)} needs a database driver that is not installed"
                           f"{hint}: {exc.__cause__ or exc}") from None
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError) as exc:
            if attempt == attempts - 1:
                raise _storage_error(storage, exc) from None
            time.sleep(0.2 * (attempt + 1))
        except (sqlalchemy.exc.SQLAlchemyError, optuna.exceptions.StorageInternalError, ValueError, OSError) as exc:
            raise _storage_error(storage, exc) from None
    raise AssertionError("unreachable")


def open_study(settings: RunSettings, budget_ms: float, extra_attrs: dict[str, Any] | None = None) -> StudyHandle:
    """Create the study, or load it when it exists with the same identity (else refuse)."""
    name = settings.study_name()
    storage, artifacts = study_storage(name, settings.storage, settings.runs_dir)
    if settings.storage is None:
        artifacts.mkdir(parents=True, exist_ok=True)
    identity = settings.identity(budget_ms)
    sampler = make_sampler(settings.sampler, settings.seed, settings.population)
    try:
        study = optuna.create_study(storage=connect_storage(storage), study_name=name, sampler=sampler,
                                    directions=list(DIRECTIONS), load_if_exists=True)
    except (optuna.exceptions.StorageInternalError, ValueError, OSError) as exc:
        raise _storage_error(storage, exc) from None
    have = study.user_attrs.get("identity")
    if have is None:
        study.set_user_attr("identity", identity)
        study.set_user_attr("artifacts", str(artifacts.resolve()))
        for key, value in (extra_attrs or {}).items():
            study.set_user_attr(key, value)
    elif have != identity:
        diff = {k: (have.get(k), identity.get(k)) for k in set(have) | set(identity) if have.get(k) != identity.get(k)}
        changes = ", ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in sorted(diff.items()))
        raise NasError(f"study {name!r} in {display_url(storage)} was run with other settings ({changes}); re-run with the same "
                       f"settings to resume it, or choose another --study")
    return StudyHandle(study, name, storage, artifacts)


def load_study(name: str, storage: str | None = None, runs_dir: str | Path = "runs") -> StudyHandle:
    """An existing study for ``top`` / ``show`` / ``export``; a clear error when there is none."""
    url, artifacts = study_storage(name, storage, runs_dir)
    if storage is None and not (artifacts / DB_NAME).is_file():
        found = sorted(p.parent.name for p in Path(runs_dir).glob(f"*/{DB_NAME}"))
        hint = f"; studies in {runs_dir}/: {', '.join(found)}" if found else f"; {runs_dir}/ holds no study"
        raise NasError(f"no study {name!r}: {artifacts / DB_NAME} does not exist{hint}")
    rdb = connect_storage(url)
    try:
        study = optuna.load_study(study_name=name, storage=rdb)
    except KeyError:
        names = optuna.get_all_study_names(storage=rdb)
        raise NasError(f"no study {name!r} in {display_url(url)}; it holds: {', '.join(names) or 'none'}") from None
    except (optuna.exceptions.StorageInternalError, ValueError, OSError) as exc:
        raise _storage_error(url, exc) from None
    saved = study.user_attrs.get("artifacts")
    # a SQLite study's artifacts sit beside its file (the runs folder may have moved); a URL's were recorded
    return StudyHandle(study, name, url, Path(saved) if storage and saved else artifacts)
