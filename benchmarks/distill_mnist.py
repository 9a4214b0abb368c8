"""Distillation pays: the same student with and without a teacher, equal epochs, MNIST from ../shared/data.

    python -m benchmarks.distill_mnist [--seeds 3] [--epochs 4] [--teacher-epochs 6]

The MNIST test set in ../shared/data/mnist (10,000 images) is split 60/20/20
(train / validation / test) by ``search.training.datasets``. A larger ``mobile_cnn``
teacher is trained once; then the smallest ``mobile_cnn`` student is trained
for the same number of epochs twice per seed: plain (label-smoothed cross
entropy) and with Hinton distillation (alpha 0.7, T 4) from the teacher, the
same seed, data order and schedule. Goal: >= +0.5 points test accuracy, mean
over the seeds.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from search.training.distillation import Distillation
from search.training.settings import TrainSettings
from search.training.trainer import Trainer, accuracy, prepare_images
from spaces import create_space

from .common import mnist_on_one_thread, write_result

TEACHER = "r32_w1.0_s16_h512|d1k3e1-re|d2k3e4-re|d2k5e4se-hs|d2k3e4-hs|d2k5e6se-hs|d2k5e6se-hs"
STUDENT_SCALE = "smallest"  # the space's smallest architecture at 32 px


def _train(model, data, resolution, epochs, seed, distill=None) -> tuple[float, float, float]:
    import torch

    torch.manual_seed(seed)
    trainer = Trainer(model, data, resolution, TrainSettings(epochs=epochs, seed=seed), epochs,
                      distill=distill)
    val = trainer.train_until(epochs)
    x, y = prepare_images(data.test, resolution, data.in_chans, data.normalization)
    return val, accuracy(model.cpu(), x, y), trainer.train_seconds


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--teacher-epochs", type=int, default=6)
    args = parser.parse_args()
    data = mnist_on_one_thread()
    space = create_space("mobile_cnn", resolutions=(32,))
    teacher_cfg = space.parse(TEACHER)
    student_cfg = space.extremes()[0]
    torch.manual_seed(0)
    teacher = space.build(teacher_cfg, num_classes=10, in_chans=1)
    start = time.perf_counter()
    t_val, t_test, _ = _train(teacher, data, 32, args.teacher_epochs, seed=0)
    teacher_s = time.perf_counter() - start
    print(f"teacher: val {t_val:.4f} test {t_test:.4f} ({teacher_s:.0f} s)", flush=True)
    rows = []
    for seed in range(args.seeds):
        torch.manual_seed(seed)
        plain = space.build(student_cfg, num_classes=10, in_chans=1)
        torch.manual_seed(seed)
        taught = space.build(student_cfg, num_classes=10, in_chans=1)
        p = _train(plain, data, 32, args.epochs, seed)
        d = _train(taught, data, 32, args.epochs, seed, Distillation(teacher.eval(), 32))
        rows.append({"seed": seed, "plain_val": p[0], "plain_test": p[1], "distilled_val": d[0],
                     "distilled_test": d[1], "plain_train_s": p[2], "distilled_train_s": d[2]})
        print(rows[-1], flush=True)
    gain = float(np.mean([r["distilled_test"] - r["plain_test"] for r in rows]) * 100)
    write_result("distill_mnist", {
        "dataset": f"MNIST test set from ../shared/data/mnist, split 60/20/20: {len(data.train)} train, "
                   f"{len(data.val)} val, {len(data.test)} test",
        "teacher": {"arch": TEACHER, "epochs": args.teacher_epochs, "val": t_val, "test": t_test,
                    "train_s": teacher_s},
        "student": {"arch": student_cfg.arch_str, "epochs": args.epochs}, "alpha": 0.7, "temperature": 4.0,
        "rows": rows, "mean_plain_test": float(np.mean([r["plain_test"] for r in rows])),
        "mean_distilled_test": float(np.mean([r["distilled_test"] for r in rows])), "mean_gain_points": gain,
        "goal_points": 0.5, "meets_goal": gain >= 0.5,
        "command": f"python -m benchmarks.distill_mnist --seeds {args.seeds} --epochs {args.epochs} "
                   f"--teacher-epochs {args.teacher_epochs}",
    })


if __name__ == "__main__":
    main()
