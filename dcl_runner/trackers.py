"""Experiment trackers (the ``logger`` config group): TensorBoard, MLflow and Weights & Biases.

The run folder stays the source of truth; a tracker mirrors what it records: the resolved config and the run
folder's path at the start, the training loss every ``trainer.log_every`` steps, every history row, and at the
end the final metrics (per-class / per-attribute results included), the status, and the run's figures and
curves as artifacts. ``logger=[tensorboard,mlflow]`` runs several at once; ``logger=none`` (the default) none.

A tracker never fails or stalls a training run: the first error of a tracker is reported once (a warning that
names it) and that tracker is switched off for the rest of the run. A resumed run continues the same tracker
run (its id is kept in ``<run folder>/trackers.json``); TensorBoard drops the events past the resumed step.
A tracker whose package is missing is one message before training (which extra to install). A tracker's keys
(``logger.<name>.*``, conf/logger/<name>.yaml) are its class's keyword-only arguments (``dcl_runner/sections.py``).
"""
from __future__ import annotations

import importlib.util
import logging
import os
import uuid
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional

from . import sections
from .errors import ConfigError, unknown_value
from .io import atomic_write_json, read_json

log = logging.getLogger(__name__)
STATE_FILE = "trackers.json"


def flatten(node: Any, prefix: str = "", sep: str = "/") -> Dict[str, Any]:
    """Nested dicts -> {"a/b": value}: per-class and per-attribute results become one metric each."""
    if isinstance(node, dict):
        out: Dict[str, Any] = {}
        for key, value in node.items():
            out.update(flatten(value, f"{prefix}{key}{sep}", sep))
        return out
    return {prefix[: -len(sep)]: node} if prefix else {}


def numbers(values: Dict[str, Any]) -> Dict[str, float]:
    return {k: float(v) for k, v in values.items() if isinstance(v, (int, float)) and not isinstance(v, bool) and v == v}


class Tracker:
    """One backend. Subclasses implement the five calls and take their YAML keys as keyword-only arguments;
    ``name`` is the logger group's option."""

    name = ""
    package = ""

    def __init__(self, run_dir: Path, state: Dict[str, Any]) -> None:
        self.run_dir, self.state = run_dir, state

    def start(self, config: Dict[str, Any], step: int) -> None: ...
    def log_metrics(self, values: Dict[str, float], step: int) -> None: ...
    def log_artifacts(self, paths: List[Path]) -> None: ...
    def finish(self, status: str) -> None: ...


class TensorBoardTracker(Tracker):
    name, package = "tensorboard", "tensorboard"

    def __init__(self, run_dir: Path, state: Dict[str, Any], *, log_dir: Optional[str]) -> None:
        super().__init__(run_dir, state)
        self.log_dir = log_dir  # null: <run folder>/tensorboard

    def start(self, config: Dict[str, Any], step: int) -> None:
        import yaml
        from torch.utils.tensorboard import SummaryWriter

        folder = Path(self.log_dir or self.run_dir / "tensorboard")
        self.writer = SummaryWriter(str(folder), purge_step=step if step > 0 else None)
        if step == 0:
            self.writer.add_text("config", "```\n" + yaml.safe_dump(config, sort_keys=False) + "\n```", 0)
            self.writer.add_text("run_folder", str(self.run_dir), 0)

    def log_metrics(self, values: Dict[str, float], step: int) -> None:
        for key, value in values.items():
            self.writer.add_scalar(key, value, step)
        self.writer.flush()

    def log_artifacts(self, paths: List[Path]) -> None:
        import numpy as np
        from PIL import Image

        for path in paths:
            if path.suffix == ".png":
                with Image.open(path) as img:
                    self.writer.add_image(f"figures/{path.stem}", np.asarray(img.convert("RGB")), dataformats="HWC")

    def finish(self, status: str) -> None:
        self.writer.add_text("status", status)
        self.writer.close()


class MLflowTracker(Tracker):
    name, package = "mlflow", "mlflow"

    def __init__(self, run_dir: Path, state: Dict[str, Any], *, tracking_uri: Optional[str], experiment_name: str) -> None:
        super().__init__(run_dir, state)
        self.tracking_uri, self.experiment_name = tracking_uri, experiment_name

    def start(self, config: Dict[str, Any], step: int) -> None:
        import mlflow

        self.client = mlflow.tracking.MlflowClient(tracking_uri=self.tracking_uri or None)  # null: MLflow's default
        run_id = self.state.get("mlflow_run_id")
        if run_id is None:
            name = self.experiment_name
            experiment = self.client.get_experiment_by_name(name)
            experiment_id = experiment.experiment_id if experiment else self.client.create_experiment(name)
            run = self.client.create_run(experiment_id, run_name=self.run_dir.name, tags={"run_folder": str(self.run_dir)})
            run_id = self.state["mlflow_run_id"] = run.info.run_id
            params = {k: str(v)[:500] for k, v in flatten(config, sep=".").items()}
            items = list(params.items())
            from mlflow.entities import Param

            for start in range(0, len(items), 100):  # MLflow takes at most 100 params per batch
                self.client.log_batch(run_id, params=[Param(k, v) for k, v in items[start:start + 100]])
        else:
            self.client.update_run(run_id, status="RUNNING")
        self.run_id = run_id

    def log_metrics(self, values: Dict[str, float], step: int) -> None:
        import time

        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [Metric(_mlflow_key(k), v, now, step) for k, v in values.items()]
        for start in range(0, len(metrics), 1000):
            self.client.log_batch(self.run_id, metrics=metrics[start:start + 1000])

    def log_artifacts(self, paths: List[Path]) -> None:
        for path in paths:
            folder = path.parent.relative_to(self.run_dir).as_posix()
            self.client.log_artifact(self.run_id, str(path), artifact_path=None if folder == "." else folder)

    def finish(self, status: str) -> None:
        mapping = {"completed": "FINISHED", "failed": "FAILED", "interrupted": "KILLED"}
        self.client.set_tag(self.run_id, "status", status)
        self.client.set_terminated(self.run_id, status=mapping.get(status, "FINISHED"))


