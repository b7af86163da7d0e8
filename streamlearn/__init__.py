"""streamlearn: online, gradient-free training of recurrent networks.

Implements the perturbation learning rules of Fernández, Keemink and van
Gerven (2024): activity-based node perturbation (ANP), node perturbation (NP)
and weight perturbation (WP), each optionally with input decorrelation, plus an
exact-gradient baseline (BP), all applied online at every time step.
"""

from ._version import __version__
from .checkpoint import CheckpointError
from .fleet import Fleet, FleetDivergenceError
from .metrics import decorrelation_loss
from .online_rnn import DivergenceError, OnlineRNN
from .shared import SharedRNN

__all__ = ["OnlineRNN", "Fleet", "FleetDivergenceError", "SharedRNN", "RNNRegressor",
           "RNNForecaster", "FleetRegressor", "ForecasterRouter", "ForecasterFleet",
           "CheckpointError", "DivergenceError",
           "decorrelation_loss"]

# The River learners import River (about a second); load them on first use so
# that `import streamlearn` for OnlineRNN alone stays fast. The imports are
# spelled out, so that tests/test_imports.py sees them.
_LAZY = ("RNNRegressor", "RNNForecaster", "FleetRegressor", "ForecasterRouter",
         "ForecasterFleet")


def __getattr__(name):
    if name == "RNNRegressor":
        from .regressor import RNNRegressor as value
    elif name == "RNNForecaster":
        from .forecaster import RNNForecaster as value
    elif name == "FleetRegressor":
        from .fleet_regressor import FleetRegressor as value
    elif name == "ForecasterRouter":
        from .forecaster_router import ForecasterRouter as value
    elif name == "ForecasterFleet":
        from .forecaster_fleet import ForecasterFleet as value
    else:
        raise AttributeError(f"module 'streamlearn' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
