"""Tests for the experiment runner (streamlearn.experiments)."""

import argparse
import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
import yaml

from streamlearn import OnlineRNN
from streamlearn.experiments import cli
from streamlearn.experiments.config import ConfigError, load_config, resolve_config
from streamlearn.experiments.methods import METHODS, model_kwargs
from streamlearn.experiments.protocols import instability, run_epochs, run_prequential
from streamlearn.experiments.results import aggregate, read_json
from streamlearn.experiments.runner import TuningMismatch, run_experiment
from streamlearn.experiments.tasks import load_split
from streamlearn.experiments.tuning import grid_for, tune

REPO = Path(__file__).parents[1]
CONFIGS = REPO / "examples" / "configs"
WTH = REPO.parent / "shared" / "data" / "WTH.csv"
needs_wth = pytest.mark.skipif(not WTH.is_file(), reason=f"real weather file not available at {WTH}")
STABLE = {"max_weight": 1e4, "max_loss": 1e4}


def mg_config(**over):
    raw = {
        "name": "t",
        "task": {"name": "mackey_glass", "n_steps": 120},
        "protocol": {"name": "epochs", "epochs": 3, "final_epochs": 2},
        "model": {"n_hidden": 6},
        "methods": ["anp", "bp"],
        "seeds": 2,
        "figures": False,
    }
    for k, v in over.items():
        raw[k] = v
    return resolve_config(raw)


# ------------------------------------------------------------------ configuration
def test_resolve_fills_defaults_and_normalises():
    cfg = resolve_config({"task": {"name": "mackey_glass"}, "methods": ["danp"], "seeds": 3})
    assert cfg["task"]["n_steps"] == 5000 and cfg["task"]["horizon"] == 15
    assert cfg["protocol"] == {"name": "epochs", "epochs": 100, "final_epochs": 50,
                               "decorrelation_stride": 1}
    assert cfg["model"]["n_hidden"] == [100]
    assert cfg["methods"] == {"danp": {}}
    assert cfg["seeds"] == [0, 1, 2]


@pytest.mark.parametrize("raw,match", [
    ({"task": {"name": "mackey_glass"}, "methods": ["anp"], "epochs": 3}, "unknown key.*epochs"),
    ({"task": {"name": "mg"}, "methods": ["anp"]}, "task.name 'mg' is unknown"),
    ({"task": {"name": "mackey_glass", "horizn": 3}, "methods": ["anp"]}, "unknown key.*horizn"),
    ({"task": {"name": "mackey_glass"}, "methods": ["adam"]}, "unknown method 'adam'"),
    ({"task": {"name": "mackey_glass"}, "methods": {"anp": {"learning_rate": 1}}},
     r"methods.anp: unknown key"),
    ({"task": {"name": "mackey_glass"}, "methods": {"anp": {"lr": -1}}}, "positive number"),
    ({"task": {"name": "mackey_glass"}, "methods": {"bp": {"optimizer": "rmsprop"}}}, "optimizer"),
    ({"task": {"name": "mackey_glass"}, "methods": ["anp"],
      "protocol": {"epochs": 5, "final_epochs": 6}}, "final_epochs"),
    ({"task": {"name": "mackey_glass"}, "methods": ["anp"], "protocol": {"name": "online"}},
     "protocol.name"),
    ({"task": {"name": "mackey_glass"}, "methods": ["anp"], "model": {"n_hidden": [10, 10]}},
     "duplicates"),
    ({"task": {"name": "mackey_glass"}}, "methods is required"),
    ({"task": {"name": "mackey_glass"}, "methods": ["anp"], "tune": {"grid": {"momentum": [1]}}},
     r"tune.grid: unknown key"),
    ({"task": {"name": "mackey_glass"}, "methods": ["anp"], "tune": {"methods": ["bp"]}},
     "not one of the run's methods"),
    ({"task": {"name": "weather"}, "methods": ["anp"]}, "task.path is required"),
])
def test_resolve_rejects_malformed_configs(raw, match, monkeypatch):
    monkeypatch.delenv("STREAMLEARN_WEATHER_CSV", raising=False)
    with pytest.raises(ConfigError, match=match):
        resolve_config(raw)


