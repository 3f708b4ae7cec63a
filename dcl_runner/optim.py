"""Optimizers and learning-rate schedules by name (``trainer.optimizer.name``, ``trainer.lr_schedule.name``).

Each is a name -> builder map, the one place a name is spelled: the config check reads the maps' keys,
so a new schedule is one function and one entry here. ``OptimizerKeys`` / ``LrScheduleKeys`` are the two
sections' keys (conf/config.yaml documents them), which the config check holds them to.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Dict, List

import torch


@dataclass(frozen=True, kw_only=True)
class OptimizerKeys:
    """``trainer.optimizer``: every optimizer's keys (each builder below reads its own)."""

    name: str
    lr: float
    momentum: float          # sgd
    nesterov: bool           # sgd
    weight_decay: float
    betas: List[float]       # adam, adamw


@dataclass(frozen=True, kw_only=True)
class LrScheduleKeys:
    """``trainer.lr_schedule``: every schedule's keys (each schedule below reads its own) and the warm-up's."""

    name: str
    step_size: int           # step
    milestones: List[int]    # multistep
    gamma: float             # step, multistep
    min_lr_factor: float     # cosine
    warmup_epochs: float
    warmup_start_factor: float
    granularity: str


def _sgd(params, cfg: Any) -> torch.optim.Optimizer:
    return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov, weight_decay=cfg.weight_decay)


def _adam(params, cfg: Any) -> torch.optim.Optimizer:
    return torch.optim.Adam(params, lr=cfg.lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay)


def _adamw(params, cfg: Any) -> torch.optim.Optimizer:
    return torch.optim.AdamW(params, lr=cfg.lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay)


OPTIMIZERS: Dict[str, Callable[[Any, Any], torch.optim.Optimizer]] = {"sgd": _sgd, "adam": _adam, "adamw": _adamw}


def build_optimizer(params, cfg: Any) -> torch.optim.Optimizer:
    """``trainer.optimizer`` over ``params`` (a list of param groups, see Method.param_groups)."""
    return OPTIMIZERS[cfg.name](params, cfg)


# lr schedules: (schedule config, epoch t, total epochs) -> lr multiplier; t is fractional (per step) or whole
# (``granularity: epoch``, as a torch scheduler stepped once per epoch computes it)
def _constant(cfg: Any, t: float, epochs: int) -> float:
    return 1.0


def _step(cfg: Any, t: float, epochs: int) -> float:
    """x gamma every ``step_size`` epochs."""
    return cfg.gamma ** int(t // cfg.step_size)


def _multistep(cfg: Any, t: float, epochs: int) -> float:
    """x gamma at each epoch of ``milestones`` (so x gamma^2 after the second)."""
    return cfg.gamma ** sum(1 for m in cfg.milestones if t >= m)


def _cosine(cfg: Any, t: float, epochs: int) -> float:
    """Half a cosine from 1 after the warm-up down to ``min_lr_factor`` at the last epoch."""
    warmup = float(cfg.warmup_epochs)
    progress = min(1.0, (t - warmup) / max(1e-8, epochs - warmup))
    floor = float(cfg.min_lr_factor)
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))


LR_SCHEDULES: Dict[str, Callable[[Any, float, int], float]] = {
    "constant": _constant, "step": _step, "multistep": _multistep, "cosine": _cosine,
}


GRANULARITIES = ("step", "epoch")


def warmup_factor(cfg: Any, t: float) -> float:
    """The linear warm-up over ``warmup_epochs`` from ``warmup_start_factor`` to 1 (1 once it is over).

    ``granularity: step``: per step, factor = start + (1 - start) t / W for the fractional epoch t (Cui et al.'s
    warm-up; t is floored at 1e-3 so that the first step does not run at lr 0).
    ``granularity: epoch``: once per epoch e (0-based), factor = start + (1 - start) (e + 1) / W. With start 0 that is
    LDAM-DRW's ``lr * (epoch + 1) / 5`` (cifar_train.py); with start 1/3 BBN's WarmupMultiStepLR (lr_scheduler.py,
    stepped at the start of every 1-based epoch E = e + 1: 1/3 (1 - E/W) + E/W).
    """
    warmup, start = float(cfg.warmup_epochs), float(cfg.warmup_start_factor)
    if warmup <= 0 or t >= warmup:
        return 1.0
    progress = min(1.0, (math.floor(t) + 1) / warmup) if cfg.granularity == "epoch" else max(t, 1e-3) / warmup
    return start + (1 - start) * progress


def lr_factor(cfg: Any, t: float, epochs: int) -> float:
    """Learning-rate multiplier at epoch t (a pure function of the step: nothing to checkpoint): the warm-up,
    then the named schedule, evaluated per step or, with ``granularity: epoch``, once per epoch."""
    if cfg.granularity == "epoch":
        t = float(math.floor(t))
    warmup = float(cfg.warmup_epochs)
    if warmup > 0 and t < warmup:
        return warmup_factor(cfg, t)
    return LR_SCHEDULES[cfg.name](cfg, t, epochs)
