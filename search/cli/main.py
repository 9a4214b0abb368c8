"""Command line: ``python -m search COMMAND``.

Each command parses its arguments, calls one library function and prints.
A user mistake (any ``NasError``) becomes one line on stderr and exit code 2;
``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from hwprofiles.kit import import_csv, import_kit, make_kit
from hwprofiles.measure import ProfileRequest, profile_local
from hwprofiles.summary import describe_profiles
from search import __version__
from search.cli.argtypes import open_fraction, positive_int
from search.cli.catalog import describe_spaces, format_count
from search.cli.progress import PhaseBars, SearchBar
from search.cli.study_commands import STUDY_COMMANDS, add_study_args
from search.finalize.settings import FinalizeSettings
from search.study.settings import RunSettings
from spaces import NasError

__all__ = ["main", "build_parser"]

EXIT_USAGE = 2


def _cmd_spaces(args: argparse.Namespace) -> int:
    rows = describe_spaces()
    width = max(len(r.name) for r in rows)
    print(f"{'space':<{width}}  {'architectures':>13}  description")
    for r in rows:
        print(f"{r.name:<{width}}  {format_count(r.architectures):>13}  {r.description}")
    return 0


def _add_devices_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--accuracy", action="store_true",
                   help="compute the held-out predictor accuracy where it is not cached yet (minutes the first time)")


def _cmd_devices(args: argparse.Namespace) -> int:
    from search.screening.evaluation import held_out_accuracy

    rows = describe_profiles()
    header = ("device", "spaces", "measured", "runtime", "precision", "batch", "noise", "source",
              "held-out within ±10%")
    table = [header]
    missing = 0
    for r in rows:
        accuracy = "-"
        if r.measurements >= 10:
            profile = r.profile
            parts = []
            for space in r.spaces:
                precision = "fp32" if "fp32" in r.precisions else r.precisions[0]
                try:
                    value = held_out_accuracy(profile, space, precision, compute=args.accuracy)
                except NasError as exc:
                    logging.getLogger(__name__).info("no accuracy for %s/%s: %s", r.name, space, exc)
                    continue
                if value is None:
                    missing += 1
                else:
                    parts.append(f"{space} {value * 100:.0f}%")
            accuracy = ", ".join(parts) or "-"
        table.append((r.name, ",".join(r.spaces) or "-", str(r.measurements), r.runtime, ",".join(r.precisions),
                      str(r.batch), "-" if r.noise_floor_pct is None else f"{r.noise_floor_pct:.1f}%", r.source,
                      accuracy))
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    if missing:
        print(f"({missing} held-out accuracies not computed yet: python -m search devices --accuracy)")
    return 0


def _add_predictor_args(p: argparse.ArgumentParser) -> None:
    actions = p.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser, required=True)
    ev = actions.add_parser("eval", help="accuracy on held-out architectures, beside a FLOPs-linear baseline")
    ev.add_argument("--device", required=True)
    ev.add_argument("--space", help="space to evaluate (needed when the profile covers several)")
    ev.add_argument("--precision", default="fp32", choices=("fp32", "int8"))
    ev.add_argument("--train-size", type=positive_int, help="architectures to fit on (default: 75%%, at most 900)")
    ev.add_argument("--prior", choices=("auto",), help="few-shot: use the other profiles of the space as prior")
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--coverage", type=open_fraction, default=0.9, help="stated coverage of the upper bound")
    ev.add_argument("--plot", help="scatter plot PNG (default: runs/predictor-eval/DEVICE-SPACE-PRECISION.png)")
    ev.add_argument("--json", action="store_true", help="print the metrics as one JSON object")


def _pct(x: float) -> str:
    return f"{x * 100:5.1f}%"


def _cmd_predictor(args: argparse.Namespace) -> int:
    from search.screening.evaluation import evaluate_profile

    if not 0 < args.coverage < 1:
        raise NasError(f"--coverage must be in (0, 1), got {args.coverage}")
    result = evaluate_profile(args.device, args.space, args.precision, args.train_size, args.prior, args.seed,
                              args.coverage, Path(args.plot) if args.plot else None)
    if args.json:
        print(json.dumps(result, sort_keys=True))
        return 0
    noise = result["noise_floor_pct"]
    print(f"{result['device']} / {result['space']} / {result['precision']}: {result['n_train']} train, "
          f"{result['n_test']} held out; model: {result['model_choice']}; noise floor: "
          f"{'unknown (never timed twice)' if noise is None else f'{noise:.1f}% (p90 run-to-run spread)'}")
    print(f"{'':14}{'within±5%':>10}{'within±10%':>11}{'MAPE':>8}{'Spearman':>10}{'Kendall':>9}"
          f"{'upper covers':>14}")
    for label, key in (("predictor", "predictor"), ("FLOPs-linear", "flops_baseline")):
        m = result[key]
        cover = _pct(m["upper_coverage"]) if "upper_coverage" in m else "-"
        print(f"{label:14}{_pct(m['within5']):>10}{_pct(m['within10']):>11}{_pct(m['mape']):>8}"
              f"{m['spearman']:>10.3f}{m['kendall']:>9.3f}{cover:>14}")
    print(f"upper bound stated coverage {result['coverage_stated'] * 100:.0f}%; plot: {result['plot']}")
    return 0


def _add_profile_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", help="profile name to measure this host into (e.g. local, mybox)")
    p.add_argument("--space", action="append", dest="spaces", metavar="S",
                   help="search space to cover (repeatable; default mobile_cnn)")
    p.add_argument("--count", type=positive_int, default=20, help="architectures per space (default 20)")
    p.add_argument("--precision", default="fp32,int8", help="comma-separated: fp32,int8 (default both)")
    p.add_argument("--threads", type=positive_int, default=1, help="intra-op threads (default 1)")
    p.add_argument("--batch", type=positive_int, default=1)
    p.add_argument("--runtime", default="onnxruntime", help="onnxruntime (default) or torch")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=positive_int, default=2, help="export processes (default 2)")
    actions = p.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    kit = actions.add_parser("kit", help="write ONNX models + a standalone runner to measure a remote device")
    kit.add_argument("--space", action="append", dest="spaces", metavar="S", required=True)
    kit.add_argument("--count", type=positive_int, default=50)
    kit.add_argument("--out", required=True, help="empty folder to write the kit into")
    kit.add_argument("--precision", default="fp32")
    kit.add_argument("--batch", type=positive_int, default=1)
    kit.add_argument("--seed", type=int, default=0)
    kit.add_argument("--workers", type=positive_int, default=2)
    imp = actions.add_parser("import", help="store a measured kit folder, or a CSV of arch_str,latency_ms")
    imp.add_argument("path", help="kit folder, or FILE.csv with columns arch_str,latency_ms")
    imp.add_argument("--device", required=True)
    imp.add_argument("--space", help="for a CSV: the space of its architecture strings (nb201, fbnet, ...)")


def _comma_list(text: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in text.split(",") if p.strip())


def _cmd_profile(args: argparse.Namespace) -> int:
    if args.action == "import":
        path = Path(args.path)
        if path.is_dir():
            profile = import_kit(path, args.device)
        elif path.suffix == ".csv":
            if not args.space:
                raise NasError("importing a CSV needs --space (the space of its arch_str column)")
            profile = import_csv(path, args.device, args.space)
        else:
            raise NasError(f"{path}: neither a kit folder nor a .csv file")
        print(f"profile {profile.name}: {len(profile.measurements)} measurements in {profile.path}")
        return 0
    spaces = tuple(args.spaces or ("mobile_cnn",))
    if args.action == "kit":
        with PhaseBars() as bars:
            out = make_kit(spaces, args.count, args.out, _comma_list(args.precision), args.batch,
                           seed=args.seed, workers=args.workers, progress=bars)
        print(f"kit written to {out}; on the device run: python3 {out / 'run_kit.py'} --provider cpu")
        return 0
    if not args.device:
        raise NasError("profile needs --device NAME (or the 'kit' / 'import' action)")

    request = ProfileRequest(device=args.device, spaces=spaces, count=args.count,
                             precisions=_comma_list(args.precision), threads=args.threads, batch=args.batch,
                             runtime=args.runtime, seed=args.seed, workers=args.workers)
    with PhaseBars() as bars:
        profile = profile_local(request, progress=bars)
    first = [m for m in profile.measurements if m.repeat == 0]
    noise = profile.device.noise_floor_pct
    print(f"profile {profile.name}: {len(first)} measurements in {profile.path}; noise floor "
          f"{'-' if noise is None else f'{noise:.1f}%'} (p90 run-to-run spread)")
    return 0


def _add_run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="local", help="device profile (default: local, this machine, profiled on "
                                                     "first use)")
    p.add_argument("--space", default="mobile_cnn", help="search space(s), comma-separated (default mobile_cnn; "
                                                        "e.g. mobile_cnn,sparse_vit)")
    p.add_argument("--dataset", default="digits", help="digits (default, bundled), mnist, fashion_mnist, cifar10, "
                                                      "imagefolder")
    p.add_argument("--data-dir", help="folder of the dataset's files (all but digits)")
    p.add_argument("--evaluator", default="training", help="training (default) or tabular (nb201 only)")
    p.add_argument("--accuracy-table", help="NAS-Bench-201 accuracy CSV for --evaluator tabular")
    p.add_argument("--latency-ms", type=float, help="latency budget (default: the median measured latency of the "
                                                    "profile's architectures)")
    p.add_argument("--precision", default="fp32", help="precision the budget applies to: fp32 (default) or int8")
    p.add_argument("--coverage", type=float, default=0.9, help="coverage of the predicted upper bound (default 0.9)")
    p.add_argument("--trials", type=int, default=24, help="trials to evaluate (screened-out ones are extra; "
                                                          "default 24)")
    p.add_argument("--workers", type=int, default=max(1, min(8, os.cpu_count() or 1)),
                   help="evaluations at once, as Ray tasks (1: in this process; default: CPU count, at most 8)")
    p.add_argument("--ray-address", help="join this Ray cluster instead of starting a local one")
    p.add_argument("--epochs", type=int, default=10, help="training epochs of a trial that reaches the last rung "
                                                         "(default 10)")
    p.add_argument("--halving-rate", type=float, default=3.0, help="successive halving: keep the top 1/RATE of "
                                                                   "each rung (default 3)")
    p.add_argument("--no-halving", action="store_true", help="train every feasible trial for --epochs")
    p.add_argument("--generation", type=int, default=8, help="feasible candidates per generation (default 8)")
    p.add_argument("--sampler", default="nsga2", help="nsga2 (default), tpe, gp or random")
    p.add_argument("--population", type=int, default=20, help="NSGA-II population size; random startup trials of "
                                                              "tpe and gp (default 20)")
    p.add_argument("--optimizer", default="adamw", help="adamw (default) or sgd")
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--study", help="study name (default: derived from the settings)")
    p.add_argument("--storage", help="SQLAlchemy URL (default: SQLite in RUNS_DIR/STUDY/study.db)")
    p.add_argument("--runs-dir", default="runs", help="where studies and checkpoints live (default ./runs)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--profile-count", type=int, default=40, help="architectures to measure when the local device "
                                                                 "is profiled on first use (default 40)")
    p.add_argument("--predictor-rows", type=int, help="fit the screening predictor on at most this many of the "
                                                      "profile's rows (default all; fitting 15k rows takes ~30 s once)")
    p.add_argument("--no-candidate-timing", action="store_true",
                   help="local device: screen by prediction only, without timing each candidate on this host "
                        "before training it (the study then depends on the profile alone)")
    p.add_argument("--no-finalize", action="store_true", help="skip distillation and quantization of the winners")


def _cmd_run(args: argparse.Namespace) -> int:
    from search.loop.driver import run_search
    from search.study.storage import display_url

    settings = RunSettings(
        device=args.device, spaces=_comma_list(args.space), dataset=args.dataset, data_dir=args.data_dir,
        evaluator=args.evaluator, accuracy_table=args.accuracy_table, latency_ms=args.latency_ms,
        precision=args.precision, coverage=args.coverage, trials=args.trials, workers=args.workers,
        epochs=args.epochs, halving_rate=None if args.no_halving else args.halving_rate, generation=args.generation,
        population=args.population, sampler=args.sampler, optimizer=args.optimizer, lr=args.lr, batch_size=args.batch_size, seed=args.seed,
        study=args.study, storage=args.storage, runs_dir=args.runs_dir, ray_address=args.ray_address,
        profile_count=args.profile_count, predictor_rows=args.predictor_rows, finalize=not args.no_finalize,
        time_candidates=not args.no_candidate_timing)
    try:
        with PhaseBars() as bars, SearchBar() as bar:
            outcome = run_search(settings, bar, bars)
    except KeyboardInterrupt:
        print(f"interrupted: nothing finished is lost; run the same command again to resume study "
              f"{settings.study_name()!r}", file=sys.stderr)
        return 130
    print(f"study {outcome.study}: {outcome.evaluated} trials evaluated, {outcome.feasible} of {outcome.proposed} "
          f"proposed were predicted within the budget of {outcome.budget_ms:.4g} ms"
          + (f" and then measured within it on this host ({outcome.measured_out} more measured over it, untrained)"
             if outcome.timed else ""))
    print(f"  storage: {display_url(outcome.storage)}")
    best = outcome.best
    if best is None:
        print("  no trial completed its full training yet")
    else:
        test = best.get("test_accuracy")
        print(f"  best within budget: trial {best['trial']} ({best['space']}), validation "
              f"{best['val_accuracy'] * 100:.2f}%" + ("" if test is None else f", test {test * 100:.2f}%")
              + f", predicted {best['predicted_p50_ms']:.3g} ms (upper {best['predicted_upper_ms']:.3g} ms)")
        study = f"--study {outcome.study}" + (f" --storage {display_url(settings.storage)}" if settings.storage else "")
        print(f"  next: python -m search top {study}; python -m search export {study} --trial {best['trial']} "
              f"--out model/")
    if settings.finalize and best is not None and settings.evaluator == "training":
        return _finalize(FinalizeSettings(study=outcome.study, storage=settings.storage, runs_dir=settings.runs_dir,
                                          seed=settings.seed))
    return 0


def _add_finalize_args(p: argparse.ArgumentParser) -> None:
    add_study_args(p)
    p.add_argument("--top", type=positive_int, default=2, help="how many of the most accurate Pareto models (default 2)")
    p.add_argument("--teacher", default="auto", help="auto (the study's most accurate model, trained longer) or "
                                                    "timm:NAME[=CHECKPOINT]")
    p.add_argument("--epochs", type=positive_int, default=4, help="distillation epochs (and the teacher's extra ones)")
    p.add_argument("--compress", default="distill,quantize", help="comma-separated: distill, quantize, prune, lowrank (default distill,quantize)")
    p.add_argument("--calibration", default="minmax", help="int8 calibration: minmax, percentile or entropy")
    p.add_argument("--qat", default="auto", help="quantization-aware fine-tuning: auto (when int8 loses more than "
                                                "1 point), always, never")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--import-measurements", action="store_true",
                   help="read the results of the finalized models' device kits (remote devices) into their cards, "
                        "ship again on the device's latency, rewrite the ladder; finalizes nothing")


def _import_measurements(args: argparse.Namespace) -> int:
    from search.finalize.remote import import_device_measurements

    out = import_device_measurements(args.study, args.storage, args.runs_dir)
    for m in out["measured"]:
        print(f"  trial {m['trial']}: measured on the device; ships {m['shipped']}, p50 {m['device_p50_ms']:.4g} ms "
              f"-> {m['card']}")
    if out["waiting"]:
        print(f"  waiting for device results: trial(s) {', '.join(map(str, out['waiting']))} (run python3 run_kit.py "
              "in each trial's kit/ on the device, put results.csv back)")
    if out["profile"]:
        print(f"  device profile: {out['profile']['appended']} measurement(s) appended"
              + (f" to {out['profile']['path']}" if "path" in out["profile"] else f" ({out['profile']['why']})"))
    print(f"  fallback ladder: {out['ladder'] or 'unchanged until every finalized trial is measured on the device'}")
    return 0


def _finalize(settings) -> int:
    from search.finalize.pipeline import finalize_study

    with PhaseBars() as bars:
        out = finalize_study(settings, bars)
    print(f"finalized {len(out['models'])} model(s) of study {out['study']} in {out['final']} "
          f"(measured on {out['measured_on']})")
    for m in out["models"]:
        print(f"  trial {m.trial}: shipped {m.variant}, test {m.test_accuracy * 100:.2f}%, measured p50 "
              f"{m.p50_ms:.4g} ms -> {out['final']}/trial-{m.trial:05d}/MODEL_CARD.md")
    print(f"  fallback ladder: {out['ladder']}")
    return 0


def _cmd_finalize(args: argparse.Namespace) -> int:
    if args.import_measurements:
        return _import_measurements(args)
    if args.calibration not in ("minmax", "percentile", "entropy"):
        raise NasError(f"--calibration must be minmax, percentile or entropy, got {args.calibration!r}")
    return _finalize(FinalizeSettings(study=args.study, storage=args.storage, runs_dir=args.runs_dir, top=args.top,
                                      teacher=args.teacher, epochs=args.epochs, compress=_comma_list(args.compress),
                                      calibration=args.calibration, qat=args.qat, seed=args.seed))


COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]] = {
    "spaces": ("list the search spaces with the number of architectures each holds", lambda p: None, _cmd_spaces),
    "profile": ("measure this host (or build/import a kit for a remote device) into a profile",
                _add_profile_args, _cmd_profile),
    "devices": ("list the device profiles (shipped and measured) with predictor accuracy", _add_devices_args,
                _cmd_devices),
    "predictor": ("evaluate the latency predictor of a profile", _add_predictor_args, _cmd_predictor),
    "run": ("search: the most accurate architectures within a latency budget on a device", _add_run_args,
            _cmd_run),
    "finalize": ("distill, quantize, export and measure a study's winners; write model cards", _add_finalize_args,
                 _cmd_finalize),
    **STUDY_COMMANDS,
}


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on bad flags already; make the message one line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m search", description="Hardware-aware neural architecture search.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    parser.add_argument("-v", "--verbose", action="store_true", help="show info logs")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (help_text, add_args, _) in COMMANDS.items():
        add_args(sub.add_parser(name, help=help_text, description=help_text))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.DEBUG if args.debug else logging.INFO if args.verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    handler = COMMANDS[args.command][2]
    try:
        return handler(args)
    except NasError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
