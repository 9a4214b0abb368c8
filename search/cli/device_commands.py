"""``spaces``, ``devices``, ``predictor`` and ``profile``: what the tool knows and how devices are
measured."""

from __future__ import annotations

import argparse
import json
import logging
from collections import Counter
from pathlib import Path

from hwprofiles.kit import import_csv, import_kit, make_kit
from hwprofiles.measure import ProfileRequest, profile_local
from hwprofiles.summary import describe_profiles
from search.cli.argtypes import OneLineErrorParser, comma_list, open_fraction, positive_int
from search.cli.catalog import describe_spaces, format_count
from search.cli.progress import PhaseBars
from search.errors import SearchError
from spaces import NasError

__all__ = ["DEVICE_COMMANDS"]

log = logging.getLogger(__name__)
PROFILE = ProfileRequest(device="defaults")


def _cmd_spaces(args: argparse.Namespace) -> int:
    rows = describe_spaces()
    width = max(len(r.name) for r in rows)
    print(f"{'space':<{width}}  {'architectures':>13}  description")
    for r in rows:
        print(f"{r.name:<{width}}  {format_count(r.architectures):>13}  {r.description}")
    return 0


def _add_devices_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--accuracy", action="store_true",
                   help="compute the held-out predictor accuracy where it is not cached yet "
                        "(minutes the first time)")


def _screened_by(profile, sources_of: Counter) -> str:
    """Per space: the device's own rows' predictor ("full"), or the few-shot transfer (--prior auto)."""
    from search.screening.fitting import is_source, uses_fewshot

    parts = []
    for space in profile.spaces:
        precision = "fp32" if "fp32" in profile.device.precisions else profile.device.precisions[0]
        fewshot = uses_fewshot(len(profile.select(space=space, precision=precision)), "auto") and \
            sources_of[space] - is_source(profile, space, precision) > 0
        parts.append(f"{space} {'few-shot' if fewshot else 'full'}")
    return ", ".join(parts) or "-"


def _cmd_devices(args: argparse.Namespace) -> int:
    from search.screening.evaluation import held_out_accuracy  # imports scikit-learn

    rows = describe_profiles()
    from search.screening.fitting import is_source

    sources_of = Counter(space for r in rows for space in r.spaces if is_source(r.profile, space, "fp32"))
    header = ("device", "spaces", "measured", "runtime", "precision", "batch", "noise", "source",
              "screened by", "held-out within ±10%")
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
                    log.info("no accuracy for %s/%s: %s", r.name, space, exc)
                    continue
                if value is None:
                    missing += 1
                else:
                    parts.append(f"{space} {value * 100:.0f}%")
            accuracy = ", ".join(parts) or "-"
        table.append((r.name, ",".join(r.spaces) or "-", str(r.measurements), r.runtime,
                      ",".join(r.precisions), str(r.batch),
                      "-" if r.noise_floor_pct is None else f"{r.noise_floor_pct:.1f}%", r.source,
                      _screened_by(r.profile, sources_of), accuracy))
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    if missing:
        print(f"({missing} held-out accuracies not computed yet: python -m search devices --accuracy)")
    return 0


def _add_predictor_args(p: argparse.ArgumentParser) -> None:
    actions = p.add_subparsers(dest="action", metavar="ACTION", parser_class=OneLineErrorParser,
                               required=True)
    ev = actions.add_parser("eval", help="accuracy on held-out architectures, beside a FLOPs-linear baseline")
    ev.add_argument("--device", required=True)
    ev.add_argument("--space", help="space to evaluate (needed when the profile covers several)")
    ev.add_argument("--precision", default="fp32", choices=("fp32", "int8"))
    ev.add_argument("--train-size", type=positive_int,
                    help="architectures to fit on (default: 75%%, at most 900)")
    ev.add_argument("--prior", choices=("auto",),
                    help="few-shot: use the other profiles of the space as prior")
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--coverage", type=open_fraction, default=0.9, help="stated coverage of the upper bound")
    ev.add_argument("--plot",
                    help="scatter plot PNG (default: runs/predictor-eval/DEVICE-SPACE-PRECISION.png)")
    ev.add_argument("--json", action="store_true", help="print the metrics as one JSON object")


def _pct(x: float) -> str:
    return f"{x * 100:5.1f}%"


