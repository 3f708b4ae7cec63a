"""Faults never become numbers (issue 12): divergence, refused resumes, sweeps that fail or are stopped,
stale decode caches, bad input, odd paths. One test per fault, each on tiny data.

The CLI is driven in this process (``dcl_runner.__main__.main`` with ``sys.argv``), so that a Ctrl-C can be
sent at an exact training step (``testing.interrupt_at_step``); ``run_cli`` (a subprocess) is used where the
exit code of the real process is the point.
"""
import gzip
import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from dcl_runner.errors import ConfigError, DatasetError, RunFailed
from dcl_runner.methods.base import Method
from helpers import TINY, compose, interrupt_at_step, run_cli, write_image
from dcl_runner.divergence import nonfinite_names
from dcl_runner.train import run_experiment

# 64 training images / batch 32 = 2 steps per epoch
TINY_RUN = [*TINY, "method=ce", "dataset.num_train=128", "dataset.num_test=64", "dataset.max_train_samples=64",
            "dataset.max_eval_samples=32"]


def read_metrics(run_dir):
    return json.loads((Path(run_dir) / "metrics.json").read_text())


def snapshot(folder):
    """Every file under ``folder`` with its bytes' hash: two equal snapshots mean a byte-identical folder."""
    return {str(p.relative_to(folder)): hashlib.sha1(p.read_bytes()).hexdigest() for p in sorted(Path(folder).rglob("*")) if p.is_file()}


def cli(argv, capsys=None):
    """``python -m dcl_runner <argv>`` in this process; returns (exit code, stdout + stderr)."""
    from dcl_runner.__main__ import main

    old = sys.argv
    sys.argv = ["dcl_runner", *argv]
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv = old
    out = capsys.readouterr() if capsys else None
    return code, (out.out + out.err) if out else ""


def poison_loss_from(monkeypatch, first_bad_step):
    """Make every training loss from the ``first_bad_step``-th step on (1-based, counted over the test) NaN."""
    steps = [0]
    step = Method.training_step

    def poisoned(self, model, batch, epoch):
        result = step(self, model, batch, epoch)
        steps[0] += 1
        if steps[0] >= first_bad_step:
            result.loss = result.loss * float("nan")
        return result

    monkeypatch.setattr(Method, "training_step", poisoned)


# --------------------------------------------------------------------------------------------- 1. divergence
def test_a_diverged_run_fails_with_its_epoch_and_step_and_keeps_the_last_finite_checkpoint(tmp_path, monkeypatch):
    poison_loss_from(monkeypatch, 4)  # epoch 1 = steps 1-2 (finite), epoch 2 = steps 3-4: step 2 of epoch 2 is NaN
    with pytest.raises(RunFailed, match="diverged at epoch 2, step 2"):
        run_experiment(compose([*TINY_RUN, "trainer.epochs=3"]), tmp_path)
    record = read_metrics(tmp_path)
    assert record["status"] == "failed" and "diverged at epoch 2, step 2" in record["reason"]
    assert record["metrics"] == {} and record["epochs_completed"] == 1
    state = torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=False)
    assert state["progress"]["epoch"] == 1  # the checkpoint of epoch 1, not of the NaN epoch
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())
    assert not (tmp_path / "predictions.npz").exists()


def test_nonfinite_names_finds_nan_and_inf_tensors():
    tensors = {"a": torch.ones(3), "b": torch.tensor([1.0, float("nan")]), "c": torch.tensor([float("-inf")]),
               "steps": torch.tensor(5)}
    assert nonfinite_names(tensors) == ["b", "c"]


def test_cli_divergence_exits_1_and_a_sweep_names_the_failed_job(out_root, capsys):
    code, out = cli([*TINY_RUN, "trainer.optimizer.lr=1e6", f"output_root={out_root}"], capsys)
    assert code == 1 and "diverged at epoch 1" in out and "mA" not in out.split("diverged")[-1]
    # 6. a sweep with a failed job exits non-zero and one line names it
    code, out = cli(["-m", *TINY_RUN, "trainer.batch_size=0,32", f"output_root={out_root}"], capsys)
    summary = [line for line in out.splitlines() if line.startswith("sweep:")]
    assert code == 1 and len(summary) == 1
    assert "1 of 2 jobs did not complete" in summary[0] and "#0" in summary[0] and "trainer.batch_size=0" in summary[0]


# --------------------------------------------------------------------------------------------- 2. refused resumes
def _interrupted_cli_run(out_root, monkeypatch, capsys, extra=()):
    interrupt_at_step(monkeypatch, 3)
    code, _ = cli([*TINY_RUN, "trainer.epochs=3", f"output_root={out_root}", *extra], capsys)
    assert code == 130
    (run_dir,) = [p.parent for p in Path(out_root).rglob("metrics.json")]
    assert read_metrics(run_dir)["status"] == "interrupted"
    return run_dir


