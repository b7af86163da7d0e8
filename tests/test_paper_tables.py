"""benchmarks/paper_tables.py --figures: the final-performance bars from summary.csv."""

import pytest

from benchmarks import paper_tables


def test_runs_from_summary_and_figures(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    folder = tmp_path / "data" / "weather_1h-paper"
    folder.mkdir(parents=True)
    (folder / "summary.csv").write_text(
        "run_id,method,n_hidden,seed,status,reason,final_test_loss,final_train_loss\n"
        "anp-h8-s0,anp,8,0,ok,,0.002,0.003\n"
        "anp-h8-s1,anp,8,1,ok,,0.004,0.005\n"
        "bp-h8-s0,bp,8,0,unstable,epoch 2: diverged,,\n")
    runs = paper_tables.runs_from_summary(folder)
    assert [(r["method"], r["status"]) for r in runs] == [
        ("anp", "ok"), ("anp", "ok"), ("bp", "unstable")]
    assert runs[1]["final"] == {"final_train_loss": 0.005, "final_test_loss": 0.004}
    assert runs[2]["final"]["final_test_loss"] is None
    monkeypatch.setattr(paper_tables, "DATA", tmp_path / "data")
    written = paper_tables.draw_figures(tmp_path / "figs")
    assert [p.name for p in written] == ["weather_1h_paper_final.png"]
    assert written[0].stat().st_size > 1000
