"""How many folds the upper bound's calibration needs (python -m benchmarks.calibration_folds).

On every published profile, the model each chose in ``predictor_accuracy.json`` is fitted on its training
split (NAS-Bench-201 900 rows, FBNet 500); the bound's conformal quantile is taken from that model's
out-of-fold residuals over 5, 10 and 20 folds, and its coverage measured on the held-out rest (stated
90%). Residuals of models fitted on fewer rows overstate the error of the one fitted on all, the more so
the fewer the rows; this says from how many rows the cross-validation's own 5 folds suffice
(``predictors.models.CV_CALIBRATES_FROM_ROWS``).
"""

from __future__ import annotations

import json
import time

import numpy as np

from benchmarks.common import RESULTS, write_result
from benchmarks.predictor_accuracy import DEVICES, SEED, TRAIN_SIZE
from hwprofiles.profile import load_profile
from hwprofiles.store import SHIPPED_DIR
from predictors import refit_predictor, rows_to_data
from predictors.models import _out_of_fold, conformal_quantile
from predictors.parallel import fit_jobs
from spaces import create_space

FOLDS = (5, 10, 20)


def main() -> None:
    choices = json.loads((RESULTS / "predictor_accuracy.json").read_text())
    out = {}
    for space, n in TRAIN_SIZE.items():
        out[space] = {}
        for device in DEVICES:
            choice = choices[space][device]["choice"]
            rows = load_profile(SHIPPED_DIR / device, check_arch=False).select(space=space, precision="fp32")
            data = rows_to_data(rows, create_space(space), "fp32")
            X, y = data.X, data.latency_ms
            order = np.random.default_rng(SEED).permutation(len(y))
            tr, te = order[:n], order[n:]
            p50 = refit_predictor(X[tr], y[tr], "fp32", choice, 0.0, 0.9, SEED).predict(X[te])
            row = {"choice": choice, "train_rows": n}
            for folds in FOLDS:
                t0 = time.perf_counter()
                oof = _out_of_fold(X[tr], y[tr], [choice], folds, SEED, fit_jobs(len(tr)))[choice]
                q = conformal_quantile(np.log(y[tr]) - np.log(oof), 0.9)
                row[f"coverage_{folds}_folds"] = float(np.mean(y[te] <= p50 * np.exp(q)))
                row[f"seconds_{folds}_folds"] = round(time.perf_counter() - t0, 1)
            out[space][device] = row
            print(space, device, choice, {f: round(row[f"coverage_{f}_folds"], 4) for f in FOLDS}, flush=True)
        out[space]["mean"] = {f"coverage_{f}_folds": float(np.mean([out[space][d][f"coverage_{f}_folds"]
                                                                    for d in DEVICES])) for f in FOLDS}
    print("wrote", write_result("calibration_folds", {"settings": {"stated": 0.9, "folds": list(FOLDS),
                                                                    "train_size": TRAIN_SIZE}, **out}))


if __name__ == "__main__":
    main()
