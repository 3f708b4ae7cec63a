"""The trainer end to end: both task types, the run folder, resume, interruption, bad values."""
import json
import os

import numpy as np
import pandas as pd
import pytest
import torch

from dcl_runner.errors import ConfigError
from dcl_runner.methods.base import Method
from helpers import TINY, compose, interrupt_at_step, run_cli
from dcl_runner.train import RunInterrupted, Trainer, run_experiment

# the synthetic set generated at 512/256 images (the caps take 128/64 of them): generation is most of a tiny run
ATTR = [*TINY, "method=ce", "trainer.epochs=2", "dataset.num_train=512", "dataset.num_test=256"]
DIGITS = [*TINY, "dataset=digits_lt", "backbone=resnet32", "trainer.epochs=2"]


def read_metrics(run_dir):
    return json.loads((run_dir / "metrics.json").read_text())


def test_attribute_run_writes_the_run_folder(tmp_path):
    final = run_experiment(compose(ATTR), tmp_path)
    record = read_metrics(tmp_path)
    assert record["status"] == "completed" and record["epochs_completed"] == 2
    assert record["metrics"]["mA"] == pytest.approx(final["mA"]) and 0 < final["mA"] <= 100
    assert len(record["metrics"]["per_attribute_mA"]) == 40
    history = pd.read_csv(tmp_path / "history.csv")
    assert list(history.epoch) == [1, 2] and {"lr", "loss", "train_acc", "mA"} <= set(history.columns)
    preds = np.load(tmp_path / "predictions.npz")
    assert preds["scores"].shape == preds["targets"].shape == (64, 40)
    assert (tmp_path / "checkpoints" / "last.pt").exists()
    assert not [p for p in tmp_path.rglob("*.tmp")]


def test_multiclass_run_reports_shot_groups(tmp_path):
    final = run_experiment(compose(DIGITS), tmp_path)
    assert {"top1", "mean_class_recall", "many_shot", "medium_shot", "few_shot"} <= set(final)
    assert np.load(tmp_path / "predictions.npz")["scores"].shape[1] == 10


def _weights(run_dir):
    return torch.load(run_dir / "checkpoints" / "last.pt", weights_only=False)["model"]


@pytest.mark.parametrize("stop_at", [3, 4])  # mid-epoch, and on the last step of epoch 1
def test_interrupt_then_resume_is_bit_identical(tmp_path, monkeypatch, stop_at):
    overrides = [*ATTR, "trainer.epochs=2"]  # 128 samples / batch 32 = 4 steps per epoch
    reference = run_experiment(compose(overrides), tmp_path / "ref")

    interrupt_at_step(monkeypatch, stop_at)
    with pytest.raises(RunInterrupted):
        run_experiment(compose(overrides), tmp_path / "run")
    assert read_metrics(tmp_path / "run")["status"] == "interrupted"
    assert not (tmp_path / "run" / "predictions.npz").exists()

    resumed = run_experiment(compose(overrides), tmp_path / "run", resume=True)
    assert resumed["mA"] == reference["mA"]
    assert resumed["per_attribute_mA"] == reference["per_attribute_mA"]
    ref_w, run_w = _weights(tmp_path / "ref"), _weights(tmp_path / "run")
    assert all(torch.equal(ref_w[k], run_w[k]) for k in ref_w)
    ref_h = pd.read_csv(tmp_path / "ref" / "history.csv").drop(columns="time_s")
    run_h = pd.read_csv(tmp_path / "run" / "history.csv").drop(columns="time_s")
    pd.testing.assert_frame_equal(ref_h, run_h)


def test_resume_refuses_a_changed_config(tmp_path):
    run_experiment(compose([*ATTR, "trainer.epochs=1"]), tmp_path)
    with pytest.raises(ConfigError, match="different configuration"):
        run_experiment(compose([*ATTR, "trainer.epochs=1", "seed=5"]), tmp_path, resume=True)


def test_a_crash_marks_the_run_failed_with_its_reason(tmp_path, monkeypatch):
    def explode(self, model, batch, epoch):
        raise RuntimeError("boom in the loss")

    monkeypatch.setattr(Method, "training_step", explode)
    with pytest.raises(RuntimeError):
        run_experiment(compose(ATTR), tmp_path)
    record = read_metrics(tmp_path)
    assert record["status"] == "failed" and "boom in the loss" in record["reason"]


