"""Slots of the kernels' packed arrays: config codes, hyper and counter
slots, and the rows of the scratch arrays work_n, work_o and rls_work."""

# config codes
ANP, NP, WP, BP = 0, 1, 2, 3
TANH, RELU, IDENTITY, SIGN = 0, 1, 2, 3
SGD, ADAM = 0, 1
# hyper slots
H_LR, H_LR_DEC, H_SIGMA, H_BETA1, H_BETA2, H_EPS = 0, 1, 2, 3, 4, 5
# divergence guard: the bound on |weight|, and running upper bounds on max |A, R, B|
# and max |D| (see _guard_commit)
H_MAX_WEIGHT, H_WMAX, H_DMAX = 6, 7, 8
# the least-squares read-out: forgetting factor, P0 = I / alpha, wind-up cap on diag P;
# the output watch: a prediction beyond H_OUT_BOUND spans of the targets' range is refused
H_RLS_LAM, H_RLS_ALPHA, H_RLS_PMAX, H_OUT_BOUND = 9, 10, 11, 12
N_HYPER = 13
# config slots
C_METHOD, C_ACT, C_DECOR, C_OPT, C_NOISY_REF, C_WINDOW = 0, 1, 2, 3, 4, 5
# read-out: skip connection C u, bias c, and which read-out (PERTURBATION or RLS; the
# fast path reads the latter from its ``rls`` argument, this slot records it for checkpoints)
C_SKIP, C_BIAS, C_READOUT = 6, 7, 8
# the perturbations' distribution (GAUSSIAN or RADEMACHER); configs saved before it
# existed have N_CONFIG - 1 slots and are padded with 0, i.e. GAUSSIAN
C_NOISE = 9
N_CONFIG = 10
PERTURBATION, RLS = 0, 1
GAUSSIAN, RADEMACHER = 0, 1
# counter slots; K_SEEN counts the targets the output watch has seen, K_RLS_RESTART
# the restarts of P after a loss of positive-definiteness
K_ADAM, K_POS, K_FILL, K_SEEN, K_RLS_RESTART = 0, 1, 2, 3, 4
N_COUNTERS = 5
# the output watch starts after this many targets
WATCH_WARMUP = 100
# rows of the watch array: running min and max of each output's targets
Y_MIN, Y_MAX = 0, 1
# rows of rls_work (float64, length M = N + I * skip + bias)
R_Z, R_GAIN, R_Q, R_W = 0, 1, 2, 3
N_RLS_WORK = 4
# rows of work_n
W_ALPHA, W_ALPHAN, W_X, W_XN, W_XS, W_XSN, W_XI, W_XI0, W_GA, W_TMP, W_TMP2 = range(11)
N_WORK_N = 11
# rows of work_o
W_Y, W_YN, W_NU, W_NU0, W_GB, W_DB = range(6)
N_WORK_O = 6
# extra rows of work_n used by the fast path
W_GL, W_DECA, W_DECB, W_SINK, W_ACC, W_W = 11, 12, 13, 14, 15, 16
N_WORK_N_FAST = 17
