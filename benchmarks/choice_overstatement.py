"""How much choosing the shipped variant on the test split overstated its accuracy, on repeated demo runs.

    python -m benchmarks.choice_overstatement [--seeds 4] [--trials 12] [--epochs 6]

Runs the demo (``python -m search run``: digits, local device) once per seed,
smaller than the README's default so several fit in one sitting; each run
finalizes its top two models. Every card holds each variant's validation and
test accuracy and its measured p50. For every finalized model the shipped
variant is chosen twice with the same rule (``search.finalize.selection``):

- on validation, as finalize now does: the card prints this variant's test accuracy;
- on test, as finalize did before: the figure it printed was the test accuracy of its pick.

The overstatement is the second figure minus the first. Only the last choice
is replayed: the earlier ones (best float variant, QAT trigger) were made on
validation in both, so the figure is a lower bound of what choosing everything
on test overstated.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from search.finalize.selection import choose_variant

from .common import isolated_env, write_result


def _run(run_dir: Path, seed: int, trials: int, epochs: int) -> Path:
    env = isolated_env(run_dir)
    study = f"overstatement-s{seed}-t{trials}-e{epochs}"
    if not (run_dir / "runs" / study / "final" / "ladder.json").is_file():
        subprocess.run([sys.executable, "-m", "search", "run", "--seed", str(seed), "--trials", str(trials),
                        "--epochs", str(epochs), "--study", study], cwd=run_dir, env=env, check=True)
    return run_dir / "runs" / study


def _replay(card: dict) -> dict:
    """The shipped variant chosen on validation (the card's) and on test, with what each would print."""
    rows, tolerance, budget = card["variants"], card["tolerance"], card["search"]["budget_ms"]
    on_val = choose_variant(rows, tolerance, budget)[0]
    as_if_test = {n: {**r, "val_accuracy": r["test_accuracy"]} for n, r in rows.items()}
    on_test = choose_variant(as_if_test, tolerance, budget)[0]
    assert on_val == card["shipped"], "the card's choice is the validation rule's"
    honest, printed = rows[on_val]["test_accuracy"], rows[on_test]["test_accuracy"]
    return {"trial": card["trial"], "chosen_on_validation": on_val, "chosen_on_test": on_test,
            "test_accuracy_printed_now": honest, "test_accuracy_printed_before": printed,
            "overstatement_points": (printed - honest) * 100,
            "variants": {n: {"val": r["val_accuracy"], "test": r["test_accuracy"], "p50_ms": r["p50_ms"]}
                         for n, r in rows.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--run-dir", default="/tmp/search-overstatement")
    args = parser.parse_args()
    run_dir = Path(args.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for seed in range(args.seeds):
        study = _run(run_dir, seed, args.trials, args.epochs)
        for card_path in sorted((study / "final").glob("trial-*/model_card.json")):
            rows.append({"seed": seed, **_replay(json.loads(card_path.read_text()))})
            print({k: v for k, v in rows[-1].items() if k != "variants"}, flush=True)
    over = np.array([r["overstatement_points"] for r in rows])
    write_result("choice_overstatement", {
        "what": "test accuracy the card printed when the shipped variant was chosen on test, minus the "
                "test accuracy of the variant chosen on validation (what the card prints now), per model",
        "seeds": args.seeds, "trials": args.trials, "epochs": args.epochs, "models": len(rows),
        "mean_overstatement_points": float(over.mean()), "max_overstatement_points": float(over.max()),
        "choices_that_differ": int(sum(r["chosen_on_validation"] != r["chosen_on_test"] for r in rows)),
        "rows": rows,
        "command": f"python -m benchmarks.choice_overstatement --seeds {args.seeds} --trials {args.trials} "
                   f"--epochs {args.epochs}",
    })


if __name__ == "__main__":
    main()
