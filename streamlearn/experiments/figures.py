"""Figures in the paper's spirit, drawn with matplotlib (the ``plot`` extra).

* ``learning_curves_h<N>.png``: training and test loss per epoch (log scale),
  mean over stable seeds with a min/max band; for the prequential protocol, the
  prequential loss per chunk.
* ``final_performance_h<N>.png``: final training and test loss per method, bars
  at the mean with min/max error bars over stable seeds; unstable runs counted
  above the bars.
* ``scaling.png`` (with two or more hidden sizes): final loss against hidden
  units; unstable runs are marked with crosses (in the method's colour, with
  their count) at the top of the axes and never averaged.
* ``decorrelation_h<N>.png``: decorrelation loss of the hidden layer over epochs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .methods import METHODS

__all__ = ["make_figures"]

_ORDER = list(METHODS)
# one colour per rule; the decorrelated variant uses the same colour, dashed
_COLOURS = {"bp": "tab:blue", "anp": "tab:orange", "np": "tab:green", "wp": "tab:red"}


def _style(method):
    rule = method[1:] if method.startswith("d") and method[1:] in _COLOURS else method
    return {"color": _COLOURS.get(rule, "k"), "linestyle": "--" if rule != method else "-"}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    return plt


def _by(runs, key):
    out = {}
    for r in runs:
        out.setdefault(r[key], []).append(r)
    return out


def _methods(runs):
    present = {r["method"] for r in runs}
    return [m for m in _ORDER if m in present]


def _curve(runs, key, xkey):
    """Mean/min/max over stable runs of ``key`` against ``xkey`` (common length)."""
    stable = [r for r in runs if r["status"] == "ok" and r["records"]]
    if not stable:
        return None
    n = min(len(r["records"]) for r in stable)
    x = np.array([rec[xkey] for rec in stable[0]["records"][:n]], dtype=float)
    Y = np.array([[float(rec[key]) if rec.get(key) is not None else np.nan
                   for rec in r["records"][:n]] for r in stable])
    return x, np.nanmean(Y, 0), np.nanmin(Y, 0), np.nanmax(Y, 0), len(stable)


def _band(ax, method, curve, label=None):
    x, mean, lo, hi, n = curve
    style = _style(method)
    ax.plot(x, mean, label=label or f"{method.upper()} ({n})", **style)
    ax.fill_between(x, lo, hi, color=style["color"], alpha=0.15, linewidth=0)


def _legend_outside(ax, **kwargs):
    """A legend right of the axes, never over the data."""
    kwargs.setdefault("fontsize", 8)
    return ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, **kwargs)


def _integer_ticks(axis):
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(integer=True))


def _positive(ax):
    """Use a log axis only when every plotted value is positive."""
    ys = [np.asarray(line.get_ydata(), dtype=float) for line in ax.get_lines()]
    ys = np.concatenate(ys) if ys else np.array([])
    ys = ys[np.isfinite(ys)]
    if ys.size and np.all(ys > 0):
        ax.set_yscale("log")


def _unstable_note(ax, runs, methods):
    bad = {m: sum(r["status"] != "ok" for r in runs if r["method"] == m) for m in methods}
    bad = {m: n for m, n in bad.items() if n}
    if bad:
        text = "unstable runs: " + ", ".join(f"{m.upper()} {n}" for m, n in bad.items())
        ax.text(0.01, 0.99, text, transform=ax.transAxes, va="top", fontsize=7, color="tab:red")


def learning_curves(runs, path, title):
    plt = _pyplot()
    methods = _methods(runs)
    by_method = _by(runs, "method")
    prequential = runs[0]["protocol"]["name"] == "prequential"
    if prequential:
        fig, axes = plt.subplots(1, 1, figsize=(7.5, 4))
        axes = [axes]
        for m in methods:
            c = _curve(by_method[m], "loss", "step")
            if c is not None:
                _band(axes[0], m, c)
        boundary = [rec["step"] - rec["n_steps"] for r in runs for rec in r["records"]
                    if rec["phase"] == "test"]
        if boundary:
            axes[0].axvline(min(boundary), color="0.5", linewidth=0.8)
            axes[0].text(min(boundary), 1.0, " test part", transform=axes[0].get_xaxis_transform(),
                         va="top", fontsize=7, color="0.4")
        axes[0].set_xlabel("step (samples)")
        axes[0].set_ylabel("prequential MSE per chunk")
    else:
        fig, axes = plt.subplots(1, 2, figsize=(12.5, 4), sharey=True)
        for ax, key, name in zip(axes, ("train_loss", "test_loss"), ("train", "test")):
            for m in methods:
                c = _curve(by_method[m], key, "epoch")
                if c is not None:
                    _band(ax, m, c)
            ax.set_xlabel("epoch")
            _integer_ticks(ax.xaxis)
            ax.set_title(name)
        axes[0].set_ylabel("MSE")
    for ax in axes:
        _positive(ax)
        ax.grid(True, which="both", alpha=0.3)
    _unstable_note(axes[0], runs, methods)
    _legend_outside(axes[-1], title="method\n(stable seeds)", title_fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def final_performance(runs, path, title):
    plt = _pyplot()
    methods = _methods(runs)
    by_method = _by(runs, "method")
    fig, ax = plt.subplots(figsize=(max(5, 1.1 * len(methods) + 2) + 1.5, 4))
    width = 0.38
    for j, (key, name, alpha) in enumerate((("final_train_loss", "train", 0.55),
                                            ("final_test_loss", "test", 1.0))):
        for i, m in enumerate(methods):
            vals = [r["final"].get(key) for r in by_method[m] if r["status"] == "ok"]
            vals = [float(v) for v in vals if v is not None and np.isfinite(float(v))]
            x = i + (j - 0.5) * width
            colour = _style(m)["color"]
            if vals:
                mean = float(np.mean(vals))
                err = [[mean - min(vals)], [max(vals) - mean]]
                ax.bar(x, mean, width, color=colour, alpha=alpha,
                       hatch="//" if m.startswith("d") and m[1:] in _COLOURS else None,
                       edgecolor="k", linewidth=0.5)
                ax.errorbar(x, mean, yerr=err, color="k", capsize=3, linewidth=1)
            n_bad = sum(r["status"] != "ok" for r in by_method[m])
            if j == 1 and n_bad:
                ax.annotate(f"{n_bad} unstable", (i, 1.0), xycoords=("data", "axes fraction"),
                            ha="center", va="top", fontsize=7, color="tab:red")
    ax.set_xticks(range(len(methods)), [m.upper() for m in methods])
    ax.set_ylabel("final MSE (mean, min/max over stable seeds)")
    heights = [p.get_height() for p in ax.patches if p.get_height() > 0]
    if heights and min(heights) > 0:
        ax.set_yscale("log")
    from matplotlib.patches import Patch

    handles = [Patch(facecolor="0.4", alpha=0.55, edgecolor="k", label="train (left, pale)"),
               Patch(facecolor="0.4", edgecolor="k", label="test (right)")]
    _legend_outside(ax, handles=handles)
    ax.grid(True, axis="y", which="both", alpha=0.3)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def scaling(runs, path, title):
    plt = _pyplot()
    from matplotlib.ticker import NullLocator

    methods = _methods(runs)
    fig, axes = plt.subplots(1, 2, figsize=(12.5, 4), sharey=True)
    for ax, key, name in zip(axes, ("final_train_loss", "final_test_loss"), ("train", "test")):
        for m in methods:
            by_h = _by([r for r in runs if r["method"] == m], "n_hidden")
            hs, means, lo, hi, bad_h = [], [], [], [], []
            for h in sorted(by_h):
                vals = [float(r["final"][key]) for r in by_h[h]
                        if r["status"] == "ok" and r["final"].get(key) is not None]
                if vals:
                    hs.append(h)
                    means.append(np.mean(vals))
                    lo.append(np.mean(vals) - min(vals))
                    hi.append(max(vals) - np.mean(vals))
                bad_h += [h] * sum(r["status"] != "ok" for r in by_h[h])
            style = _style(m)
            if hs:
                ax.errorbar(hs, means, yerr=[lo, hi], marker="o", capsize=3,
                            label=m.upper(), **style)
            if bad_h:
                # unstable runs: crosses in the method's colour pinned near the top of
                # the axes, one row per method so that they never hide each other
                row = 0.97 - 0.045 * methods.index(m)
                ax.plot(bad_h, [row] * len(bad_h), "x", color=style["color"], markersize=9,
                        markeredgewidth=2, transform=ax.get_xaxis_transform(), clip_on=False)
                for h in set(bad_h):
                    n = bad_h.count(h)
                    ax.annotate(f"{m.upper()} {n}", (h, row), xycoords=("data", "axes fraction"),
                                xytext=(6, -3), textcoords="offset points", fontsize=7,
                                color=style["color"])
        ax.set_xscale("log")
        sizes = sorted({r["n_hidden"] for r in runs})
        ax.set_xticks(sizes, [str(h) for h in sizes])
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlabel("hidden units")
        ax.set_title(name)
        ax.grid(True, which="both", alpha=0.3)
    if all(line.get_ydata().size for line in axes[0].get_lines()):
        _positive(axes[0])
        axes[1].set_yscale(axes[0].get_yscale())
    axes[0].set_ylabel("final MSE (stable seeds)")
    from matplotlib.lines import Line2D

    handles, labels = axes[1].get_legend_handles_labels()
    if any(r["status"] != "ok" for r in runs):
        handles.append(Line2D([], [], marker="x", color="k", linestyle="", markeredgewidth=2))
        labels.append("unstable runs (count)")
    _legend_outside(axes[1], handles=handles, labels=labels)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def decorrelation(runs, path, title):
    plt = _pyplot()
    methods = _methods(runs)
    by_method = _by(runs, "method")
    xkey = "step" if runs[0]["protocol"]["name"] == "prequential" else "epoch"
    fig, ax = plt.subplots(figsize=(7.5, 4))
    for m in methods:
        c = _curve(by_method[m], "decorrelation_loss", xkey)
        if c is not None:
            _band(ax, m, c)
    _positive(ax)
    ax.set_xlabel("step (samples)" if xkey == "step" else "epoch")
    if xkey == "epoch":
        _integer_ticks(ax.xaxis)
    ax.set_ylabel("decorrelation loss (hidden layer)")
    ax.grid(True, which="both", alpha=0.3)
    _legend_outside(ax, title="method\n(stable seeds)", title_fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def make_figures(runs, fig_dir, title="", stream=None):
    """Draw every applicable figure for the runs of one experiment.

    Parameters
    ----------
    runs : list of dict
        Run results (``runs/*.json`` content) of one configuration.
    fig_dir : path-like
        Output directory (created).
    title : str
    stream : file-like, optional
        Where to say that matplotlib is missing, if it is.

    Returns
    -------
    list of pathlib.Path
        The PNG files written (empty when matplotlib is not installed).
    """
    if not runs:
        return []
    try:
        _pyplot()
    except ImportError:
        if stream is not None:
            stream.write("matplotlib is not installed (pip install matplotlib, or "
                         "pip install -e \".[plot]\" in a clone); no figures drawn\n")
        return []
    fig_dir = Path(fig_dir)
    fig_dir.mkdir(parents=True, exist_ok=True)
    written = []
    sizes = sorted({r["n_hidden"] for r in runs})
    for h in sizes:
        group = [r for r in runs if r["n_hidden"] == h]
        name = f"{title}, {h} hidden units"
        for stem, draw in (("learning_curves", learning_curves),
                           ("final_performance", final_performance),
                           ("decorrelation", decorrelation)):
            path = fig_dir / f"{stem}_h{h}.png"
            draw(group, path, name)
            written.append(path)
    if len(sizes) > 1:
        path = fig_dir / "scaling.png"
        scaling(runs, path, title)
        written.append(path)
    return written
