"""Search spaces: sample architectures, build them, and count their cost without building.

Public surface::

    from spaces import create_space, list_spaces
    space = create_space("mobile_cnn")
    config = space.sample(trial)          # optuna trial or FixedTrial
    layers = space.layers(config)         # [LayerSpec], no torch
    model = space.build(config, num_classes=10)
"""

from .base import InputShape, SearchSpace
from .config import ArchConfig
from .errors import ConfigError, NasError, UnknownNameError
from .layerspec import KINDS, LayerSpec, total_bytes, total_flops, total_params
from .registry import create_space, list_spaces, register_space

__all__ = [
    "ArchConfig",
    "ConfigError",
    "InputShape",
    "KINDS",
    "LayerSpec",
    "NasError",
    "SearchSpace",
    "UnknownNameError",
    "create_space",
    "list_spaces",
    "register_space",
    "total_bytes",
    "total_flops",
    "total_params",
]
