"""The main job: `streamlearn demo`."""

import pytest

from streamlearn.cli import main
from streamlearn.demo import parse_method, run_demo


def test_demo_command_prints_progress_and_beats_persistence(capsys):
    assert main(["demo", "--steps", "6000", "--hidden", "32"]) == 0
    out = capsys.readouterr().out
    lines = out.strip().splitlines()
    assert "DANP with 32 hidden units" in lines[0]
    assert sum(line.strip().startswith(("5,000", "6,000")) for line in lines) == 2
    assert lines[-1].startswith("done: prequential MSE")


@pytest.mark.parametrize("method", ["anp", "dbp", "wp"])
def test_demo_runs_every_family(method, capsys):
    result = run_demo(steps=3000, n_hidden=16, method=method, report_every=1000)
    assert result["model"] < result["persistence"]


def test_demo_method_names():
    assert parse_method("DANP") == ("anp", True)
    assert parse_method("bp") == ("bp", False)
    with pytest.raises(ValueError, match="unknown method 'adam'"):
        parse_method("adam")
