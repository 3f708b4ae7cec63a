"""``python -m dcl_runner.results`` (issue 17) on run folders written by hand in the run-folder format, so every
expected number is known independently: filters, mean ± std over seeds, failed runs never in a mean, plot, CSV."""
import json
import subprocess
import sys

import pandas as pd
import pytest
from omegaconf import OmegaConf

from dcl_runner.results_cli import main
from helpers import REPO_ROOT, compose


def make_run(root, name, overrides, status, top1=None, losses=(2.0, 1.0)):
    """A run folder as the runner writes it: .hydra/config.yaml, metrics.json, history.csv."""
    run_dir = root / name
    (run_dir / ".hydra").mkdir(parents=True)
    cfg = compose(["dataset=digits_lt", "backbone=resnet32", *overrides])
    OmegaConf.save(cfg, run_dir / ".hydra" / "config.yaml")
    metrics = {"top1": top1} if top1 is not None else {}
    (run_dir / "metrics.json").write_text(json.dumps({
        "status": status, "reason": None if status == "completed" else "diverged at epoch 2, step 3: the training loss is not finite",
        "headline": "top1", "metrics": metrics, "epochs": 2, "epochs_completed": 2 if status == "completed" else 1,
        "wall_time_s": 10.0, "seed": cfg.seed, "choices": {"method": cfg.method.name, "dataset": "digits_lt"}}))
    pd.DataFrame({"epoch": [1, 2], "loss": list(losses), "top1": [40.0, top1 or 0.0]}).to_csv(run_dir / "history.csv", index=False)
    return run_dir


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    make_run(root, "ce0", ["method=ce", "seed=0"], "completed", 70.0)
    make_run(root, "ce1", ["method=ce", "seed=1"], "completed", 74.0)
    make_run(root, "ce2", ["method=ce", "seed=2"], "failed")
    dcl = make_run(root, "dcl0", ["method=dcl", "seed=0", "trainer.optimizer.lr=0.01"], "completed", 80.0, losses=(3.0, 0.5))
    copy = dcl / "wandb" / "offline-run-1" / "files"  # a tracker's copy of metrics.json is not another run
    copy.mkdir(parents=True)
    (copy / "metrics.json").write_text((dcl / "metrics.json").read_text())
    return root


def test_the_table_lists_every_run_and_only_completed_ones_have_a_value(runs, capsys, tmp_path):
    assert main([str(runs), "--csv", str(tmp_path / "runs.csv")]) == 0
    frame = pd.read_csv(tmp_path / "runs.csv")
    assert len(frame) == 4 and set(frame.status) == {"completed", "failed"}
    failed = frame[frame.status == "failed"].iloc[0]
    assert pd.isna(failed.value) and "diverged" in failed.reason
    assert sorted(frame.value.dropna()) == [70.0, 74.0, 80.0]
    assert "diverged" in capsys.readouterr().out


def test_where_filters_on_groups_and_on_any_config_key(runs, tmp_path):
    main([str(runs), "--where", "method=ce", "status=completed", "--csv", str(tmp_path / "a.csv")])
    assert sorted(pd.read_csv(tmp_path / "a.csv").value) == [70.0, 74.0]
    main([str(runs), "--where", "trainer.optimizer.lr=0.01", "--csv", str(tmp_path / "b.csv")])
    assert list(pd.read_csv(tmp_path / "b.csv").method) == ["dcl"]
    main([str(runs), "--where", "seed=0", "method=ce,dcl", "--csv", str(tmp_path / "c.csv")])
    assert sorted(pd.read_csv(tmp_path / "c.csv").method) == ["ce", "dcl"]


def test_group_by_gives_mean_and_sample_std_over_completed_seeds(runs, tmp_path):
    main([str(runs), "--group-by", "method", "--csv", str(tmp_path / "g.csv")])
    g = pd.read_csv(tmp_path / "g.csv").set_index("method")
    # ce: 70 and 74 -> mean 72, sample std sqrt(((70-72)^2 + (74-72)^2) / 1) = 2.828...; the failed seed not counted
    assert g.loc["ce", "mean"] == pytest.approx(72.0) and g.loc["ce", "std"] == pytest.approx(8 ** 0.5)
    assert g.loc["ce", "n"] == 2 and g.loc["ce", "not_completed"] == 1
    assert g.loc["dcl", "mean"] == pytest.approx(80.0) and pd.isna(g.loc["dcl", "std"])


def test_plot_draws_a_history_column_per_run_and_the_console_script_dispatches(runs, tmp_path):
    out = tmp_path / "loss.png"
    assert main([str(runs), "--where", "status=completed", "--plot", "loss", "--out", str(out)]) == 0
    assert out.stat().st_size > 1000
    proc = subprocess.run([sys.executable, "-m", "dcl_runner", "results", str(runs), "--where", "method=dcl"],
                          capture_output=True, text=True, cwd=REPO_ROOT)
    assert proc.returncode == 0 and "dcl" in proc.stdout and "80.00" in proc.stdout and "ce0" not in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "dcl_runner.results", str(tmp_path / "nowhere")], capture_output=True, text=True,
                          cwd=REPO_ROOT)
    assert proc.returncode == 2 and "no such folder" in proc.stderr
