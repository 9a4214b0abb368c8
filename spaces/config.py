"""Base of every architecture config: frozen, validated, JSON round trip.

A subclass is a ``@dataclass(frozen=True)`` that validates its fields in
``__post_init__`` with the ``check_*`` helpers below (which raise
:class:`ConfigError`, a ``ValueError``, naming the field), implements
``arch_str`` (its compact string form) and ``from_str``. Nested configs are
declared in ``_nested`` so ``from_dict`` can rebuild them.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from typing import Any, ClassVar, TypeVar

from .errors import ConfigError

__all__ = ["ArchConfig", "check_choice", "check_int", "check_op_tuple", "check_positive"]

C = TypeVar("C", bound="ArchConfig")


def check_choice(owner: str, field: str, value: Any, choices: Iterable[Any]) -> None:
    choices = tuple(choices)
    # bool is an int subclass: True must not pass as 1
    if isinstance(value, bool) and not any(isinstance(c, bool) for c in choices):
        raise ConfigError(f"{owner}: field {field!r} must be one of {choices}, got {value!r}")
    if value not in choices:
        raise ConfigError(f"{owner}: field {field!r} must be one of {choices}, got {value!r}")


def check_op_tuple(config: Any, field: str, length: int, ops: tuple[str, ...],
                   labels: tuple[str, ...] | None = None) -> None:
    """A frozen config's ``field`` must be ``length`` ops from ``ops`` (a list is turned into a tuple)."""
    owner = type(config).__name__
    value = getattr(config, field)
    if isinstance(value, list):
        value = tuple(value)
        object.__setattr__(config, field, value)
    if not isinstance(value, tuple):
        raise ConfigError(f"{owner}: field {field!r} must be a tuple of {length} ops, got "
                          f"{type(value).__name__}")
    if len(value) != length:
        raise ConfigError(f"{owner}: field {field!r} must hold {length} ops, got {len(value)}")
    for i, op in enumerate(value):
        label = f"{field}[{i}]" + (f" ({labels[i]})" if labels else "")
        check_choice(owner, label, op, ops)


def check_int(owner: str, field: str, value: Any, lo: int, hi: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise ConfigError(f"{owner}: field {field!r} must be an int in [{lo}, {hi}], got {value!r}")


def check_positive(owner: str, field: str, value: Any) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0:
        raise ConfigError(f"{owner}: field {field!r} must be a positive number, got {value!r}")


class ArchConfig:
    """Mixin for frozen config dataclasses."""

    #: field name -> config class of the items of a tuple field
    _nested: ClassVar[dict[str, type]] = {}

    # -- compact string form (subclasses implement) -------------------------
    @property
    def arch_str(self) -> str:
        raise NotImplementedError

    @classmethod
    def from_str(cls: type[C], text: str) -> C:
        raise NotImplementedError

    def __str__(self) -> str:
        return self.arch_str

    # -- dict / JSON ---------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if isinstance(value, tuple):
                value = [v.to_dict() if isinstance(v, ArchConfig) else v for v in value]
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls: type[C], data: Any) -> C:
        name = cls.__name__
        if not isinstance(data, dict):
            raise ConfigError(f"{name}: expected a JSON object, got {type(data).__name__}")
        fields = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(data) - fields)
        if unknown:
            raise ConfigError(f"{name}: unknown field(s) {unknown}; valid: {sorted(fields)}")
        required = {
            f.name
            for f in dataclasses.fields(cls)  # type: ignore[arg-type]
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        }
        missing = sorted(required - set(data))
        if missing:
            raise ConfigError(f"{name}: missing field(s) {missing}")
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if isinstance(value, list):
                item_cls = cls._nested.get(key)
                value = tuple(item_cls.from_dict(v) if item_cls else v for v in value)
            kwargs[key] = value
        return cls(**kwargs)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls: type[C], text: str) -> C:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{cls.__name__}: invalid JSON: {exc}") from None
        return cls.from_dict(data)
