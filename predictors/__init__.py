"""Latency predictors over LayerSpec lists. Never imports torch.

Typical use (the caller reads the profile; this package never imports ``hwprofiles``)::

    rows = profile.select(space="nb201", precision="fp32")
    predictor = predictor_for_rows(rows, create_space("nb201"), "fp32")
    p50_ms, upper_ms = predictor.score(space, configs)
"""

from .cache import CODE_VERSION, clear_cache, data_hash, predictor_for_rows
from .data import DEFAULT_NUM_CLASSES, LatencyData, default_num_classes, rows_to_data
from .errors import PredictorError
from .evaluate import accuracy_metrics, evaluate, evaluate_split, plot_predicted_vs_measured
from .features import FEATURE_NAMES, PRECISIONS, arch_features, feature_matrix, layer_features
from .fewshot import FewShotPredictor, fit_fewshot
from .models import (
                     CANDIDATES,
                     AdditiveModel,
                     FlopsLinearBaseline,
                     LatencyPredictor,
                     fit_flops_baseline,
                     fit_predictor,
                     refit_predictor,
)

__all__ = [
    "AdditiveModel", "CANDIDATES", "CODE_VERSION", "DEFAULT_NUM_CLASSES", "FEATURE_NAMES", "FewShotPredictor",
    "FlopsLinearBaseline", "LatencyData", "LatencyPredictor", "PRECISIONS", "PredictorError",
    "accuracy_metrics", "clear_cache", "data_hash", "default_num_classes", "evaluate", "evaluate_split",
    "arch_features", "feature_matrix", "fit_fewshot", "fit_flops_baseline", "fit_predictor", "layer_features",
    "plot_predicted_vs_measured", "predictor_for_rows", "refit_predictor", "rows_to_data",
]
