"""RNNForecaster's outputs pinned bit for bit: short runs of every kernel path.

The digests below were recorded by running this file's ``_digest`` on the code
of main at 139fe81, before the forecaster's step moved into one transactional
kernel (its guard inside the jitted step). A refactoring of the forecaster's
kernels must reproduce every forecast, weight, counter and random-stream
position of these runs to the last bit, including the refused steps of the
divergence policies. To print the digests of the current code:

    python tests/test_forecaster_pinned.py
"""

import hashlib
import sys

import numpy as np
import pytest

from streamlearn.forecaster import RNNForecaster

RUNS = {
    "rls-anp": dict(max_horizon=3, n_hidden=8, lags=4, seed=1),
    "rls-danp-adam": dict(max_horizon=4, n_hidden=7, lags=2, seed=2, decorrelation=True,
                          optimizer="adam", lr=1e-3, lr_decorrelation=1e-2),
    "rls-anp-float32": dict(max_horizon=2, n_hidden=6, lags=2, seed=11, dtype=np.float32),
    "pert-anp-float32": dict(max_horizon=2, n_hidden=6, lags=1, seed=12, dtype=np.float32,
                             readout="perturbation"),
    "rls-np": dict(max_horizon=2, n_hidden=6, lags=3, seed=3, method="np", lr=1e-3),
    "rls-wp-rademacher": dict(max_horizon=3, n_hidden=6, lags=2, seed=4, method="wp",
                              lr=1e-5, noise="rademacher", decorrelation=True),
    "rls-bp-adam": dict(max_horizon=3, n_hidden=6, lags=2, seed=5, method="bp",
                        optimizer="adam", lr=1e-3, rls_clip=None, gate=False),
    "pert-anp-adam": dict(max_horizon=3, n_hidden=8, seed=6, readout="perturbation",
                          decorrelation=True, lags=2),
    "pert-np-sgd": dict(max_horizon=2, n_hidden=6, seed=7, readout="perturbation",
                        method="np", optimizer="sgd", lr=1e-4, lags=0),
    "pert-wp-adam": dict(max_horizon=3, n_hidden=6, seed=8, readout="perturbation",
                         method="wp", lags=1),
    "pert-bp-sgd": dict(max_horizon=3, n_hidden=6, seed=9, readout="perturbation",
                        method="bp", optimizer="sgd", lr=1e-2, decorrelation=True, lags=1),
    "pert-anp-noisyref": dict(max_horizon=2, n_hidden=6, seed=10, readout="perturbation",
                              noisy_reference=True, residual=False, lags=0),
    # the divergence policies: refused steps, rollbacks and resets
    "rls-rollback": dict(max_horizon=4, n_hidden=30, method="np", lr=3.0, optimizer="sgd",
                         seed=0, on_divergence="rollback", max_weight=10.0),
    "rls-reset": dict(max_horizon=4, n_hidden=30, method="np", lr=3.0, optimizer="sgd",
                      seed=0, on_divergence="reset", max_weight=10.0),
    "pert-rollback": dict(max_horizon=3, n_hidden=20, method="np", lr=0.3, optimizer="sgd",
                          seed=0, readout="perturbation", on_divergence="rollback",
                          max_weight=20.0),
    "pert-reset": dict(max_horizon=3, n_hidden=20, method="np", lr=0.3, optimizer="sgd",
                       seed=0, readout="perturbation", on_divergence="reset",
                       max_weight=20.0),
}

DIGESTS = {
    # recorded on main (139fe81); see the module docstring
    'pert-anp-adam': '7020b03766144018a7ba42621cd3f2ae20eb9cf4a29f53835ed2bc090c46284f',
    'pert-anp-float32': '0228a06bcd3c8508e1a7aa8cc4013b99fc0e6264814780967dc228d6676b3bd8',
    'pert-anp-noisyref': '4d962426c81898ca47254f78c1551f784f59725c777433a31d1a56fea31c0197',
    'pert-bp-sgd': 'ed018fd6e7ef1992d9cdad4402e5692099ec61c19750703b4786439475530ffc',
    'pert-np-sgd': 'd0e17e484bc83db7e591ad55302383738170d71a01f6e214faad62269f59afd4',
    'pert-reset': '25a35158018ebf4039d54cdc4e2017ee9684466d799bdac905f82324bdcbc22d',
    'pert-rollback': '207d20fa3264edf67c0cd030e195db9202f45a28b7b67979d0baaacd040f1e4d',
    'pert-wp-adam': '5c2a95a55c29a6a33f0e5abb4576466d921f82cf6463c2cdfc52eb6e3bb23d6b',
    'rls-anp': 'a4d4f675fd2884f8981354b886d4ba1b144dde544a37c5237a1e66dcd1e0a11c',
    'rls-anp-float32': 'f2ae2930079cdaa447812a198d98188478793b4355de3dbb016016eea6be20f8',
    'rls-bp-adam': 'd9ea02f8b15f71dcd410ee2935ce40e3e2766b7f11e532a471812fac5ae38009',
    'rls-danp-adam': '4ab163065faa6b2ba5a91ff2b50d47c4f675f30c65e8a919da180ecf8954fe35',
    'rls-np': '6bab7124296a606ddbeff68d7701da650e5a4289b6eccd105d02f1f60a1b7fb5',
    'rls-reset': '097c570cae03b0bae4cef806d902d3d03fa70a0e49cd5187d305cdef43ea5a70',
    'rls-rollback': '4210a34a4f0e796a71d5be3aa5621bfcb498edb6497b3eceb16daad28ab592b0',
    'rls-wp-rademacher': 'f142be399a5f5ec6bd2b46c1b7784a1cfa758a906ddd62105b36afa531ec9d62',
}


def _digest(kw, T=150):
    """Run ``T`` steps (an exogenous feature appears at step 40) and hash every
    forecast and the final model state."""
    model = RNNForecaster(**kw)
    t = np.arange(T)
    y = 3.0 + np.sin(t / 4.0) + 0.3 * np.sin(t / 1.7) + 0.05 * np.cos(t * 1.3)
    h = hashlib.sha256()
    H = kw["max_horizon"]
    for i in range(T):
        x = {"f": float(np.cos(i / 3.0))} if i >= 40 else None
        model.learn_one(float(y[i]), x)
        h.update(np.asarray(model.forecast(H), dtype=np.float64).tobytes())
    net = model.network
    for a in (net.A, net.R, net.B, net.D, net.state, net.noisy_state, net._rng,
              getattr(model, "_W", np.zeros(0)), getattr(model, "_P", np.zeros(0))):
        h.update(np.ascontiguousarray(a).tobytes())
    h.update(repr((model.n_steps, net.n_rollbacks, net.n_resets, net.n_updates)).encode())
    return h.hexdigest()


@pytest.mark.parametrize("name", sorted(RUNS))
def test_forecaster_outputs_are_pinned(name):
    assert _digest(RUNS[name]) == DIGESTS[name]


if __name__ == "__main__":
    for name in sorted(RUNS):
        print(f"    {name!r}: {_digest(RUNS[name])!r},", file=sys.stdout)
