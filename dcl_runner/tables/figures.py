"""The papers' figures as PNGs, drawn from the schedulers' code, dcl.t2's paper values and run folders
(``history.csv``, ``curves/*.npy``, ``metrics.json``). A figure whose runs do not exist yet is skipped
with the reason, never an error.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

from ..errors import RunnerError
from .dcl import PAPER_ATTRIBUTES, PAPER_LEVELS, celeba_name


class Skip(Exception):
    """The figure cannot be drawn yet; the message says why."""


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _runs_of(result, label: str) -> List[Dict]:
    return [run for res in result.cells if res.cell.row.label == label for run in res.runs]


from .report import SMOKE_BANNER  # noqa: E402 - one wording for tables and figures


def _save(fig, out_dir: Path, table_id: str, smoke: bool) -> Path:
    if smoke:
        fig.suptitle(SMOKE_BANNER, fontsize=8, color="darkred")
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{table_id}.png"
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    _plt().close(fig)
    return path


def _curve(run: Dict, *words: str) -> Optional[np.ndarray]:
    """The first curves/*.npy of a run whose name contains all ``words``."""
    folder = Path(run["run_dir"]) / "curves"
    for path in sorted(folder.glob("*.npy")) if folder.exists() else []:
        if all(w in path.stem for w in words):
            return np.load(path)
    return None


# ---------------------------------------------------------------------------------------------
def scheduler_curves(result, out_dir: Path) -> Path:
    """DCL Figure 1: the four scheduler functions (eqs. 1-4) over L = 300 epochs."""
    from ..schedulers import composite, concave, convex, linear

    L = 300
    epochs = np.arange(L + 1)
    fig, ax = _plt().subplots(figsize=(5, 3.5))
    for name, fn in (("convex (eq. 1)", convex), ("linear (eq. 2)", linear), ("concave λ=0.99 (eq. 3)", concave),
                     ("composite (eq. 4)", composite)):
        ax.plot(epochs, [fn(float(e), float(L)) for e in epochs], label=name)
    ax.set(xlabel="epoch l (L = 300)", ylabel="SF(l)", title="DCL scheduler functions")
    ax.legend()
    return _save(fig, out_dir, result.table.id, False)


def attribute_gain(result, out_dir: Path) -> Path:
    """DCL Figure 4: per-attribute mA gain over CE vs imbalance level (paper: from Table 2)."""
    from .registry import REGISTRY

    t2 = REGISTRY["dcl.t2"]
    base = np.array(t2.row("DeepID2 (CE)").per_attribute, dtype=float)
    levels = np.array(PAPER_LEVELS)
    order = np.argsort(levels, kind="stable")
    fig, ax = _plt().subplots(figsize=(7, 3.8))
    for label, colour in (("DCL", "red"), ("CRL-I", "blue"), ("CLMLE", "green")):
        gain = np.array(t2.row(label).per_attribute, dtype=float) - base
        ax.plot(levels[order], gain[order], color=colour, marker=".", linewidth=1, label=f"{label} (paper)")
    ce_runs = _runs_of(result, "DeepID2 (CE)")
    drawn_ours = False
    for label, colour in (("DCL", "red"), ("CRL-I", "blue"), ("CLMLE", "green")):
        runs = _runs_of(result, label)
        if not runs or not ce_runs:
            continue
        ours = _mean_attributes(runs) - _mean_attributes(ce_runs)
        ax.plot(levels[order], ours[order], color=colour, linestyle="--", marker=".", label=f"{label} (ours)")
        drawn_ours = True
    ax.axhline(0, color="grey", linewidth=0.5)
    ax.set(xlabel="imbalance level (majority rate - 50%)", ylabel="mA gain over CE (%)",
           title="Per-attribute gain over DeepID2 (CE)" + ("" if drawn_ours else " — paper only, no runs yet"))
    ax.legend(fontsize=7)
    return _save(fig, out_dir, result.table.id, result.budget == "smoke" and drawn_ours)


def _mean_attributes(runs: List[Dict]) -> np.ndarray:
    rows = []
    for run in runs:
        per = (run.get("metrics") or {}).get("per_attribute_mA") or {}
        rows.append([per.get(celeba_name(a), np.nan) for a in PAPER_ATTRIBUTES])
    return np.nanmean(np.array(rows, dtype=float), axis=0)


def _run_dirs(result, method: Optional[str] = None) -> List[Path]:
    """Run folders of the figure's cells (of one method's rows only, if given)."""
    return [Path(run["run_dir"]) for res in result.cells for run in res.runs
            if method is None or res.cell.row.method == method]


def _data_params_figure(result, out_dir: Path, draw_figure: Callable[[Path, Optional[str]], Path]) -> Path:
    """Draw with the data-parameters plotting module (dcl_runner/plots/data_params.py)."""
    path = Path(out_dir) / f"{result.table.id}.png"
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    try:
        return draw_figure(path, SMOKE_BANNER if result.budget == "smoke" else None)
    except RunnerError as exc:
        raise Skip(str(exc)) from None


def detection_curriculum(result, out_dir: Path) -> Path:
    """DP Figure 3: the tracked training boxes of the first instance-parameter run, line width ∝ sigma, at four
    epochs over training (dcl_runner/plots/detection.py)."""
    from ..plots.detection import plot_dp_fig3

    runs = _run_dirs(result, "data_params")
    if not runs:
        raise Skip("no completed instance-parameter detection run (dp.fig3's row)")
    return _data_params_figure(result, out_dir, lambda path, banner: plot_dp_fig3(runs[0], path, banner=banner))


def class_parameters(result, out_dir: Path) -> Path:
    """DP Figure 1: left, class-parameter trajectories of 4 random classes (class-level curriculum, CIFAR-100),
    mean ± std over runs; right, two instances of one class from the ImageNet run, or, when there is none, from
    the stand-in row's runs, which the panel's title then names (rows: ``tables.DP_FIG1_ROWS``)."""
    from ..plots.data_params import plot_dp_fig1
    from .dp import DP_FIG1_ROWS

    left, right, stand_in = DP_FIG1_ROWS
    class_runs = [Path(run["run_dir"]) for run in _runs_of(result, left)]
    if not class_runs:
        raise Skip(f"no completed run of the row {left!r}")
    instance_runs, note = [Path(run["run_dir"]) for run in _runs_of(result, right)], None
    substituted = next((res.cell.substituted for res in result.cells if res.cell.row.label == right and res.runs), None)
    if substituted:
        note = f"ImageNet replaced by the smoke stand-in dataset {substituted}"
    if not instance_runs:
        instance_runs = [Path(run["run_dir"]) for run in _runs_of(result, stand_in)]
        note = f"stand-in: no ImageNet run; drawn from the row {stand_in!r}"
    return _data_params_figure(result, out_dir, lambda path, banner: plot_dp_fig1(
        class_runs, path, banner=banner, instance_runs=instance_runs, instance_note=note))


def noisy_instances(result, out_dir: Path) -> Path:
    """DP Figure 4: instance parameters of clean vs noisy samples; % corrupt in the top fraction."""
    from ..plots.data_params import plot_dp_fig4

    runs = _run_dirs(result, "data_params")
    if not runs:
        raise Skip("no completed noisy data_params run")
    return _data_params_figure(result, out_dir, lambda path, banner: plot_dp_fig4(runs, path, banner=banner))


def random_labels(result, out_dir: Path) -> Path:
    """DP sec. 3.5 figure: training accuracy with all labels random, baseline vs class parameters."""
    from ..plots.data_params import plot_dp_fig5

    baseline, class_params = _run_dirs(result, "ce"), _run_dirs(result, "data_params")
    if not baseline or not class_params:
        raise Skip("needs completed baseline (ce) and class-parameter runs of the random-label experiment")
    return _data_params_figure(result, out_dir, lambda path, banner: plot_dp_fig5(baseline, class_params, path, banner=banner))


def per_class(result, out_dir: Path) -> Path:
    """Two-head Figure 3: per-class train counts, recall, and classifier weight norm (CE vs ours)."""
    runs = {res.cell.row.label: res.runs[0] for res in result.cells if res.runs}
    if not runs:
        raise Skip("no completed CE or two-head run on CIFAR-100-LT β=100")
    counts = _train_counts(next(iter(runs.values())))
    fig, axes = _plt().subplots(1, 3, figsize=(12, 3.5))
    axes[0].bar(np.arange(len(counts)), counts)
    axes[0].set(xlabel="class", ylabel="training images", title="train counts")
    norms = 0
    for label, run in runs.items():
        recall = (run.get("metrics") or {}).get("per_class_recall") or {}
        axes[1].plot([np.nan if v is None else v for v in recall.values()], label=label)
        norm = _curve(run, "weight_norm")
        norm = norm if norm is not None else _classifier_norms(run, len(counts))
        if norm is not None:
            axes[2].plot(np.ravel(norm)[-len(counts):], label=label)
            norms += 1
    axes[1].set(xlabel="class", ylabel="recall (%)", title="per-class recall")
    axes[1].legend()
    axes[2].set(xlabel="class", ylabel="||w_c||", title="classifier weight norm" + ("" if norms else " (not recorded)"))
    return _save(fig, out_dir, result.table.id, result.budget == "smoke")


def _classifier_norms(run: Dict, num_classes: int) -> Optional[np.ndarray]:
    """||w_c|| of the last [num_classes, d] weight in the run's final checkpoint (the classifier)."""
    path = Path(run["run_dir"]) / "checkpoints" / "last.pt"
    if not path.exists():
        return None
    import torch

    state = torch.load(path, map_location="cpu", weights_only=False).get("model", {})
    for name in reversed(list(state)):
        tensor = state[name]
        if name.endswith("weight") and tensor.ndim == 2 and tensor.shape[0] == num_classes:
            return tensor.float().norm(dim=1).numpy()
    return None


def _train_counts(run: Dict) -> np.ndarray:
    from omegaconf import OmegaConf

    from ..data import build_data

    cfg = OmegaConf.load(Path(run["run_dir"]) / ".hydra" / "config.yaml")
    return build_data(cfg.dataset, int(cfg.seed)).task().train_counts


def clusters(result, out_dir: Path) -> Path:
    """Two-head Figure 4: accuracy vs cluster number u (CDH only) and by clustering strategy, one series per
    cluster -> class prediction (rows "u=5" / "clustering=random", and the same with " (sum prediction)")."""
    u_points: Dict[str, List[Tuple[int, float]]] = {}
    strategies: Dict[str, List[Tuple[str, float]]] = {}
    for res in result.cells:
        if res.mean is None:
            continue
        label, _, tag = res.cell.row.label.partition(" (")
        mode = "sum" if tag.startswith("sum") else "arg-max"
        key, value = label.split("=", 1)
        if key == "u":
            u_points.setdefault(mode, []).append((int(value), res.mean))
        else:
            strategies.setdefault(mode, []).append((value, res.mean))
    if not u_points and not strategies:
        raise Skip("no completed two-head run with a cluster number or clustering strategy")
    fig, (a, b) = _plt().subplots(1, 2, figsize=(9, 3.5))
    for mode, points in u_points.items():
        points.sort()
        a.plot([u for u, _ in points], [v for _, v in points], marker="o", label=f"{mode} prediction")
    a.set(xlabel="cluster number u", ylabel="top-1 (%)", title="CDH only")
    width = 0.8 / max(1, len(strategies))
    for i, (mode, bars) in enumerate(strategies.items()):
        b.bar(np.arange(len(bars)) + i * width, [v for _, v in bars], width, label=f"{mode} prediction")
        b.set_xticks(np.arange(len(bars)) + width * (len(strategies) - 1) / 2, [s for s, _ in bars])
    b.set(ylabel="top-1 (%)", title="clustering strategy")
    for ax in (a, b):
        if ax.has_data():
            ax.legend(fontsize=7)
    return _save(fig, out_dir, result.table.id, result.budget == "smoke")


DRAWERS: Dict[str, Callable] = {
    "dcl.fig1": scheduler_curves, "dcl.fig4": attribute_gain, "dp.fig1": class_parameters, "dp.fig3": detection_curriculum, "dp.fig4": noisy_instances,
    "dp.fig5": random_labels, "th.fig3": per_class, "th.fig4": clusters,
}


def draw(result, out_dir: Path) -> Tuple[Optional[Path], Optional[str]]:
    """(path of the PNG, None) or (None, why it was skipped)."""
    drawer = DRAWERS.get(result.table.id)
    if drawer is None:
        return None, f"no drawing code for {result.table.id}"
    try:
        return drawer(result, Path(out_dir)), None
    except Skip as exc:
        blocked = [r.cell.reason for r in result.cells if not r.cell.runnable]
        if blocked and len(blocked) == len(result.cells):
            return None, f"{exc} ({blocked[0]})"
        return None, str(exc)
