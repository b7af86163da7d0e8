"""The experiment figures: legends beside the data, integer epoch ticks."""

import pytest

from streamlearn.experiments import figures
from streamlearn.experiments.config import resolve_config
from streamlearn.experiments.runner import run_experiment

plt = pytest.importorskip("matplotlib.pyplot")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    cfg = resolve_config({"task": {"name": "mackey_glass", "n_steps": 80},
                          "methods": ["anp", "danp", "bp"], "model": {"n_hidden": [4, 6]},
                          "protocol": {"epochs": 3, "final_epochs": 2}, "seeds": 1,
                          "figures": False})
    return run_experiment(cfg, tmp_path_factory.mktemp("fig"), quiet=True)["runs"]


@pytest.fixture
def drawn(monkeypatch):
    """The figures drawn, kept open instead of closed."""
    kept, close = [], plt.close
    monkeypatch.setattr(plt, "close", kept.append)
    yield kept
    for fig in kept:
        close(fig)


def overlaps(a, b):
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


@pytest.mark.parametrize("draw", ["learning_curves", "final_performance", "decorrelation",
                                  "scaling"])
def test_legends_do_not_cover_the_data(draw, runs, drawn, tmp_path):
    group = runs if draw == "scaling" else [r for r in runs if r["n_hidden"] == 4]
    getattr(figures, draw)(group, tmp_path / f"{draw}.png", "t")
    (fig,) = drawn
    fig.canvas.draw()
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    assert legends
    for legend in legends:
        box = legend.get_window_extent()
        for ax in fig.axes:
            assert not overlaps(box, ax.get_window_extent()), f"{draw}: legend over the data"
    if draw in ("learning_curves", "decorrelation"):
        for ax in fig.axes:
            ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
            assert ticks and all(float(t).is_integer() for t in ticks), ticks
