"""streamlearn: online, gradient-free training of recurrent networks.

Implements the perturbation learning rules of Fernández, Keemink and van
Gerven (2024): activity-based node perturbation (ANP), node perturbation (NP)
and weight perturbation (WP), each optionally with input decorrelation, plus an
exact-gradient baseline (BP), all applied online at every time step.
"""

from .checkpoint import CheckpointError
from .metrics import decorrelation_loss
from .online_rnn import DivergenceError, OnlineRNN

__all__ = ["OnlineRNN", "RNNRegressor", "RNNForecaster", "CheckpointError", "DivergenceError",
           "decorrelation_loss"]
__version__ = "0.1.0"

# The River learners import River (about a second); load them on first use so
# that `import streamlearn` for OnlineRNN alone stays fast.
_LAZY = {"RNNRegressor": "regressor", "RNNForecaster": "forecaster"}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'streamlearn' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
