"""Renderers of the predictor benchmarks that a new device waits on: fit time, few-shot, calibration."""

from __future__ import annotations

from predictors.models import GP_MAX_ROWS

from .report_tables import _met, _table


def _seconds(m: dict) -> str:
    return f"{m['seconds']:.1f}" if m.get("seconds") is not None else f"> {m['at_least_s']:.0f} (stopped)"


def _ratio(base: dict, this: dict) -> str:
    if this.get("seconds") is None:
        return "–"
    if base.get("seconds") is None:
        return f"> {base['at_least_s'] / this['seconds']:.1f}x"
    return f"{base['seconds'] / this['seconds']:.1f}x"


def _change(base: dict, this: dict, key: str) -> str:
    if key not in this:
        return ""
    before = f"{base[key] * 100:.1f}%" if key in base else "–"
    return f"{before} → {this[key] * 100:.1f}%"


def fit_time(r: dict) -> str:
    s, g = r["settings"], r["goals"]
    labels = {"eval900_nb201": ("`predictor eval --train-size 900`, gold_6226 nb201", g["eval900_s"]),
              "eval900_fbnet": ("`predictor eval --train-size 900`, gold_6226 fbnet", g["eval900_s"]),
              "fewshot20_nb201": ("`predictor eval --train-size 20 --prior auto`, gold_6226 nb201",
                                  g["fewshot_s"]),
              "first_training": ("`run --device gold_6226 --space nb201`: first training",
                                 g["first_training_s"])}
    rows = []
    for key, (label, goal) in labels.items():
        base, this = r[key]["baseline"], r[key]["this"]
        held, cover = (_change(base, this, key) for key in ("within10", "upper_coverage"))
        ok = this.get("seconds") is not None and this["seconds"] <= goal
        rows.append([label, _seconds(base), _seconds(this), _ratio(base, this), f"<= {goal}", _met(ok), held,
                     cover])
    text = (f"Each command once from the baseline checkout ({s['commits']['baseline']}) and once from this "
            f"tree ({s['commits']['this']}), alternately, each with an empty cache, the same interpreter, "
            f"{s['fit_jobs']} fitting processes. A command still running after {s['limit_s']:.0f} s was "
            "stopped. Held-out share within ±10% and the upper bound's coverage (stated 90%) say nothing "
            "was lost for the time.\n\n"
            + _table(["what", "baseline s", "now s", "speed-up", "goal s", "goal met", "held-out within ±10%",
                      "upper covers"], rows))
    if "candidates" in r:
        c = r["candidates"]
        names = list(next(iter(c.values())))
        crow = [[d, *(f"{v[n]['within10'] * 100:.1f}% ({v[n]['seconds']:.1f} s)" for n in names)]
                for d, v in c.items()]
        text += ("\n\nEvery candidate on 900 rows of each published device's NAS-Bench-201 profile: 5-fold "
                 "cross-validated share within ±10% (seconds for the 5 folds). The Gaussian process is only "
                 f"tried up to {GP_MAX_ROWS} rows now.\n\n"
                 + _table(["device", *(f"`{n}`" for n in names)], crow))
    return text


def _against_help(row: dict) -> str:
    if row["help_k10"] is None:
        return ""
    return f"{row['help_k10']:.3f} ({'met' if row['k10']['spearman'] >= row['help_k10'] else '**not met**'})"


def fewshot_help(r: dict) -> str:
    s = r["settings"]
    ks = s["k_shots"]
    text = ("Leave one published device out; its sources are the other seven profiles' predictors as "
            f"`run` fits them ({s['source_rows']}-row subsets, from the shipped choices). K target "
            "measurements from "
            f"architectures {s['shot_range']['nb201'][0]}-{s['shot_range']['nb201'][1] - 1}; Spearman on "
            f"NAS-Bench-201 architectures {s['test_range']['nb201'][0]}-{s['test_range']['nb201'][1] - 1} "
            f"(FBNet {s['test_range']['fbnet'][0]}-{s['test_range']['fbnet'][1] - 1}), both without the "
            f"target's fastest and slowest {s['trim']:.0%}, as HELP does; the mean over {s['shot_draws']} "
            "draws of the K architectures (the worst draw in brackets). HELP's figures (Lee et al., NeurIPS "
            "2021, 10 target measurements) beside the devices both report.\n")
    for space in ("nb201", "fbnet"):
        if space not in r:
            continue
        t = r[space]
        devices = [d for d in t if d != "mean"]
        rows = [[d, *(f"{t[d][f'k{k}']['spearman']:.3f} ({t[d][f'k{k}']['spearman_worst_draw']:.3f})"
                      for k in ks),
                 f"{t[d][f'k{ks[-1]}']['flops_linear_spearman']:.3f}",
                 _against_help(t[d])] for d in devices]
        rows.append(["**mean**", *(f"{t['mean'][f'k{k}']:.3f}" for k in ks), "", ""])
        text += (f"\n**{space}** (sources fitted in {r[f'{space}_sources_s']} s)\n\n"
                 + _table(["device", *(f"Spearman K={k}" for k in ks), f"FLOPs-linear K={ks[-1]}",
                           "HELP K=10"], rows) + "\n")
        goal = t["mean"]["k20"] >= r["goals"]["mean_spearman_k20"]
        text += f"\nGoal mean Spearman >= {r['goals']['mean_spearman_k20']} at K=20: {_met(goal)}.\n"
        if f"{space}_threshold" in r:
            th = r[f"{space}_threshold"]["mean"]
            trow = [[k, *(f"{th[k][kind][m] * 100:.1f}%" if m != "spearman" else f"{th[k][kind][m]:.3f}"
                          for kind in ("fewshot", "own_rows") for m in ("within10", "spearman",
                                                                         "upper_coverage")),
                     *(f"{th[k][kind]['upper_over_measured']:.2f}" for kind in ("fewshot", "own_rows"))]
                    for k in th]
            text += (f"\nWhich predictor a device with K rows should get ({space}, mean over the 8 devices, "
                     f"{s.get('threshold_draws')} draws; untrimmed): the transfer or a predictor of its own "
                     f"rows. `FEWSHOT_BELOW_ROWS` is {s['fewshot_below_rows']}.\n\n"
                     + _table(["K", "few-shot within ±10%", "Spearman", "upper covers",
                               "own rows within ±10%", "Spearman", "upper covers",
                               "few-shot upper / measured", "own upper / measured"], trow) + "\n")
    return text


def calibration_folds(r: dict) -> str:
    s = r["settings"]
    text = ("The chosen model of each published profile (as in `predictor_accuracy.json`), its upper bound "
            "calibrated on its out-of-fold residuals over 5, 10 and 20 folds of the training rows; coverage "
            f"of the held-out rest, stated {s['stated']:.0%}.\n")
    for space in ("nb201", "fbnet"):
        t = r[space]
        rows = [[d, f"`{v['choice']}`", *(f"{v[f'coverage_{f}_folds'] * 100:.1f}%" for f in s["folds"])]
                for d, v in t.items() if d != "mean"]
        rows.append(["**mean**", "", *(f"{t['mean'][f'coverage_{f}_folds'] * 100:.1f}%" for f in s["folds"])])
        text += (f"\n**{space}** ({s['train_size'][space]} training rows)\n\n"
                 + _table(["device", "model", *(f"{f} folds" for f in s["folds"])], rows) + "\n")
    return text
