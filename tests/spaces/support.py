"""Helpers shared by the space tests: seeded sampling and the model-vs-layers() check."""

from __future__ import annotations

import optuna
import torch
from torch.utils.flop_counter import FlopCounterMode

from spaces import total_flops, total_params


def sample(space, seed: int):
    """Return ``(config, params)`` drawn by a seeded RandomSampler through a real trial."""
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    trial = study.ask()
    return space.sample(trial), dict(trial.params)


def calibrate_batchnorm(model: torch.nn.Module, input_shape, batches: int = 4,
                        seed: int = 0) -> torch.nn.Module:
    """Give BatchNorm layers real running statistics (as training would), then switch to eval.

    An untrained model's BN is the identity in eval mode, so deep residual
    stacks (e.g. NB201 cells of skips and pools) grow activations to ~1e7 and
    no fp32 runtime can agree to 1e-4 in absolute terms.
    """
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
            module.momentum = None  # cumulative average over the calibration batches
    model.train()
    with torch.no_grad():
        for _ in range(batches):
            model(torch.randn(8, *input_shape, generator=generator))
    return model.eval()


def check_model(space, config, num_classes: int = 10) -> None:
    """Forward shape and finiteness; exact params and FLOPs within 2% of torch's counter."""
    shape = space.input_shape(config)
    specs = space.layers(config, shape, num_classes=num_classes)
    torch.manual_seed(0)
    model = space.build(config, num_classes=num_classes, in_chans=shape[0], img_size=shape[1]).eval()
    x = torch.randn(2, *shape)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        out = model(x)
    assert out.shape == (2, num_classes)
    assert torch.isfinite(out).all()
    assert total_params(specs) == sum(p.numel() for p in model.parameters()), config
    counted = counter.get_total_flops() / 2  # the counter ran a batch of 2
    assert abs(total_flops(specs) - counted) <= 0.02 * counted, (total_flops(specs), counted, config)
