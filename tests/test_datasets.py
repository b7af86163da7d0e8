"""Tests for streamlearn.datasets."""

from pathlib import Path

import numpy as np
import pytest

from streamlearn import datasets
from streamlearn.datasets import mackey_glass, mackey_glass_series


# --------------------------------------------------------------------- Mackey-Glass
def test_mackey_glass_series_shape_dtype_and_mean():
    s = mackey_glass_series(1000, seed=3)
    assert s.shape == (1000,)
    assert s.dtype == np.float64
    assert abs(s.mean()) < 1e-12
    assert np.all(np.isfinite(s))


def test_mackey_glass_series_statistics_are_those_of_the_chaotic_attractor():
    # tau=17 oscillates roughly between 0.4 and 1.3, so tanh(x - 1) spans about
    # [-0.55, 0.3] before de-meaning: a std near 0.2, never near 0 (a fixed point)
    # and never above 1 (tanh bound).
    s = mackey_glass_series(5000, seed=0)
    assert 0.1 < s.std() < 0.35
    assert s.max() - s.min() > 0.5
    assert s.max() - s.min() < 1.2
    # chaotic, not periodic with a short period: many distinct local maxima
    peaks = s[1:-1][(s[1:-1] > s[:-2]) & (s[1:-1] > s[2:])]
    assert len(np.unique(np.round(peaks, 3))) > 20


def test_mackey_glass_integrator_satisfies_the_euler_recursion():
    # substeps=1: every sample is one Euler step of the delay equation.
    tau = 17
    history = np.linspace(1.1, 1.3, tau + 1)
    x = np.concatenate([history, datasets._integrate_mackey_glass(history, 300, 1)])
    k = np.arange(tau, len(x) - 1)
    d = x[k - tau]
    expected = x[k] + 0.2 * d / (1 + d**10) - 0.1 * x[k]
    np.testing.assert_allclose(x[k + 1], expected, rtol=0, atol=1e-14)


def test_mackey_glass_integrator_substeps_converge():
    # Finer Euler grids agree with each other better than with a coarse one.
    hist = lambda n: np.full(17 * n + 1, 1.2)  # noqa: E731
    x10 = datasets._integrate_mackey_glass(hist(10), 60, 10)
    x20 = datasets._integrate_mackey_glass(hist(20), 60, 20)
    x1 = datasets._integrate_mackey_glass(hist(1), 60, 1)
    assert np.abs(x10 - x20).max() < np.abs(x1 - x20).max()


def test_mackey_glass_series_is_squashed_and_demeaned_integration():
    rng = np.random.default_rng(9)
    history = 1.2 + 0.2 * (rng.random(17 * 10 + 1) - 0.5)
    raw = datasets._integrate_mackey_glass(history, 350, 10)
    s = np.tanh(raw[100:] - 1.0)
    np.testing.assert_allclose(mackey_glass_series(250, seed=9), s - s.mean(), atol=1e-15)


def test_mackey_glass_series_seeding():
    a = mackey_glass_series(300, seed=7)
    b = mackey_glass_series(300, seed=7)
    c = mackey_glass_series(300, seed=8)
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)


def test_mackey_glass_series_does_not_touch_global_rng():
    np.random.seed(123)
    expected = np.random.random()
    np.random.seed(123)
    mackey_glass_series(50, seed=None)
    assert np.random.random() == expected


def test_mackey_glass_washout_drops_leading_samples():
    # Same seed and integration: the washout only shifts the window (before de-meaning).
    a = mackey_glass_series(300, washout=0, seed=2)
    b = mackey_glass_series(200, washout=100, seed=2)
    a_raw = a[100:] - a[100:].mean()
    assert np.allclose(a_raw, b)


