"""``python -m search report`` on a real tabular study: one row per architecture, plots with nothing to
show left out, and a page a real browser renders (tables, the interactive Pareto front, its hover)."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from search.cli.main import main
from search.loop.driver import run_search
from search.report.view import read_view
from search.study.pareto import pareto_front
from search.study.settings import RunSettings
from search.study.storage import load_study

from ..browser import rendered_dom


@dataclass(frozen=True)
class Report:
    folder: Path
    repeated_arch: str  # an architecture of the front, evaluated three times
    front_arch: str  # the fastest architecture of the front
    trained: int  # architectures trained fully


@pytest.fixture(scope="module")
def report(shared_data, tmp_path_factory) -> Report:
    runs = tmp_path_factory.mktemp("report") / "runs"
    settings = RunSettings(device="pixel3", spaces=("nb201",), evaluator="tabular",
                           accuracy_table=str(shared_data / "nb201_accuracy.csv"), trials=6, generation=3,
                           population=6, workers=1, runs_dir=str(runs), predictor_rows=300, latency_ms=20.0,
                           repeat_architectures=True, study="tab")
    run_search(settings)
    handle = load_study("tab", None, runs)
    best = pareto_front(handle.study)[0]
    for _ in range(2):  # the same architecture twice more: a study that repeats one, as asked
        handle.study.enqueue_trial(best.params)
    run_search(replace(settings, trials=8))
    assert main(["report", "--study", "tab", "--runs-dir", str(runs)]) == 0
    view = read_view(load_study("tab", None, runs))
    return Report(runs / "tab" / "report", best.user_attrs["arch_str"], view.front[0].arch, len(view.trained))


def _front_rows(summary: str) -> list[list[str]]:
    """The Markdown front table's cells (escaped pipes kept inside their cell)."""
    section = summary.split("## Pareto front", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    return [[c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", row)[1:-1]] for row in rows[2:]]


def test_the_front_lists_each_architecture_once_with_how_many_trials_reached_it(report):
    rows = _front_rows((report.folder / "summary.md").read_text())
    archs = [row[-1].strip("`") for row in rows]
    assert archs and len(archs) == len(set(archs))
    (repeated,) = [row for row in rows if row[-1].strip("`") == report.repeated_arch]
    assert repeated[1] == "3"
    assert all(len(row) == 8 for row in rows)  # the architectures' own | did not split a cell


def test_plots_with_nothing_to_show_are_left_out_with_a_line_saying_why(report):
    summary = (report.folder / "summary.md").read_text()
    assert ("Time per trial: left out, no trial was trained: the tabular evaluator looks accuracy up."
            in summary)
    assert ("Predicted vs measured latency: left out, a tabular study trains no model to finalize and "
            "measure." in summary)
    assert not (report.folder / "time_per_trial.png").exists()
    assert "![Pareto front](pareto_front.png)" in summary and (report.folder / "pareto_front.png").is_file()
    assert "None: a tabular study looks accuracy up and trains no model to ship." in summary


HOVER_FRONT = """var gd = document.getElementById('pareto-front');
var i = gd.data.findIndex(function (t) { return t.name === 'Pareto front'; });
Plotly.Fx.hover(gd, [{curveNumber: i, pointNumber: 0}]);"""


def _text(dom: str) -> str:
    """What the page shows as text: scripts, styles and tags removed."""
    dom = re.sub(r"<(script|style)\b.*?</\1>", "", dom, flags=re.S)
    return re.sub(r"<[^>]+>", "\n", dom)


def test_the_page_renders_in_a_browser_with_tables_and_an_interactive_front(report):
    page = report.folder / "report.html"
    assert not re.search(r"""<(script|img|link)[^>]+(src|href)=["']?(https?:)?//""", page.read_text())
    dom = rendered_dom(page, HOVER_FRONT)
    chart = dom.split('id="pareto-front"', 1)[1]
    assert 'class="main-svg"' in chart  # drawn by the page's own script: the static file has no svg
    assert chart.count('class="point"') >= report.trained
    hover = chart.split('class="hoverlayer"', 1)[1].split("</g></g>", 1)[0]
    assert all(part in hover for part in report.front_arch.split("|") if part)
    assert dom.count("<table>") == 1 and "<th>architecture</th>" in dom and "<pre" not in dom
    text = _text(dom)
    assert "Study tab" in text and "Pareto front" in text
    assert not re.search(r"^\s*#|\|\s*---|\]\(|\*\*", text, flags=re.M), "raw Markdown in the page"
