"""``python -m search report``: one self-contained HTML page (PNG plots inlined) and a Markdown summary.

Plots: the Pareto front (validation accuracy vs predicted latency bound, budget
line, shipped models marked), predicted vs measured latency of the finalized
models, accuracy over trials, and training time per trial. Everything is read
from the study DB and the finalized model cards; nothing is recomputed.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

from search.study.pareto import completed, pareto_front
from search.study.record import TrialRecord, TrialStatus
from search.study.storage import StudyHandle

__all__ = ["write_report"]


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


def _cards(handle: StudyHandle) -> list[dict[str, Any]]:
    cards = []
    for folder in (handle.study.user_attrs.get("final") or {}).get("cards", {}).values():
        path = handle.artifacts / folder / "model_card.json"
        if path.is_file():
            cards.append(json.loads(path.read_text()))
    return cards


def _pareto_plot(handle: StudyHandle, cards: list[dict]) -> bytes:
    plt, fig, ax = _figure()
    trials = handle.study.get_trials(deepcopy=False)
    pruned = [r for r in map(TrialRecord.of, trials) if r.status is TrialStatus.PRUNED]
    done = completed(handle.study)
    front = pareto_front(handle.study)
    if pruned:
        ax.scatter([r.predicted_upper_ms for r in pruned], [r.val_accuracy * 100 for r in pruned],
                   s=12, c="0.75", label="stopped early (accuracy at its last rung)")
    if done:
        ax.scatter([t.values[1] for t in done], [t.values[0] * 100 for t in done], s=18, c="tab:blue",
                   label="trained fully")
    if front:
        ax.plot([t.values[1] for t in front], [t.values[0] * 100 for t in front], "-o", c="tab:orange", ms=4,
                label="Pareto front")
    for card in cards:
        shipped = card["variants"][card["shipped"]]
        ax.scatter([shipped["p50_ms"]], [shipped["test_accuracy"] * 100], marker="*", s=160, c="tab:red",
                   zorder=5, label=f"shipped: trial {card['trial']} ({card['shipped']}, measured, test)")
    budget = handle.settings.get("budget_ms")
    if budget:
        ax.axvline(budget, ls="--", c="k", lw=1, label=f"budget {budget:.3g} ms")
    ax.set_xlabel("latency (ms): predicted upper bound; stars: measured p50")
    ax.set_ylabel("accuracy (%)")
    ax.set_title("Accuracy vs latency")
    ax.legend(fontsize=7, loc="lower right")
    return _png(plt, fig)


def _predicted_vs_measured_plot(cards: list[dict]) -> bytes:
    plt, fig, ax = _figure()
    pairs = [(c["measured_vs_predicted"]["measured_p50_ms"], c["measured_vs_predicted"]["predicted_p50_ms"],
              c["trial"]) for c in cards if c["measured_vs_predicted"].get("predicted_p50_ms")]
    if pairs:
        measured, predicted, names = zip(*pairs)
        ax.scatter(measured, predicted, c="tab:blue")
        for m, p, n in pairs:
            ax.annotate(f"trial {n}", (m, p), fontsize=7)
        lo, hi = min(measured + predicted) * 0.8, max(measured + predicted) * 1.2
        ax.plot([lo, hi], [lo, hi], "k-", lw=1, label="exact")
        ax.fill_between([lo, hi], [lo * 0.9, hi * 0.9], [lo * 1.1, hi * 1.1], color="0.9", label="±10%")
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "no measured models yet: run python -m search finalize", ha="center",
                transform=ax.transAxes)
    ax.set_xlabel("measured p50 (ms, fp32)")
    ax.set_ylabel("predicted p50 (ms)")
    ax.set_title("Predicted vs measured latency (finalized models)")
    return _png(plt, fig)


def _over_trials_plot(handle: StudyHandle, key: str, ylabel: str, title: str, scale: float) -> bytes:
    plt, fig, ax = _figure()
    trials = [(t.number, TrialRecord.of(t)) for t in handle.study.get_trials(deepcopy=False)]
    trials = [(n, r) for n, r in trials if getattr(r, key) is not None]
    colors = {TrialStatus.COMPLETE: "tab:blue", TrialStatus.PRUNED: "0.6", TrialStatus.FAILED: "tab:red"}
    for status, color in colors.items():
        pts = [(n, getattr(r, key) * scale) for n, r in trials if r.status is status]
        if pts:
            ax.scatter(*zip(*pts), s=14, c=color, label=status.value)
    if key == "val_accuracy":
        best, run = -1.0, []
        for n, r in sorted((n, r) for n, r in trials if r.status is TrialStatus.COMPLETE):
            best = max(best, getattr(r, key) * scale)
            run.append((n, best))
        if run:
            ax.step(*zip(*run), where="post", c="tab:orange", label="best fully trained")
    ax.set_xlabel("trial")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if trials:
        ax.legend(fontsize=8)
    return _png(plt, fig)


def _summary(handle: StudyHandle, cards: list[dict]) -> str:
    trials = handle.study.get_trials(deepcopy=False)
    count = {}
    for t in trials:
        status = TrialRecord.of(t).status
        name = "unknown" if status is None else status.value
        count[name] = count.get(name, 0) + 1
    s = handle.settings
    lines = [f"# Study {handle.name}", "",
             f"- device `{s.get('device')}`, spaces {', '.join(s.get('spaces') or [])}, "
             f"dataset {s.get('dataset')}, "
             f"budget {s.get('budget_ms')} ms, sampler {s.get('sampler')}, seed {s.get('seed')}",
             "- trials: " + ", ".join(f"{v} {k}" for k, v in sorted(count.items())), "",
             "## Pareto front (validation accuracy vs predicted latency upper bound)", "",
             "| trial | space | val acc | predicted p50 ms | upper ms | arch |", "|---|---|---|---|---|---|"]
    for t in pareto_front(handle.study):
        r = TrialRecord.of(t)
        lines.append(f"| {t.number} | {r.space} | {t.values[0] * 100:.2f}% | {r.predicted_p50_ms or 0:.4g} | "
                     f"{t.values[1]:.4g} | `{r.arch_str}` |")
    if cards:
        lines += ["", "## Shipped models (measured)", "",
                  "| trial | variant | test acc | measured p50 ms | card |", "|---|---|---|---|---|"]
        for c in cards:
            v = c["variants"][c["shipped"]]
            lines.append(f"| {c['trial']} | {c['shipped']} | {v['test_accuracy'] * 100:.2f}% | "
                         f"{v['p50_ms']:.4g} | final/trial-{c['trial']:05d}/MODEL_CARD.md |")
    return "\n".join(lines) + "\n"


def write_report(handle: StudyHandle, out: str | Path | None = None) -> dict[str, str]:
    """Write ``report.html`` and ``summary.md`` into ``out`` (default ``runs/<study>/report``)."""
    out = Path(out) if out else handle.artifacts / "report"
    out.mkdir(parents=True, exist_ok=True)
    cards = _cards(handle)
    plots = {
        "Pareto front": _pareto_plot(handle, cards),
        "Predicted vs measured latency": _predicted_vs_measured_plot(cards),
        "Accuracy over trials": _over_trials_plot(handle, "val_accuracy", "validation accuracy (%)",
                                                  "Accuracy over trials", 100.0),
        "Time per trial": _over_trials_plot(handle, "train_seconds", "training seconds", "Time per trial",
                                            1.0),
    }
    summary = _summary(handle, cards)
    (out / "summary.md").write_text(summary)
    body = [f"<h1>Study {html.escape(handle.name)}</h1>", "<pre>" + html.escape(summary) + "</pre>"]
    for title, png in plots.items():
        (out / (title.lower().replace(" ", "_") + ".png")).write_bytes(png)
        body.append(f"<h2>{html.escape(title)}</h2><img alt='{html.escape(title)}' "
                    f"src='data:image/png;base64,{base64.b64encode(png).decode()}'>")
    page = ("<!doctype html><html><head><meta charset='utf-8'><title>" + html.escape(handle.name)
            + "</title><style>body{font-family:sans-serif;max-width:960px;margin:auto}img{max-width:100%}"
              "</style></head><body>" + "\n".join(body) + "</body></html>\n")
    (out / "report.html").write_text(page)
    return {"html": str(out / "report.html"), "summary": str(out / "summary.md")}
