"""Latency predictors over LayerSpec lists. Never imports torch."""

from .features import FEATURE_NAMES, PRECISIONS, feature_matrix, layer_features

__all__ = ["FEATURE_NAMES", "PRECISIONS", "feature_matrix", "layer_features"]
