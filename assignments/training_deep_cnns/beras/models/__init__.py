"""Models like ``keras.models``: Sequential, the functional Model, Input."""
from ..layers.base import Input  # noqa: F401
from .functional import Model  # noqa: F401
from .progress import History, ProgressBar  # noqa: F401
from .sequential import Sequential  # noqa: F401
from .from_keras import from_keras  # noqa: F401,E402
