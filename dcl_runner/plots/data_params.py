"""The data-parameters paper's figures, drawn from run folders (``history.csv`` and ``curves/``).

- ``plot_dp_fig1(run_dirs, out_png, instance_runs=...)``: class-parameter trajectories (sigma per epoch) of 4
  seeded-random classes, mean +- std over the runs (seeds), and two instances of one class from a run that
  tracked instances (DP fig. 1).
- ``plot_dp_fig4(run_dirs, out_png)``: mean +- std instance sigma of clean vs noisy samples per epoch (left)
  and the % of corrupt samples among the top fraction by sigma (right), mean over runs (DP fig. 4).
- ``plot_dp_fig5(baseline_dirs, dp_dirs, out_png)``: training accuracy per epoch with all labels random,
  baseline vs class parameters (DP fig. 5).

The rows behind each table and figure (which runs to draw from) are in the table registry,
``dcl_runner/tables/dp.py``.
"""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import numpy as np

from ..errors import RunnerError


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _history(run_dir: Path):
    import pandas as pd

    path = Path(run_dir) / "history.csv"
    if not path.is_file():
        raise RunnerError(f"{run_dir}: no history.csv (is it a run folder?)")
    return pd.read_csv(path)


def _curve(run_dir: Path, name: str) -> Optional[np.ndarray]:
    path = Path(run_dir) / "curves" / f"{name}.npy"
    return np.load(path) if path.is_file() else None


def _save(fig, out_png: str | Path, banner: Optional[str] = None) -> Path:
    """Write the figure; ``banner``: a line above it (e.g. that the runs were a smoke budget)."""
    if banner:
        fig.suptitle(banner, fontsize=8, color="darkred")
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    _pyplot().close(fig)
    return out


def _stack_runs(arrays: List[np.ndarray]) -> np.ndarray:
    """Runs of possibly different lengths -> [runs, epochs, ...] cut to the shortest."""
    length = min(len(a) for a in arrays)
    return np.stack([a[:length] for a in arrays])


def pick_classes(num_classes: int, count: int, seed: int = 0) -> List[int]:
    """``count`` seeded-random classes (DP sec. 3.2: "We pick four random classes"), sorted."""
    rng = np.random.default_rng(seed)
    return sorted(int(c) for c in rng.choice(num_classes, size=min(count, num_classes), replace=False))


def pick_pair(tracked: np.ndarray, classes: Optional[np.ndarray]) -> Tuple[int, int]:
    """Two tracked instances of one class (DP fig. 1 right): among the tracked pairs of a class (columns
    2j, 2j+1, see ``methods.data_params.tracked_samples``), the pair whose trajectories differ most (mean
    absolute difference of sigma over epochs): the paper shows two instances "learnt at different points"."""
    k = tracked.shape[1]
    pairs = [(a, a + 1) for a in range(0, k - 1, 2) if classes is None or classes[a] == classes[a + 1]]
    if not pairs:
        return (0, min(1, k - 1))
    return max(pairs, key=lambda ab: float(np.abs(tracked[:, ab[0]] - tracked[:, ab[1]]).mean()))


def plot_dp_fig1(run_dirs: Sequence[str | Path], out_png: str | Path, classes: Optional[Sequence[int]] = None,
                 count: int = 4, seed: int = 0, names: Optional[Sequence[str]] = None, banner: Optional[str] = None,
                 instance_runs: Optional[Sequence[str | Path]] = None, instance_note: Optional[str] = None) -> Path:
    """DP fig. 1. Left: the class sigma of ``classes`` (default: ``count`` classes drawn with ``seed``) per epoch,
    mean ± std over ``run_dirs`` (the paper: 4 random classes, class-level curriculum, 3 runs). Right: the sigma
    of two instances of one class from the first of ``instance_runs`` (default: ``run_dirs``) that tracked
    instances (the paper: the ImageNet run); ``instance_note`` is printed under its title (e.g. a stand-in)."""
    runs = [c for c in (_curve(d, "dp_class_sigma") for d in run_dirs) if c is not None]
    if not runs:
        raise RunnerError("dp.fig1 needs runs with class-level data parameters (curves/dp_class_sigma.npy)")
    sigma = _stack_runs(runs).reshape(len(runs), -1, runs[0][0].size)  # [runs, epochs, classes]
    mean, std = sigma.mean(0), sigma.std(0)
    chosen = list(classes) if classes is not None else pick_classes(sigma.shape[2], count, seed)
    source = next((d for d in (instance_runs if instance_runs is not None else run_dirs)
                   if _curve(d, "dp_inst_sigma_tracked") is not None), None)
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2 if source is not None else 1, figsize=(11 if source is not None else 6, 4), squeeze=False)
    ax = axes[0, 0]
    epochs = np.arange(1, sigma.shape[1] + 1)
    for c in chosen:
        label = names[c] if names is not None else f"class {c}"
        ax.plot(epochs, mean[:, c], label=label)
        ax.fill_between(epochs, mean[:, c] - std[:, c], mean[:, c] + std[:, c], alpha=0.25)
    ax.set(xlabel="epoch", ylabel="class parameter sigma", title=f"class parameters (mean ± std, {len(runs)} run(s))")
    ax.legend()
    if source is not None:
        _draw_instance_pair(axes[0, 1], source, names, instance_note)
    return _save(fig, out_png, banner)


