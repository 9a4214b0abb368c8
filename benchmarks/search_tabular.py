"""Search quality on NAS-Bench-201 with a published device profile and a latency budget.

    python -m benchmarks.search_tabular [--device pixel3] [--seeds 10] [--budget-quantile 0.25]
                                        [--shots 20]

The default run writes ``results/search_tabular.json``; another device writes
``results/search_tabular_DEVICE.json`` beside it, so devices can be compared, and
another seed count, set of samplers, budget quantile or shot count adds ``_seedsN``,
``_SAMPLERS``, ``_qNN`` or ``_shotsK`` to the name.

``--shots K``: the device as a user with a new one has it, K measured architectures
(the ones ``profile kit --count K`` would time, with the device's published
latencies) imported under its name, which hides the published profile: the driver
screens with the few-shot transfer from the other seven profiles (leave one out).
A budget the screen refuses is reported as refused. Truth stays the full table.

Three strategies, same seeds, same evaluation counts:

- ``search``: the product's driver (``search.loop.driver.run_search``, NSGA-II with hard
  predictor screening; the predictor is fitted on 900 of the profile's
  architectures, as a user with a 900-model profile would have), SQLite study;
- ``nsga2``: plain Optuna NSGA-II on (accuracy, measured latency), no screening:
  every proposal is evaluated;
- ``random``: random search, every proposal evaluated.

Each evaluation looks up ``cifar10valid_valid_acc`` (what the search sees) in
../shared/data/nb201_accuracy.csv. Scores use the *measured* latency of the
profile: the hypervolume of the evaluated points that truly meet the budget
(accuracy x (budget - latency), reference (0, 0)), after 50, 100 and 200
evaluations, and the best truly feasible accuracy within 100 evaluations against
the true best under the budget. Every evaluation counts, a repeated architecture
too: the plain samplers pay for their repeats, the driver tells the sampler a
repeat's stored result instead (not an evaluation); the share of distinct
architectures among the first 100 and 200 evaluations says how much each wastes.

The published latencies were timed once per architecture, so "under the budget"
is partly luck near the budget. A twin check measures how much: twin cells
(nodes 1 and 2 swapped) are the same computation timed separately; for the most
accurate architectures under the budget that have a twin, it counts how many
twins are under the budget too, and it reports the best architecture that both
timings put under the budget.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
import optuna

from hwprofiles.store import open_profile
from search.errors import SearchError
from search.execution.evaluators import TabularEvaluator
from search.loop.driver import run_search
from search.screening.screen import Screen
from search.study.settings import RunSettings
from search.study.storage import load_study
from spaces import create_space
from spaces.nb201 import NB201Config, swapped_twin

from .common import RESULTS, SHARED, write_result

CHECKPOINTS = (50, 100, 200)
DEFAULT_DEVICE = "pixel3"
POPULATION = 20
# the published profiles drop a few implausible rows (disconnected cells): such an evaluation counts, but
# never as feasible; plain samplers are told a large latency for it
MISSING = float("inf")
UNKNOWN_TOLD_MS = 1e6


class Evaluation(NamedTuple):
    accuracy: float
    latency_ms: float
    arch: str


def hypervolume(points: list[tuple], budget_ms: float) -> float:
    """2-D hypervolume of (accuracy, latency, ...) points within the budget; reference (0, budget)."""
    pts = sorted(((p[0], budget_ms - p[1]) for p in points if p[1] <= budget_ms),
                 key=lambda p: (-p[0], -p[1]))
    area, best_gain = 0.0, 0.0
    for acc, gain in pts:  # by accuracy, descending: each point adds the strip above the best gain so far
        if gain > best_gain:
            area += acc * (gain - best_gain)
            best_gain = gain
    return area


def _plain(seed: int, sampler: optuna.samplers.BaseSampler, table, latency,
           n: int) -> list[Evaluation]:
    space = create_space("nb201")
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)
    seen = []
    for _ in range(n):
        trial = study.ask()
        arch = space.sample(trial).arch_str
        point = Evaluation(table[arch][0], latency.get(arch, MISSING), arch)
        study.tell(trial, [point.accuracy, min(point.latency_ms, UNKNOWN_TOLD_MS)])
        seen.append(point)
    return seen


def few_measured(device: str, shots: int, latency: dict[str, float], root: Path) -> list[str]:
    """Import the ``shots`` architectures the kit would time, with the device's published latencies, as a
    user profile of the same name under ``root`` (set ``SEARCH_PROFILES_DIR`` to it); their strings."""
    from hwprofiles.kit import import_csv
    from hwprofiles.sampling import plan_architectures

    planned = [c.arch_str for c in plan_architectures(create_space("nb201"), shots, seed=0)]
    rows = [a for a in planned if a in latency]
    csv = root / f"{device}-{shots}.csv"
    csv.write_text("arch_str,latency_ms\n" + "".join(f"{a},{latency[a]!r}\n" for a in rows))
    import_csv(csv, device, "nb201", root=root)
    return rows


def _ours(seed: int, budget_ms: float, device: str, n: int, runs: Path, table, latency, sampler: str
          ) -> tuple[list, int]:
    settings = RunSettings(device=device, spaces=("nb201",), evaluator="tabular", sampler=sampler,
                           accuracy_table=str(SHARED / "nb201_accuracy.csv"), latency_ms=budget_ms, trials=n,
                           generation=10, population=POPULATION, workers=1, runs_dir=str(runs), seed=seed,
                           predictor_rows=900, study=f"{sampler}-s{seed}")
    run_search(settings)
    trials = load_study(settings.study_name(), None, runs).study.get_trials(deepcopy=False)
    evaluated = [t for t in trials if t.user_attrs.get("status") == "complete"]
    arch = [t.user_attrs["arch_str"] for t in evaluated]
    return [Evaluation(table[a][0], latency.get(a, MISSING), a) for a in arch], len(trials)


def reachable_best(device: str, budget_ms: float, table, latency) -> dict:
    """The best accuracy a hard screen can reach: architectures whose predicted upper bound (what the
    driver screens with: the 900-row predictor, or the few-shot transfer) is within the budget, and how
    the truly best ones are predicted."""
    from search.screening.fitting import screening_predictor

    space = create_space("nb201")
    archs = sorted(table)
    _, upper = screening_predictor(open_profile(device), "nb201", "fp32", 900).predictor.score(
        space, [space.parse(a) for a in archs])
    acc = np.array([table[a][0] for a in archs])
    measured = np.array([latency.get(a, np.inf) for a in archs])
    top = [i for i in np.argsort(-acc) if measured[i] <= budget_ms][:10]
    return {"best_val_acc_with_upper_within_budget": float(acc[upper <= budget_ms].max()),
            "architectures_with_upper_within_budget": int((upper <= budget_ms).sum()),
            "top10_truly_feasible_predicted_upper_within_budget": int(sum(upper[i] <= budget_ms
                                                                          for i in top))}


def twin_check(budget_ms: float, table, latency, top: int = 30) -> dict:
    """How often the most accurate architectures under the budget stay under it when timed again (as a
    twin)."""
    def twin_ms(arch: str) -> float | None:
        twin = swapped_twin(NB201Config.from_str(arch).edges)
        return None if twin is None else latency.get(NB201Config(twin).arch_str)

    feasible = sorted((a for a in latency if latency[a] <= budget_ms and a in table),
                      key=lambda a: -table[a][0])
    twins = {a: ms for a in feasible if (ms := twin_ms(a)) is not None}  # in accuracy order, as feasible
    checked = [twins[a] for a in feasible[:top] if a in twins]
    confirmed = [a for a, ms in twins.items() if ms <= budget_ms]
    return {"top": top, "top_with_twin": len(checked),
            "top_twins_within_budget": sum(ms <= budget_ms for ms in checked),
            "top_twins_ms": sorted(round(ms, 2) for ms in checked),
            "best_val_acc_confirmed_by_twin": max(table[a][0] for a in confirmed),
            "architectures_confirmed_by_twin": len(confirmed)}


DEFAULT_SEEDS, DEFAULT_SAMPLERS = 10, "nsga2,tpe"


def result_name(device: str, seeds: int = DEFAULT_SEEDS, samplers: str = DEFAULT_SAMPLERS,
                quantile: float = 0.25, shots: int | None = None) -> str:
    """The default run's file, or one beside it per device and per other seed count, samplers, budget
    quantile or shot count."""
    return "search_tabular" + "".join(f"_{part}" for part in (
        device if device != DEFAULT_DEVICE else "", f"seeds{seeds}" if seeds != DEFAULT_SEEDS else "",
        samplers.replace(",", "-") if samplers != DEFAULT_SAMPLERS else "",
        f"q{round(quantile * 100):02d}" if quantile != 0.25 else "",
        f"shots{shots}" if shots else "") if part)


def command(args: argparse.Namespace) -> str:
    """The command line that reproduces a run: the module and its non-default options."""
    options = {"--device": (args.device, DEFAULT_DEVICE), "--seeds": (args.seeds, DEFAULT_SEEDS),
               "--budget-quantile": (args.budget_quantile, 0.25),
               "--samplers": (args.samplers, DEFAULT_SAMPLERS), "--shots": (args.shots, None)}
    return " ".join(["python -m benchmarks.search_tabular",
                     *(f"{flag} {value}" for flag, (value, default) in options.items() if value != default)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=DEFAULT_DEVICE)
    parser.add_argument("--seeds", type=int, default=DEFAULT_SEEDS)
    parser.add_argument("--budget-quantile", type=float, default=0.25)
    parser.add_argument("--samplers", default=DEFAULT_SAMPLERS,
                        help="the driver's samplers to compare (first: the goal)")
    parser.add_argument("--shots", type=int,
                        help="the device with only this many measured architectures (few-shot screening)")
    parser.add_argument("--reachable-only", action="store_true",
                        help="only add the reachable-best analysis to the existing result file")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    profile = open_profile(args.device)
    latency = {m.arch_str: m.latency_ms for m in profile.select(space="nb201", precision="fp32")}
    table = TabularEvaluator(SHARED / "nb201_accuracy.csv").rows
    budget = float(f"{np.quantile(list(latency.values()), args.budget_quantile):.3g}")
    feasible = [a for a in latency if latency[a] <= budget and a in table]
    true_best = max(table[a][0] for a in feasible)
    n = max(CHECKPOINTS)
    result_file = result_name(args.device, args.seeds, args.samplers, args.budget_quantile, args.shots)
    shots_dir = tempfile.TemporaryDirectory()
    measured = None
    if args.shots:
        os.environ["SEARCH_PROFILES_DIR"] = shots_dir.name
        measured = few_measured(args.device, args.shots, latency, Path(shots_dir.name))
    try:  # as the driver does before it searches
        Screen(open_profile(args.device), {"nb201": create_space("nb201")}, max_rows=900).check_budget(budget)
    except SearchError as exc:
        write_result(result_file, {"device": args.device, "budget_ms": budget,
                            "budget_quantile": args.budget_quantile, "shots": args.shots,
                            "feasible_architectures": len(feasible), "refused": str(exc),
                            "command": command(args)})
        print("refused:", exc)
        return
    reachable = reachable_best(args.device, budget, table, latency)
    if args.reachable_only:
        path = RESULTS / f"{result_file}.json"
        result = json.loads(path.read_text())
        if result["budget_ms"] != budget or result["device"] != args.device:
            raise SystemExit(f"{path} was made with another device or budget")
        result["reachable"] = reachable
        result["twin_check"] = twin_check(budget, table, latency)
        path.write_text(json.dumps(result, indent=2) + "\n")
        print(reachable)
        return

    samplers = [x for x in args.samplers.split(",") if x]
    runs: dict[str, list] = {**{f"search ({x})": [] for x in samplers}, "nsga2": [], "random": []}
    proposals, seconds = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.seeds):
            for x in samplers:
                start = time.perf_counter()
                points, asked = _ours(seed, budget, args.device, n, Path(tmp), table, latency, x)
                if x == samplers[0]:
                    seconds.append(time.perf_counter() - start)
                    proposals.append(asked)
                runs[f"search ({x})"].append(points)
            runs["nsga2"].append(_plain(seed,
                                        optuna.samplers.NSGAIISampler(population_size=POPULATION, seed=seed),
                                        table, latency, n))
            runs["random"].append(_plain(seed, optuna.samplers.RandomSampler(seed=seed), table, latency, n))
            print(f"seed {seed}: search asked {proposals[-1]} for {n} evaluations in {seconds[-1]:.0f} s",
                  flush=True)

    rows = []
    for name, per_seed in runs.items():
        row = {"strategy": name}
        for k in CHECKPOINTS:
            row[f"hv@{k}"] = float(np.mean([hypervolume(p[:k], budget) for p in per_seed]))
        best100 = [max((a for a, lat, _ in p[:100] if lat <= budget), default=0.0) for p in per_seed]
        row["best_feasible_acc@100"] = float(np.mean(best100))
        row["gap_to_true_best_points@100"] = float((true_best - np.mean(best100)) * 100)
        row["worst_seed_gap_points@100"] = float((true_best - min(best100)) * 100)
        row["truly_feasible_share"] = float(np.mean([np.mean([lat <= budget for _, lat, _ in p])
                                                     for p in per_seed]))
        for k in (100, 200):
            row[f"distinct_share@{k}"] = float(np.mean([len({e.arch for e in p[:k]}) / len(p[:k])
                                                        for p in per_seed]))
        rows.append(row)
        print(row, flush=True)
    ours, plain, rand = rows[0], rows[-2], rows[-1]
    write_result(result_file, {
        "device": args.device, "budget_ms": budget, "budget_quantile": args.budget_quantile,
        "seeds": args.seeds, "shots": args.shots, "measured_architectures": measured,
        "true_best_val_acc": true_best, "feasible_architectures": len(feasible), "rows": rows,
        "reachable": reachable, "twin_check": twin_check(budget, table, latency),
        "search_proposals_mean": float(np.mean(proposals)), "search_seconds_mean": float(np.mean(seconds)),
        "goals": {
            "hv_at_least_nsga2": all(ours[f"hv@{k}"] >= plain[f"hv@{k}"] for k in CHECKPOINTS),
            "hv_above_random": all(ours[f"hv@{k}"] > rand[f"hv@{k}"] for k in CHECKPOINTS),
            "best_within_half_point@100": ours["gap_to_true_best_points@100"] <= 0.5,
            "every_evaluation_distinct": ours["distinct_share@200"] == 1.0,
        },
        "command": command(args),
    })


if __name__ == "__main__":
    main()