def test_mackey_glass_targets_are_shifted_inputs():
    U, Y = mackey_glass(500, horizon=15, seed=4)
    assert U.shape == (500, 1) and Y.shape == (500, 1)
    assert U.dtype == np.float64 and Y.dtype == np.float64
    assert np.array_equal(U[15:, 0], Y[:-15, 0])
    assert not np.allclose(U, Y)
    s = mackey_glass_series(515, seed=4)
    assert np.array_equal(U[:, 0], s[:500])
    assert np.array_equal(Y[:, 0], s[15:])


def test_mackey_glass_defaults_match_paper():
    U, Y = mackey_glass(seed=0)
    assert U.shape == (5000, 1)
    assert np.array_equal(U[15:], Y[:-15])


def test_mackey_glass_different_seeds_give_different_sequences():
    U1, _ = mackey_glass(100, seed=0)
    U2, _ = mackey_glass(100, seed=1)
    assert not np.allclose(U1, U2)


@pytest.mark.parametrize("kwargs", [dict(n_steps=0), dict(horizon=-1)])
def test_mackey_glass_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        mackey_glass(**{"n_steps": 10, **kwargs})


# --------------------------------------------------------------------- copying memory
from streamlearn.datasets import WEATHER_COLUMNS, copy_memory, weather  # noqa: E402


def test_copy_memory_paper_shapes():
    U, Y = copy_memory(seed=0)
    assert U.shape == (210, 10) and Y.shape == (210, 10)
    assert U.dtype == np.float64
    # strictly one-hot everywhere
    for A in (U, Y):
        assert np.all((A == 0) | (A == 1))
        assert np.all(A.sum(axis=1) == 1)


def test_copy_memory_phases_and_recall_targets():
    U, Y, mask = copy_memory(3, n_symbols=100, delay=10, seed=1, return_mask=True)
    L = 210
    assert U.shape == (3 * L, 10) and mask.shape == (3 * L,)
    assert mask.sum() == 3 * 100
    for k in range(3):
        u, y, m = U[k * L:(k + 1) * L], Y[k * L:(k + 1) * L], mask[k * L:(k + 1) * L]
        sym = u[:100].argmax(1)
        assert sym.max() < 8  # presentation uses symbol classes only
        assert np.all(u[100:110].argmax(1) == 8)  # delay marker
        assert np.all(u[110:].argmax(1) == 9)  # recall marker
        assert np.array_equal(y[110:].argmax(1), sym)  # copy of the symbols
        assert np.array_equal(y[m], u[:100])
        assert np.all(y[:110].argmax(1) == 8)  # blank target before recall
        assert not m[:110].any() and m[110:].all()


def test_copy_memory_uses_all_symbols_and_sequences_differ():
    U, _ = copy_memory(2, seed=2)
    a, b = U[:100].argmax(1), U[210:310].argmax(1)
    assert set(np.unique(a)) == set(range(8))
    assert not np.array_equal(a, b)


def test_copy_memory_seeding():
    U1, Y1 = copy_memory(2, seed=5)
    U2, Y2 = copy_memory(2, seed=5)
    U3, _ = copy_memory(2, seed=6)
    assert np.array_equal(U1, U2) and np.array_equal(Y1, Y2)
    assert not np.array_equal(U1, U3)


def test_copy_memory_custom_alphabet():
    U, Y = copy_memory(n_symbols=4, delay=0, n_values=3, seed=0)
    assert U.shape == (8, 5)
    assert np.array_equal(Y[4:], U[:4])


@pytest.mark.parametrize("kwargs", [dict(n_sequences=0), dict(n_symbols=0),
                                    dict(delay=-1), dict(n_values=0)])
def test_copy_memory_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        copy_memory(**kwargs)


# --------------------------------------------------------------------- weather
WTH = Path(__file__).parents[1].parent / "shared" / "data" / "WTH.csv"
needs_wth = pytest.mark.skipif(
    not WTH.is_file(), reason=f"real weather file not available at {WTH}"
)


def _write_csv(path, header, rows):
    path.write_text("\n".join([",".join(header)] + [",".join(map(str, r)) for r in rows]) + "\n")
    return path


