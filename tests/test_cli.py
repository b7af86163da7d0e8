"""What a newcomer meets first: command-line errors, --version, and commands
that write only where they are told (never into the repository's files)."""

import configparser
import importlib.util
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import yaml

import streamlearn
from streamlearn.cli import main
from streamlearn.cliargs import run_main

REPO = Path(__file__).resolve().parent.parent
CONFIGS = REPO / "examples" / "configs"
ENV = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))


def usage_error(argv, capsys, entry=main):
    """Run ``entry(argv)``, expecting argparse's exit 2; return the one stderr line."""
    with pytest.raises(SystemExit) as exc:
        entry(argv)
    assert exc.value.code == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err
    return lines[0]


def tiny_config(tmp_path, **extra):
    cfg = {"task": {"name": "mackey_glass", "n_steps": 80}, "methods": ["anp"],
           "model": {"n_hidden": 4}, "protocol": {"epochs": 2, "final_epochs": 1},
           "figures": False, **extra}
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


# -- one-line errors, exit code 2 ---------------------------------------------------

@pytest.mark.parametrize("argv, option, fix", [
    (["demo", "--hidden", "-5"], "--hidden", "must be a positive integer, got -5"),
    (["demo", "--hidden", "0"], "--hidden", "must be a positive integer, got 0"),
    (["demo", "--steps", "0"], "--steps", "must be an integer >= 100, got 0"),
    (["demo", "--steps", "1"], "--steps", "must be an integer >= 100, got 1"),
    (["demo", "--seed", "-1"], "--seed", "must be a non-negative integer, got -1"),
    (["demo", "--hidden", "abc"], "--hidden", "must be a positive integer, got 'abc'"),
])
def test_demo_bad_numbers_are_one_line_errors(argv, option, fix, capsys):
    line = usage_error(argv, capsys)
    assert line.startswith(f"streamlearn demo: error: argument {option}: {fix}")


@pytest.mark.parametrize("command", ["run", "tune"])
def test_jobs_must_not_be_negative(command, tmp_path, capsys):
    line = usage_error([command, str(tiny_config(tmp_path)), "--out", str(tmp_path / "o"),
                        "--jobs", "-1"], capsys)
    assert "argument --jobs: must be a non-negative integer, got -1" in line


@pytest.mark.parametrize("command", ["run", "tune"])
def test_out_that_is_an_existing_file_is_refused(command, tmp_path, capsys):
    existing = tmp_path / "results.txt"
    existing.write_text("keep me")
    line = usage_error([command, str(tiny_config(tmp_path)), "--out", str(existing)], capsys)
    assert "argument --out" in line and "is an existing file" in line
    assert existing.read_text() == "keep me"


