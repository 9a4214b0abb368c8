"""The model choices of the shipped profiles' predictors, shipped beside the profiles.

Most of a predictor's fit is cross-validating the candidates to choose one. A choice is data keyed by a
hash of the rows and of the predictors' code version (``predictors.cache``), never a pickle, so the
choices made for the published profiles ship with the package: on a fresh machine ``run --device
gold_6226`` and the few-shot transfer's sources only refit the chosen model.

After the predictors' code version changes (the test of this module then fails), write them again:
``python -m search.screening.shipped_choices`` (``--check`` only lists what is missing or stale).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from dataclasses import dataclass

from hwprofiles.profile import Profile, load_profile
from hwprofiles.store import SHIPPED_CHOICES_DIR, SHIPPED_DIR
from predictors import clear_cache, predictor_for_rows
from predictors.cache import choice_file_name, fit_key, read_choice
from spaces import create_space

from .fitting import SOURCE_ROWS_CAP, fit_rows

__all__ = ["ShippedFit", "shipped_fits", "stale_fits", "write_choices"]

COVERAGE, SEED = 0.9, 0  # what run, finalize and the few-shot sources fit with by default
# (predictor_for_profile's coverage and subset seed, predictor_for_rows' random state)


@dataclass(frozen=True)
class ShippedFit:
    """One predictor fit that a shipped choice spares: a profile's space at a precision, on all its rows
    (what ``run --device D`` screens with) or on the seeded subset a few-shot source is fitted on."""

    profile: Profile
    space: str
    precision: str
    max_rows: int | None

    @property
    def rows(self) -> list:
        return fit_rows(self.profile, self.space, self.precision, self.max_rows, SEED)

    @property
    def key(self) -> str:
        return fit_key(self.rows, self.space, self.precision, coverage=COVERAGE, random_state=SEED)

    @property
    def file_name(self) -> str:
        return choice_file_name(self.space, self.precision, self.key)

    def describe(self) -> str:
        rows = "all rows" if self.max_rows is None else f"{self.max_rows} rows"
        return f"{self.profile.name}/{self.space}/{self.precision} ({rows})"


def shipped_fits() -> Iterator[ShippedFit]:
    for folder in sorted(SHIPPED_DIR.iterdir()):
        if not (folder / "device.json").is_file():
            continue
        profile = load_profile(folder, check_arch=False)
        for space in profile.spaces:
            for precision in sorted({m.precision for m in profile.select(space=space)}):
                count = len(profile.select(space=space, precision=precision))
                for max_rows in (None, SOURCE_ROWS_CAP) if count > SOURCE_ROWS_CAP else (None,):
                    yield ShippedFit(profile, space, precision, max_rows)


def stale_fits() -> list[ShippedFit]:
    """The shipped fits whose choice is missing, of another code version or of other rows."""
    return [fit for fit in shipped_fits() if not _shipped(fit)]


def _shipped(fit: ShippedFit) -> bool:
    return read_choice(SHIPPED_CHOICES_DIR / fit.file_name, fit.key) is not None


def write_choices(progress=print) -> list[str]:
    """Choose (cross-validate) every stale fit, write its choice, and remove files no fit names."""
    SHIPPED_CHOICES_DIR.mkdir(parents=True, exist_ok=True)
    clear_cache()  # a fit already in memory would be returned without its choice being written
    fits = list(shipped_fits())
    stale = [fit for fit in fits if not _shipped(fit)]
    for done, fit in enumerate(stale):
        progress(f"choosing {fit.describe()} ({done + 1} of {len(stale)})")
        predictor_for_rows(fit.rows, create_space(fit.space), fit.precision, coverage=COVERAGE,
                           random_state=SEED, cache_dir=SHIPPED_CHOICES_DIR)
        if not _shipped(fit):
            raise OSError(f"the choice of {fit.describe()} was not written to {SHIPPED_CHOICES_DIR}")
    wanted = {fit.file_name for fit in fits}
    removed = sorted(p.name for p in SHIPPED_CHOICES_DIR.glob("*.json") if p.name not in wanted)
    for name in removed:
        (SHIPPED_CHOICES_DIR / name).unlink()
    return removed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m search.screening.shipped_choices", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only list the missing or stale choices")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_fits()
        for fit in stale:
            print(f"missing or stale: {fit.describe()}")
        return 1 if stale else 0
    for name in write_choices():
        print(f"removed {name}: no shipped fit names it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
