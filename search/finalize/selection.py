"""Which variant ships: a pure choice over measured figures, and the profile rows those figures make."""

from __future__ import annotations

from typing import Any

from hwprofiles.profile import Measurement

__all__ = ["choose_variant", "variant_measurements", "FLOAT_VARIANTS", "INT8_VARIANTS", "RESHAPED_VARIANTS",
           "DECISION_RULE"]

FLOAT_VARIANTS = ("fp32", "distilled")
INT8_VARIANTS = ("int8", "int8-qat")
RESHAPED_VARIANTS = ("pruned", "lowrank")  # passes that change the graph the architecture string describes


#: the rule ``choose_variant`` applies, as the card states it
DECISION_RULE = ("the fastest variant (measured p50 at batch 1, within the budget where one is) whose "
                 "validation accuracy is within the tolerance of the most accurate variant's; the test "
                 "split is evaluated once per variant after this choice")


def choose_variant(rows: dict[str, dict], tolerance: float, budget_ms: float) -> tuple[str, dict[str, str]]:
    """The fastest variant within ``tolerance`` of the best validation accuracy; reasons for the others.
    It reads no test figure: the test split is evaluated after the choice."""
    best = max(r["val_accuracy"] for r in rows.values())
    good = {n: r for n, r in rows.items() if r["val_accuracy"] >= best - tolerance}
    reasons = {n: f"validation accuracy {r['val_accuracy'] * 100:.2f}% is more than {tolerance * 100:g} "
                  f"point(s) below the best ({best * 100:.2f}%)" for n, r in rows.items() if n not in good}
    # float variants of one architecture run the same graph: their timings differ by noise only, so the
    # more accurate one stands for them (the later one, distilled, on a tie)
    floats = [n for n in good if n in FLOAT_VARIANTS]
    if len(floats) > 1:
        keep = max(floats, key=lambda n: (good[n]["val_accuracy"], FLOAT_VARIANTS.index(n)))
        for n in floats:
            if n != keep:
                reasons[n] = (f"the same graph as {keep}, which is as or more accurate on validation "
                              f"({good[keep]['val_accuracy'] * 100:.2f}% "
                              f"vs {good[n]['val_accuracy'] * 100:.2f}%)")
                del good[n]
    within = {n: r for n, r in good.items() if r["p50_ms"] <= budget_ms} or good
    shipped = min(within, key=lambda n: within[n]["p50_ms"])
    for n, r in good.items():
        if n != shipped:
            reasons[n] = (f"measured p50 {r['p50_ms']:.4g} ms is slower than "
                          f"{shipped}'s {rows[shipped]['p50_ms']:.4g} ms")
    return shipped, reasons


def variant_measurements(space: str, arch_str: str, shape: tuple[int, ...],
                         figures: dict[str, dict[str, Any]]) -> list[Measurement]:
    """Profile rows of one architecture's measured variants (p50/p90/p99, and runs, memory, size where known).

    Pruned and low-rank variants are left out: their graph is not the one the architecture string describes.
    """
    rows: dict[str, Measurement] = {}
    for name, r in figures.items():
        if name in RESHAPED_VARIANTS:
            continue
        precision = "int8" if name in INT8_VARIANTS else "fp32"
        # distilled and fp32 share an architecture: one float row is enough for the predictor
        rows[precision] = Measurement(space, arch_str, "x".join(map(str, shape)), precision, 1, r["p50_ms"],
                                      None, r["p50_ms"], r["p90_ms"], r["p99_ms"], None, r.get("runs"),
                                      r.get("peak_memory_bytes"), r.get("file_bytes"))
    return list(rows.values())
