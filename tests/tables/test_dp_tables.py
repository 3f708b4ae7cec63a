"""The data-parameters tables: every row composes with smoke, the experiments pin the paper's protocol, and the
figures draw from run folders."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from dcl_runner.config import CONFIG_DIR
from dcl_runner.config_check import check_config
from dcl_runner.errors import RunnerError
from dcl_runner.methods import METHODS
from dcl_runner.plots.data_params import plot_dp_fig1, plot_dp_fig4, plot_dp_fig5
from dcl_runner.tables import REGISTRY
from helpers import TINY, compose, compose_many
from dcl_runner.train import run_experiment

# the data-parameters paper's experiments, and Ren et al.'s protocol that dp.t2's rows copied from [26] run
DP_EXPERIMENTS = sorted(p.stem for pattern in ("dp_*.yaml", "ren_*.yaml") for p in (CONFIG_DIR / "experiment").glob(pattern))
# every runnable cell of the data-parameters tables and figures (the table registry is the one row list)
ROWS = [(table.id, row.method, list(row.cell_overrides(column)))
        for table in REGISTRY.values() if table.id.startswith("dp.")
        for row in table.rows if row.method in METHODS
        for column in table.columns if column.overrides or row.overrides]


def experiment_of(overrides):
    return next(o.split("=", 1)[1] for o in overrides if o.startswith("experiment="))


def test_every_table_row_composes_with_smoke():
    """Rows add method / subset / rate overrides to the experiments (test_configs composes them plain and smoke);
    smoke must drop nothing they need."""
    lists = [[*o, "budget=smoke"] for _, _, o in ROWS]
    for (_, method, _), overrides, cfg in zip(ROWS, lists, compose_many(lists)):
        check_config(cfg)
        assert cfg.method.name == method, overrides
    assert len(DP_EXPERIMENTS) == 9 and {experiment_of(o) for _, _, o in ROWS} == set(DP_EXPERIMENTS)


def test_the_pinned_protocols():
    imagenet, wrn, noisy10, noisy100, fig5 = compose_many([
        ["experiment=dp_imagenet_resnet18"], ["experiment=dp_cifar100_wrn"],
        ["experiment=dp_noisy_cifar10_wrn", "dataset.noise.rate=0.8"], ["experiment=dp_noisy_cifar100_wrn", "dataset.noise.rate=0.8"],
        ["experiment=dp_random_labels_vgg16"]])
    assert imagenet.trainer.epochs == 100 and list(imagenet.trainer.lr_schedule.milestones) == [30, 60, 90]
    assert (imagenet.method.class_lr, imagenet.method.inst_lr, imagenet.method.inst_weight_decay) == (0.1, 0.8, 1e-4)
    assert imagenet.trainer.optimizer.weight_decay == 1e-4 and imagenet.backbone.stem == "imagenet"
    assert wrn.backbone.name == "wrn28_10" and list(wrn.trainer.lr_schedule.milestones) == [60, 120, 160]
    assert wrn.trainer.lr_schedule.gamma == 0.2 and wrn.trainer.epochs == 200 and wrn.trainer.optimizer.nesterov
    for noisy in (noisy10, noisy100):
        assert list(noisy.trainer.eval_epochs) == [84] and noisy.method.inst_lr == 0.2
        assert noisy.method.top_fraction == 0.8 and noisy.dataset.noise.mode == "uniform"
    assert fig5.dataset.noise.rate == 1.0 and fig5.backbone.name == "vgg16" and fig5.method.curriculum == "class"


@pytest.fixture(scope="module")
def dp_runs(tmp_path_factory):
    """A tiny noisy-digits joint run with an epoch-1 evaluation, and a CE run."""
    root = tmp_path_factory.mktemp("dp_runs")
    base = [*TINY, "dataset=digits_lt", "backbone=resnet32", "dataset.noise.rate=0.4", "trainer.epochs=2",
            "trainer.eval_epochs=[1]"]
    runs = []
    for seed in (0,):
        run_experiment(compose([*base, "method=data_params", "method.curriculum=joint", "method.inst_lr=20.0", f"seed={seed}"]), root / f"dp{seed}")
        runs.append(root / f"dp{seed}")
    run_experiment(compose([*base, "method=ce"]), root / "ce")
    return runs, root / "ce"


def _png_size(path: Path):
    import matplotlib.image as mpimg

    return mpimg.imread(path).shape


def test_test_accuracy_at_a_chosen_epoch_is_recorded(dp_runs):
    record = json.loads((dp_runs[0][0] / "metrics.json").read_text())
    assert set(record["metrics_at_epoch"]) == {"1"} and 0 <= record["metrics_at_epoch"]["1"]["top1"] <= 100
    assert "top1" in record["metrics"]


def test_figures_are_drawn_from_run_folders(dp_runs, tmp_path):
    runs, ce = dp_runs
    fig1 = plot_dp_fig1(runs, tmp_path / "dp.fig1.png")
    fig4 = plot_dp_fig4(runs, tmp_path / "dp.fig4.png")
    fig5 = plot_dp_fig5([ce], runs, tmp_path / "dp.fig5.png")
    for png in (fig1, fig4, fig5):
        height, width, _ = _png_size(png)
        assert height > 200 and width > 400
    # a smoke-budget table run stamps its figures, as the other figures of the tables script are
    import matplotlib.image as mpimg

    stamped = plot_dp_fig4(runs, tmp_path / "stamped.png", banner="smoke budget: a plumbing check, not results")
    top = slice(0, 30)  # the banner's strip above the panels
    assert not np.array_equal(mpimg.imread(stamped)[top], mpimg.imread(fig4)[top])
    with pytest.raises(RunnerError, match="dp_class_sigma"):
        plot_dp_fig1([ce], tmp_path / "x.png")
    with pytest.raises(RunnerError, match="dp.fig4"):
        plot_dp_fig4([ce], tmp_path / "x.png")


def test_fig1_picks_seeded_random_classes_and_a_pair_of_one_class():
    """DP sec. 3.2 "We pick four random classes"; fig. 1 right: "two instances of the same class"."""
    from dcl_runner.methods.data_params import tracked_samples
    from dcl_runner.plots.data_params import pick_classes, pick_pair

    picks = [pick_classes(100, 4, seed) for seed in range(5)]
    assert all(len(set(p)) == 4 and p == sorted(p) and 0 <= p[0] and p[-1] < 100 for p in picks)
    assert pick_classes(100, 4, 3) == picks[3] and len({tuple(p) for p in picks}) > 1
    # tracked samples come in same-class pairs, from classes with at least two samples (class 2 has one)
    targets = torch.tensor([0, 0, 1, 1, 1, 2])
    tracked = tracked_samples(targets, 6, 4, seed=0)
    assert len(tracked) == 4 and 5 not in tracked.tolist()
    assert targets[tracked[0]] == targets[tracked[1]] and targets[tracked[2]] == targets[tracked[3]]
    assert {int(targets[tracked[0]]), int(targets[tracked[2]])} == {0, 1}
    # the pair whose trajectories differ most (columns 2, 3: by 3 every epoch; 0, 1: by 1), if of one class
    curves = np.array([[1.0, 2.0, 1.0, 4.0], [1.0, 2.0, 1.0, 4.0]])
    assert pick_pair(curves, np.array([7, 7, 8, 8])) == (2, 3)
    assert pick_pair(curves, np.array([7, 7, 8, 9])) == (0, 1)


def test_the_tables_script_draws_the_dp_figures_with_these_functions(dp_runs, tmp_path):
    from types import SimpleNamespace as NS

    from dcl_runner.tables.figures import draw
    from dcl_runner.tables import get

    runs, ce = dp_runs

    def result(table_id, cells):
        return NS(table=get(table_id), budget="smoke",
                  cells=[NS(cell=NS(row=NS(method=m), runnable=True), runs=[{"run_dir": str(d)} for d in dirs]) for m, dirs in cells])

    for table_id, cells in (("dp.fig4", [("data_params", runs)]), ("dp.fig5", [("ce", [ce]), ("data_params", runs)])):
        path, why = draw(result(table_id, cells), tmp_path)
        assert why is None and path == tmp_path / f"{table_id}.png" and _png_size(path)[1] > 400
    path, why = draw(result("dp.fig5", [("data_params", runs)]), tmp_path / "none")
    assert path is None and "baseline" in why


def test_fig1_right_panel_names_its_stand_in(dp_runs, tmp_path, monkeypatch):
    """Left: the class-level row's runs; right: the ImageNet row's, else the stand-in row's, and the title says so."""
    from types import SimpleNamespace as NS

    import dcl_runner.plots.data_params as plots
    from dcl_runner.tables.figures import draw
    from dcl_runner.tables import DP_FIG1_ROWS, get

    runs, _ = dp_runs
    seen = {}
    real = plots.plot_dp_fig1
    monkeypatch.setattr(plots, "plot_dp_fig1", lambda *a, **k: seen.update(k, class_runs=a[0]) or real(*a, **k))

    def result(runs_by_row):
        return NS(table=get("dp.fig1"), budget="paper", cells=[
            NS(cell=NS(row=NS(label=label, method="data_params"), runnable=True, substituted=None),
               runs=[{"run_dir": str(d)} for d in runs_by_row.get(label, [])]) for label in DP_FIG1_ROWS])

    left, imagenet, stand_in = DP_FIG1_ROWS
    path, why = draw(result({left: runs, imagenet: runs}), tmp_path)
    assert why is None and _png_size(path)[1] > 400 and seen["instance_note"] is None
    path, why = draw(result({left: runs, stand_in: runs}), tmp_path)
    assert why is None and "stand-in" in seen["instance_note"] and "no ImageNet run" in seen["instance_note"]
    assert [str(p) for p in seen["instance_runs"]] == [str(d) for d in runs]
    path, why = draw(result({imagenet: runs}), tmp_path / "none")
    assert path is None and left in why
    tracked_class = np.load(runs[0] / "curves" / "dp_inst_tracked_class.npy")
    assert tracked_class[0] == tracked_class[1]  # the run recorded same-class pairs


def test_a_withheld_row_is_ref_only_with_its_reason():
    """A row whose method exists but is known not to reproduce its paper yet can be withheld: its cells are not run,
    and the table says why. No dp.t2 row is withheld now: MentorNet DD's mentor learns (issue 14), so it runs."""
    from dataclasses import replace

    from dcl_runner.tables.dp import DP_TABLES
    from dcl_runner.tables.runs import not_runnable

    t2 = next(t for t in DP_TABLES if t.id == "dp.t2")
    dd = next(r for r in t2.rows if r.method == "mentornet_dd")
    assert not any(r.withheld for r in t2.rows) and not_runnable(dd, t2.columns[0], ()) == ""
    held = replace(dd, withheld="its mentor does not learn")
    assert not_runnable(held, t2.columns[0], ()) == "ref only: its mentor does not learn"
