"""Progress bars for long library calls that report ``(phase, done, total)``."""

from __future__ import annotations

import sys

from tqdm import tqdm

__all__ = ["PhaseBars"]


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
