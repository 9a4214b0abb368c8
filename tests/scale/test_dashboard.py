"""The study DB opens in optuna-dashboard unchanged (issue 7): its own WSGI app serves our study."""

from __future__ import annotations

import io
import json
from wsgiref.util import setup_testing_defaults

import pytest

from search.loop.driver import run_search
from search.study.settings import RunSettings
from search.study.storage import study_storage


def _get(app, path: str) -> tuple[str, bytes]:
    environ: dict = {}
    setup_testing_defaults(environ)
    environ.update(PATH_INFO=path, REQUEST_METHOD="GET", QUERY_STRING="", **{"wsgi.input": io.BytesIO()})
    status: list[str] = []
    body = b"".join(app(environ, lambda s, headers, exc=None: status.append(s)))
    return status[0], body


def test_optuna_dashboard_serves_a_search_study(shared_data, tmp_path):
    dashboard = pytest.importorskip("optuna_dashboard", reason="optuna-dashboard is in the dev extra")
    settings = RunSettings(device="pixel3", spaces=("nb201",), evaluator="tabular", trials=4, generation=2,
                           population=4, workers=1, latency_ms=20.0, predictor_rows=300,
                           accuracy_table=str(shared_data / "nb201_accuracy.csv"),
                           runs_dir=str(tmp_path / "runs"), study="dash")
    run_search(settings)
    url, _ = study_storage("dash", None, settings.runs_dir)
    app = dashboard.wsgi(url)
    status, body = _get(app, "/api/studies")
    assert status.startswith("200")
    (summary,) = [s for s in json.loads(body)["study_summaries"] if s["study_name"] == "dash"]
    assert summary["directions"] == ["maximize", "minimize"]
    status, body = _get(app, f"/api/studies/{summary['study_id']}")
    detail = json.loads(body)
    assert status.startswith("200") and len(detail["trials"]) >= 4
    assert any(t["state"] == "Complete" and t["values"] for t in detail["trials"])