def _mlflow_key(key: str) -> str:
    """MLflow keys allow alphanumerics, _ - . space / only (class names may hold anything)."""
    return "".join(c if c.isalnum() or c in "_-. /" else "_" for c in key)


class WandbTracker(Tracker):
    name, package = "wandb", "wandb"

    def __init__(self, run_dir: Path, state: Dict[str, Any], *, project: str, entity: Optional[str], mode: str,
                 dir: Optional[str]) -> None:  # noqa: A002 - W&B's own name for it
        super().__init__(run_dir, state)
        self.project, self.entity, self.mode, self.dir = project, entity, mode, dir

    def start(self, config: Dict[str, Any], step: int) -> None:
        os.environ.setdefault("WANDB_SILENT", "true")
        import wandb

        run_id = self.state.setdefault("wandb_run_id", uuid.uuid4().hex[:12])
        self.run = wandb.init(
            project=self.project, entity=self.entity or None,  # null: your default entity
            mode=self.mode, dir=str(self.dir or self.run_dir),  # null: the run folder
            id=run_id, resume="allow", name=self.run_dir.name, config=config, reinit="create_new",
            notes=f"run folder: {self.run_dir}",
        )

    def log_metrics(self, values: Dict[str, float], step: int) -> None:
        self.run.log(values, step=step)

    def log_artifacts(self, paths: List[Path]) -> None:
        import wandb

        images = {f"figures/{p.stem}": wandb.Image(str(p)) for p in paths if p.suffix == ".png"}
        if images:
            self.run.log(images)
        for path in paths:
            self.run.save(str(path), base_path=str(self.run_dir), policy="now")

    def finish(self, status: str) -> None:
        self.run.summary["status"] = status
        self.run.finish(exit_code=0 if status == "completed" else 1)


TRACKERS = {t.name: t for t in (TensorBoardTracker, MLflowTracker, WandbTracker)}


def check_trackers(cfg: Any) -> None:
    """Before training: every chosen tracker is known, its keys are its class's, and its package importable (else
    one message)."""
    for name in (cfg or {}):
        if name not in TRACKERS:
            raise unknown_value("logger", name, TRACKERS, hint="logger=none runs without a tracker")
        sections.check(TRACKERS[name], cfg[name] or {}, f"logger.{name}", f"the {name} tracker", shared=())
        package = TRACKERS[name].package
        if importlib.util.find_spec(package) is None:
            raise ConfigError(
                f"logger={name} needs the package '{package}', which is not installed. Install it with "
                f"pip install 'dcl_runner[{name}]' (or pip install {package}), or run with logger=none."
            )


class Trackers:
    """The chosen trackers behind one interface; each call is guarded (see the module docstring)."""

    def __init__(self, cfg: Any, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self.state: Dict[str, Any] = self._read_state()
        self.active: List[Tracker] = [sections.build(TRACKERS[name], cfg[name] or {}, f"logger.{name}", f"the {name} tracker",
                                                     self.run_dir, self.state, shared=()) for name in (cfg or {})]
        self.started = False

    def __bool__(self) -> bool:
        return bool(self.active)

    def _read_state(self) -> Dict[str, Any]:
        try:
            return dict(read_json(self.run_dir / STATE_FILE))
        except (OSError, ValueError):
            return {}

    def _call(self, method: str, *args: Any) -> None:
        for tracker in list(self.active):
            try:
                getattr(tracker, method)(*args)
            except Exception as exc:  # noqa: BLE001 - a tracker never fails a run
                log.warning("the %s tracker failed (%s: %s); it is switched off for this run, the run folder %s "
                            "has everything", tracker.name, type(exc).__name__, exc, self.run_dir)
                self.active.remove(tracker)

    def start(self, config: Dict[str, Any], step: int) -> None:
        self._call("start", config, step)
        self.started = True
        if self.active:
            atomic_write_json(self.run_dir / STATE_FILE, self.state)

    def log_metrics(self, values: Dict[str, Any], step: int) -> None:
        values = numbers(values)
        if values and self.started:
            self._call("log_metrics", values, step)

    def finish(self, status: str, final: Optional[Dict[str, Any]], step: int) -> None:
        if not self.started:
            return
        if final:
            self._call("log_metrics", numbers(flatten({"final": final})), step)
        if status == "completed":
            self._call("log_artifacts", run_artifacts(self.run_dir))
        self._call("finish", status)
        self.active, self.started = [], False


def run_artifacts(run_dir: Path) -> List[Path]:
    """What a finished run shows besides numbers: its figures (*.png), curves and the folder's record files."""
    skip = {"tensorboard", "wandb", "mlruns", "checkpoints", ".hydra"}
    paths: Iterable[Path] = (p for p in sorted(run_dir.rglob("*")) if p.is_file() and not skip & set(p.relative_to(run_dir).parts))
    keep = (".png", ".npy", ".csv", ".json")
    return [p for p in paths if p.suffix in keep and p.name != STATE_FILE and not p.name.startswith(".")]
