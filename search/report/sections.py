"""The report's text: the study at a glance, the shipped models and the Pareto front, one row per
architecture. Blocks (``search.report.document``), so the Markdown and the page say the same."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

from .document import Block, Bullets, Code, Heading, Link, Paragraph, Table
from .view import StudyView

__all__ = ["overview", "shipped_models", "front_table"]


def _pct(x: float | None) -> str:
    return "" if x is None else f"{x * 100:.2f}%"


def _ms(x: float | None) -> str:
    return "" if x is None else f"{x:.4g}"


def overview(view: StudyView) -> list[Block]:
    s = view.settings
    budget = s.get("budget_ms")
    evaluations, distinct = view.evaluated()
    counts = view.count_by_status()
    duplicates = counts.get("duplicate", 0)
    items = [
        ["device ", Code(str(s.get("device"))), ", budget ",
         f"{budget:.4g} ms" if budget else "none",
         f" (a candidate's predicted latency upper bound, at {s.get('coverage', 0.9):.0%} coverage, must be "
         "within it)" if budget else ""],
        ["spaces ", ", ".join(s.get("spaces") or []), ", dataset ", str(s.get("dataset")), ", evaluator ",
         str(s.get("evaluator")), f" ({s.get('epochs')} epochs)" if s.get("evaluator") == "training" else "",
         ", sampler ", str(s.get("sampler")), ", seed ", str(s.get("seed"))],
        "trials: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())),
        f"{evaluations} evaluations of {distinct} distinct architectures"
        + (f"; {duplicates} proposals repeated an architecture already evaluated and were told its result "
           "(pruned, where it was still training) instead of being evaluated again" if duplicates else ""),
    ]
    return [Heading(1, f"Study {view.name}"), Bullets(items)]


def _card_links(folder: Path, out: Path) -> list[str | Link]:
    try:
        rel = quote(Path(os.path.relpath(folder, out)).as_posix())
    except ValueError:  # another drive (Windows): no relative path
        rel = folder.resolve().as_uri()
    return [Link("MODEL_CARD.md", f"{rel}/MODEL_CARD.md"), " · ",
            Link("model_card.json", f"{rel}/model_card.json")]


def _runtime(card: dict) -> str:
    m = (card.get("device") or {}).get("measurement") or {}
    if not m:
        return str((card.get("device") or {}).get("runtime", ""))
    return (f"{m['runtime']} {m.get('runtime_version', '')}, {m.get('threads')} thread(s), "
            f"batch {m.get('batch')}")


def shipped_models(view: StudyView, out: Path) -> list[Block]:
    blocks: list[Block] = [Heading(2, "Shipped models (measured)")]
    if not view.shipped and view.tabular:
        return blocks + [Paragraph("None: a tabular study looks accuracy up and trains no model to ship.")]
    if not view.shipped:
        return blocks + [Paragraph(["No model has been finalized yet: ",
                                    Code(f"python -m search finalize --study {view.name}"), "."])]
    rows = []
    for model in view.shipped:
        v, card = model.variant, model.card
        rows.append([str(card["trial"]), Code(card["shipped"]), _pct(v.get("val_accuracy")),
                     _pct(v.get("test_accuracy")), _ms(v.get("p50_ms")),
                     _ms((card.get("measured_vs_predicted") or {}).get("predicted_p50_ms")), _runtime(card),
                     _card_links(model.folder, out)])
    return blocks + [
        Table(["trial", "variant", "val acc", "test acc", "measured p50 ms", "predicted p50 ms",
               "measured with", "model card"], rows,
              numeric=[True, False, True, True, True, True, False, False]),
        Paragraph("Each model was chosen on validation accuracy; its test accuracy was measured once, after "
                  "the choice. Latency is measured on the device's runtime, preprocessing included.")]


def front_table(view: StudyView) -> list[Block]:
    if not view.front:
        return [Paragraph("No architecture has been trained fully yet, so there is no front to list.")]
    tabular = any(p.test_accuracy is not None for p in view.front)
    rows = [[str(p.trial), str(p.trials), p.space, _pct(p.val_accuracy),
             *([_pct(p.test_accuracy)] if tabular else []), _ms(p.predicted_p50_ms), _ms(p.upper_ms),
             Code(p.arch)] for p in view.front]
    headers = ["trial", "trials", "space", "val acc", *(["test acc"] if tabular else []), "predicted p50 ms",
               "upper bound ms", "architecture"]
    return [Paragraph("One row per architecture, fastest first: its best trial, and how many trials "
                      "proposed it."),
            Table(headers, rows, numeric=[True, True, False, True, *([True] if tabular else []), True, True,
                                          False])]
