"""streamlearn: online, gradient-free training of recurrent networks.

Implements the perturbation learning rules of Fernández, Keemink and van
Gerven (2024): activity-based node perturbation (ANP), node perturbation (NP)
and weight perturbation (WP), each optionally with input decorrelation, plus an
exact-gradient baseline (BP), all applied online at every time step.
"""

from .checkpoint import CheckpointError
from .forecaster import RNNForecaster
from .metrics import decorrelation_loss
from .online_rnn import DivergenceError, OnlineRNN
from .regressor import RNNRegressor

__all__ = ["OnlineRNN", "RNNRegressor", "RNNForecaster", "CheckpointError", "DivergenceError",
           "decorrelation_loss"]
__version__ = "0.1.0"