def _cmd_predictor(args: argparse.Namespace) -> int:
    from search.screening.evaluation import evaluate_profile  # imports scikit-learn

    if not 0 < args.coverage < 1:
        raise SearchError(f"--coverage must be in (0, 1), got {args.coverage}")
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
                   help=f"search space to cover (repeatable; default {','.join(PROFILE.spaces)})")
    p.add_argument("--count", type=positive_int, default=PROFILE.count,
                   help=f"architectures per space (default {PROFILE.count})")
    p.add_argument("--precision", default=",".join(PROFILE.precisions),
                   help=f"comma-separated: fp32,int8 (default {','.join(PROFILE.precisions)})")
    p.add_argument("--threads", type=positive_int, default=PROFILE.threads,
                   help=f"intra-op threads (default {PROFILE.threads})")
    p.add_argument("--batch", type=positive_int, default=PROFILE.batch)
    p.add_argument("--runtime", default=PROFILE.runtime,
                   help=f"onnxruntime or torch (default {PROFILE.runtime})")
    p.add_argument("--seed", type=int, default=PROFILE.seed)
    p.add_argument("--workers", type=positive_int, default=PROFILE.workers,
                   help=f"export processes (default {PROFILE.workers})")
    actions = p.add_subparsers(dest="action", metavar="ACTION", parser_class=OneLineErrorParser)
    kit = actions.add_parser("kit", help="write ONNX models + a standalone runner to measure a remote device")
    kit.add_argument("--space", action="append", dest="spaces", metavar="S", required=True)
    kit.add_argument("--count", type=positive_int, default=50)
    kit.add_argument("--out", required=True, help="empty folder to write the kit into")
    kit.add_argument("--precision", default="fp32")
    kit.add_argument("--batch", type=positive_int, default=PROFILE.batch)
    kit.add_argument("--seed", type=int, default=PROFILE.seed)
    kit.add_argument("--workers", type=positive_int, default=PROFILE.workers)
    imp = actions.add_parser("import", help="store a measured kit folder, or a CSV of arch_str,latency_ms")
    imp.add_argument("path", help="kit folder, or FILE.csv with columns arch_str,latency_ms")
    imp.add_argument("--device", required=True)
    imp.add_argument("--space", help="for a CSV: the space of its architecture strings (nb201, fbnet, ...)")


def _cmd_profile(args: argparse.Namespace) -> int:
    if args.action == "import":
        path = Path(args.path)
        if path.is_dir():
            profile = import_kit(path, args.device)
        elif path.suffix == ".csv":
            if not args.space:
                raise SearchError("importing a CSV needs --space (the space of its arch_str column)")
            profile = import_csv(path, args.device, args.space)
        else:
            raise SearchError(f"{path}: neither a kit folder nor a .csv file")
        print(f"profile {profile.name}: {len(profile.measurements)} measurements in {profile.path}")
        return 0
    spaces = tuple(args.spaces or PROFILE.spaces)
    if args.action == "kit":
        with PhaseBars() as bars:
            out = make_kit(spaces, args.count, args.out, comma_list(args.precision), args.batch,
                           seed=args.seed, workers=args.workers, progress=bars)
        print(f"kit written to {out}; on the device run: python3 {out / 'run_kit.py'} --provider cpu")
        return 0
    if not args.device:
        raise SearchError("profile needs --device NAME (or the 'kit' / 'import' action)")

    request = ProfileRequest(device=args.device, spaces=spaces, count=args.count,
                             precisions=comma_list(args.precision), threads=args.threads, batch=args.batch,
                             runtime=args.runtime, seed=args.seed, workers=args.workers)
    with PhaseBars() as bars:
        profile = profile_local(request, progress=bars)
    first = [m for m in profile.measurements if m.repeat == 0]
    noise = profile.device.noise_floor_pct
    print(f"profile {profile.name}: {len(first)} measurements in {profile.path}; noise floor "
          f"{'-' if noise is None else f'{noise:.1f}%'} (p90 run-to-run spread)")
    return 0




DEVICE_COMMANDS = {
    "spaces": ("list the search spaces with the number of architectures each holds", lambda p: None,
               _cmd_spaces),
    "profile": ("measure this host (or build/import a kit for a remote device) into a profile",
                _add_profile_args, _cmd_profile),
    "devices": ("list the device profiles (shipped and measured) with predictor accuracy", _add_devices_args,
                _cmd_devices),
    "predictor": ("evaluate the latency predictor of a profile", _add_predictor_args, _cmd_predictor),
}
