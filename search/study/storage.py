"""The study: run settings, its name, where it is stored, and what a trial records.

One Optuna study per search. By default it is a SQLite file in the runs
directory, ``runs/<study>/study.db``, with the trial checkpoints beside it in
``runs/<study>/trials/``; ``--storage`` takes any SQLAlchemy URL instead (the
artifacts stay in ``runs/<study>/``). The settings that define a study are
stored in it, so re-running the same command resumes it, and a command with
different settings is refused rather than mixed in.
"""

from __future__ import annotations

import importlib.util
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna

from search.errors import SearchError
from search.study.settings import SAMPLERS, RunSettings
from spaces import UnknownNameError

__all__ = ["DIRECTIONS", "StudyHandle", "open_study", "load_study", "make_sampler", "study_storage",
           "connect_storage", "display_url"]

DIRECTIONS = ("maximize", "minimize")  # validation accuracy, predicted latency upper bound
DB_NAME = "study.db"
log = logging.getLogger(__name__)


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
    """An open study: the Optuna study, its name, storage URL, artifacts folder and storage backend."""

    study: optuna.Study
    name: str
    storage: str  # the URL (print it with display_url)
    artifacts: Path
    backend: optuna.storages.BaseStorage

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


def _storage_error(storage: str, exc: Exception) -> SearchError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return SearchError(f"cannot open the study storage {display_url(storage)}: {type(exc).__name__}: {first}")


def _with_installed_driver(storage: str) -> str:
    """``postgresql://`` means psycopg2 to SQLAlchemy 2.0 and psycopg 3 to 2.1: name the one we install."""
    for scheme in ("postgresql://", "postgres://"):
        if storage.startswith(scheme) and importlib.util.find_spec("psycopg") is not None:
            return "postgresql+psycopg://" + storage[len(scheme):]
    return storage


def _write_ahead_log(storage: optuna.storages.RDBStorage) -> None:
    """SQLite in write-ahead-log mode with normal sync: a commit no longer waits for the disk (a power cut
    may lose the last commits, never the file's consistency; a crashed or interrupted process loses
    nothing). Every trial attribute is its own commit, so this sets the driver's pace on a small study.
    The mode is stored in the file; the sync level is set on each new connection. Write-ahead logging
    needs the study's folder on a local disk, written by one host: several hosts share a server
    database (``--storage postgresql://...``)."""
    import sqlalchemy

    def pragmas(connection, _record) -> None:
        cursor = connection.cursor()
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL"):
            try:
                cursor.execute(f"PRAGMA {pragma}")
            except Exception:  # noqa: BLE001 - a busy or read-only file: it stays as it was
                log.debug("SQLite pragma %s not set", pragma, exc_info=True)
        cursor.close()

    sqlalchemy.event.listen(storage.engine, "connect", pragmas)
    storage.engine.dispose()  # connections opened before the listener get it when reopened


def connect_storage(storage: str, attempts: int = 5) -> optuna.storages.BaseStorage:
    """An Optuna RDB storage for ``storage``, with clear errors.

    Several drivers starting at once on a new server database race to create
    its tables; the losers see a duplicate-key error and simply try again.
    """
    import sqlalchemy.exc

    url = _with_installed_driver(storage)
    for attempt in range(attempts):
        try:
            if not storage.startswith("sqlite"):
                return optuna.storages.RDBStorage(url, engine_kwargs={"pool_pre_ping": True})
            backend = optuna.storages.RDBStorage(url)
            _write_ahead_log(backend)
            return backend
        except ImportError as exc:
            scheme = storage.split(":", 1)[0]
            hint = " (pip install 'psycopg[binary]')" if scheme.startswith("postgres") else ""
            raise SearchError(f"the storage {display_url(storage)} needs a database driver that is not "
                              f"installed{hint}: {exc.__cause__ or exc}") from None
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError) as exc:
            if attempt == attempts - 1:
                raise _storage_error(storage, exc) from None
            time.sleep(0.2 * (attempt + 1))
        except (sqlalchemy.exc.SQLAlchemyError, optuna.exceptions.StorageInternalError, ValueError,
                OSError) as exc:
            raise _storage_error(storage, exc) from None
    raise AssertionError("unreachable")


def open_study(settings: RunSettings, budget_ms: float,
               extra_attrs: dict[str, Any] | None = None) -> StudyHandle:
    """Create the study, or load it when it exists with the same identity (else refuse)."""
    name = settings.study_name()
    storage, artifacts = study_storage(name, settings.storage, settings.runs_dir)
    if settings.storage is None:
        artifacts.mkdir(parents=True, exist_ok=True)
    identity = settings.identity(budget_ms)
    sampler = make_sampler(settings.sampler, settings.seed, settings.population)
    try:
        backend = connect_storage(storage)
        study = optuna.create_study(storage=backend, study_name=name, sampler=sampler,
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
        diff = {k: (have.get(k), identity.get(k)) for k in set(have) | set(identity)
                if have.get(k) != identity.get(k)}
        changes = ", ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in sorted(diff.items()))
        raise SearchError(f"study {name!r} in {display_url(storage)} was run with other settings "
                          f"({changes}); re-run with the same "
                          f"settings to resume it, or choose another --study")
    return StudyHandle(study, name, storage, artifacts, backend)


def load_study(name: str, storage: str | None = None, runs_dir: str | Path = "runs") -> StudyHandle:
    """An existing study for ``top`` / ``show`` / ``export``; a clear error when there is none."""
    url, artifacts = study_storage(name, storage, runs_dir)
    if storage is None and not (artifacts / DB_NAME).is_file():
        found = sorted(p.parent.name for p in Path(runs_dir).glob(f"*/{DB_NAME}"))
        hint = f"; studies in {runs_dir}/: {', '.join(found)}" if found else f"; {runs_dir}/ holds no study"
        raise SearchError(f"no study {name!r}: {artifacts / DB_NAME} does not exist{hint}")
    rdb = connect_storage(url)
    try:
        study = optuna.load_study(study_name=name, storage=rdb)
    except KeyError:
        names = optuna.get_all_study_names(storage=rdb)
        raise SearchError(f"no study {name!r} in {display_url(url)}; "
                          f"it holds: {', '.join(names) or 'none'}") from None
    except (optuna.exceptions.StorageInternalError, ValueError, OSError) as exc:
        raise _storage_error(url, exc) from None
    saved = study.user_attrs.get("artifacts")
    # a SQLite study's artifacts sit beside its file (the runs folder may have moved); a URL's were recorded
    return StudyHandle(study, name, url, Path(saved) if storage and saved else artifacts, rdb)
