"""The contract every search space implements.

A space turns an Optuna trial into a config (``sample``), a config into a torch
model (``build``) and, without torch, into a list of LayerSpecs (``layers``).
``tests/spaces/test_contract.py`` checks every registered space against it.
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from typing import Any, ClassVar

from .config import ArchConfig
from .errors import ConfigError
from .layerspec import LayerSpec

__all__ = ["SearchSpace", "PositionalOpsSpace", "InputShape", "one_hot", "one_hot_names"]

InputShape = tuple[int, int, int]  # (channels, height, width)


@functools.lru_cache(maxsize=65536)
def one_hot(values: tuple[str, ...], choices: tuple[str, ...]) -> tuple[float, ...]:
    """Encode one choice per position (an edge, a layer) as concatenated one-hot vectors."""
    return tuple(1.0 if value == choice else 0.0 for value in values for choice in choices)


def one_hot_names(positions: tuple[str, ...], choices: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f"{position}={choice}" for position in positions for choice in choices)


class SearchSpace(ABC):
    #: registry name
    name: ClassVar[str]
    #: one line for ``python -m search spaces``
    description: ClassVar[str]
    #: the frozen dataclass of this space's architectures
    config_cls: ClassVar[type[ArchConfig]]

    @abstractmethod
    def sample(self, trial: Any) -> ArchConfig:
        """Draw a config using only ``trial.suggest_*``.

        So ``optuna.trial.FixedTrial(trial.params)`` rebuilds the same config.
        """

    @abstractmethod
    def build(
        self, config: ArchConfig, num_classes: int = 10, in_chans: int = 3, img_size: int | None = None
    ) -> Any:
        """Build the ``torch.nn.Module`` (imports torch lazily)."""

    @abstractmethod
    def layers(
        self, config: ArchConfig, input_shape: InputShape | None = None, num_classes: int = 10
    ) -> list[LayerSpec]:
        """Describe the model that ``build`` makes, op by op, without torch."""

    @abstractmethod
    def size(self) -> int:
        """How many distinct architectures the space holds."""

    @abstractmethod
    def extremes(self) -> tuple[ArchConfig, ArchConfig]:
        """The smallest and the largest architecture (by FLOPs), for profiling coverage."""

    @abstractmethod
    def encoding_names(self) -> tuple[str, ...]:
        """Names of the values of ``encode``: a fixed-length description of the choices."""

    @abstractmethod
    def encode(self, config: ArchConfig) -> tuple[float, ...]:
        """The config's choices as numbers (one-hot where a choice's position matters).

        LayerSpecs say what each op costs but not where it sits; a predictor
        needs both when the device's latency depends on the graph (NAS-Bench-201
        cells are the example: equal op counts, different latencies).
        """

    def resolution(self, config: ArchConfig) -> int:
        """The input resolution a config is meant for (32 unless the config says)."""
        return int(getattr(config, "resolution", 32))

    def input_shape(self, config: ArchConfig, in_chans: int = 3) -> InputShape:
        r = self.resolution(config)
        return (in_chans, r, r)

    def parse(self, arch_str: str) -> ArchConfig:
        if not isinstance(arch_str, str) or not arch_str:
            raise ConfigError(f"{self.name}: expected a non-empty architecture string, got {arch_str!r}")
        return self.config_cls.from_str(arch_str)

    def from_json(self, text: str) -> ArchConfig:
        return self.config_cls.from_json(text)

    def check_input_shape(self, input_shape: Any, multiple_of: int = 1) -> InputShape:
        """``(channels, height, width)`` of positive ints, height and width multiples of ``multiple_of``."""
        if (not isinstance(input_shape, (tuple, list)) or len(input_shape) != 3
                or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in input_shape)
                or input_shape[1] % multiple_of or input_shape[2] % multiple_of):
            rule = f" with height and width multiples of {multiple_of}" if multiple_of > 1 else ""
            raise ConfigError(f"{self.name}: input_shape must be (channels, height, width) of positive ints"
                              f"{rule}, got {input_shape!r}")
        return tuple(input_shape)  # type: ignore[return-value]

    def check_config(self, config: Any) -> ArchConfig:
        if not isinstance(config, self.config_cls):
            raise ConfigError(
                f"{self.name}: expected a {self.config_cls.__name__}, got {type(config).__name__}"
            )
        return config

    def __repr__(self) -> str:
        return f"<SearchSpace {self.name}>"


class PositionalOpsSpace(SearchSpace):
    """A space whose config is one op from ``ops`` per named position (a layer, an edge).

    Subclasses set ``positions`` (the Optuna parameter names, in config order),
    ``ops`` and ``ops_field`` (the config's tuple field); sampling, encoding and
    size follow from them.
    """

    positions: ClassVar[tuple[str, ...]]
    ops: ClassVar[tuple[str, ...]]
    ops_field: ClassVar[str]

    def sample(self, trial: Any) -> ArchConfig:
        return self.config_cls(tuple(trial.suggest_categorical(name, self.ops) for name in self.positions))

    def encoding_names(self) -> tuple[str, ...]:
        return one_hot_names(self.positions, self.ops)

    def encode(self, config: ArchConfig) -> tuple[float, ...]:
        return one_hot(getattr(self.check_config(config), self.ops_field), self.ops)

    def size(self) -> int:
        return len(self.ops) ** len(self.positions)
