"""Progress bars for long library calls that report ``(phase, done, total)``."""

from __future__ import annotations

import sys

from tqdm import tqdm

__all__ = ["PhaseBars", "SearchBar"]


class PhaseBars:
    """One tqdm bar per phase name, with ETA; use as the library's ``progress`` callback."""

    def __init__(self, file=None):
        self.file = file or sys.stderr
        self.bars: dict[str, tqdm] = {}

    def __call__(self, phase: str, done: int, total: int) -> None:
        bar = self.bars.get(phase)
        if bar is None:
            bar = self.bars[phase] = tqdm(total=total, desc=phase, file=self.file, dynamic_ncols=True,
                                          initial=done)
        bar.total = total
        bar.update(done - bar.n)

    def __enter__(self) -> PhaseBars:
        return self

    def __exit__(self, *exc) -> None:
        for bar in self.bars.values():
            bar.close()


class SearchBar:
    """The search's live bar: trials evaluated / requested with ETA, feasible share, best within budget."""

    def __init__(self, file=None):
        self.file = file or sys.stderr
        self.bar: tqdm | None = None

    def __call__(self, status) -> None:  # status: search.driver.SearchStatus
        if self.bar is None:
            self.bar = tqdm(total=status.total, initial=status.evaluated, desc="trials", unit="trial",
                            file=self.file, dynamic_ncols=True)
        self.bar.total = status.total
        self.bar.update(status.evaluated - self.bar.n)
        best = "-" if status.best_accuracy is None else (
            f"{status.best_accuracy * 100:.1f}% at <= {status.best_latency_ms:.3g} ms")
        self.bar.set_postfix_str(f"feasible {status.feasible}/{status.proposed} proposed, best {best}")

    def __enter__(self) -> SearchBar:
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.close()
