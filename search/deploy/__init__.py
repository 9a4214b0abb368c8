"""Using a shipped model folder: ``load_model(folder)`` classifies image files or arrays.

Needs only numpy, Pillow and onnxruntime (and this package's source), so a
model folder and ``pip install --no-deps`` of this project run on a machine
without torch.
"""

from search.deploy.loader import DeployError, LoadedModel, Prediction, load_model

__all__ = ["load_model", "LoadedModel", "Prediction", "DeployError"]
