"""How the experiments build their models from the method names.

The names themselves (``bp``, ``anp``, ``np`` and ``wp``, and with a ``d``
prefix for the decorrelation of the hidden layer ``dbp``, ``danp``, ``dnp``,
``dwp``), their rules and their default optimizers are in the registry,
:mod:`streamlearn.methods`. The paper trains BP with Adam and the perturbation
rules with plain SGD; that is the default optimizer here and can be overridden
per method in the YAML file.
"""

from __future__ import annotations

import numpy as np

from .. import methods as registry

__all__ = ["METHODS", "MODEL_KEYS", "model_kwargs", "uses_sigma", "make_model"]

#: method name -> (OnlineRNN ``method``, ``decorrelation``), from the registry
#: (``streamlearn.methods.METHODS``), in its order.
METHODS = {name: (m.rule, m.decorrelation) for name, m in registry.METHODS.items()}

#: Settings accepted in the ``model`` section and per method (besides n_hidden).
MODEL_KEYS = (
    "lr",
    "sigma",
    "lr_decorrelation",
    "optimizer",
    "activation",
    "dtype",
    "bptt_window",
    "noisy_reference",
    "noise",
)

def uses_sigma(method):
    """Whether the noise scale matters for ``method`` (not for BP).

    >>> uses_sigma("danp"), uses_sigma("dbp")
    (True, False)
    """
    return registry.METHODS[method].uses_sigma


def model_kwargs(method, n_inputs, n_outputs, n_hidden, settings, seed):
    """Keyword arguments for :class:`streamlearn.OnlineRNN`.

    Parameters
    ----------
    method : str
        One of :data:`METHODS`.
    n_inputs, n_outputs, n_hidden : int
        Network size.
    settings : dict
        Merged settings (model section, then the method's own, then tuned
        values); keys from :data:`MODEL_KEYS`. Missing keys take the core's
        defaults, except ``optimizer`` (Adam for BP, SGD otherwise).
    seed : int
        Weight-initialisation and noise seed.

    Returns
    -------
    dict

    Examples
    --------
    >>> kw = model_kwargs("dbp", 1, 1, 50, {"lr": 0.01}, seed=3)
    >>> kw["method"], kw["decorrelation"], kw["optimizer"], kw["lr"], kw["n_hidden"]
    ('bp', True, 'adam', 0.01, 50)
    """
    spec = registry.METHODS[method]
    kw = {
        "n_inputs": int(n_inputs),
        "n_hidden": int(n_hidden),
        "n_outputs": int(n_outputs),
        "method": spec.rule,
        "decorrelation": spec.decorrelation,
        "optimizer": spec.optimizer,
        "seed": int(seed),
    }
    for key in MODEL_KEYS:
        if key in settings and settings[key] is not None:
            kw[key] = settings[key]
    if "dtype" in kw:
        kw["dtype"] = np.dtype(kw["dtype"]).type
    return kw


def make_model(kwargs):
    """Build an :class:`streamlearn.OnlineRNN` from :func:`model_kwargs` output."""
    from streamlearn import OnlineRNN  # imported late: the core is optional for config checks

    return OnlineRNN(**kwargs)
