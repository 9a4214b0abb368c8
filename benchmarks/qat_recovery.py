"""Does quantization-aware fine-tuning recover what post-training int8 loses? Measured, MNIST from \
../shared/data.

    python -m benchmarks.qat_recovery [--models 4] [--epochs 3] [--qat-epochs 2]

Architectures of ``mobile_cnn`` (width 0.5, to keep the run short) and
``sparse_vit`` (the smallest of each, then seeded samples) are trained on an
MNIST split (60/20/20 of the test set in
../shared/data/mnist). Each is then quantized as finalize does (ORT static QDQ,
MinMax calibration on 128 training images) and its int8 test accuracy is
measured through ONNX Runtime. Two fine-tunings start from the same float
model, for the same epochs, learning rate and seed:

- ``qat``: under int8 fake quantization (``search.finalize.qat``), then quantized again;
- ``control``: plain float fine-tuning, then quantized again, so the effect of
  the fake quantization is told apart from the effect of training longer.

The claim finalize relies on: where post-training int8 loses more than 1
point, QAT brings the loss back within 1 point (and does better than the
control). Drops are in points against the model's own fp32 ONNX accuracy.
"""

from __future__ import annotations

import argparse
import copy
import tempfile
from pathlib import Path

import numpy as np

from search.finalize.qat import quantization_aware_finetune
from search.finalize.variants import calibration_batches, export_variant, onnx_accuracy, quantize_variant
from search.training.settings import TrainSettings
from search.training.trainer import Trainer, model_pixels
from spaces import create_space

from .common import mnist_on_one_thread, write_result

TOLERANCE_POINTS = 1.0
LR = {"mobile_cnn": 1e-2, "sparse_vit": 2e-3}  # AdamW; the transformer diverges at the CNN's rate


def _architectures(count: int) -> list[tuple]:
    """(space name, config): each space's smallest architecture first, then seeded samples, alternating."""
    from hwprofiles.sampling import plan_architectures

    spaces = {"mobile_cnn": create_space("mobile_cnn", resolutions=(32,), widths=(0.5,)),
              "sparse_vit": create_space("sparse_vit")}
    plans = {name: [space.extremes()[0], *plan_architectures(space, count, seed=11)[2:]]
             for name, space in spaces.items()}
    out = []
    for i in range(count):
        name = ("mobile_cnn", "sparse_vit")[i % 2]
        out.append((name, plans[name][i // 2]))
    return [(name, spaces[name], config) for name, config in out]


def _quantized_accuracy(model, shape, folder: Path, name: str, calibration, transformer: bool, x, y,
                        normalization) -> float:
    files = export_variant(model, shape, folder, name, normalization)
    return onnx_accuracy(quantize_variant(files, folder, calibration, transformer,
                                          name=f"{name}-int8").single, x, y)


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--qat-epochs", type=int, default=2)
    args = parser.parse_args()
    data = mnist_on_one_thread()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, space, config) in enumerate(_architectures(args.models)):
            resolution = space.resolution(config)
            shape = space.input_shape(config, data.in_chans)
            x_test, y_test = model_pixels(data.test, resolution, data.in_chans), data.test.labels
            calibration = calibration_batches(model_pixels(data.train, resolution, data.in_chans))
            norm = data.normalization
            transformer = name == "sparse_vit"
            folder = Path(tmp) / f"m{i}"
            torch.manual_seed(i)
            model = space.build(config, num_classes=10, in_chans=data.in_chans)
            lr = LR[name]
            Trainer(model, data, resolution,
                    TrainSettings(epochs=args.epochs, lr=lr, seed=i)).train_until(args.epochs)
            model.cpu().eval()
            fp32 = onnx_accuracy(export_variant(model, shape, folder, "fp32", norm).single, x_test, y_test)
            ptq = _quantized_accuracy(model, shape, folder, "ptq", calibration, transformer, x_test, y_test,
                                      norm)
            tuned = copy.deepcopy(model)
            quantization_aware_finetune(tuned, data, resolution, args.qat_epochs, lr / 10, i)
            qat = _quantized_accuracy(tuned, shape, folder, "qat", calibration, transformer, x_test, y_test,
                                      norm)
            control = copy.deepcopy(model)
            Trainer(control, data, resolution, TrainSettings(epochs=args.qat_epochs, lr=lr / 10, seed=i),
                    args.qat_epochs).train_until(args.qat_epochs)
            control.cpu().eval()
            ctl = _quantized_accuracy(control, shape, folder, "control", calibration, transformer, x_test,
                                      y_test, norm)
            row = {"space": name, "arch": config.arch_str, "fp32": fp32, "ptq_int8": ptq, "qat_int8": qat,
                   "control_int8": ctl, "ptq_drop_points": (fp32 - ptq) * 100,
                   "qat_drop_points": (fp32 - qat) * 100,
                   "control_drop_points": (fp32 - ctl) * 100}
            rows.append(row)
            print({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}, flush=True)
    lossy = [r for r in rows if r["ptq_drop_points"] > TOLERANCE_POINTS]
    recovered = [r for r in lossy if r["qat_drop_points"] <= TOLERANCE_POINTS]
    write_result("qat_recovery", {
        "dataset": f"MNIST test set from ../shared/data/mnist, split 60/20/20: {len(data.train)} train, "
                   f"{len(data.val)} val, {len(data.test)} test",
        "epochs": args.epochs, "qat_epochs": args.qat_epochs, "lr": LR,
        "calibration": "minmax, 128 training images",
        "rows": rows, "tolerance_points": TOLERANCE_POINTS,
        "lossy": len(lossy), "recovered": len(recovered),
        "mean_ptq_drop_points": float(np.mean([r["ptq_drop_points"] for r in rows])),
        "mean_qat_drop_points": float(np.mean([r["qat_drop_points"] for r in rows])),
        "mean_control_drop_points": float(np.mean([r["control_drop_points"] for r in rows])),
        "meets_goal": bool(lossy) and len(recovered) == len(lossy),
        "command": f"python -m benchmarks.qat_recovery --models {args.models} --epochs {args.epochs} "
                   f"--qat-epochs {args.qat_epochs}",
    })


if __name__ == "__main__":
    main()
