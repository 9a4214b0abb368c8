"""Errors of the predictors package (all :class:`spaces.NasError` subclasses)."""

from __future__ import annotations

from spaces import NasError

__all__ = ["PredictorError"]


class PredictorError(NasError, ValueError):
    """Bad predictor input: no data, non-finite or non-positive latencies, mismatched lengths."""
