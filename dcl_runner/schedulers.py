"""Scheduler functions of the DCL paper (sec. 3.1) and the two curricula built on them.

A scheduler function SF(l) goes from 1 at epoch 0 towards 0 at epoch L (eq. 1-4). DCL uses one
for the sampling scheduler g (eq. 5: the batch target distribution D_train^g(l)) and one for the
loss scheduler f (eq. 10-11: the weight of the triplet loss).

- ``build_scheduler(schedule, total_epochs)``: a :class:`Schedule` (the ``scheduler`` section: ``name``, ``L``
  (null: the run's epochs), ``lam`` (concave), ``value`` (constant), ``target``) -> ``epoch -> value``.
- ``target_distribution(counts, g, mode)``: eq. 5 for every attribute (or the C classes) at once.
- ``build_loss_scheduler(schedule, total_epochs)``: a :class:`LossSchedule`, eq. 11 around any scheduler function.

``python -m dcl_runner.schedulers --plot FILE`` draws DCL Fig. 1 (the four functions).
"""
from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional, Sequence

import numpy as np

from .errors import ConfigError, check_value, unknown_value

SchedulerFn = Callable[[float], float]

# How the target distribution follows g (eq. 5 or Table 4's "linearly decreasing imbalance").
TARGET_MODES = {"power": "DCL eq. 5", "linear": "Table 4 *"}


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
    """A constant, for the special cases of DCL Table 1 (g = 1: no re-balancing; g = 0: balanced; f = 0 or eps)."""
    return value


FUNCTIONS: Dict[str, Callable[..., float]] = {
    "convex": convex,
    "linear": linear,
    "concave": concave,
    "composite": composite,
    "constant": constant,
    # DCL Table 4 (*): the same 1 - l/L, but the target distribution moves linearly (no power);
    # its YAML sets ``target: linear`` (see target_distribution).
    "linear_imbalance": linear,
}


@dataclass(frozen=True, kw_only=True)
class Schedule:
    """A scheduler function's section: the ``scheduler`` group, DCL's sampling scheduler g
    (``method.sampling_scheduler``). ``lam`` / ``value`` / ``target`` are optional across the group's options:
    only conf/scheduler/concave.yaml has ``lam``, only constant.yaml ``value``, and constant.yaml has no
    ``target`` (eq. 5's power, the one reading of a constant g in DCL Table 1)."""

    name: str
    L: Optional[float]               # null: the run's epochs
    lam: Optional[float] = None      # name=concave only (eq. 3); required there
    value: Optional[float] = None    # name=constant only; required there
    target: str = "power"            # how D_target follows g: power (eq. 5) | linear (Table 4 *)


@dataclass(frozen=True, kw_only=True)
class LossSchedule:
    """DCL's loss scheduler f (``method.loss_scheduler``, eq. 11): a scheduler function plus the advanced
    self-learning point ``p`` (null: no eq. 11, f = SF) and the self-learning ratio ``eps``."""

    name: str
    L: Optional[float]
    lam: Optional[float]             # name=concave only
    value: Optional[float]           # name=constant only
    p: Optional[float]
    eps: float


def _section(section: Any, options: type, where: str) -> Any:
    """``section`` as its options dataclass (a plain dict or a config node is checked key by key)."""
    if isinstance(section, options):
        return section
    from .sections import options_of

    return options_of(options, section, where)


def _value(schedule: Any, key: str, where: str) -> float:
    value = getattr(schedule, key)
    if value is None:
        raise ConfigError(f"{where}.{key}: the {schedule.name} function needs it (null given)")
    return float(value)


def build_scheduler(section: Any, total_epochs: int, where: str = "scheduler") -> SchedulerFn:
    """A :class:`Schedule` (or its section) -> ``epoch -> SF(epoch)``; ``L`` null: ``total_epochs``."""
    schedule = section if isinstance(section, (Schedule, LossSchedule)) else _section(section, Schedule, where)
    fn = FUNCTIONS.get(schedule.name)
    if fn is None:
        raise unknown_value(f"{where}.name", schedule.name, sorted(FUNCTIONS))
    L = float(schedule.L or total_epochs)
    if L <= 0:
        raise ConfigError(f"{where}.L={schedule.L!r}: expected a positive number of epochs (or null)")
    if schedule.name == "concave":
        lam = _value(schedule, "lam", where)
        if not 0 < lam < 1:
            raise ConfigError(f"{where}.lam={lam!r}: DCL eq. 3 needs lambda in (0, 1)")
        return lambda l: fn(l, L, lam)
    if schedule.name == "constant":
        value = _value(schedule, "value", where)
        return lambda l: fn(l, L, value)
    return lambda l: fn(l, L)


def check_schedule(section: Any, where: str = "scheduler") -> None:
    """The ``scheduler`` section's keys, before any data is read (its values are checked where a method builds
    it: methods without a sampling scheduler ignore the group)."""
    _section(section, Schedule, where)