def test_yaml_exponent_without_dot_is_read_as_number(tmp_path):
    # PyYAML reads 1e-3 (no dot) as a string; the loader must still accept it.
    f = tmp_path / "c.yaml"
    f.write_text("task: {name: mackey_glass}\nmethods: {anp: {lr: 1e-3}}\n")
    assert load_config(f)["methods"]["anp"]["lr"] == pytest.approx(1e-3)


def test_smoke_section_is_merged_and_named(tmp_path):
    f = tmp_path / "exp.yaml"
    f.write_text(yaml.safe_dump({
        "task": {"name": "mackey_glass", "n_steps": 5000, "horizon": 15},
        "methods": {"anp": {"lr": 0.01}, "bp": {}},
        "smoke": {"task": {"n_steps": 50}, "methods": ["anp"]},
    }))
    full, smoke = load_config(f), load_config(f, smoke=True)
    assert full["task"]["n_steps"] == 5000 and smoke["task"]["n_steps"] == 50
    assert smoke["task"]["horizon"] == 15  # untouched keys survive the merge
    assert list(smoke["methods"]) == ["anp"]
    assert full["name"] == "exp" and smoke["name"] == "exp-smoke"


def test_named_variant_selects_methods_and_merges_settings(tmp_path):
    f = tmp_path / "exp.yaml"
    f.write_text(yaml.safe_dump({
        "task": {"name": "mackey_glass"},
        "protocol": {"epochs": 100, "final_epochs": 50},
        "methods": {"anp": {"lr": 0.01}, "bp": {"optimizer": "adam"}, "np": {}},
        "tune": {"method_grids": {"anp": {"lr": [0.1]}}},
        "variants": {
            "reduced": {"protocol": {"epochs": 10, "final_epochs": 5}, "methods": ["np", "anp"]},
            "tweak": {"methods": {"anp": {"sigma": 0.01}}, "tune": {"method_grids": {}}},
        },
    }))
    reduced = load_config(f, variant="reduced")
    assert reduced["name"] == "exp-reduced" and reduced["protocol"]["epochs"] == 10
    assert reduced["methods"] == {"np": {}, "anp": {"lr": 0.01}}  # base settings kept
    tweak = load_config(f, variant="tweak")
    assert load_config(f, variant="tweak")["tune"]["method_grids"] == {}
    assert tweak["methods"]["anp"] == {"lr": 0.01, "sigma": 0.01}
    assert set(tweak["methods"]) == {"anp", "bp", "np"}
    with pytest.raises(ConfigError, match="variant 'full' is not defined.*reduced"):
        load_config(f, variant="full")