def test_config_errors_are_one_line_and_debug_shows_the_traceback(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("task: {name: mackey_glass}\nmethods: [backprop]\n")
    assert main(["run", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("streamlearn run: error: ")
    assert "unknown method 'backprop'" in err[0]
    with pytest.raises(ValueError, match="backprop"):
        main(["--debug", "run", str(bad), "--out", str(tmp_path / "o")])
    with pytest.raises(ValueError, match="backprop"):  # after the sub-command too
        main(["run", str(bad), "--out", str(tmp_path / "o"), "--debug"])


def test_missing_config_file_is_one_line(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "configuration file not found" in err[0]


def test_smoke_checks_the_full_configuration_first(tmp_path, capsys):
    path = tiny_config(tmp_path, model={"n_hidden": "abc"}, smoke={"model": {"n_hidden": 4}})
    assert main(["run", str(path), "--smoke", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "model.n_hidden" in err[0] and "full configuration" in err[0]
    assert not (tmp_path / "o").exists()


def test_unexpected_errors_are_one_line_unless_debug(capsys):
    class Args:
        debug = False

    def boom(args):
        raise RuntimeError("kaput")

    assert run_main(boom, Args(), "streamlearn") == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["streamlearn: error: RuntimeError: kaput (an internal error; rerun with "
                   "--debug for the traceback)"]
    Args.debug = True
    with pytest.raises(RuntimeError):
        run_main(boom, Args(), "streamlearn")


def test_the_installed_command_prints_no_traceback():
    r = subprocess.run([sys.executable, "-m", "streamlearn", "demo", "--hidden", "-5"],
                       capture_output=True, text=True, env=ENV, cwd=REPO)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        "streamlearn demo: error: argument --hidden: must be a positive integer, got -5 "
        "(see streamlearn demo --help)"]
    assert r.stdout == ""


# -- --version, --quiet, small --steps ----------------------------------------------

def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    assert capsys.readouterr().out.strip() == f"streamlearn {cfg['metadata']['version']}"
    assert streamlearn.__version__ == cfg["metadata"]["version"]


def test_quiet_hides_progress_but_not_the_final_table(tmp_path, capsys):
    assert main(["run", str(tiny_config(tmp_path)), "--out", str(tmp_path / "o"),
                 "--quiet"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert "final test" in captured.out and "anp" in captured.out


def test_piped_progress_is_one_short_line_per_run(tmp_path, capsys):
    assert main(["run", str(tiny_config(tmp_path, seeds=2)), "--out", str(tmp_path / "o")]) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and all(line.startswith(("[1/2] anp", "[2/2] anp")) for line in err)
    assert all(len(line) < 120 and "\r" not in line for line in err)


def test_demo_at_the_shortest_stream_reports_no_nan(capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "Mean of empty slice"
        assert main(["demo", "--steps", "100", "--hidden", "4"]) == 0
    out = capsys.readouterr().out
    assert "nan" not in out and out.strip().splitlines()[-1].startswith("done:")


# -- benchmarks and examples: one-line errors ---------------------------------------

def load_example(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", REPO / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("argv, expected", [
    (["--repeats", "3"], "argument --repeats: must be an integer >= 5, got 3"),
    (["--only", "bogus"], "argument --only: unknown section(s) bogus"),
    (["--out", "README.md"], "argument --out: 'README.md' is an existing file"),
])
def test_benchmark_options_are_checked(argv, expected, capsys, monkeypatch):
    from benchmarks import run

    monkeypatch.chdir(REPO)
    assert expected in usage_error(argv, capsys, run.main)


@pytest.mark.parametrize("name, argv, expected", [
    ("live_sensor_forecast", ["--n", "10"], "argument --n: must be at least 50"),
    ("live_sensor_forecast", ["--rate", "0"], "argument --rate: must be a positive number"),
    ("live_sensor_forecast", ["--hidden", "-1"], "argument --hidden: must be a positive integer"),
    ("live_sensor_forecast", ["--out", "/no/such/folder/x.png"], "folder '/no/such/folder' does not exist"),
    ("river_streams", ["--seed", "-1"], "argument --seed: must be a non-negative integer"),
    ("river_streams", ["--out", "."], "argument --out: '.' is a directory"),
    ("sensor_fleet", ["--sensors", "0"], "argument --sensors: must be a positive integer"),
    ("sensor_fleet", ["--days", "2"], "argument --days: must be at least 4"),
])
def test_example_options_are_checked(name, argv, expected, capsys):
    assert expected in usage_error(argv, capsys, load_example(name).main)


# -- nothing written into the repository unless asked -------------------------------

def repo_status():
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    r = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=all"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip("not a git checkout")
    return r.stdout


@pytest.mark.parametrize("name, argv, figure", [
    ("live_sensor_forecast", ["--n", "200", "--horizons", "4", "--hidden", "8",
                              "--window", "50", "--rate", "100000"], "live_sensor_forecast.png"),
    ("river_streams", ["--n", "20"], "river_streams.png"),
    ("sensor_fleet", ["--sensors", "20", "--days", "4", "--hidden", "8"], "sensor_fleet.png"),
])
def test_examples_run_from_any_directory_and_write_there(name, argv, figure, tmp_path):
    pytest.importorskip("matplotlib")
    before = repo_status()
    r = subprocess.run([sys.executable, str(REPO / "examples" / f"{name}.py"), *argv],
                       capture_output=True, text=True, env=ENV, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / figure).is_file()
    assert repo_status() == before
    long_lines = [line for line in r.stdout.splitlines() if len(line) > 200]
    assert not long_lines and "\r" not in r.stdout  # piped: no bar, no giant line


def test_benchmarks_write_to_the_cwd_not_to_docs(tmp_path):
    pytest.importorskip("matplotlib")
    before = repo_status()
    r = subprocess.run([sys.executable, "-m", "benchmarks", "--only", "methods", "--sizes", "8,16",
                        "--budget", "2e5"], capture_output=True, text=True, env=ENV, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "benchmark-results"
    for name in ("benchmarks.md", "benchmarks.json", "figures/step_time_vs_n.png"):
        assert (out / name).is_file()
    assert repo_status() == before


def test_benchmark_docs_only_with_write_docs(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from benchmarks import run

    docs = tmp_path / "docs"
    monkeypatch.setattr(run, "DOCS", docs)
    args = ["--only", "methods", "--sizes", "8", "--budget", "1e5", "--out", str(tmp_path / "o")]
    assert run.main(args) == 0
    assert (tmp_path / "o" / "benchmarks.md").is_file() and not docs.exists()
    assert run.main(args + ["--write-docs"]) == 0
    assert (docs / "benchmarks.md").is_file() and (docs / "figures" / "step_time_vs_n.png").is_file()
    assert "python -m benchmarks --write-docs" in (docs / "benchmarks.md").read_text()


def test_the_default_results_folder_is_ignored_by_git():
    repo_status()
    r = subprocess.run(["git", "-C", str(REPO), "check-ignore", "-q",
                        "benchmark-results/benchmarks.md"])
    assert r.returncode == 0


def test_forecast_and_width_benchmarks_leave_the_repository_alone(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from benchmarks import forecast, width

    before = repo_status()
    monkeypatch.chdir(tmp_path)
    assert forecast.main(["--data", "mackey-glass", "--n", "300", "--only", "persistence",
                          "--no-nmse"]) == 0
    assert (tmp_path / "benchmark-results" / "forecast" / "forecasting.md").is_file()
    assert width.main(["report", "--results", str(REPO / "docs" / "width.jsonl")]) == 0
    assert (tmp_path / "benchmark-results" / "width" / "figures" / "width_sweep.png").is_file()
    assert repo_status() == before


@pytest.mark.slow
def test_benchmarks_quick_leaves_the_repository_alone(tmp_path):
    before = repo_status()
    r = subprocess.run([sys.executable, "-m", "benchmarks", "--quick"], capture_output=True,
                       text=True, env=ENV, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "benchmark-results" / "benchmarks.md").is_file()
    assert repo_status() == before