def _synthetic_rows(n, seed=0):
    rng = np.random.default_rng(seed)
    vals = np.round(rng.normal(size=(n, 12)) * 10, 2)
    return [[f"1/1/2010 {i}:00", *v] for i, v in enumerate(vals)], vals


@needs_wth
@pytest.mark.parametrize("h", [1, 24, 48])
def test_weather_real_file_split_sizes(h):
    d = weather(WTH, h)
    assert d.U_train.shape == (33600 - h, 9) and d.Y_train.shape == (33600 - h, 1)
    assert d.U_test.shape == (35064 - 33600 - h, 9) and d.Y_test.shape == (35064 - 33600 - h, 1)
    assert d.horizon_hours == h
    assert len(d.feature_names) == 9
    assert not {"DryBulbCelsius", "DewPointCelsius", "WetBulbCelsius"} & set(d.feature_names)
    assert d.feature_names[d.target_index] == "DryBulbFarenheit"


@needs_wth
def test_weather_real_file_normalisation_and_shifted_target():
    d = weather(WTH, 24)
    assert d.U_train.min() >= 0.0 and d.U_train.max() <= 1.0
    # min/max are fitted on all 33,600 training rows; the last 24 of them appear only
    # as targets, so the target column over all training rows spans exactly [0, 1]
    allrows_target = np.concatenate([d.U_train[:, d.target_index], d.Y_train[-24:, 0]])
    assert allrows_target.min() == 0.0 and allrows_target.max() == 1.0
    # test inputs may leave [0, 1] only mildly
    assert d.U_test.min() > -0.5 and d.U_test.max() < 1.5
    assert np.array_equal(d.Y_train[:-24, 0], d.U_train[24:, d.target_index])
    assert np.array_equal(d.Y_test[:-24, 0], d.U_test[24:, d.target_index])
    # the first target is the raw value 24 rows later, normalised
    raw = np.genfromtxt(WTH, delimiter=",", skip_header=1, usecols=2, max_rows=30)
    lo, hi = d.data_min[d.target_index], d.data_max[d.target_index]
    assert d.Y_train[0, 0] == pytest.approx((raw[24] - lo) / (hi - lo))
    assert d.U_train[0, d.target_index] == pytest.approx((raw[0] - lo) / (hi - lo))


def test_weather_synthetic_split_and_min_max_fit_on_training_rows(tmp_path):
    rows, vals = _synthetic_rows(50)
    f = _write_csv(tmp_path / "w.csv", WEATHER_COLUMNS, rows)
    d = weather(f, 3, n_train=40)
    assert d.U_train.shape == (37, 9) and d.U_test.shape == (7, 9)
    keep = [WEATHER_COLUMNS[1:].index(n) for n in d.feature_names]
    raw = vals[:, keep]
    np.testing.assert_allclose(d.data_min, raw[:40].min(0))
    np.testing.assert_allclose(d.data_max, raw[:40].max(0))
    scaled = (raw - raw[:40].min(0)) / (raw[:40].max(0) - raw[:40].min(0))
    np.testing.assert_allclose(d.U_train, scaled[:37])
    np.testing.assert_allclose(d.U_test, scaled[40:47])
    np.testing.assert_allclose(d.Y_test[:, 0], scaled[43:, d.target_index])


def test_weather_accepts_reordered_columns(tmp_path):
    rows, _ = _synthetic_rows(20)
    perm = [0] + list(range(12, 0, -1))
    f1 = _write_csv(tmp_path / "a.csv", WEATHER_COLUMNS, rows)
    f2 = _write_csv(tmp_path / "b.csv", [WEATHER_COLUMNS[i] for i in perm],
                    [[r[i] for i in perm] for r in rows])
    a, b = weather(f1, 1, n_train=10), weather(f2, 1, n_train=10)
    np.testing.assert_array_equal(a.U_train, b.U_train)
    np.testing.assert_array_equal(a.Y_test, b.Y_test)


