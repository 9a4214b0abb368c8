"""Registry of search spaces: ``create_space(name)``, ``list_spaces()``."""

from __future__ import annotations

import importlib
from typing import Any

from .base import SearchSpace
from .errors import UnknownNameError

__all__ = ["create_space", "list_spaces", "register_space"]

# name -> "module:Class"; imported on first use so listing names stays cheap
_SPACES: dict[str, str] = {
    "mobile_cnn": "spaces.mobile_cnn:MobileCnnSpace",
    "sparse_vit": "spaces.sparse_vit:SparseVitSpace",
    "fbnet": "spaces.fbnet:FBNetSpace",
    "nb201": "spaces.nb201:NB201Space",
}


def register_space(name: str, target: str) -> None:
    """Register a space class given as ``"module:Class"``."""
    _SPACES[name] = target


def list_spaces() -> list[str]:
    return sorted(_SPACES)


def create_space(name: str, **options: Any) -> SearchSpace:
    """Instantiate the space called ``name`` (options go to its constructor)."""
    if name not in _SPACES:
        raise UnknownNameError("space", name, list_spaces())
    module_name, cls_name = _SPACES[name].split(":")
    cls = getattr(importlib.import_module(module_name), cls_name)
    return cls(**options)
