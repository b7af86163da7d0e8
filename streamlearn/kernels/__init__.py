"""Numba kernels for one online step of the twin networks, one module per concern.

Only arithmetic lives here; ``online_rnn.py`` validates inputs and owns the
buffers (docs/architecture.md draws the layers and the path of a sample). Equation numbers refer to ``docs/algorithms.md``. Every kernel works in
place on preallocated arrays: a step allocates nothing.

Buffers (shapes with N hidden, I inputs, O outputs, K = bptt window):

- ``A`` (N, I), ``R`` (N, N), ``B`` (O, N), ``D`` (N, N): the shared weights.
- ``moments`` (2 * (N*I + N*N + O*N),): Adam's first then second moments for
  A, R, B in that order (empty for SGD).
- ``wp_noise`` (N*I + N*N + O*N,): the weight noise of one WP step (empty
  otherwise). With Rademacher noise the fast path keeps R's part as sign
  bits instead (``network._draw_wp_bits``: the stream's words, and R's signs
  transposed, uint64) and expands only A's and the read-out's.
- ``state`` (2, N): row 0 the clean twin's xs_{t-1}, row 1 the noisy twin's.
- ``history`` (K, I + 2N): for BP, the last K steps' u_j, xs_{j-1}, f'(alpha_j).
- ``work_n`` (N_WORK_N, N), ``work_o`` (N_WORK_O, O), ``work_k`` (K, N):
  scratch.
- ``rng`` uint64[4]: the model's random stream (``_random.py``).
- ``counters`` int64[3]: Adam step, next history slot, history fill.
- ``hyper`` float64[6]: lr, lr_decorrelation, sigma, adam beta1, beta2, eps.
- ``config`` int64[9]: method, activation, decorrelation, optimizer,
  noisy_reference, K, skip, bias, read-out (PERTURBATION or RLS).

The fast path's read-out extensions (``_step_fast``): ``C`` (O, I) and ``cb``
(O,) the read-out's skip weights and bias (eq. 1b; zero and unused without
skip / bias); ``moments_out`` Adam's moments of C and c; ``P`` (M, M) float64
the least-squares read-out's inverse correlation matrix (eq. 11, M = N +
I * skip + bias; 0 x 0 otherwise), ``P_spare`` its scratch copy for the exact
guard, ``rls_work`` (N_RLS_WORK, M) float64 scratch (z, gain, q, a row of W);
``watch`` (2, O) float64 the running min and max of each output's targets
(the output watch, ``_outside_watch``). ``counters`` then has N_COUNTERS
slots and ``hyper`` N_HYPER.

Modules:

- ``layout``: slots of the packed arrays (config codes, hyper, counters, scratch rows).
- ``linalg``: small dense products, copies and maxima, each sum in a fixed order.
- ``network``: activations and the hidden layer's products with R (eq. 1, 3, 7).
- ``decorrelation``: eq. 10, alone and fused into the pass over D.
- ``rules``: the loss (eq. 2), ANP's direction (eq. 5), BP's gradients (eq. 6).
- ``optim``: SGD and Adam (eq. 9), and the fast path's pending A and R updates.
- ``guard``: the divergence guard and the output watch.
- ``readouts``: skip and bias (eq. 1b), the least-squares read-out's step (eqs. 11-12);
  ``rls``: its RLS kernels.
- ``parallel``: the two-thread mode.
- ``step``: the drivers ``_run_fast`` and ``_predict_fast`` that ``OnlineRNN`` calls.
- ``factored``: ``_run_factored``, the opt-in factored update mode (R and D kept as
  stored matrices plus pending factors; equal to ``step`` to rounding; docs/factored.md).
- ``arena``: the one-sample entries, which take the model's buffers as three
  flat arrays (``OnlineRNN._pack``) and run ``_run_fast`` / ``_predict_fast``.
- ``standardise``: the River learners' running standardisation of features.
- ``forecast``, ``forecast_rls``: ``RNNForecaster``'s drivers (perturbation and
  least-squares read-outs).
- ``shared``: ``SharedRNN``'s drivers (many streams, one rank-k update per tick).
- ``fleet``: ``Fleet``'s drivers (many independent members, each stepped by ``step._step_fast``).
"""
