"""``run`` (search, then finalize) and ``finalize``: every default comes from the settings
dataclasses."""

from __future__ import annotations

import argparse
import sys

from search.cli.argtypes import comma_list, interrupted_exit, positive_int
from search.cli.progress import PhaseBars, SearchBar
from search.cli.study_commands import add_study_args
from search.finalize.settings import FinalizeSettings
from search.study.settings import FEWSHOT_BELOW_ROWS, PRIORS, RunSettings

__all__ = ["RUN_COMMANDS"]

RUN = RunSettings()
FINAL = FinalizeSettings(study="-")


def _add_run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default=RUN.device,
                   help=f"device profile (default: {RUN.device}, this machine, profiled on first use)")
    p.add_argument("--space", default=",".join(RUN.spaces),
                   help=f"search space(s), comma-separated (default {','.join(RUN.spaces)}; "
                        "e.g. mobile_cnn,sparse_vit)")
    p.add_argument("--dataset", default=RUN.dataset,
                   help="digits (bundled), mnist, fashion_mnist, cifar10, imagefolder "
                        f"(default {RUN.dataset})")
    p.add_argument("--data-dir", help="folder of the dataset's files (all but digits)")
    p.add_argument("--evaluator", default=RUN.evaluator, help=f"training or tabular (nb201 only; default "
                                                              f"{RUN.evaluator})")
    p.add_argument("--accuracy-table", help="NAS-Bench-201 accuracy CSV for --evaluator tabular")
    p.add_argument("--latency-ms", type=float,
                   help="latency budget (default: the median predicted upper bound "
                        "over balanced samples of the searched spaces)")
    p.add_argument("--precision", default=RUN.precision,
                   help=f"precision the budget applies to: fp32 or int8 "
                        f"(default {RUN.precision})")
    p.add_argument("--coverage", type=float, default=RUN.coverage,
                   help=f"coverage of the predicted upper bound (default {RUN.coverage:g})")
    p.add_argument("--trials", type=int, default=RUN.trials,
                   help=f"trials to evaluate (screened-out ones are extra; default {RUN.trials})")
    p.add_argument("--workers", type=int, default=RUN.workers,
                   help="evaluations at once, as Ray tasks (1: in this "
                        "process; default: CPU count, at most 8)")
    p.add_argument("--ray-address", help="join this Ray cluster instead of starting a local one")
    _add_training_args(p)


def _add_training_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--repeat-architectures", action="store_true",
                   help="evaluate an architecture the study already has again (to measure training noise); "
                        "by default a repeat is told the earlier result and not counted")
    p.add_argument("--job-timeout", type=float, default=RUN.job_timeout_s, metavar="SECONDS",
                   help="fail (and retry once) a training job that runs longer (default: 10 x the slowest "
                        "seconds per epoch measured so far x its epochs, at least 300 s; before anything "
                        "is measured 30 min per epoch, at least an hour)")
    p.add_argument("--epochs", type=int, default=RUN.epochs,
                   help=f"training epochs of a trial that reaches the last rung (default {RUN.epochs})")
    p.add_argument("--halving-rate", type=float, default=RUN.halving_rate,
                   help="successive halving: keep the top 1/RATE of each rung "
                        f"(default {RUN.halving_rate:g})")
    p.add_argument("--no-halving", action="store_true", help="train every feasible trial for --epochs")
    p.add_argument("--generation", type=int, default=RUN.generation,
                   help=f"feasible candidates per generation (default {RUN.generation})")
    p.add_argument("--sampler", default=RUN.sampler, help=f"nsga2, tpe, gp or random (default {RUN.sampler})")
    p.add_argument("--population", type=int, default=RUN.population, help="NSGA-II population size; random "
                   f"startup trials of tpe and gp (default {RUN.population})")
    p.add_argument("--optimizer", default=RUN.optimizer, help=f"adamw or sgd (default {RUN.optimizer})")
    p.add_argument("--lr", type=float, default=RUN.lr, help=f"peak learning rate (default {RUN.lr:g})")
    p.add_argument("--batch-size", type=int, default=RUN.batch_size, help=f"default {RUN.batch_size}")
    p.add_argument("--study", help="study name (default: derived from the settings)")
    p.add_argument("--storage", help="SQLAlchemy URL (default: SQLite in RUNS_DIR/STUDY/study.db)")
    p.add_argument("--runs-dir", default=RUN.runs_dir,
                   help=f"where studies and checkpoints live (default ./{RUN.runs_dir})")
    p.add_argument("--seed", type=int, default=RUN.seed)
    p.add_argument("--profile-count", type=int, default=RUN.profile_count,
                   help="architectures to measure when the local device is profiled on first use "
                        f"(default {RUN.profile_count})")
    p.add_argument("--predictor-rows", type=int,
                   help="fit the screening predictor on at most this many of the "
                        "profile's rows (default all)")
    p.add_argument("--prior", choices=PRIORS, default=RUN.prior,
                   help=f"auto (default): a device with fewer than {FEWSHOT_BELOW_ROWS} measured "
                        "architectures of a space is screened by transfer from every other profile of that "
                        "space; none: its own rows only")
    p.add_argument("--no-candidate-timing", action="store_true",
                   help="local device: screen by prediction only, without timing each candidate on this host "
                        "before training it (the study then depends on the profile alone)")
    p.add_argument("--no-finalize", action="store_true",
                   help="skip distillation and quantization of the winners")


