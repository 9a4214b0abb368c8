"""The report's still pictures (PNG, for the Markdown summary and the page): each returns its PNG bytes, or
why there is nothing to draw."""

from __future__ import annotations

import io
from dataclasses import dataclass

from search.study.record import TrialStatus

from .view import StudyView

__all__ = ["Omitted", "pareto_png", "predicted_vs_measured_png", "accuracy_png", "time_png"]


@dataclass(frozen=True)
class Omitted:
    reason: str


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=110)
    return plt, fig, ax


def _png(plt, fig) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def pareto_png(view: StudyView) -> bytes | Omitted:
    if not view.trained and not view.stopped:
        return Omitted("no trial has finished a rung of training yet")
    plt, fig, ax = _figure()
    if view.stopped:
        ax.scatter([p.upper_ms for p in view.stopped], [p.val_accuracy * 100 for p in view.stopped], s=12,
                   c="0.75", label="stopped early (accuracy at its last rung)")
    if view.trained:
        ax.scatter([p.upper_ms for p in view.trained], [p.val_accuracy * 100 for p in view.trained], s=18,
                   c="tab:blue", label="trained fully")
    if view.front:
        ax.plot([p.upper_ms for p in view.front], [p.val_accuracy * 100 for p in view.front], "-o",
                c="tab:orange", ms=4, label="Pareto front")
    for model in view.shipped:
        ax.scatter([model.variant["p50_ms"]], [model.variant["test_accuracy"] * 100], marker="*", s=160,
                   c="tab:red", zorder=5,
                   label=f"shipped: trial {model.card['trial']} ({model.card['shipped']}, measured, test)")
    budget = view.settings.get("budget_ms")
    if budget:
        ax.axvline(budget, ls="--", c="k", lw=1, label=f"budget {budget:.3g} ms")
    ax.set_xlabel("latency (ms): predicted upper bound; stars: measured p50")
    ax.set_ylabel("accuracy (%)")
    ax.set_title("Accuracy vs latency, one point per architecture")
    ax.legend(fontsize=7, loc="lower right")
    return _png(plt, fig)


def predicted_vs_measured_png(view: StudyView) -> bytes | Omitted:
    compared = [(m.card["measured_vs_predicted"], m.card["trial"]) for m in view.shipped]
    pairs = [(c["measured_p50_ms"], c["predicted_p50_ms"], trial) for c, trial in compared
             if c.get("predicted_p50_ms")]
    if not pairs:
        if view.shipped:
            return Omitted("the finalized models were not screened by a predictor")
        return Omitted("a tabular study trains no model to finalize and measure" if view.tabular else
                       "no model has been finalized and measured yet: run python -m search finalize")
    plt, fig, ax = _figure()
    measured, predicted, _ = zip(*pairs)
    ax.scatter(measured, predicted, c="tab:blue", zorder=3)
    for m, p, n in pairs:
        ax.annotate(f"trial {n}", (m, p), fontsize=7)
    lo, hi = min(measured + predicted) * 0.8, max(measured + predicted) * 1.2
    ax.plot([lo, hi], [lo, hi], "k-", lw=1, label="exact")
    ax.fill_between([lo, hi], [lo * 0.9, hi * 0.9], [lo * 1.1, hi * 1.1], color="0.9", label="±10%")
    ax.legend(fontsize=8)
    ax.set_xlabel("measured p50 (ms, fp32)")
    ax.set_ylabel("predicted p50 (ms)")
    ax.set_title("Predicted vs measured latency (finalized models)")
    return _png(plt, fig)


COLORS = {TrialStatus.COMPLETE: "tab:blue", TrialStatus.PRUNED: "0.6", TrialStatus.FAILED: "tab:red"}


def _over_trials(view: StudyView, key: str, ylabel: str, title: str, scale: float) -> bytes:
    plt, fig, ax = _figure()
    points = [(n, r) for n, r in view.records if getattr(r, key) is not None and r.status in COLORS]
    for status, color in COLORS.items():
        pts = [(n, getattr(r, key) * scale) for n, r in points if r.status is status]
        if pts:
            ax.scatter(*zip(*pts), s=14, c=color, label=status.value)
    if key == "val_accuracy":
        best, run = -1.0, []
        for n, r in points:
            if r.status is TrialStatus.COMPLETE:
                best = max(best, r.val_accuracy * scale)
                run.append((n, best))
        if run:
            ax.step(*zip(*run), where="post", c="tab:orange", label="best fully trained")
    ax.set_xlabel("trial")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    return _png(plt, fig)


def accuracy_png(view: StudyView) -> bytes | Omitted:
    if not any(r.val_accuracy is not None and r.status in COLORS for _, r in view.records):
        return Omitted("no trial has a validation accuracy yet")
    return _over_trials(view, "val_accuracy", "validation accuracy (%)", "Accuracy over trials", 100.0)


def time_png(view: StudyView) -> bytes | Omitted:
    if not any((r.train_seconds or 0) > 0 and r.status in COLORS for _, r in view.records):
        return Omitted("no trial was trained: the tabular evaluator looks accuracy up"
                       if view.tabular else "no trial has been trained yet")
    return _over_trials(view, "train_seconds", "training seconds", "Time per trial", 1.0)