@pytest.mark.parametrize(
    "override,key",
    [
        ("trainer.epochs=-1", "trainer.epochs"),
        ("trainer.batch_size=0", "trainer.batch_size"),
        ("trainer.lr_schedule.name=multistep trainer.lr_schedule.milestones=[5,40] trainer.epochs=30", "milestones"),
        ("trainer.optimizer.lr=0", "trainer.optimizer.lr"),
        ("dataset.noise.rate=1.5", "dataset.noise.rate"),
        ("trainer.precision=bf16 trainer.device=cpu", "trainer.precision"),
    ],
)
def test_bad_values_fail_before_training_naming_the_key(tmp_path, override, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        Trainer(compose(override.split()), tmp_path)


def test_cli_default_run_prints_the_table_and_the_folder(out_root):
    # the default method (DCL) on the default data, shrunk
    proc = run_cli([*(o for o in ATTR if o != "method=ce"), f"output_root={out_root}"])
    assert proc.returncode == 0, proc.stderr
    assert "Bald" in proc.stdout and "mA " in proc.stdout and "run folder:" in proc.stdout
    run_dirs = list((out_root / "runs" / "synthetic_attributes" / "dcl").iterdir())
    assert len(run_dirs) == 1 and read_metrics(run_dirs[0])["choices"]["method"] == "dcl"
    assert {"g_l", "f_l", "loss_dsl", "loss_triplet"} <= set(pd.read_csv(run_dirs[0] / "history.csv").columns)


def test_cli_multirun_sweeps_seeds_into_separate_folders(out_root):
    proc = run_cli(["-m", "seed=0,1", *DIGITS, "trainer.epochs=1", f"output_root={out_root}"])
    assert proc.returncode == 0, proc.stderr
    records = [read_metrics(p.parent) for p in (out_root / "multirun").rglob("metrics.json")]
    assert sorted(r["seed"] for r in records) == [0, 1] and all(r["status"] == "completed" for r in records)


def test_cli_bad_input_gives_one_clear_message(out_root, tmp_path):
    proc = run_cli([*ATTR, "trainer.epochs=0", f"output_root={out_root}"])
    assert proc.returncode == 2 and "trainer.epochs=0" in proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr
    proc = run_cli([*TINY, "dataset=cifar10", f"dataset.root={tmp_path}", f"output_root={out_root}"])
    assert proc.returncode == 2 and "cifar-10-batches-py" in proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr
    proc = run_cli(["method=no_such_method"])
    assert proc.returncode != 0 and "Available options" in proc.stderr and "ce" in proc.stderr


def test_cli_help_lists_every_group():
    proc = run_cli(["--help"])
    assert proc.returncode == 0
    for group in ("dataset:", "backbone:", "method:", "scheduler:", "budget:"):
        assert group in proc.stdout


def test_cli_resume_by_path_and_by_true(out_root, monkeypatch):
    overrides = [*ATTR, "trainer.epochs=2", f"output_root={out_root}"]
    interrupt_at_step(monkeypatch, 6)
    run_dir = out_root / "runs" / "by_hand"
    with pytest.raises(RunInterrupted):
        run_experiment(compose(overrides), run_dir, overrides=overrides)
    (run_dir / ".hydra").mkdir()
    (run_dir / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))

    proc = run_cli([f"resume={run_dir}"])  # the run's own overrides are read from .hydra
    assert proc.returncode == 0, proc.stderr
    assert read_metrics(run_dir)["status"] == "completed"
    assert str(run_dir) in proc.stdout

    # resume=true with nothing unfinished starts a fresh run
    proc = run_cli([*overrides, "resume=true"])
    assert proc.returncode == 0, proc.stderr


def test_dataloader_path_trains_exactly_like_the_resident_path(tmp_path):
    resident = run_experiment(compose([*ATTR, "dataset.resident=true"]), tmp_path / "a")
    loader = run_experiment(compose([*ATTR, "dataset.resident=false"]), tmp_path / "b")
    assert loader["per_attribute_mA"] == resident["per_attribute_mA"]