def test_a_refused_resume_leaves_the_run_folder_byte_identical(out_root, monkeypatch, capsys):
    run_dir = _interrupted_cli_run(out_root, monkeypatch, capsys)
    before = snapshot(run_dir)
    code, out = cli([f"resume={run_dir}", "trainer.optimizer.lr=0.01"], capsys)
    assert code == 2 and "trainer.optimizer.lr: 0.05 -> 0.01" in out
    assert snapshot(run_dir) == before

    ckpt = run_dir / "checkpoints" / "last.pt"
    whole = ckpt.read_bytes()
    ckpt.write_bytes(whole[: len(whole) // 2])
    truncated = snapshot(run_dir)
    code, out = cli([f"resume={run_dir}"], capsys)
    assert code == 2 and "unreadable" in out and "truncated" in out
    assert snapshot(run_dir) == truncated
    ckpt.write_bytes(whole)

    # run-time switches are allowed; the run ends in its own folder, .hydra untouched
    hydra_before = snapshot(run_dir / ".hydra")
    code, out = cli([f"resume={run_dir}", "trainer.num_workers=1", "trainer.log_every=5"], capsys)
    assert code == 0, out
    assert read_metrics(run_dir)["status"] == "completed" and snapshot(run_dir / ".hydra") == hydra_before


def test_trainer_refuses_a_changed_config_naming_the_keys_and_writes_nothing(tmp_path, monkeypatch):
    from dcl_runner.train import RunInterrupted

    interrupt_at_step(monkeypatch, 3)
    with pytest.raises(RunInterrupted):
        run_experiment(compose([*TINY_RUN, "trainer.epochs=3"]), tmp_path)
    before = snapshot(tmp_path)
    with pytest.raises(ConfigError, match=r"trainer\.epochs: 3 -> 4"):
        run_experiment(compose([*TINY_RUN, "trainer.epochs=4"]), tmp_path, resume=True)
    assert snapshot(tmp_path) == before


# --------------------------------------------------------------------------------------------- 4. stale caches
def test_the_decode_cache_is_rebuilt_when_a_source_file_changes_or_the_cache_is_cut(tmp_path, caplog):
    from dcl_runner.data.cache import decode_to_cache

    paths = [str(tmp_path / "img" / f"{i}.png") for i in range(3)]
    for i, p in enumerate(paths):
        write_image(Path(p), 10 * i, size=(5, 6))
    first = np.array(decode_to_cache(paths, (4, 4), tmp_path / "cache", "t"))
    assert first[:, 0, 0, 0].tolist() == [0, 10, 20]

    write_image(Path(paths[1]), 200, size=(5, 6))  # the same file name, new content (and a new modification time)
    os.utime(paths[1], ns=(os.stat(paths[1]).st_atime_ns, os.stat(paths[1]).st_mtime_ns + 10**9))
    with caplog.at_level("WARNING"):
        second = np.array(decode_to_cache(paths, (4, 4), tmp_path / "cache", "t"))
    assert second[:, 0, 0, 0].tolist() == [0, 200, 20]
    assert "changed" in caplog.text and "rebuilding" in caplog.text

    (cache,) = (tmp_path / "cache").glob("*.npy")
    cache.write_bytes(cache.read_bytes()[:100])  # a truncated cache
    third = np.array(decode_to_cache(paths, (4, 4), tmp_path / "cache", "t"))
    assert third[:, 0, 0, 0].tolist() == [0, 200, 20]


# --------------------------------------------------------------------------------------------- 5. Ctrl-C in a sweep
def test_ctrl_c_stops_the_whole_sweep_and_the_interrupted_job_resumes(out_root, monkeypatch, capsys):
    sweep = ["-m", *TINY_RUN, "trainer.epochs=2", "seed=0,1", f"output_root={out_root}"]
    interrupt_at_step(monkeypatch, 3)  # job #0, epoch 2, step 1
    code, out = cli(sweep, capsys)
    assert code == 130 and "sweep stopped" in out
    (first,) = list((out_root / "multirun").iterdir())
    jobs = sorted(p.name for p in first.iterdir() if p.is_dir())
    assert jobs == ["0"] and read_metrics(first / "0")["status"] == "interrupted"  # job 1 never started

    code, out = cli([*sweep, "resume=true"], capsys)
    assert code == 0 and "sweep: all 2 jobs completed" in out
    record = read_metrics(first / "0")
    assert record["status"] == "completed" and record["epochs_completed"] == 2


# --------------------------------------------------------------------------------------------- 7. bad input
@pytest.mark.parametrize("override,key", [
    ("trainer.epochs=abc", "trainer.epochs"), ("seed=abc", "seed"), ("dataset.noise.rate=abc", "dataset.noise.rate"),
    ("dataset.imbalance_ratio=abc", "dataset.imbalance_ratio"), ("trainer.optimizer.momentum=abc", "trainer.optimizer.momentum"),
])
def test_non_numeric_values_are_one_message_naming_the_key_and_the_run_says_why(tmp_path, override, key):
    with pytest.raises(ConfigError, match=rf"^{key.replace('.', '[.]')}='abc': expected"):
        run_experiment(compose([*TINY_RUN, override]), tmp_path)
    record = read_metrics(tmp_path)
    assert record["status"] == "failed" and key in record["reason"]


def test_a_truncated_gz_and_a_corrupt_jpeg_name_the_file(tmp_path):
    from dcl_runner.data import build_data
    from dcl_runner.data.cache import decode_to_cache

    raw = tmp_path / "fm" / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    images = bytes([0, 0, 8, 3]) + (4).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2 + bytes(4 * 28 * 28)
    labels = bytes([0, 0, 8, 1]) + (4).to_bytes(4, "big") + bytes(4)
    for split in ("train", "t10k"):
        (raw / f"{split}-images-idx3-ubyte.gz").write_bytes(gzip.compress(images))
        (raw / f"{split}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(labels))
    cut = raw / "train-images-idx3-ubyte.gz"
    cut.write_bytes(cut.read_bytes()[:-20])
    with pytest.raises(DatasetError, match="train-images-idx3-ubyte.gz.*truncated or corrupt"):
        build_data(compose(["dataset=fashion_mnist", f"dataset.root={tmp_path / 'fm'}"]).dataset, 0)

    bad = tmp_path / "img" / "000002.jpg"
    write_image(tmp_path / "img" / "000001.png", 5, size=(5, 6))
    bad.write_bytes(b"\xff\xd8\xff\xe0 this is not a JPEG")
    with pytest.raises(DatasetError, match="000002.jpg.*corrupt"):
        decode_to_cache([str(tmp_path / "img" / "000001.png"), str(bad)], (4, 4), tmp_path / "cache", "t")


def test_an_output_folder_that_cannot_be_made_is_one_message(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    code, out = cli([*TINY_RUN, f"output_root={blocker}"], capsys)
    assert code == 2 and "cannot create or write the run folder" in out and "output_root" in out
    assert "Traceback" not in out


# --------------------------------------------------------------------------------------------- 8. odd paths
def test_resume_of_a_path_with_a_comma_and_a_space(tmp_path, monkeypatch, capsys):
    run_dir = tmp_path / "a,b" / "run 1"
    interrupt_at_step(monkeypatch, 3)
    code, _ = cli([*TINY_RUN, "trainer.epochs=2", f"hydra.run.dir='{run_dir}'"], capsys)
    assert code == 130 and read_metrics(run_dir)["status"] == "interrupted"
    code, out = cli([f"resume={run_dir}"], capsys)
    assert code == 0, out
    assert read_metrics(run_dir)["status"] == "completed" and read_metrics(run_dir)["epochs_completed"] == 2


# --------------------------------------------------------------------------------------------- 9. completed runs
def test_resuming_a_completed_run_changes_nothing_even_without_its_checkpoint(out_root, capsys):
    code, _ = cli([*TINY_RUN, f"output_root={out_root}"], capsys)
    assert code == 0
    (run_dir,) = [p.parent for p in Path(out_root).rglob("metrics.json")]
    before = snapshot(run_dir)
    code, out = cli([f"resume={run_dir}"], capsys)
    assert code == 0 and "is complete (1/1 epochs" in out and "nothing to resume" in out
    assert snapshot(run_dir) == before
    (run_dir / "checkpoints" / "last.pt").unlink()
    before = snapshot(run_dir)
    code, out = cli([f"resume={run_dir}"], capsys)
    assert code == 0 and "is complete" in out and snapshot(run_dir) == before


def test_a_run_with_finished_epochs_but_no_checkpoint_is_not_silently_restarted(out_root, monkeypatch, capsys):
    run_dir = _interrupted_cli_run(out_root, monkeypatch, capsys)  # interrupted in epoch 2: epoch 1 finished
    (run_dir / "checkpoints" / "last.pt").unlink()
    before = snapshot(run_dir)
    code, out = cli([f"resume={run_dir}"], capsys)
    assert code == 2 and "no checkpoints/last.pt" in out and snapshot(run_dir) == before
