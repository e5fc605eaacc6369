"""The code of every registered model (MLflow "models from code"): no pickle.

MLflow runs the model's copy of this file when it loads a version (after
``models.registry.load_model`` has checked its sha256); it only imports the
installed project. ``DetectorModel.load_context`` then reads the fitted detector
from the model's plain files (arrays, JSON, a skops forest, torch weights).
"""

from mlflow.models import set_model

from models.registry import DetectorModel

set_model(DetectorModel())
