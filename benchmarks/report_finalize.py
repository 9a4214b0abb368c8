"""Renderers of the finalize and deployment benchmarks (distillation, compression passes, QAT, the
shipped model, the choice on validation), for ``benchmarks.report``."""

from __future__ import annotations

from .report_tables import _met, _table


def distill_mnist(r: dict) -> str:
    rows = [[x["seed"], f"{x['plain_test'] * 100:.2f}%", f"{x['distilled_test'] * 100:.2f}%",
             f"{(x['distilled_test'] - x['plain_test']) * 100:+.2f}"] for x in r["rows"]]
    rows.append(["mean", f"{r['mean_plain_test'] * 100:.2f}%", f"{r['mean_distilled_test'] * 100:.2f}%",
                 f"{r['mean_gain_points']:+.2f}"])
    t = r["teacher"]
    return (f"{r['dataset']}. Student `{r['student']['arch']}` trained {r['student']['epochs']} epochs, with "
            f"and without Hinton distillation (alpha {r['alpha']}, T {r['temperature']}) from a teacher "
            f"`{t['arch']}` ({t['epochs']} epochs, {t['test'] * 100:.2f}% test); same seed, data order and "
            f"schedule. Goal >= +{r['goal_points']} points mean: {_met(r['meets_goal'])}.\n\n"
            + _table(["seed", "plain test", "distilled test", "gain (points)"], rows))


def compress_passes(r: dict) -> str:
    rows = [[v["variant"] + (" (shipped)" if v["shipped"] else ""), f"{v['test_accuracy'] * 100:.2f}%",
             f"{v['accuracy_points_vs_fp32']:+.2f}", f"{v['p50_ms']:.4g}", f"{v['speedup_vs_fp32']:.2f}x",
             f"{v['size_ratio_vs_fp32']:.2f}x",
             "-" if v["params_kept"] is None else f"{v['params_kept'] * 100:.0f}%",
             v["why_not"] or ""] for v in r["variants"]]
    return (f"One model found by a short search on digits (trial {r['trial']}, `{r['arch_str']}`), finalized "
            f"with every pass (`--compress distill,quantize,prune,lowrank`, {r['epochs']} epochs each); all "
            "variants measured on this host in the same run, ratios against its own fp32 model. Shipped: "
            f"`{r['shipped']}`.\n\n"
            + _table(["variant", "test acc", "vs fp32 (points)", "p50 ms", "speed vs fp32",
                      "smaller than fp32",
                      "params kept", "why not shipped"], rows))


def qat_recovery(r: dict) -> str:
    rows = [[x["space"], "`" + x["arch"].replace("|", "\\|") + "`", f"{x['fp32'] * 100:.2f}%",
             f"{x['ptq_drop_points']:+.2f}",
             f"{x['qat_drop_points']:+.2f}", f"{x['control_drop_points']:+.2f}"] for x in r["rows"]]
    rows.append(["mean", "", "", f"{r['mean_ptq_drop_points']:+.2f}", f"{r['mean_qat_drop_points']:+.2f}",
                 f"{r['mean_control_drop_points']:+.2f}"])
    verdict = (f"{r['recovered']} of {r['lossy']} models that lost more than {r['tolerance_points']:g} "
               "point(s) with post-training int8 were brought back within it by QAT" if r["lossy"] else
               f"no model lost more than {r['tolerance_points']:g} point(s) with post-training int8, so the "
               "case QAT is run for did not occur here (goal not shown either way)")
    return (f"{r['dataset']}; {r['epochs']} epochs of training, then {r['qat_epochs']} of fine-tuning from "
            "the same "
            f"float model: under int8 fake quantization (`qat`) or plain (`control`, to separate QAT from "
            "training longer; the transformers are barely trained in so few epochs); every model quantized "
            f"with ORT static QDQ ({r['calibration']}) and its test accuracy measured through ONNX Runtime. "
            "Drops are points below the model's own fp32 ONNX accuracy "
            f"(negative: int8 is more accurate than the fp32 model it started from). Result: {verdict}.\n\n"
            + _table(["space", "architecture", "fp32 test", "PTQ int8 drop", "QAT int8 drop",
                      "control int8 drop"],
                     rows))


def shipped_model(r: dict) -> str:
    rows = [[x["trial"], x["shipped"], x["images"], f"{x['card_test_accuracy'] * 100:.2f}%",
             f"{x['loader_accuracy'] * 100:.2f}%", f"{x['predict_cli_accuracy'] * 100:.2f}%",
             "yes" if x["equal"] else "**no**"] for x in r["rows"]]
    contract = r["rows"][0]["input"] if r["rows"] else {}
    return (f"The README's `python -m search run` (study `{r['study']}`), then {r['what']}. The files take "
            f"{contract.get('dtype')} {contract.get('layout')} {contract.get('shape')}; the caller does no "
            f"preprocessing. Goal: exactly the card's figure: {_met(r['meets_goal'])}.\n\n"
            + _table(["trial", "shipped", "test images", "card", "load_model", "search predict", "equal"],
                     rows))


def choice_overstatement(r: dict) -> str:
    rows = [[x["seed"], x["trial"], x["chosen_on_validation"], x["chosen_on_test"],
             f"{x['test_accuracy_printed_now'] * 100:.2f}%",
             f"{x['test_accuracy_printed_before'] * 100:.2f}%",
             f"{x['overstatement_points']:+.2f}"] for x in r["rows"]]
    return (f"{r['seeds']} demo runs (digits, local device, {r['trials']} trials of {r['epochs']} epochs, "
            f"finalized with the defaults), {r['models']} finalized models: {r['what']}. Mean "
            f"{r['mean_overstatement_points']:+.2f} points, largest {r['max_overstatement_points']:+.2f}; "
            f"the choice differed for {r['choices_that_differ']} of {r['models']} models. Only the shipped "
            "variant's choice is replayed (the earlier ones were on validation in both), so this is a lower "
            "bound of what choosing on test overstated.\n\n"
            + _table(["seed", "trial", "chosen on validation", "chosen on test", "card now (test)",
                      "card before (test)", "overstated (points)"], rows))