def test_smoke_without_section_is_an_error(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("task: {name: mackey_glass}\nmethods: [anp]\n")
    with pytest.raises(ConfigError, match="no 'smoke' section"):
        load_config(f, smoke=True)


def test_missing_config_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.yaml"):
        load_config(tmp_path / "nope.yaml")


def test_weather_path_relative_to_config_and_env_override(tmp_path, monkeypatch):
    monkeypatch.delenv("STREAMLEARN_WEATHER_CSV", raising=False)
    (tmp_path / "sub").mkdir()
    f = tmp_path / "sub" / "w.yaml"
    f.write_text("task: {name: weather, path: ../data/WTH.csv}\nmethods: [anp]\n")
    assert load_config(f)["task"]["path"] == str((tmp_path / "data" / "WTH.csv").resolve())
    monkeypatch.setenv("STREAMLEARN_WEATHER_CSV", str(tmp_path / "elsewhere.csv"))
    assert load_config(f)["task"]["path"] == str(tmp_path / "elsewhere.csv")


# ------------------------------------------------------------------ methods
PAPER_NAMES = {"bp": ("bp", False), "dbp": ("bp", True), "anp": ("anp", False),
               "danp": ("anp", True), "np": ("np", False), "dnp": ("np", True),
               "wp": ("wp", False), "dwp": ("wp", True)}


def test_method_table_covers_the_paper():
    assert set(METHODS) == set(PAPER_NAMES)


@pytest.mark.parametrize("name", list(PAPER_NAMES))
def test_every_method_name_builds_the_matching_model(name):
    kw = model_kwargs(name, 2, 1, 5, {"lr": 1e-3, "sigma": 1e-3}, seed=0)
    model = OnlineRNN(**kw)
    assert (model.method, model.decorrelation) == PAPER_NAMES[name]
    assert model.optimizer == ("adam" if name in ("bp", "dbp") else "sgd")


def test_optimizer_override_per_method():
    assert model_kwargs("anp", 1, 1, 4, {"optimizer": "adam"}, 0)["optimizer"] == "adam"
    assert model_kwargs("bp", 1, 1, 4, {"optimizer": "sgd"}, 0)["optimizer"] == "sgd"


def test_noise_setting_reaches_the_model():
    kw = model_kwargs("dwp", 1, 1, 4, {"noise": "rademacher"}, 0)
    assert OnlineRNN(**kw).noise == "rademacher"
    assert "noise" not in model_kwargs("dwp", 1, 1, 4, {}, 0)  # the core's default


# ------------------------------------------------------------------ tasks
def test_synthetic_splits_use_separate_sequences():
    cfg = mg_config()
    test, val = load_split(cfg["task"], "test"), load_split(cfg["task"], "validation")
    assert np.array_equal(test.U_train, val.U_train)
    assert not np.allclose(test.U_eval, val.U_eval)
    assert not np.allclose(test.U_train, test.U_eval)


@needs_wth
def test_weather_validation_never_reads_test_rows_and_truncation_keeps_contiguity():
    cfg = resolve_config({"task": {"name": "weather", "path": str(WTH), "horizon_hours": 1,
                                   "max_train_steps": 100, "max_test_steps": 50},
                          "methods": ["anp"]})
    full = resolve_config({"task": {"name": "weather", "path": str(WTH), "horizon_hours": 1},
                           "methods": ["anp"]})
    whole = load_split(full["task"], "test")
    val = load_split(full["task"], "validation")
    assert len(val.U_train) + len(val.U_eval) == len(whole.U_train)
    assert np.array_equal(val.U_eval, whole.U_train[len(val.U_train):])
    short = load_split(cfg["task"], "test")
    assert np.array_equal(short.U_train, whole.U_train[-100:])
    assert np.array_equal(short.U_eval, whole.U_eval[:50])


# ------------------------------------------------------------------ protocols
def _split():
    return load_split(mg_config()["task"], "test")


def test_epochs_protocol_matches_a_manual_loop():
    split = _split()
    kw = model_kwargs("anp", 1, 1, 6, {}, seed=4)
    out = run_epochs(OnlineRNN(**kw), split, epochs=3, final_epochs=2, stability=STABLE)
    manual = OnlineRNN(**kw)
    train, test = [], []
    for _ in range(3):
        manual.reset_state()
        p = manual.learn_many(split.U_train, split.Y_train)
        q = manual.advance_many(split.U_eval)  # continues from the training state
        train.append(np.mean((p - split.Y_train) ** 2))
        test.append(np.mean((q - split.Y_eval) ** 2))
    assert out["status"] == "ok"
    assert [r["train_loss"] for r in out["records"]] == pytest.approx(train, rel=1e-12)
    assert [r["test_loss"] for r in out["records"]] == pytest.approx(test, rel=1e-12)
    assert out["final"]["final_test_loss"] == pytest.approx(np.mean(test[-2:]))
    assert out["final"]["final_train_loss"] == pytest.approx(np.mean(train[-2:]))


def test_decorrelation_loss_drops_with_decorrelation():
    split = load_split(mg_config(task={"name": "mackey_glass", "n_steps": 2000})["task"], "test")
    res = {}
    for dec in (False, True):
        m = OnlineRNN(1, 20, 1, method="anp", decorrelation=dec, lr_decorrelation=1e-3, seed=0)
        res[dec] = run_epochs(m, split, epochs=3, final_epochs=1, stability=STABLE)
    assert res[True]["final"]["final_decorrelation_loss"] < res[False]["final"]["final_decorrelation_loss"]


def test_prequential_equals_one_learn_many_over_the_stream():
    split = _split()
    kw = model_kwargs("danp", 1, 1, 6, {}, seed=1)
    out = run_prequential(OnlineRNN(**kw), split, chunk=50, stability=STABLE)
    ref = OnlineRNN(**kw)
    U = np.vstack([split.U_train, split.U_eval])
    Y = np.vstack([split.Y_train, split.Y_eval])
    p = ref.learn_many(U, Y)
    n = len(split.U_train)
    assert out["final"]["final_train_loss"] == pytest.approx(np.mean((p[:n] - Y[:n]) ** 2))
    assert out["final"]["final_test_loss"] == pytest.approx(np.mean((p[n:] - Y[n:]) ** 2))
    # chunks never straddle the train/test boundary
    assert [r["phase"] for r in out["records"]] == ["train"] * 3 + ["test"] * 3
    assert out["records"][-1]["step"] == len(U)


def test_blow_up_is_recorded_as_unstable_not_raised():
    split = _split()
    model = OnlineRNN(1, 6, 1, method="np", lr=1e3, seed=0)
    out = run_epochs(model, split, epochs=5, final_epochs=2, stability=STABLE)
    assert out["status"] == "unstable"
    assert "epoch 1" in out["reason"]
    assert all(v is None for v in out["final"].values())
    assert len(out["records"]) <= 1  # stopped at once (in epoch 1 or right after it)


def test_model_divergence_guard_mid_epoch_is_unstable_not_raised():
    # the model refuses a step whose update would push a weight past its guard
    split = _split()
    model = OnlineRNN(1, 6, 1, method="wp", lr=1e2, seed=0, max_weight=10.0)
    out = run_epochs(model, split, epochs=3, final_epochs=1, stability=STABLE)
    assert out["status"] == "unstable" and "diverged" in out["reason"]
    assert out["reason"].startswith("epoch 1:")
    model = OnlineRNN(1, 6, 1, method="wp", lr=1e2, seed=0, max_weight=10.0)
    out = run_prequential(model, split, chunk=40, stability=STABLE)
    assert out["status"] == "unstable" and "diverged" in out["reason"]


def test_runner_sets_the_model_guard_to_the_stability_threshold(tmp_path):
    seen = []

    def factory(kwargs):
        seen.append(kwargs.get("max_weight"))
        return OnlineRNN(**kwargs)

    cfg = mg_config(methods=["anp"], seeds=[0], stability={"max_weight": 123.0})
    run_experiment(cfg, tmp_path, quiet=True, model_factory=factory)
    assert seen == [123.0]


def test_instability_thresholds():
    class W:
        A = np.zeros((2, 2)); R = np.zeros((2, 2)); B = np.zeros((1, 2)); D = np.eye(2)  # noqa: E702
    assert instability(W, {"train_loss": 0.1}, STABLE) is None
    assert "non-finite" in instability(W, {"train_loss": np.nan}, STABLE)
    assert "max_loss" in instability(W, {"train_loss": 2e4}, STABLE)
    W.R = np.full((2, 2), 2e4)
    assert "|R|" in instability(W, {"train_loss": 0.1}, STABLE)
    W.R = np.array([[np.inf, 0], [0, 0]])
    assert "non-finite weights in R" in instability(W, {"train_loss": 0.1}, STABLE)


def test_aggregate_ignores_unstable_runs():
    runs = [
        {"method": "np", "n_hidden": 4, "status": "ok", "final": {"final_test_loss": 0.2}},
        {"method": "np", "n_hidden": 4, "status": "unstable", "final": {"final_test_loss": None}},
        {"method": "wp", "n_hidden": 4, "status": "unstable", "final": {"final_test_loss": None}},
    ]
    rows = {r["method"]: r for r in aggregate(runs, keys=["final_test_loss"])}
    assert rows["np"]["final_test_loss_mean"] == 0.2 and rows["np"]["n_unstable"] == 1
    assert rows["wp"]["final_test_loss_mean"] is None and rows["wp"]["n_stable"] == 0


# ------------------------------------------------------------------ runner
def test_run_writes_results_and_rerun_skips(tmp_path):
    cfg = mg_config()
    out = tmp_path / "out"
    first = run_experiment(cfg, out, quiet=True)
    assert len(first["runs"]) == 4
    run = read_json(out / "runs" / "anp-h6-s1.json")
    assert run["status"] == "ok" and len(run["records"]) == 3
    assert run["hyperparameters"]["seed"] == 1 and run["hyperparameters"]["method"] == "anp"
    assert {"train_loss", "test_loss", "decorrelation_loss"} <= set(run["records"][0])
    csv_head = (out / "runs" / "anp-h6-s1.csv").read_text().splitlines()[0]
    assert csv_head.startswith("epoch,train_loss,test_loss,decorrelation_loss")
    assert (out / "summary.csv").read_text().count("\n") == 5
    stamp = os.stat(out / "runs" / "anp-h6-s1.json").st_mtime_ns
    log = io.StringIO()
    run_experiment(cfg, out, stream=log)
    assert log.getvalue().count("already done") == 4
    assert os.stat(out / "runs" / "anp-h6-s1.json").st_mtime_ns == stamp
    # changed settings invalidate the stored result; --force reruns everything
    cfg2 = mg_config(methods={"anp": {"lr": 0.02}, "bp": {}})
    log = io.StringIO()
    run_experiment(cfg2, out, stream=log)
    assert log.getvalue().count("already done") == 2  # bp unchanged
    assert read_json(out / "runs" / "anp-h6-s0.json")["hyperparameters"]["lr"] == 0.02
    log = io.StringIO()
    run_experiment(cfg2, out, stream=log, force=True)
    assert "already done" not in log.getvalue()


def test_interrupted_run_is_redone(tmp_path):
    cfg = mg_config(methods=["anp"], seeds=[0])
    out = tmp_path / "o"
    run_experiment(cfg, out, quiet=True)
    (out / "runs" / "anp-h6-s0.json").write_text('{"status": "ok", "fingerp')  # truncated
    log = io.StringIO()
    run_experiment(cfg, out, stream=log)
    assert "already done" not in log.getvalue()
    assert read_json(out / "runs" / "anp-h6-s0.json")["status"] == "ok"


def test_unstable_runs_are_recorded_marked_and_not_averaged(tmp_path):
    cfg = mg_config(methods={"np": {"lr": 1e3}, "anp": {}}, model={"n_hidden": [4, 8]},
                    figures=True)
    result = run_experiment(cfg, tmp_path, quiet=True)
    rows = {(r["method"], r["n_hidden"]): r for r in result["aggregate"]}
    assert rows[("np", 4)]["n_unstable"] == 2 and rows[("np", 4)]["final_test_loss_mean"] is None
    assert rows[("anp", 8)]["n_stable"] == 2
    summary = (tmp_path / "summary.csv").read_text()
    assert summary.count("unstable") >= 4
    names = {p.name for p in result["figures"]}
    assert {"scaling.png", "learning_curves_h4.png", "final_performance_h8.png",
            "decorrelation_h4.png"} <= names
    assert all(p.stat().st_size > 5000 for p in result["figures"])


def test_parallel_jobs_give_the_same_results(tmp_path):
    cfg = mg_config(methods=["anp"])
    a = run_experiment(cfg, tmp_path / "a", quiet=True, jobs=1)
    b = run_experiment(cfg, tmp_path / "b", quiet=True, jobs=2)
    for ra, rb in zip(a["runs"], b["runs"]):
        assert ra["run_id"] == rb["run_id"]
        assert ra["final"] == rb["final"]


def _dying_factory(kwargs):
    # kills its worker process for seed 1: the runner must finish the rest serially
    import multiprocessing

    if kwargs["seed"] == 1 and multiprocessing.current_process().name != "MainProcess":
        os._exit(1)
    return OnlineRNN(**kwargs)


def test_a_dead_worker_does_not_lose_the_experiment(tmp_path):
    cfg = mg_config(methods=["anp"], seeds=[0, 1, 2])
    log = io.StringIO()
    result = run_experiment(cfg, tmp_path, stream=log, jobs=2, model_factory=_dying_factory)
    assert "running the rest serially" in log.getvalue()
    assert [r["status"] for r in result["runs"]] == ["ok", "ok", "ok"]


# ------------------------------------------------------------------ tuning
def test_grid_drops_sigma_for_bp_and_method_grids_take_precedence():
    cfg = mg_config(tune={"grid": {"lr": [1e-3, 1e-2], "sigma": [1e-3, 1e-2]},
                          "method_grids": {"anp": {"lr": [5e-3]}}})
    assert len(grid_for(cfg, "bp")) == 2 and "sigma" not in grid_for(cfg, "bp")[0]
    assert grid_for(cfg, "anp") == [{"lr": 5e-3, "sigma": 1e-3}, {"lr": 5e-3, "sigma": 1e-2}]


def test_tune_picks_the_lowest_validation_loss_and_run_uses_it(tmp_path):
    cfg = mg_config(methods=["anp", "np"],
                    tune={"grid": {"lr": [1e-3, 1e3]}, "epochs": 2, "final_epochs": 1})
    summary = tune(cfg, tmp_path, quiet=True)
    trials = {(t["method"], t["lr"]): t for t in summary["trials"]}
    # lr=1e3 blows up: scored inf, never chosen
    assert trials[("np", 1e3)]["validation_loss"] == float("inf")
    assert summary["chosen"] == {"anp": {"lr": 1e-3}, "np": {"lr": 1e-3}}
    assert json.loads((tmp_path / "tuning.json").read_text())["chosen"]["np"]["lr"] == 1e-3
    assert (tmp_path / "tuning.csv").is_file()
    result = run_experiment(cfg, tmp_path, quiet=True)
    for run in result["runs"]:
        assert run["tuned"] and run["hyperparameters"]["lr"] == 1e-3
    # the tuner evaluated on the validation sequence, not on the test sequence
    trial = read_json(tmp_path / "tuning" / "anp-lr0.001-s0.json")
    assert trial["split"] == "validation" and len(trial["records"]) == 2


def test_tuning_for_other_settings_is_refused(tmp_path):
    cfg = mg_config(methods=["anp"], tune={"grid": {"lr": [1e-3, 1e-2]}, "epochs": 1,
                                           "final_epochs": 1})
    tune(cfg, tmp_path, quiet=True)
    other = mg_config(methods=["anp"], tune={"grid": {"lr": [1e-4]}, "epochs": 1,
                                             "final_epochs": 1})
    with pytest.raises(TuningMismatch, match="rerun `streamlearn tune`"):
        run_experiment(other, tmp_path, quiet=True)


def test_editing_a_tuned_value_in_the_yaml_keeps_the_tuning_valid(tmp_path):
    # the tuner overrides lr, so a method's own lr does not make tuning.json stale;
    # its sigma (not tuned here) does
    base = dict(tune={"grid": {"lr": [1e-3, 1e-2]}, "epochs": 1, "final_epochs": 1})
    tune(mg_config(methods={"anp": {"lr": 0.5}}, **base), tmp_path, quiet=True)
    run_experiment(mg_config(methods={"anp": {"lr": 0.7}}, **base), tmp_path, quiet=True)
    with pytest.raises(TuningMismatch):
        run_experiment(mg_config(methods={"anp": {"lr": 0.7, "sigma": 0.01}}, **base),
                       tmp_path, quiet=True)


def test_tune_without_grid_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="nothing to tune"):
        tune(mg_config(), tmp_path, quiet=True)


