"""Default learning rates that depend on the network's width.

The rules of the paper fix the direction of every update; how large a step
to take is ours to choose. With a fixed learning rate, every method takes
larger steps, measured by the change of the output, as the hidden layer
grows: in the standard (Xavier) parametrisation the output change from one
learning step grows about in proportion to the number of hidden units (the
update of the read-out and of each hidden unit's N incoming weights adds up
over N presynaptic units), and the perturbation estimates are noisier still
(ANP's hidden-layer estimate has a variance N times that of the gradient,
WP's one of order the number of weights). So a rate that is right at 100 units
diverges at 500 (docs/width.md).

:func:`default_lr` therefore scales a reference rate, chosen at
``N_REF = 100`` hidden units, as

    lr(N) = LR_REF[method, optimizer] * min(1, N_REF / N) ** WIDTH_EXPONENT[method, optimizer]
            (with decorrelation: DECORRELATION_EXPONENT replaces the exponent,
             DECORRELATION_FACTOR multiplies)

At 100 units and below this is the reference rate, the value the library has
always used, so nothing changes for the default network (except DNP with
SGD, whose rate is 10 times lower). The exponents and
the sweep they come from are in docs/width.md.

Every default rate of the library is in this module: besides the core's
(``LR_REF`` and the width rule), ``RLS_LR_FACTOR`` (the core under
``readout="rls"``) and the forecaster's own tables ``FORECAST_LR`` and
``FORECAST_RLS_LR``. :mod:`streamlearn.methods` says, per method name, which
of them applies.
"""

from __future__ import annotations

__all__ = ["N_REF", "LR_REF", "WIDTH_EXPONENT", "DECORRELATION_EXPONENT",
           "DECORRELATION_FACTOR", "RLS_LR_FACTOR", "FORECAST_LR", "FORECAST_RLS_LR",
           "width_exponent", "default_lr", "LR_DECORRELATION_REF", "default_lr_decorrelation",
           "RLS_INPUT_DRIVE", "default_input_scaling"]

#: Width at which the reference rates were chosen (the default ``n_hidden``).
N_REF = 100

#: Learning rate at ``N_REF`` hidden units, by (method, optimizer): the
#: values of docs/algorithms.md, "Defaults".
LR_REF = {
    ("anp", "sgd"): 3e-3, ("np", "sgd"): 1e-4, ("wp", "sgd"): 1e-5, ("bp", "sgd"): 1e-2,
    ("anp", "adam"): 1e-4, ("np", "adam"): 1e-5, ("wp", "adam"): 1e-6, ("bp", "adam"): 1e-3,
}

#: How fast the rate falls with width above ``N_REF``: lr ~ N ** -p.
#: p = 1 keeps the change of the output per step about constant in N
#: (docs/width.md). NP and WP with SGD need a much steeper fall: their
#: updates are dl / sigma**2 times the noise, and once the never-reset twins
#: drift apart (Xavier networks at a few hundred units are at or past the edge
#: of chaos) dl is O(1), so only a tiny rate keeps the weights bounded.
WIDTH_EXPONENT = {
    ("anp", "sgd"): 1.0, ("np", "sgd"): 4.0, ("wp", "sgd"): 4.0, ("bp", "sgd"): 1.0,
    ("anp", "adam"): 1.0, ("np", "adam"): 1.0, ("wp", "adam"): 1.0, ("bp", "adam"): 1.0,
}

#: With decorrelation, by (method, optimizer): an exponent that replaces
#: ``WIDTH_EXPONENT`` (none at present: DANP with p = 0.5 was tried and was
#: not better; docs/width.md) ...
DECORRELATION_EXPONENT = {}

#: ... and an extra factor (1 if absent): DNP with SGD diverged at 100 units
#: with NP's rate (docs/width.md).
DECORRELATION_FACTOR = {("np", "sgd"): 0.1}


def width_exponent(method, optimizer="sgd", decorrelation=False):
    """The exponent p of lr ~ N ** -p above ``N_REF`` units.

    >>> width_exponent("anp"), width_exponent("anp", decorrelation=True), width_exponent("np")
    (1.0, 1.0, 4.0)
    """
    key = (method, optimizer)
    if decorrelation and key in DECORRELATION_EXPONENT:
        return DECORRELATION_EXPONENT[key]
    return WIDTH_EXPONENT[key]


def default_lr(method, optimizer="sgd", n_hidden=N_REF, decorrelation=False):
    """The learning rate ``OnlineRNN`` uses when ``lr=None``.

    Parameters
    ----------
    method : {"anp", "np", "wp", "bp"}
    optimizer : {"sgd", "adam"}
    n_hidden : int
        Number of hidden units.
    decorrelation : bool
        Whether D is learned (DNP with SGD is 10 times lower).

    Examples
    --------
    >>> default_lr("anp", "sgd", 100)
    0.003
    >>> default_lr("anp", "sgd", 16) == default_lr("anp", "sgd", 100)
    True
    >>> default_lr("anp", "sgd", 1000) < default_lr("anp", "sgd", 500) < 0.003
    True
    >>> round(default_lr("np", "sgd", 100, decorrelation=True), 8)
    1e-05
    """
    key = (method, optimizer)
    if key not in LR_REF:
        raise ValueError(f"no default learning rate for method={method!r}, "
                         f"optimizer={optimizer!r}")
    n_hidden = int(n_hidden)
    if n_hidden < 1:
        raise ValueError(f"n_hidden must be >= 1, got {n_hidden}")
    scale = min(1.0, N_REF / n_hidden) ** width_exponent(method, optimizer, decorrelation)
    if decorrelation:
        scale *= DECORRELATION_FACTOR.get(key, 1.0)
    return LR_REF[key] * scale


