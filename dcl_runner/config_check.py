"""Fail fast on invalid values, before any data is read, with a message naming the key."""
from __future__ import annotations

from typing import Any

from .errors import ConfigError
from .models.pretrained import check as check_pretrained


def _positive_int(value: Any, key: str, minimum: int = 1) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ConfigError(f"{key}={value!r}: expected an integer >= {minimum}")


def _non_negative(value: Any, key: str) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
        raise ConfigError(f"{key}={value!r}: expected a number >= 0")


def check_config(cfg: Any) -> None:
    t = cfg.trainer
    _positive_int(t.epochs, "trainer.epochs")
    _positive_int(t.batch_size, "trainer.batch_size")
    _positive_int(t.eval_batch_size, "trainer.eval_batch_size")
    _positive_int(t.eval_every, "trainer.eval_every")
    _positive_int(t.checkpoint_every, "trainer.checkpoint_every")
    _positive_int(t.log_every, "trainer.log_every")
    _positive_int(t.num_workers, "trainer.num_workers", minimum=0)
    if t.num_threads is not None:
        _positive_int(t.num_threads, "trainer.num_threads")
    for e in t.eval_epochs:
        if not isinstance(e, int) or not 1 <= e <= t.epochs:
            raise ConfigError(f"trainer.eval_epochs: {e!r} is not an epoch in 1..trainer.epochs={t.epochs}")

    opt = t.optimizer
    if opt.name not in ("sgd", "adam", "adamw"):
        raise ConfigError(f"trainer.optimizer.name={opt.name!r}: choose sgd, adam or adamw")
    if not isinstance(opt.lr, (int, float)) or opt.lr <= 0:
        raise ConfigError(f"trainer.optimizer.lr={opt.lr!r}: expected a number > 0")
    _non_negative(opt.weight_decay, "trainer.optimizer.weight_decay")
    if not 0 <= opt.momentum < 1:
        raise ConfigError(f"trainer.optimizer.momentum={opt.momentum!r}: expected a number in [0, 1)")

    sched = t.lr_schedule
    if sched.name not in ("constant", "step", "multistep", "cosine"):
        raise ConfigError(f"trainer.lr_schedule.name={sched.name!r}: choose constant, step, multistep or cosine")
    if sched.name == "multistep":
        milestones = list(sched.milestones)
        if milestones != sorted(milestones):
            raise ConfigError(f"trainer.lr_schedule.milestones={milestones}: must be increasing")
        for m in milestones:
            if not isinstance(m, int) or not 0 < m < t.epochs:
                raise ConfigError(
                    f"trainer.lr_schedule.milestones: {m!r} is not inside the run (1..{t.epochs - 1}); "
                    f"a milestone at or past trainer.epochs={t.epochs} would never apply"
                )
    if sched.name == "step":
        _positive_int(sched.step_size, "trainer.lr_schedule.step_size")
    if not 0 < sched.gamma <= 1:
        raise ConfigError(f"trainer.lr_schedule.gamma={sched.gamma!r}: expected a number in (0, 1]")
    _non_negative(sched.warmup_epochs, "trainer.lr_schedule.warmup_epochs")
    if sched.warmup_epochs >= t.epochs:
        raise ConfigError(f"trainer.lr_schedule.warmup_epochs={sched.warmup_epochs} must be < trainer.epochs={t.epochs}")

    if t.precision not in ("auto", "fp32", "bf16", "fp16"):
        raise ConfigError(f"trainer.precision={t.precision!r}: choose auto, fp32, bf16 or fp16")
    if t.channels_last not in ("auto", True, False):
        raise ConfigError(f"trainer.channels_last={t.channels_last!r}: choose auto, true or false")
    if t.eval_split not in ("test", "val"):
        raise ConfigError(f"trainer.eval_split={t.eval_split!r}: choose test or val")

    d = cfg.dataset
    _positive_int(d.image_size, "dataset.image_size", minimum=8)
    for key in ("max_train_samples", "max_eval_samples"):
        if d.get(key) is not None:
            _positive_int(d[key], f"dataset.{key}")
    if d.get("imbalance_ratio") is not None and not d.imbalance_ratio >= 1:
        raise ConfigError(f"dataset.imbalance_ratio={d.imbalance_ratio!r}: expected a number >= 1 (n_max / n_min)")
    rate = d.noise.rate
    if not 0 <= rate <= 1:
        raise ConfigError(f"dataset.noise.rate={rate!r}: expected a fraction in [0, 1]")
    if not isinstance(cfg.seed, int):
        raise ConfigError(f"seed={cfg.seed!r}: expected an integer")
    if float(cfg.backbone.get("width", 1.0)) <= 0:
        raise ConfigError(f"backbone.width={cfg.backbone.width!r}: expected a number > 0")
    check_pretrained(cfg.backbone)