def _draw_instance_pair(ax, run_dir: str | Path, names: Optional[Sequence[str]], note: Optional[str]) -> None:
    tracked = _curve(run_dir, "dp_inst_sigma_tracked")
    index, classes = _curve(run_dir, "dp_inst_tracked_index"), _curve(run_dir, "dp_inst_tracked_class")
    a, b = pick_pair(tracked, classes)
    for k in (a, b):
        ax.plot(np.arange(1, len(tracked) + 1), tracked[:, k], label=f"sample {int(index[k]) if index is not None else k}")
    title = "two instances"
    if classes is not None and classes[a] == classes[b]:
        c = int(classes[a])
        title += f" of {names[c] if names is not None and c < len(names) else f'class {c}'}"
    if note:
        title += f"\n{note}"
    ax.set(xlabel="epoch", ylabel="instance parameter sigma", title=title)
    ax.title.set_fontsize(9 if note else 10)
    ax.legend()


def plot_dp_fig4(run_dirs: Sequence[str | Path], out_png: str | Path, banner: Optional[str] = None) -> Path:
    """DP fig. 4: instance sigma of clean vs noisy samples (left), % corrupt in the top fraction (right)."""
    histories = [_history(d) for d in run_dirs]
    needed = {"dp_inst_sigma_mean_clean", "dp_inst_sigma_mean_noisy", "dp_pct_corrupt_in_top"}
    if not all(needed <= set(h.columns) for h in histories):
        raise RunnerError(f"dp.fig4 needs instance-level runs with label noise (history.csv columns {sorted(needed)})")
    length = min(len(h) for h in histories)
    epochs = np.arange(1, length + 1)
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for part, colour in (("clean", "tab:blue"), ("noisy", "tab:red")):
        mean = np.mean([h[f"dp_inst_sigma_mean_{part}"].to_numpy()[:length] for h in histories], axis=0)
        std = np.mean([h[f"dp_inst_sigma_std_{part}"].to_numpy()[:length] for h in histories], axis=0)
        left.plot(epochs, mean, color=colour, label=part)
        left.fill_between(epochs, mean - std, mean + std, color=colour, alpha=0.2)
    left.set(xlabel="epoch", ylabel="instance parameter sigma", title="clean vs noisy (mean ± std)")
    left.legend()
    pct = np.mean([h["dp_pct_corrupt_in_top"].to_numpy()[:length] for h in histories], axis=0)
    right.plot(epochs, pct, color="tab:red")
    right.set(xlabel="epoch", ylabel="% corrupt samples", title="corrupt samples in the top fraction by sigma", ylim=(0, 100))
    return _save(fig, out_png, banner)


def plot_dp_fig5(baseline_dirs: Sequence[str | Path], dp_dirs: Sequence[str | Path], out_png: str | Path,
                 labels: Sequence[str] = ("baseline", "class parameters"), title: str = "all labels random",
                 banner: Optional[str] = None) -> Path:
    """DP fig. 5: training accuracy per epoch on all-random labels, baseline vs class parameters."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, dirs in zip(labels, (baseline_dirs, dp_dirs)):
        histories = [_history(d) for d in dirs]
        if not histories or not all("train_acc" in h.columns for h in histories):
            raise RunnerError(f"dp.fig5: the {label} runs have no train_acc column in history.csv")
        acc = _stack_runs([h["train_acc"].to_numpy() for h in histories])
        epochs = np.arange(1, acc.shape[1] + 1)
        ax.plot(epochs, acc.mean(0), label=label)
        if len(histories) > 1:
            ax.fill_between(epochs, acc.mean(0) - acc.std(0), acc.mean(0) + acc.std(0), alpha=0.25)
    ax.set(xlabel="epoch", ylabel="training accuracy (%)", title=title, ylim=(0, 100))
    ax.legend()
    return _save(fig, out_png, banner)
