"""``python -m search report``: a page to open (``report.html``, one self-contained file: the interactive
Pareto front's script and every picture inlined) and a Markdown summary (``summary.md``, with PNGs beside it).

Everything is read from the study DB and the finalized model cards; nothing is
recomputed. A plot with nothing to show is left out, with one line saying why.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Callable
from pathlib import Path

from search.study.storage import StudyHandle

from .document import Block, Heading, Image, Interactive, Paragraph, to_html, to_markdown
from .interactive import pareto_chart
from .plots import Omitted, accuracy_png, pareto_png, predicted_vs_measured_png, time_png
from .sections import front_table, overview, shipped_models
from .view import StudyView, read_view

__all__ = ["write_report"]

#: the still plots after the front: title, file, how to draw it
PLOTS: tuple[tuple[str, str, Callable[[StudyView], bytes | Omitted]], ...] = (
    ("Predicted vs measured latency", "predicted_vs_measured_latency.png", predicted_vs_measured_png),
    ("Accuracy over trials", "accuracy_over_trials.png", accuracy_png),
    ("Time per trial", "time_per_trial.png", time_png),
)
PARETO_PNG = "pareto_front.png"

STYLE = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
p,li{line-height:1.45}
table{border-collapse:collapse;margin:1em 0;font-size:.9em;display:block;overflow-x:auto}
th,td{border:1px solid #ddd;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f3f3f3}tr:nth-child(even) td{background:#fafafa}.num{text-align:right}
code{font-family:ui-monospace,monospace;font-size:.92em}td:last-child code{word-break:break-all}
figure{margin:1em 0}img{max-width:100%}
"""


def _image(title: str, file: str, png: bytes, out: Path) -> Image:
    (out / file).write_bytes(png)
    return Image(title, file, "data:image/png;base64," + base64.b64encode(png).decode())


def _left_out(title: str, file: str, omitted: Omitted, out: Path) -> Paragraph:
    (out / file).unlink(missing_ok=True)  # an earlier report's picture would no longer be true
    return Paragraph(f"{title}: left out, {omitted.reason}.")


def _front(view: StudyView, out: Path) -> list[Block]:
    blocks: list[Block] = [Heading(2, "Pareto front")]
    png = pareto_png(view)
    if isinstance(png, Omitted):
        blocks.append(_left_out("The accuracy vs latency plot", PARETO_PNG, png, out))
    else:
        blocks.append(Interactive(pareto_chart(view), _image("Pareto front", PARETO_PNG, png, out)))
    return blocks + front_table(view)


def _plots(view: StudyView, out: Path) -> list[Block]:
    blocks: list[Block] = []
    for title, file, draw in PLOTS:
        png = draw(view)
        if isinstance(png, Omitted):
            blocks.append(_left_out(title, file, png, out))
        else:
            blocks += [Heading(2, title), _image(title, file, png, out)]
    return blocks


def write_report(handle: StudyHandle, out: str | Path | None = None) -> dict[str, str]:
    """Write ``report.html`` and ``summary.md`` into ``out`` (default ``runs/<study>/report``)."""
    out = Path(out) if out else handle.artifacts / "report"
    out.mkdir(parents=True, exist_ok=True)
    view = read_view(handle)
    blocks = [*overview(view), *shipped_models(view, out), *_front(view, out), *_plots(view, out)]
    (out / "summary.md").write_text(to_markdown(blocks))
    page = ("<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>Study {html.escape(handle.name)}</title><style>{STYLE}</style></head><body>\n"
            + to_html(blocks) + "\n</body></html>\n")
    (out / "report.html").write_text(page)
    return {"html": str(out / "report.html"), "summary": str(out / "summary.md")}