def test_resume_true_finds_the_newest_unfinished_identical_run(tmp_path):
    from dcl_runner.io import atomic_write_json
    from dcl_runner.resume import unfinished_run

    def fake_run(name, status, config_hash, checkpoint=True):
        run_dir = tmp_path / name
        atomic_write_json(run_dir / "metrics.json", {"status": status, "config_hash": config_hash})
        if checkpoint:
            (run_dir / "checkpoints").mkdir()
            (run_dir / "checkpoints" / "last.pt").write_bytes(b"x")
        return run_dir

    fake_run("done", "completed", "h1")
    fake_run("other_config", "interrupted", "h2")
    fake_run("no_checkpoint", "failed", "h1", checkpoint=False)
    wanted = fake_run("wanted", "interrupted", "h1")
    assert unfinished_run(tmp_path, "h1") == wanted
    assert unfinished_run(tmp_path, "h3") is None


def test_lr_schedules_with_warmup():
    from omegaconf import OmegaConf

    from dcl_runner.optim import lr_factor

    def sched(**kw):
        base = dict(name="constant", step_size=30, milestones=[], gamma=0.1, min_lr_factor=0.0, warmup_epochs=0,
                    warmup_start_factor=0.0, granularity="step")
        return OmegaConf.create({**base, **kw})

    assert lr_factor(sched(name="multistep", milestones=[120, 160]), 119.9, 200) == 1.0
    assert lr_factor(sched(name="multistep", milestones=[120, 160]), 120.0, 200) == pytest.approx(0.1)
    assert lr_factor(sched(name="multistep", milestones=[120, 160]), 170.0, 200) == pytest.approx(0.01)
    assert lr_factor(sched(name="step", step_size=30), 65.0, 100) == pytest.approx(0.01)
    assert lr_factor(sched(name="cosine"), 50.0, 100) == pytest.approx(0.5)
    assert lr_factor(sched(name="cosine", min_lr_factor=0.1), 100.0, 100) == pytest.approx(0.1)
    warm = sched(name="multistep", milestones=[160], warmup_epochs=5)
    assert lr_factor(warm, 2.5, 200) == pytest.approx(0.5) and lr_factor(warm, 5.0, 200) == 1.0


def test_per_epoch_warmups_and_schedules_follow_the_authors_schedulers():
    from omegaconf import OmegaConf

    from dcl_runner.optim import lr_factor

    def sched(**kw):
        base = dict(name="multistep", step_size=30, milestones=[], gamma=0.01, min_lr_factor=0.0, warmup_epochs=5,
                    warmup_start_factor=0.0, granularity="epoch")
        return OmegaConf.create({**base, **kw})

    # LDAM-DRW cifar_train.py: lr * (epoch + 1) / 5 while epoch + 1 <= 5, then x0.01 once epoch + 1 > 160
    ldam = sched(milestones=[160, 180])
    assert [lr_factor(ldam, e + 0.7, 200) for e in range(6)] == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0, 1.0])
    assert lr_factor(ldam, 159.9, 200) == 1.0 and lr_factor(ldam, 160.0, 200) == pytest.approx(0.01)
    assert lr_factor(ldam, 180.5, 200) == pytest.approx(1e-4)
    # BBN WarmupMultiStepLR(warmup_factor=1/3, warmup_epochs=5), stepped at the start of 1-based epoch E:
    # (1/3)(1 - E/5) + E/5 for E < 5 -> 7/15, 9/15, 11/15, 13/15, then 1; x0.01 from E = 120 (0-based 119)
    bbn = sched(warmup_start_factor=1 / 3, milestones=[119, 159])
    assert [lr_factor(bbn, e + 0.5, 200) for e in range(6)] == pytest.approx([7 / 15, 9 / 15, 11 / 15, 13 / 15, 1.0, 1.0])
    assert lr_factor(bbn, 118.9, 200) == 1.0 and lr_factor(bbn, 119.0, 200) == pytest.approx(0.01)
    # a cosine stepped per epoch (CosineAnnealingLR, T_max = epochs): (1 + cos(pi e / 100)) / 2 for epoch e
    cosine = sched(name="cosine", warmup_epochs=0)
    assert lr_factor(cosine, 50.99, 100) == pytest.approx(0.5) and lr_factor(cosine, 25.5, 100) == pytest.approx(0.853553, abs=1e-6)


def test_hydra_run_folders_are_unique_per_process():
    from helpers import compose

    cfg = compose([], return_hydra_config=True)
    assert str(os.getpid()) in cfg.hydra.run.dir