# ------------------------------------------------------------------ CLI
def test_add_subcommands_wires_run_and_tune():
    parser = argparse.ArgumentParser()
    parsers = cli.add_subcommands(parser.add_subparsers(dest="command"))
    assert set(parsers) == {"run", "tune"}
    args = parser.parse_args(["run", "x.yaml", "--out", "d", "--smoke", "--jobs", "2"])
    assert args.func is cli._cmd_run and args.smoke and args.jobs == 2
    args = parser.parse_args(["tune", "x.yaml", "--out", "d", "--variant", "reduced"])
    assert args.func is cli._cmd_tune and args.variant == "reduced"
    with pytest.raises(SystemExit):
        parser.parse_args(["run", "x.yaml"])  # --out is required


def test_cli_reports_config_errors_with_exit_code_2(tmp_path, capsys):
    f = tmp_path / "bad.yaml"
    f.write_text("task: {name: mackey_glass}\nmethods: [backprop]\n")
    assert cli.main(["run", str(f), "--out", str(tmp_path / "o")]) == 2
    assert "unknown method 'backprop'" in capsys.readouterr().err


def test_cli_tune_then_run_with_a_variant(tmp_path, capsys):
    f = tmp_path / "c.yaml"
    f.write_text(yaml.safe_dump({
        "task": {"name": "mackey_glass", "n_steps": 5000},
        "methods": ["anp"], "figures": False, "tune": {"grid": {"lr": [1e-3, 2e-3]}},
        "variants": {"tiny": {"task": {"n_steps": 80}, "model": {"n_hidden": 4},
                              "protocol": {"epochs": 2, "final_epochs": 1}, "seeds": 1}},
    }))
    out = tmp_path / "o"
    assert cli.main(["tune", str(f), "--variant", "tiny", "--out", str(out)]) == 0
    assert "chosen for anp: lr=" in capsys.readouterr().out  # results on stdout
    assert cli.main(["run", str(f), "--variant", "tiny", "--out", str(out)]) == 0
    out_text = capsys.readouterr().out
    assert "anp" in out_text and "final test" in out_text
    run = read_json(out / "runs" / "anp-h4-s0.json")
    assert run["tuned"] and run["task"]["n_steps"] == 80