def target_mode(section: Any, where: str = "scheduler") -> str:
    """How the target distribution follows g: ``power`` (DCL eq. 5) or ``linear`` (Table 4 *)."""
    schedule = section if isinstance(section, Schedule) else _section(section, Schedule, where)
    return str(check_value(f"{where}.target", schedule.target, TARGET_MODES))


def target_distribution(counts, g: float, mode: str = "power"):
    """DCL eq. 5, per row: D_target(l) = D_train^g(l), returned as fractions that sum to 1.

    ``counts`` [..., K]: training samples per class (K = 2 for an attribute: negatives, positives;
    K = C for a multi-class task). D_train = counts / min(counts) (a class with no training
    sample counts as one, so that D stays finite). ``mode="linear"`` is Table 4's "linearly
    decreasing imbalance": D_target = 1 + (D_train - 1) * g, no power. g = 1 gives the training
    distribution, g = 0 the balanced one. Works on numpy arrays and torch tensors.
    """
    counts = counts.clamp_min(1) if hasattr(counts, "clamp_min") else np.maximum(counts, 1)
    ratios = counts / counts.min(-1, keepdims=True) if isinstance(counts, np.ndarray) else counts / counts.min(-1, keepdim=True).values
    if mode == "power":
        target = ratios ** g
    elif mode == "linear":
        target = 1 + (ratios - 1) * g
    else:
        raise unknown_value("target mode", mode, TARGET_MODES)
    return target / target.sum(-1, keepdims=True) if isinstance(target, np.ndarray) else target / target.sum(-1, keepdim=True)


def loss_schedule(sf: SchedulerFn, L: float, p: float, eps: float) -> SchedulerFn:
    """DCL eq. 11: f(l) = SF(l) + eps while l < p*L (the advanced self-learning point), eps after.

    The paper writes it with the composite SF (eq. 4); any scheduler function works. f = SF + eps
    is never below eps, so the triplet loss keeps the learnt feature structure in the
    self-learning stage (sec. 3.4).
    """
    return lambda l: (sf(l) + eps) if l < p * L else eps


def build_loss_scheduler(section: Any, total_epochs: int, where: str = "method.loss_scheduler") -> SchedulerFn:
    """A :class:`LossSchedule` (or its section) -> f: eq. 11 around its scheduler function; ``p: null`` skips
    eq. 11 and uses SF alone (e.g. a constant f for CRL-I or f = 0 for CE)."""
    schedule = section if isinstance(section, LossSchedule) else _section(section, LossSchedule, where)
    sf = build_scheduler(schedule, total_epochs, where)
    if schedule.p is None:
        return sf
    p, eps = float(schedule.p), float(schedule.eps)
    if not 0 <= p <= 1:
        raise ConfigError(f"{where}.p={p!r}: the advanced self-learning point is a fraction in [0, 1]")
    if eps < 0:
        raise ConfigError(f"{where}.eps={eps!r}: expected a number >= 0")
    return loss_schedule(sf, float(schedule.L or total_epochs), p, eps)


# ---------------------------------------------------------------------------------------------
# DCL Fig. 1
# ---------------------------------------------------------------------------------------------
def figure1(path: str, L: int = 300, lam: float = 0.99, functions: Sequence[str] = ("convex", "linear", "concave", "composite")) -> str:
    """Draw DCL Fig. 1: the scheduler functions over l = 0..L into ``path`` (any matplotlib format)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = np.arange(L + 1)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for name in functions:
        fn = build_scheduler(Schedule(name=name, L=L, lam=lam), L)
        label = f"{name} (lambda={lam})" if name == "concave" else name
        ax.plot(epochs, [fn(float(l)) for l in epochs], label=label)
    ax.set_xlabel("epoch l")
    ax.set_ylabel("SF(l)")
    ax.set_title(f"DCL scheduler functions (L = {L})")
    ax.set_ylim(-0.02, 1.02)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m dcl_runner.schedulers", description="DCL scheduler functions (Fig. 1)")
    parser.add_argument("--plot", metavar="FILE", help="draw DCL Fig. 1 into FILE (png, pdf, svg...)")
    parser.add_argument("--epochs", type=int, default=300, help="L, the expected total epochs (default 300)")
    parser.add_argument("--lam", type=float, default=0.99, help="lambda of the concave function (default 0.99)")
    args = parser.parse_args(argv)
    if args.plot:
        print(figure1(args.plot, args.epochs, args.lam))
        return
    header = ["epoch", *[n for n in FUNCTIONS if n not in ("constant", "linear_imbalance")]]
    print("  ".join(f"{h:>9}" for h in header))
    for l in np.linspace(0, args.epochs, 11):
        values = [build_scheduler(Schedule(name=n, L=args.epochs, lam=args.lam), args.epochs)(float(l)) for n in header[1:]]
        print("  ".join([f"{l:9.0f}", *[f"{v:9.4f}" for v in values]]))


if __name__ == "__main__":
    main()