def test_weather_missing_file_names_the_path(tmp_path):
    missing = tmp_path / "nope" / "WTH.csv"
    with pytest.raises(FileNotFoundError, match="nope"):
        weather(missing, 1)


def test_weather_missing_column(tmp_path):
    rows, _ = _synthetic_rows(20)
    header = [c for c in WEATHER_COLUMNS if c != "WindSpeed"]
    f = _write_csv(tmp_path / "w.csv", header, [r[:-1] for r in rows])
    with pytest.raises(ValueError, match="missing column.*WindSpeed"):
        weather(f, 1, n_train=10)


def test_weather_extra_column(tmp_path):
    rows, _ = _synthetic_rows(20)
    f = _write_csv(tmp_path / "w.csv", [*WEATHER_COLUMNS, "Snow"], [[*r, 0] for r in rows])
    with pytest.raises(ValueError, match="unexpected column.*Snow"):
        weather(f, 1, n_train=10)


def test_weather_non_numeric_cell_names_line_and_column(tmp_path):
    rows, _ = _synthetic_rows(20)
    rows[6][WEATHER_COLUMNS.index("Altimeter")] = "30.1s"
    f = _write_csv(tmp_path / "w.csv", WEATHER_COLUMNS, rows)
    with pytest.raises(ValueError, match=r"line 8, column 'Altimeter'.*30\.1s"):
        weather(f, 1, n_train=10)


def test_weather_empty_and_nan_cells_are_rejected(tmp_path):
    rows, _ = _synthetic_rows(20)
    rows[2][WEATHER_COLUMNS.index("Visibility")] = ""
    f = _write_csv(tmp_path / "w.csv", WEATHER_COLUMNS, rows)
    with pytest.raises(ValueError, match="line 4, column 'Visibility'"):
        weather(f, 1, n_train=10)
    rows, _ = _synthetic_rows(20)
    rows[3][WEATHER_COLUMNS.index("WindDirection")] = "nan"
    f = _write_csv(tmp_path / "w.csv", WEATHER_COLUMNS, rows)
    with pytest.raises(ValueError, match="line 5, column 'WindDirection'"):
        weather(f, 1, n_train=10)


def test_weather_ragged_row(tmp_path):
    rows, _ = _synthetic_rows(20)
    rows[4] = rows[4][:-2]
    f = _write_csv(tmp_path / "w.csv", WEATHER_COLUMNS, rows)
    with pytest.raises(ValueError, match="line 6 has 11 fields"):
        weather(f, 1, n_train=10)


def test_weather_dropped_celsius_cells_are_not_parsed_into_features(tmp_path):
    # The Celsius duplicates are dropped unread, so their content does not matter.
    rows, _ = _synthetic_rows(20)
    rows[1][WEATHER_COLUMNS.index("DryBulbCelsius")] = "n/a"
    f = _write_csv(tmp_path / "w.csv", WEATHER_COLUMNS, rows)
    assert weather(f, 1, n_train=10).U_train.shape == (9, 9)


@pytest.mark.parametrize("n_rows,n_train,h", [(20, 10, 10), (20, 15, 5), (5, 33600, 1)])
def test_weather_too_few_rows(tmp_path, n_rows, n_train, h):
    rows, _ = _synthetic_rows(n_rows)
    f = _write_csv(tmp_path / "w.csv", WEATHER_COLUMNS, rows)
    with pytest.raises(ValueError, match="too few"):
        weather(f, h, n_train=n_train)


@pytest.mark.parametrize("h", [0, -1, 1.5, True])
def test_weather_bad_horizon(tmp_path, h):
    rows, _ = _synthetic_rows(20)
    f = _write_csv(tmp_path / "w.csv", WEATHER_COLUMNS, rows)
    with pytest.raises(ValueError, match="horizon_hours"):
        weather(f, h, n_train=10)


def test_weather_empty_file(tmp_path):
    f = tmp_path / "w.csv"
    f.write_text("")
    with pytest.raises(ValueError, match="empty"):
        weather(f, 1)