EXPERIMENTS = ["mackey_glass", "mackey_glass_recall", "copy_memory", "weather_1h", "weather_24h", "weather_48h",
               "scaling", "decorrelation", "prequential_weather"]


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_example_config_smoke_variant_runs_from_the_cli(name, tmp_path, monkeypatch):
    cfg = load_config(CONFIGS / f"{name}.yaml")  # the full variant is valid too
    if cfg["task"]["name"] == "weather" and not WTH.is_file():
        pytest.skip(f"real weather file not available at {WTH}")
    monkeypatch.delenv("STREAMLEARN_WEATHER_CSV", raising=False)
    out = tmp_path / name
    argv = ["run", str(CONFIGS / f"{name}.yaml"), "--smoke", "--out", str(out), "--quiet"]
    if cfg["tune"]["grid"]:
        argv.append("--tune")
    assert cli.main(argv) == 0
    smoke = load_config(CONFIGS / f"{name}.yaml", smoke=True)
    n_runs = len(smoke["methods"]) * len(smoke["seeds"]) * len(smoke["model"]["n_hidden"])
    assert len(list((out / "runs").glob("*.json"))) == n_runs
    rows = (out / "summary.csv").read_text().splitlines()
    assert len(rows) == n_runs + 1
    assert list((out / "figures").glob("learning_curves_h*.png"))
    if len(smoke["model"]["n_hidden"]) > 1:
        assert (out / "figures" / "scaling.png").is_file()
    if cfg["tune"]["grid"]:
        assert set(read_json(out / "tuning.json")["chosen"]) | set(
            read_json(out / "tuning.json")["failed"]) == set(smoke["methods"])


def test_mackey_glass_pairing_option():
    """recall (the authors' code) swaps input and target of forecast (the paper's text)."""
    base = {"name": "mackey_glass", "n_steps": 60, "horizon": 5}
    forecast = load_split(resolve_config({"task": base, "methods": ["anp"]})["task"])
    recall = load_split(resolve_config({"task": {**base, "pairing": "recall"},
                                        "methods": ["anp"]})["task"])
    assert np.array_equal(forecast.U_train, recall.Y_train)
    assert np.array_equal(forecast.Y_train, recall.U_train)
    assert np.array_equal(recall.U_train[:-5], recall.Y_train[5:])  # input leads by 5
    with pytest.raises(ConfigError, match="task.pairing must be 'forecast' or 'recall'"):
        resolve_config({"task": {**base, "pairing": "ahead"}, "methods": ["anp"]})
