"""A run's folder, the contract every tool reads (DESIGN.md): ``metrics.json`` (status and final metrics),
``history.csv``, ``curves/``, ``predictions.npz``, ``data_meta.npz`` and ``checkpoints/last.pt``.
Every write is atomic (io.py). :class:`Progress` is where training stands; a checkpoint saves it.
Experiment trackers (``logger=...``, trackers.py) mirror what the folder records: the run's start, every
history row, and its end with the final metrics and status. In a distributed run only process 0 writes
(``writes``); the others read the same folder (a resume's checkpoint) and write nothing.
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np
import torch
from omegaconf import OmegaConf

from . import metrics as metric_fns
from .errors import ConfigError
from .io import atomic_save_npy, atomic_save_npz, atomic_torch_save, atomic_write_json, atomic_write_text
from .config import identity_differences, run_identity


@dataclass
class Progress:
    """Where training stands; saved in checkpoints. ``step`` is the next batch of ``epoch``."""

    epoch: int = 0
    step: int = 0
    order: Optional[torch.Tensor] = None
    sums: Dict[str, float] = field(default_factory=dict)
    history: List[Dict[str, Any]] = field(default_factory=list)
    curves: Dict[str, List[np.ndarray]] = field(default_factory=dict)
    metrics_at_epoch: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    elapsed: float = 0.0


def legacy_config_hash(cfg: Any) -> str:
    """The hash checkpoints written before run identities carried (every key but resume / hydra)."""
    plain = OmegaConf.to_container(cfg, resolve=True)
    plain.pop("resume", None)
    plain.pop("hydra", None)
    return hashlib.sha1(OmegaConf.to_yaml(OmegaConf.create(plain)).encode()).hexdigest()[:16]


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _int_or_raw(value: Any) -> Any:
    """An integer config value for metrics.json, or the value as given when it is not one (a refused run
    records what it was given)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return value


class RunFolder:
    def __init__(self, path: str | Path, cfg: Any, choices: Optional[Dict[str, str]] = None,
                 overrides: Optional[List[str]] = None, writes: bool = True) -> None:
        self.path = Path(path)
        self.writes = writes                     # False on a distributed run's processes other than 0
        self.cfg = cfg
        self.choices = dict(choices or {})
        self.overrides = list(overrides or [])
        self.checkpoint = self.path / "checkpoints" / "last.pt"
        self.task_kind: Optional[str] = None     # set by describe_run once the data is known
        self.device = ""
        self.steps_per_epoch = 1
        self.processes = 1                       # processes training the run (distributed.py)
        self.trackers: Optional[Any] = None      # trackers.Trackers mirroring this record (describe_run)
        self.clock = time.time()                 # wall time since the last checkpoint (progress.elapsed holds the rest)

    def describe_run(self, task_kind: str, device: Any, steps_per_epoch: int = 1, trackers: Optional[Any] = None,
                     processes: int = 1) -> None:
        self.task_kind, self.device, self.steps_per_epoch = task_kind, str(device), max(1, steps_per_epoch)
        self.trackers = trackers if trackers and self.writes else None
        self.processes = processes

    def global_step(self, progress: Progress) -> int:
        return progress.epoch * self.steps_per_epoch + progress.step

    def track_step(self, values: Dict[str, Any], progress: Progress) -> None:
        """Training values between epochs (every trainer.log_every steps), for the trackers only."""
        if self.trackers:
            self.trackers.log_metrics(values, self.global_step(progress))

    # -- metrics.json, history.csv, arrays ----------------------------------------------------------------
    def write_status(self, status: str, progress: Progress, reason: Optional[str] = None, final: Optional[Dict] = None) -> None:
        if not self.writes:
            return
        record = {
            "status": status,
            "reason": reason,
            "task": self.task_kind,
            "choices": self.choices,
            "overrides": self.overrides,
            "seed": _int_or_raw(self.cfg.seed),
            "epochs": _int_or_raw(self.cfg.trainer.epochs),
            "epochs_completed": len(progress.history),
            "wall_time_s": round(progress.elapsed + (time.time() - self.clock), 3),
            "headline": self.task_kind and metric_fns.headline({}, self.task_kind),
            "metrics": final or {},
            "metrics_at_epoch": progress.metrics_at_epoch,
            "config_hash": run_identity(self.cfg),
            "device": self.device,
            "processes": self.processes,
            "torch": torch.__version__,
        }
        atomic_write_json(self.path / "metrics.json", record)
        if self.trackers:
            step = self.global_step(progress)
            if status == "running":
                self.trackers.start({**OmegaConf.to_container(self.cfg, resolve=True), "run_folder": str(self.path)}, step)
            else:
                self.trackers.finish(status, final, step)

    def write_history(self, progress: Progress) -> None:
        if not self.writes:
            return
        import pandas as pd

        atomic_write_text(self.path / "history.csv", pd.DataFrame(progress.history).to_csv(index=False))
        if self.trackers and progress.history:
            self.trackers.log_metrics({f"epoch/{k}": v for k, v in progress.history[-1].items()}, self.global_step(progress))
        for name, rows in progress.curves.items():
            atomic_save_npy(self.path / "curves" / f"{name}.npy", np.stack(rows))

    def save_predictions(self, scores: np.ndarray, targets: np.ndarray) -> None:
        if not self.writes:
            return
        atomic_save_npz(self.path / "predictions.npz", scores=scores, targets=targets)

    def save_curves(self, arrays: Dict[str, Any]) -> None:
        if not self.writes:
            return
        for name, value in arrays.items():
            atomic_save_npy(self.path / "curves" / f"{name}.npy", np.asarray(value))

    def save_data_meta(self, meta: Dict[str, Any]) -> None:
        """The dataset's per-sample facts (noisy-label flags, ...) once per run."""
        arrays = {k: np.asarray(v) for k, v in meta.items() if isinstance(v, np.ndarray)}
        if arrays and self.writes and not (self.path / "data_meta.npz").exists():
            atomic_save_npz(self.path / "data_meta.npz", **arrays)

    # -- checkpoints ----------------------------------------------------------------------------------------
    def save_checkpoint(self, state: Dict[str, Any], progress: Progress) -> None:
        """``state`` (the trainer's tensors and optimizers) with the progress, the run identity and config."""
        progress.elapsed += time.time() - self.clock
        self.clock = time.time()
        if not self.writes:
            return
        atomic_torch_save(self.checkpoint, {
            "config_hash": run_identity(self.cfg),
            "config": OmegaConf.to_container(self.cfg, resolve=True),
            **state,
            "progress": progress.__dict__,
        })

    def load_checkpoint(self, device: torch.device) -> Dict[str, Any]:
        """The checkpoint, if it reads whole and was made by this run's configuration; else ConfigError."""
        try:
            state = torch.load(self.checkpoint, map_location=device, weights_only=False)
        except Exception as exc:  # noqa: BLE001 - truncated, corrupt, or not a checkpoint at all
            raise ConfigError(
                f"cannot resume {self.path}: {self.checkpoint} is unreadable ({describe(exc)}); it is truncated or "
                "corrupt. Start a new run (the run folder was left as it was)."
            ) from None
        if state.get("config_hash") not in (run_identity(self.cfg), legacy_config_hash(self.cfg)):
            changed = identity_differences(state["config"], self.cfg) if "config" in state else []
            raise ConfigError(
                f"cannot resume {self.path}: its checkpoint was made with a different configuration"
                + (f" ({'; '.join(changed[:8])})" if changed else "")
                + ". Resume without changing those options, or start a new run."
            )
        return state