#: Decorrelation rate at ``N_REF`` hidden units and below: the authors' value.
LR_DECORRELATION_REF = 1e-4


def default_lr_decorrelation(n_hidden=N_REF):
    """The rate of D (eq. 10) ``OnlineRNN`` uses when ``lr_decorrelation=None``:
    ``LR_DECORRELATION_REF * min(1, N_REF / n_hidden)``.

    Row i of D's update sums xs_i xs_k D_kj over the N - 1 other units, so at a
    fixed rate the change of D per step grows with N; at 1e-4 DANP's error on
    Mackey-Glass rose from 0.29 at 100 units to 0.35-0.47 at 1,000, and with
    this fall it stays at 0.22-0.30 (docs/width.md, "Decorrelation rate").

    >>> default_lr_decorrelation(100), default_lr_decorrelation(16), default_lr_decorrelation(1000)
    (0.0001, 0.0001, 1e-05)
    """
    n_hidden = int(n_hidden)
    if n_hidden < 1:
        raise ValueError(f"n_hidden must be >= 1, got {n_hidden}")
    return LR_DECORRELATION_REF * min(1.0, N_REF / n_hidden)


#: Under ``readout="rls"``, the standard deviation of a hidden unit's input
#: drive A u for inputs of unit variance, at initialisation.
RLS_INPUT_DRIVE = 0.4


def default_input_scaling(readout="perturbation", n_hidden=N_REF, n_inputs=1):
    """The factor on the Xavier-normal A that ``OnlineRNN`` uses when
    ``input_scaling=None``.

    With the paper's read-out it is 1 (the paper's network). Under least
    squares the network is a reservoir that needs a stronger drive than
    Xavier's std sqrt(2 / (N + I)), which falls with width (0.06 per weight at
    500 units): the factor makes the drive of each unit, sum_k A_ik u_k for
    inputs of unit variance, have std ``RLS_INPUT_DRIVE`` (0.4) at any width.
    On Mackey-Glass 15 ahead (one input) 0.3-0.4 was best at 100 and at 500
    units (docs/algorithms.md, "Input scaling").

    >>> default_input_scaling("perturbation", 500, 1)
    1.0
    >>> round(default_input_scaling("rls", 500, 1), 2), round(default_input_scaling("rls", 100, 1), 2)
    (6.33, 2.84)
    """
    if readout == "perturbation":
        return 1.0
    n_hidden, n_inputs = int(n_hidden), int(n_inputs)
    xavier = (2.0 / (n_hidden + n_inputs)) ** 0.5
    return RLS_INPUT_DRIVE / (xavier * n_inputs ** 0.5)


#: ``OnlineRNN(lr=None, readout="rls")`` takes ``default_lr(...) * RLS_LR_FACTOR``:
#: under least squares, learning A and R made Mackey-Glass worse at every rate
#: measured, so the default keeps it slow (docs/algorithms.md).
RLS_LR_FACTOR = 1e-4

#: ``RNNForecaster(lr=None, readout="perturbation")``, by (method, optimizer);
#: not scaled with width. Lower than the core's one-output defaults:
#: ``max_horizon`` delayed pieces of the update reach the hidden layer at every
#: step. Chosen on Mackey-Glass streams (100 hidden units, 15 horizons, 4 seeds;
#: docs/river.md, "Defaults"). Also ``streamlearn.forecaster.DEFAULT_LR``.
FORECAST_LR = {
    ("anp", "sgd"): 2e-4, ("np", "sgd"): 1e-4, ("wp", "sgd"): 3e-6, ("bp", "sgd"): 3e-3,
    ("anp", "adam"): 3e-5, ("np", "adam"): 3e-5, ("wp", "adam"): 3e-6, ("bp", "adam"): 1e-4,
}

#: ``RNNForecaster(lr=None, readout="rls")``: the hidden layer's rate under the
#: least-squares read-out (its update is one rank-1 step per time step, judged
#: on all horizons; docs/forecasting.md). Also
#: ``streamlearn.forecaster.RLS_DEFAULT_LR``.
FORECAST_RLS_LR = {
    ("anp", "sgd"): 1e-4, ("np", "sgd"): 1e-5, ("wp", "sgd"): 1e-6, ("bp", "sgd"): 1e-3,
    ("anp", "adam"): 1e-5, ("np", "adam"): 1e-6, ("wp", "adam"): 1e-7, ("bp", "adam"): 1e-5,
}
