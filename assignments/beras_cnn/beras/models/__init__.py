"""Models like ``keras.models``: Sequential, the functional Model, Input."""
from ..layers.base import Input  # noqa: F401
from .model import History, Model, ProgressBar, Sequential  # noqa: F401
from .from_keras import from_keras  # noqa: F401,E402
