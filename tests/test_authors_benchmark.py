"""benchmarks/authors.py: our half on a tiny setting, and the skip paths (no torch needed)."""

import csv
import math

import pytest

from benchmarks import authors


def test_ours_only_tiny(tmp_path, capsys):
    rc = authors.main(["--ours-only", "--n-hidden", "8", "--epochs", "2", "--final-epochs", "1",
                       "--n-steps", "200", "--seeds", "2", "--methods", "anp", "bp",
                       "--out", str(tmp_path)])
    assert rc == 0
    rows = list(csv.DictReader((tmp_path / "runs.csv").open()))
    assert [(r["method"], r["seed"], r["side"]) for r in rows] == [
        ("anp", "0", "ours_config"), ("anp", "1", "ours_config"),
        ("bp", "0", "ours_config"), ("bp", "1", "ours_config")]
    assert all(r["status"] == "ok" and math.isfinite(float(r["final_test_loss"])) for r in rows)
    assert len(rows[0]["test_curve"].split()) == 2
    table = (tmp_path / "table.md").read_text()
    assert "| ANP | 0.001 | 2/2 |" in table and "| BP | 3e-05 | 2/2 |" in table
    assert "8 hidden units, 2 epochs of 200 steps" in capsys.readouterr().out


def test_skips_without_snapshot(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("STREAMLEARN_AUTHORS_CODE", raising=False)
    assert authors.main([]) == 0
    assert "skipped: no snapshot" in capsys.readouterr().out
    assert authors.main(["--authors", str(tmp_path / "missing")]) == 0
    assert "skipped:" in capsys.readouterr().out


def test_skips_without_torch(tmp_path, capsys, monkeypatch):
    for name in ("models.py", "training.py"):
        (tmp_path / name).write_text("raise AssertionError('must not be imported')\n")
    monkeypatch.setitem(__import__("sys").modules, "torch", None)  # import torch fails
    assert authors.main(["--authors", str(tmp_path), "--out", str(tmp_path / "out")]) == 0
    assert "skipped: PyTorch is not installed" in capsys.readouterr().out
    assert not (tmp_path / "out").exists()


def test_their_learning_rates():
    # NP/WP: they divide dl by sigma, we by sigma^2; ANP: sqrt(I + N + O) against N
    assert authors.their_lr("np", 3e-5, 1, 100, 1, 1e-3, "matched") == pytest.approx(3e-2)
    assert authors.their_lr("dwp", 1e-5, 1, 100, 1, 1e-3, "matched") == pytest.approx(1e-2)
    assert authors.their_lr("anp", 1e-3, 1, 100, 1, 1e-3, "matched") == pytest.approx(
        1e-3 * 100 / math.sqrt(102))
    assert authors.their_lr("dbp", 1e-5, 1, 100, 1, 1e-3, "matched") == 1e-5
    assert authors.their_lr("np", 3e-5, 1, 100, 1, 1e-3, "same") == 3e-5
