"""Scheduler functions of the DCL paper (sec. 3.1): SF(l) goes from 1 at epoch 0 towards 0 at epoch L.

``build_scheduler(cfg)`` turns a ``scheduler`` config node into a callable ``epoch -> value``;
``L`` defaults to the run's total epochs. The sampling scheduler g (DCL eq. 5) is chosen with the
``scheduler`` config group; the loss scheduler f (DCL eq. 11) names one of these in the method config.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Dict

SchedulerFn = Callable[[float], float]


def convex(l: float, L: float) -> float:
    """DCL eq. 1: SF_cos(l) = cos(l/L * pi/2). Slow, then fast."""
    return math.cos(min(l / L, 1.0) * math.pi / 2)


def linear(l: float, L: float) -> float:
    """DCL eq. 2: SF_linear(l) = 1 - l/L. Constant speed."""
    return max(0.0, 1.0 - l / L)


def concave(l: float, L: float, lam: float = 0.99) -> float:
    """DCL eq. 3: SF_exp(l) = lambda^l. Fast, then slow (never reaches 0)."""
    return lam ** l


def composite(l: float, L: float) -> float:
    """DCL eq. 4: SF_composite(l) = 1/2 cos(l/L * pi) + 1/2. Slow, fast, slow."""
    return 0.5 * math.cos(min(l / L, 1.0) * math.pi) + 0.5


def constant(l: float, L: float, value: float = 1.0) -> float:
    """A constant, for the special cases of DCL Table 1 (g = 1: no re-balancing; f = 0 or eps)."""
    return value


FUNCTIONS: Dict[str, Callable[..., float]] = {
    "convex": convex,
    "linear": linear,
    "concave": concave,
    "composite": composite,
    "constant": constant,
}


def build_scheduler(cfg: Any, total_epochs: int) -> SchedulerFn:
    """``cfg`` has ``name`` and optional ``L`` (null: total epochs), ``lam`` (concave), ``value`` (constant)."""
    name = cfg["name"]
    if name not in FUNCTIONS:
        from .errors import ConfigError

        raise ConfigError(f"scheduler.name={name!r}: choose one of {', '.join(sorted(FUNCTIONS))}")
    L = float(cfg.get("L") or total_epochs)
    fn = FUNCTIONS[name]
    if name == "concave":
        lam = float(cfg.get("lam", 0.99))
        return lambda l: fn(l, L, lam)
    if name == "constant":
        value = float(cfg.get("value", 1.0))
        return lambda l: fn(l, L, value)
    return lambda l: fn(l, L)