def _run_settings(args: argparse.Namespace) -> RunSettings:
    return RunSettings(
        device=args.device, spaces=comma_list(args.space), dataset=args.dataset, data_dir=args.data_dir,
        evaluator=args.evaluator, accuracy_table=args.accuracy_table, latency_ms=args.latency_ms,
        precision=args.precision, coverage=args.coverage, trials=args.trials, workers=args.workers,
        epochs=args.epochs, halving_rate=None if args.no_halving else args.halving_rate,
        generation=args.generation, population=args.population, sampler=args.sampler,
        optimizer=args.optimizer, lr=args.lr, batch_size=args.batch_size, seed=args.seed,
        study=args.study, storage=args.storage,
        runs_dir=args.runs_dir, ray_address=args.ray_address, job_timeout_s=args.job_timeout,
        profile_count=args.profile_count,
        predictor_rows=args.predictor_rows, prior=args.prior, finalize=not args.no_finalize,
        time_candidates=not args.no_candidate_timing, repeat_architectures=args.repeat_architectures)


def _print_outcome(outcome, settings: RunSettings) -> None:
    from search.study.storage import display_url  # imports optuna

    print(f"study {outcome.study}: {outcome.evaluated} trials evaluated, {outcome.feasible} of "
          f"{outcome.proposed} proposed were predicted within the budget of {outcome.budget_ms:.4g} ms"
          + (f" and then measured within it on this host ({outcome.measured_out} more measured over it, "
             "untrained)" if outcome.timed else ""))
    print(f"  storage: {display_url(outcome.storage)}")
    best = outcome.best
    if best is None:
        print("  no trial completed its full training yet")
        return
    test = best.get("test_accuracy")
    print(f"  best within budget: trial {best['trial']} ({best['space']}), validation "
          f"{best['val_accuracy'] * 100:.2f}%" + ("" if test is None else f", test {test * 100:.2f}%")
          + f", predicted {best['predicted_p50_ms']:.3g} ms (upper {best['predicted_upper_ms']:.3g} ms)")
    study = (f"--study {outcome.study}"
             + (f" --storage {display_url(settings.storage)}" if settings.storage else ""))
    print(f"  next: python -m search top {study}; python -m search export {study} --trial {best['trial']} "
          f"--out model/")


def _cmd_run(args: argparse.Namespace) -> int:
    from search.loop.driver import run_search  # imports torch, optuna and scikit-learn

    settings = _run_settings(args)
    try:
        with PhaseBars() as bars, SearchBar() as bar:
            outcome = run_search(settings, bar, bars)
    except KeyboardInterrupt as exc:
        print(f"interrupted: nothing finished is lost; run the same command again to resume study "
              f"{settings.study_name()!r}", file=sys.stderr)
        return interrupted_exit(exc)
    _print_outcome(outcome, settings)
    if settings.finalize and outcome.best is not None and settings.evaluator == "training":
        return _finalize(FinalizeSettings(study=outcome.study, storage=settings.storage,
                                          runs_dir=settings.runs_dir, seed=settings.seed))
    return 0


