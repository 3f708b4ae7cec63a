"""Optimizers and learning-rate schedules by name (``trainer.optimizer.name``, ``trainer.lr_schedule.name``).

Each is a name -> builder map, the one place a name is spelled: the config check reads the maps' keys,
so a new schedule is one function and one entry here.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Dict

import torch


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


# lr schedules: (schedule config, fractional epoch t after warm-up start, total epochs) -> lr multiplier
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


def lr_factor(cfg: Any, t: float, epochs: int) -> float:
    """Learning-rate multiplier at fractional epoch t (a pure function: nothing to checkpoint): a linear
    warm-up per step over ``warmup_epochs``, then the named schedule."""
    warmup = float(cfg.warmup_epochs)
    if warmup > 0 and t < warmup:
        return max(t, 1e-3) / warmup
    return LR_SCHEDULES[cfg.name](cfg, t, epochs)
