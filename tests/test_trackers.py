"""Experiment trackers (issue 17): each one's own store is read back and compared with the run folder, the
source of truth. MLflow against a real sqlite store, W&B in offline mode (its .wandb log parsed), TensorBoard
from its event files. No network."""
import json
import struct
from pathlib import Path

import pandas as pd
import pytest

from dcl_runner.errors import ConfigError
from dcl_runner.config import run_identity
from helpers import TINY, compose, interrupt_at_step
from dcl_runner.train import RunInterrupted, run_experiment

pytest.importorskip("tensorboard")
pytest.importorskip("mlflow")
pytest.importorskip("wandb")

# 64 training images / batch 32 = 2 steps per epoch, log_every 1: a train/loss point per step
RUN = [*TINY, "method=ce", "dataset.num_train=128", "dataset.num_test=64", "dataset.max_train_samples=64",
       "dataset.max_eval_samples=32", "trainer.epochs=2", "trainer.log_every=1"]


@pytest.fixture(autouse=True)
def _work_in_tmp(tmp_path, monkeypatch):
    """MLflow on a sqlite store keeps its artifacts in ./mlruns of the working folder: not the checkout."""
    monkeypatch.chdir(tmp_path)


def trackers(tmp_path, *names):
    """``logger=[...]`` with MLflow on a sqlite store under tmp_path and W&B offline."""
    out = [f"logger=[{','.join(names)}]"]
    if "mlflow" in names:
        out.append(f"logger.mlflow.tracking_uri=sqlite:///{tmp_path}/mlflow.db")
    if "wandb" in names:
        out.append("logger.wandb.mode=offline")
    return out


def wandb_records(path: Path):
    """The protobuf records of a W&B offline log (.wandb): a LevelDB-style log of 32 KiB blocks after a 7-byte
    file header, each chunk a 7-byte header (crc32, little-endian length, kind: 1 full, 2 first, 3 middle, 4 last)."""
    from wandb.proto import wandb_internal_pb2 as pb

    data, pos, block, out, pending = path.read_bytes(), 7, 32768, [], b""
    while pos + 7 <= len(data):
        room = block - pos % block
        if room < 7:
            pos += room
            continue
        _, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        chunk, pos = data[pos + 7:pos + 7 + length], pos + 7 + length
        pending = chunk if kind in (1, 2) else pending + chunk
        if kind in (1, 4):
            record = pb.Record()
            record.ParseFromString(pending)
            out.append(record)
    return out


def test_tensorboard_mlflow_and_wandb_record_what_the_run_folder_records(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from mlflow.tracking import MlflowClient

    run_dir = tmp_path / "run"
    cfg = compose([*RUN, *trackers(tmp_path, "tensorboard", "mlflow", "wandb")])
    final = run_experiment(cfg, run_dir)
    history = pd.read_csv(run_dir / "history.csv")
    record = json.loads((run_dir / "metrics.json").read_text())
    assert record["status"] == "completed" and record["metrics"]["mA"] == pytest.approx(final["mA"])

    # TensorBoard: the event files, read back
    events = EventAccumulator(str(run_dir / "tensorboard"))
    events.Reload()
    epoch_loss = events.Scalars("epoch/loss")
    assert [e.step for e in epoch_loss] == [2, 4]  # global step at the end of epochs 1 and 2
    assert [e.value for e in epoch_loss] == pytest.approx(list(history.loss), rel=1e-6)
    assert [e.step for e in events.Scalars("train/loss")] == [1, 2, 3, 4]
    assert events.Scalars("final/mA")[0].value == pytest.approx(final["mA"], rel=1e-6)
    assert events.Scalars("final/per_attribute_mA/Bald")[0].value == pytest.approx(final["per_attribute_mA"]["Bald"], rel=1e-6)

    # MLflow: the sqlite store
    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    (run,) = client.search_runs([client.get_experiment_by_name("dcl_runner").experiment_id])
    assert run.info.status == "FINISHED" and run.data.tags["run_folder"] == str(run_dir)
    assert run.data.params["trainer.optimizer.lr"] == str(cfg.trainer.optimizer.lr)
    assert [m.value for m in sorted(client.get_metric_history(run.info.run_id, "epoch/loss"), key=lambda m: m.step)] \
        == pytest.approx(list(history.loss), rel=1e-9)
    assert run.data.metrics["final/mA"] == pytest.approx(final["mA"])
    assert {"history.csv", "metrics.json"} <= {a.path for a in client.list_artifacts(run.info.run_id)}

    # W&B offline: the run's own log
    (log_file,) = (run_dir / "wandb").glob("offline-run-*/run-*.wandb")
    records = wandb_records(log_file)
    logged = {}
    for r in records:
        if r.WhichOneof("record_type") == "history":
            logged.update({item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in r.history.item})
    assert logged["final/mA"] == pytest.approx(final["mA"]) and logged["epoch/loss"] == pytest.approx(history.loss.iloc[-1])
    (run_record,) = [r.run for r in records if r.WhichOneof("record_type") == "run"]
    assert "trainer" in {item.key for item in run_record.config.update}


def test_a_failing_tracker_is_reported_once_and_the_run_completes(tmp_path, monkeypatch, caplog):
    from dcl_runner.trackers import TensorBoardTracker

    def broken(self, values, step):
        raise OSError("disk of the tracker is gone")

    monkeypatch.setattr(TensorBoardTracker, "log_metrics", broken)
    with caplog.at_level("WARNING"):
        run_experiment(compose([*RUN, "logger=tensorboard"]), tmp_path)
    assert json.loads((tmp_path / "metrics.json").read_text())["status"] == "completed"
    warnings = [r for r in caplog.records if "tensorboard tracker failed" in r.getMessage()]
    assert len(warnings) == 1 and "disk of the tracker is gone" in warnings[0].getMessage()


def test_a_resumed_run_continues_its_mlflow_run(tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    overrides = [*RUN, *trackers(tmp_path, "mlflow")]
    interrupt_at_step(monkeypatch, 3)
    with pytest.raises(RunInterrupted):
        run_experiment(compose(overrides), tmp_path / "run")
    run_experiment(compose(overrides), tmp_path / "run", resume=True)
    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    (run,) = client.search_runs([client.get_experiment_by_name("dcl_runner").experiment_id])
    assert run.info.status == "FINISHED"
    assert sorted(m.step for m in client.get_metric_history(run.info.run_id, "epoch/loss")) == [2, 4]


def test_a_missing_tracker_package_is_one_message(monkeypatch, tmp_path):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "wandb" else real(name, *a))
    with pytest.raises(ConfigError, match=r"logger=wandb needs the package 'wandb'.*dcl_runner\[wandb\]"):
        run_experiment(compose([*RUN, "logger=wandb"]), tmp_path)


def test_trackers_do_not_change_a_runs_identity():
    assert run_identity(compose([])) == run_identity(compose(["logger=[tensorboard,mlflow]"]))