def _add_finalize_args(p: argparse.ArgumentParser) -> None:
    add_study_args(p)
    p.add_argument("--top", type=positive_int, default=FINAL.top,
                   help=f"how many of the most accurate Pareto models (default {FINAL.top})")
    p.add_argument("--teacher", default=FINAL.teacher,
                   help="auto (the study's most accurate model, trained longer), "
                        "timm:NAME[=CHECKPOINT] or an exported model's folder")
    p.add_argument("--epochs", type=positive_int, default=FINAL.epochs,
                   help=f"distillation epochs (and the teacher's extra ones; default {FINAL.epochs})")
    p.add_argument("--compress", default=",".join(FINAL.compress),
                   help="comma-separated: distill, quantize, prune, "
                        f"lowrank (default {','.join(FINAL.compress)})")
    p.add_argument("--calibration", default=FINAL.calibration,
                   help=f"int8 calibration: minmax, percentile or entropy (default {FINAL.calibration})")
    p.add_argument("--calibration-images", type=positive_int, default=FINAL.calibration_images,
                   help=f"training images int8 calibration sees (default {FINAL.calibration_images})")
    p.add_argument("--teacher-resolution", type=positive_int, default=FINAL.teacher_resolution,
                   help="input side of a timm teacher (default: the study's most accurate trial's)")
    p.add_argument("--qat", default=FINAL.qat,
                   help="quantization-aware fine-tuning: auto (when int8 loses more "
                        f"than the tolerance), always, never (default {FINAL.qat})")
    p.add_argument("--seed", type=int, default=FINAL.seed)
    p.add_argument("--import-measurements", action="store_true",
                   help="read the results of the finalized models' device kits (remote devices) into their "
                        "cards, ship again on the device's latency, rewrite the ladder; finalizes nothing")


def _import_measurements(args: argparse.Namespace) -> int:
    from search.finalize.remote import import_device_measurements  # imports optuna

    out = import_device_measurements(args.study, args.storage, args.runs_dir)
    for m in out["measured"]:
        print(f"  trial {m['trial']}: measured on the device; ships {m['shipped']}, "
              f"p50 {m['device_p50_ms']:.4g} ms -> {m['card']}")
    if out["waiting"]:
        print(f"  waiting for device results: trial(s) {', '.join(map(str, out['waiting']))} "
              "(run python3 run_kit.py in each trial's kit/ on the device, put results.csv back)")
    if out["profile"]:
        print(f"  device profile: {out['profile']['appended']} measurement(s) appended"
              + (f" to {out['profile']['path']}" if "path" in out["profile"]
                 else f" ({out['profile']['why']})"))
    print(f"  fallback ladder: "
          f"{out['ladder'] or 'unchanged until every finalized trial is measured on the device'}")
    return 0


def _finalize(settings: FinalizeSettings) -> int:
    from search.finalize.pipeline import finalize_study  # imports torch

    with PhaseBars() as bars:
        out = finalize_study(settings, bars)
    print(f"finalized {len(out['models'])} model(s) of study {out['study']} in {out['final']} "
          f"(measured on {out['measured_on']})")
    for m in out["models"]:
        print(f"  trial {m.trial}: shipped {m.variant} (chosen on validation, {m.val_accuracy * 100:.2f}%), "
              f"test {m.test_accuracy * 100:.2f}%, measured p50 {m.p50_ms:.4g} ms "
              f"-> {out['final']}/trial-{m.trial:05d}/MODEL_CARD.md")
    print(f"  fallback ladder: {out['ladder']}")
    return 0


def _cmd_finalize(args: argparse.Namespace) -> int:
    if args.import_measurements:
        return _import_measurements(args)
    return _finalize(FinalizeSettings(study=args.study, storage=args.storage, runs_dir=args.runs_dir,
                                      top=args.top, teacher=args.teacher, epochs=args.epochs,
                                      compress=comma_list(args.compress), calibration=args.calibration,
                                      calibration_images=args.calibration_images,
                                      teacher_resolution=args.teacher_resolution, qat=args.qat,
                                      seed=args.seed))


RUN_COMMANDS = {
    "run": ("search: the most accurate architectures within a latency budget on a device", _add_run_args,
            _cmd_run),
    "finalize": ("distill, quantize, export and measure a study's winners; write model cards",
                 _add_finalize_args, _cmd_finalize),
}
