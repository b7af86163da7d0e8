"""The registry of methods: every name the library, its CLI and its experiments accept.

Four learning rules, each with or without decorrelation of the hidden layer (a
``d`` in front of the name):

==========  ======  =============  =========
name        rule    decorrelation  optimizer
==========  ======  =============  =========
``bp``      bp      no             adam
``dbp``     bp      yes            adam
``anp``     anp     no             sgd
``danp``    anp     yes            sgd
``np``      np      no             sgd
``dnp``     np      yes            sgd
``wp``      wp      no             sgd
``dwp``     wp      yes            sgd
==========  ======  =============  =========

``rule`` is what :class:`streamlearn.OnlineRNN` (and the River learners) take
as ``method``; ``optimizer`` is the paper's choice (Adam for BP, plain SGD for
the perturbation rules), used by the demo and by the experiments unless a
configuration overrides it. The learners themselves keep their own
``optimizer`` defaults (``"sgd"`` for ``OnlineRNN`` and ``RNNRegressor``;
by read-out for ``RNNForecaster``, :data:`FORECASTER_OPTIMIZER`).

The default learning rates are numbers in :mod:`streamlearn.defaults`; a
:class:`Method` says which of them applies (:meth:`Method.lr` for the core and
``RNNRegressor``, :meth:`Method.forecaster_lr` for ``RNNForecaster``).

>>> from streamlearn.methods import METHODS, get
>>> m = get("DANP")
>>> m.rule, m.decorrelation, m.optimizer, m.label
('anp', True, 'sgd', 'DANP')
>>> m.lr(), m.lr(n_hidden=500), m.forecaster_lr()
(0.003, 0.0006, 0.0001)
>>> [name for name, m in METHODS.items() if not m.uses_sigma]
['bp', 'dbp']

This module imports nothing of the library but :mod:`streamlearn.defaults`
(no kernels, no River): the core, the River learners, the demo, the CLI, the
experiments and the benchmarks all import it, and it imports none of them.
"""

from __future__ import annotations

from dataclasses import dataclass

from .defaults import FORECAST_LR, FORECAST_RLS_LR, N_REF, RLS_LR_FACTOR, default_lr

__all__ = ["Method", "METHODS", "NAMES", "NAMES_BY_RULE", "RULES", "DECORRELATION_PREFIX", "PAPER_OPTIMIZER",
           "FORECASTER_OPTIMIZER", "get", "name_of", "forecaster_defaults"]

#: The learning rules, as ``OnlineRNN(method=...)`` takes them.
RULES = ("anp", "np", "wp", "bp")

#: A name with this prefix learns the decorrelating matrix D as well.
DECORRELATION_PREFIX = "d"

#: The optimiser the paper trains each rule with.
PAPER_OPTIMIZER = {"bp": "adam", "anp": "sgd", "np": "sgd", "wp": "sgd"}

#: ``RNNForecaster(optimizer=None)`` by read-out: SGD under least squares (one
#: rank-1 step per time step), Adam with the perturbation read-out (its delayed
#: per-horizon pieces of the update; docs/river.md).
FORECASTER_OPTIMIZER = {"rls": "sgd", "perturbation": "adam"}


@dataclass(frozen=True)
class Method:
    """One method name: a rule, with or without decorrelation."""

    #: The name (``"danp"``).
    name: str
    #: The learning rule (``"anp"``): ``OnlineRNN(method=rule)``.
    rule: str
    #: Whether the decorrelating matrix D is learned.
    decorrelation: bool
    #: The default optimiser of the demo and the experiments (the paper's).
    optimizer: str

    @property
    def label(self):
        """The name as the paper writes it (``"DANP"``)."""
        return self.name.upper()

    @property
    def uses_sigma(self):
        """Whether the noise scale ``sigma`` matters (not for BP)."""
        return self.rule != "bp"

    def lr(self, optimizer=None, n_hidden=N_REF, readout="perturbation"):
        """``OnlineRNN``'s rate for ``lr=None`` (and ``RNNRegressor``'s).

        ``streamlearn.defaults.default_lr`` (``LR_REF``, scaled down above
        ``N_REF`` hidden units), times ``RLS_LR_FACTOR`` with ``readout="rls"``.
        ``optimizer=None`` means this method's own :attr:`optimizer`.
        """
        optimizer = self.optimizer if optimizer is None else optimizer
        lr = default_lr(self.rule, optimizer, n_hidden, self.decorrelation)
        return lr * RLS_LR_FACTOR if readout == "rls" else lr

    def forecaster_lr(self, optimizer=None, readout="rls"):
        """``RNNForecaster``'s rate for ``lr=None`` (the same with and without D).

        ``optimizer=None`` means the forecaster's default for ``readout``.
        """
        return forecaster_defaults(self.rule, optimizer, readout)[1]


def _registry():
    out = {}
    for rule in ("bp", "anp", "np", "wp"):  # the paper's order
        for decorrelation in (False, True):
            name = (DECORRELATION_PREFIX if decorrelation else "") + rule
            out[name] = Method(name, rule, decorrelation, PAPER_OPTIMIZER[rule])
    return out


#: name -> :class:`Method`, in the paper's order (BP first: the baseline).
METHODS = _registry()

#: The names, in the same order.
NAMES = tuple(METHODS)

#: The names by rule, in the order of ``RULES``, each without then with D
#: (``anp, danp, np, dnp, wp, dwp, bp, dbp``): the demo's and the width sweep's order.
NAMES_BY_RULE = tuple(sorted(NAMES, key=lambda n: (RULES.index(METHODS[n].rule),
                                                   METHODS[n].decorrelation)))


def get(name):
    """The :class:`Method` called ``name`` (any case).

    >>> get("np").decorrelation, get("dnp").decorrelation
    (False, True)
    >>> get("adam")
    Traceback (most recent call last):
    ...
    ValueError: unknown method 'adam'; choose one of bp, dbp, anp, danp, np, dnp, wp, dwp
    """
    key = str(name).lower()
    if key not in METHODS:
        raise ValueError(f"unknown method {key!r}; choose one of {', '.join(NAMES)}")
    return METHODS[key]


def name_of(rule, decorrelation=False):
    """The name of ``rule`` with or without decorrelation: ``name_of("anp", True) == "danp"``."""
    return (DECORRELATION_PREFIX if decorrelation else "") + rule


def forecaster_defaults(method, optimizer=None, readout="rls"):
    """``RNNForecaster``'s (optimizer, lr) when ``optimizer`` / ``lr`` are None.

    The rate is looked up in ``FORECAST_RLS_LR`` (``readout="rls"``) or
    ``FORECAST_LR``; an unknown rule or optimiser gives ``None``, so that the
    core reports the bad value.

    >>> forecaster_defaults("anp"), forecaster_defaults("anp", readout="perturbation")
    (('sgd', 0.0001), ('adam', 3e-05))
    """
    if optimizer is None:
        optimizer = FORECASTER_OPTIMIZER.get(readout, "adam")
    table = FORECAST_RLS_LR if readout == "rls" else FORECAST_LR
    return optimizer, table.get((str(method).lower(), str(optimizer).lower()))
