"""The commands that read a finished (or running) study: ``top``, ``show``, ``report``, ``export``."""

from __future__ import annotations

import argparse
import json

from search.cli.argtypes import positive_float, positive_int
from search.study.record import TrialRecord

__all__ = ["STUDY_COMMANDS", "add_study_args"]


def add_study_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--study", required=True, help="study name (python -m search run prints it)")
    p.add_argument("--storage", help="SQLAlchemy URL (default: SQLite in RUNS_DIR/STUDY/study.db)")
    p.add_argument("--runs-dir", default="runs")


def _add_top_args(p: argparse.ArgumentParser) -> None:
    add_study_args(p)
    p.add_argument("-k", type=positive_int, default=5, help="how many models of the front (default 5)")
    p.add_argument("--max-latency-ms", type=positive_float,
                   help="only models whose predicted upper bound is within this")
    p.add_argument("--json", action="store_true")


def _cmd_top(args: argparse.Namespace) -> int:
    from search.study.pareto import pareto_front
    from search.study.storage import load_study

    handle = load_study(args.study, args.storage, args.runs_dir)
    front = pareto_front(handle.study, args.max_latency_ms)[:args.k]
    records = [(t, TrialRecord.of(t)) for t in front]
    rows = [{"trial": t.number, "space": r.space, "val_accuracy": t.values[0],
             "predicted_p50_ms": r.predicted_p50_ms, "predicted_upper_ms": t.values[1],
             "measured_p50_ms": r.measured_p50_ms, "params": r.n_params, "flops": r.flops,
             "epochs": r.epochs, "arch_str": r.arch_str} for t, r in records]
    if args.json:
        print(json.dumps(rows))
        return 0
    if not rows:
        print(f"study {args.study}: no completed trial" + (f" within {args.max_latency_ms:g} ms"
                                                           if args.max_latency_ms else ""))
        return 0
    budget = handle.settings.get("budget_ms")
    print(f"study {args.study}: Pareto front (validation accuracy vs predicted latency), budget "
          f"{'-' if budget is None else f'{budget:.4g} ms'}")
    print(f"{'trial':>5}  {'space':<10} {'val acc':>8} {'p50 ms':>8} {'upper ms':>9} {'timed ms':>9} "
          f"{'params':>9} {'MFLOPs':>8}  arch")
    for r in rows:
        # on this host, if screened so
        timed = "-" if r["measured_p50_ms"] is None else f"{r['measured_p50_ms']:.4g}"
        print(f"{r['trial']:>5}  {r['space']:<10} {r['val_accuracy'] * 100:>7.2f}% "
              f"{r['predicted_p50_ms']:>8.4g} {r['predicted_upper_ms']:>9.4g} {timed:>9} {r['params']:>9,} "
              f"{r['flops'] / 1e6:>8.2f}  {r['arch_str']}")
    return 0


def _add_show_args(p: argparse.ArgumentParser) -> None:
    add_study_args(p)
    p.add_argument("--trial", type=int, required=True)
    p.add_argument("--json", action="store_true")


def _cmd_show(args: argparse.Namespace) -> int:
    from search.study.retrieve import find_trial
    from search.study.storage import load_study

    handle = load_study(args.study, args.storage, args.runs_dir)
    t = find_trial(handle, args.trial)
    record = {"trial": t.number, "state": t.state.name, "values": t.values, "params": t.params,
              **TrialRecord.of(t).attrs}
    if args.json:
        print(json.dumps(record, default=str))
        return 0
    for key, value in record.items():
        if key in ("params", "config"):
            value = json.dumps(value, default=str)
        elif isinstance(value, float):
            value = f"{value:.6g}"
        print(f"{key:>20}: {value}")
    return 0


def _add_report_args(p: argparse.ArgumentParser) -> None:
    add_study_args(p)
    p.add_argument("--out",
                   help="folder for report.html, summary.md and the PNGs (default runs/STUDY/report)")


def _cmd_report(args: argparse.Namespace) -> int:
    from search.report.writer import write_report
    from search.study.storage import load_study

    files = write_report(load_study(args.study, args.storage, args.runs_dir), args.out)
    print(f"report: {files['html']}\nsummary: {files['summary']}")
    return 0


def _add_export_args(p: argparse.ArgumentParser) -> None:
    add_study_args(p)
    p.add_argument("--trial", type=int, required=True)
    p.add_argument("--out", required=True, help="folder for config.json, trial.json, weights.pt, model.onnx")


def _cmd_export(args: argparse.Namespace) -> int:
    from search.study.retrieve import export_trial
    from search.study.storage import load_study

    files = export_trial(load_study(args.study, args.storage, args.runs_dir), args.trial, args.out)
    for key, value in files.items():
        print(f"{key}: {value}")
    return 0


STUDY_COMMANDS = {
    "top": ("the Pareto front of a study", _add_top_args, _cmd_top),
    "report": ("an HTML report with plots (Pareto front, predicted vs measured, progress) "
               "and a Markdown summary",
               _add_report_args, _cmd_report),
    "show": ("everything a study recorded about one trial", _add_show_args, _cmd_show),
    "export": ("rebuild a trial's model with its weights, as weights.pt and model.onnx (raw uint8 pixels in)",
               _add_export_args, _cmd_export),
}
