"""Telling a diverged run from a trained one: a non-finite loss, weight or prediction stops the run
(``RunFailed``), before it can write a checkpoint, a history row or a metric."""
from __future__ import annotations

from typing import Dict, List

import numpy as np
import torch

from .errors import RunFailed


class DivergenceWatch:
    """Notices a non-finite loss without a host sync per step: the first bad step of the epoch is kept on the
    device and read only where the loop syncs anyway (progress-bar updates, the end of an epoch, before a
    checkpoint is written; with N processes, at their sync points, where they agree on the first bad step)."""

    def __init__(self, device: torch.device, procs=None) -> None:
        self.device = device
        self.procs = procs  # distributed.Processes: a check agrees over the processes (the first bad step of any)
        self.reset()

    def reset(self) -> None:
        self.first_bad = torch.full((), -1, dtype=torch.long, device=self.device)

    def record(self, loss: torch.Tensor, step: int) -> None:
        bad = ~torch.isfinite(loss.detach()).all()
        self.first_bad = torch.where(bad & (self.first_bad < 0), step, self.first_bad)

    def check(self, epoch: int) -> None:
        """RunFailed on every process when the loss of any was not finite (a sync point of every process)."""
        first_bad = self.first_bad if self.procs is None else self.procs.first_step(self.first_bad)
        step = int(first_bad)
        if step >= 0:
            raise RunFailed(f"diverged at epoch {epoch + 1}, step {step + 1}: the training loss is not finite (NaN or inf)")


def nonfinite_names(named: Dict[str, torch.Tensor]) -> List[str]:
    """Names of the floating-point tensors holding a NaN or inf (one host sync for all of them)."""
    names = [n for n, t in named.items() if torch.is_tensor(t) and t.is_floating_point()]
    if not names:
        return []
    finite = torch.stack([torch.isfinite(named[n]).all() for n in names]).cpu()
    return [n for n, ok in zip(names, finite.tolist()) if not ok]


def check_tensors(named: Dict[str, torch.Tensor], epoch: int) -> None:
    """RunFailed when a weight, buffer or method parameter holds NaN or inf after ``epoch`` (0-based)."""
    bad = nonfinite_names(named)
    if bad:
        raise RunFailed(f"diverged at epoch {epoch + 1}: {len(bad)} tensor(s) hold NaN or inf, e.g. {', '.join(bad[:3])}")


def check_predictions(scores: np.ndarray, epoch: int) -> None:
    """RunFailed when evaluation scores after ``epoch`` (1-based) hold NaN or inf."""
    if not np.isfinite(scores).all():
        raise RunFailed(f"diverged at epoch {epoch}: the model's evaluation scores are not finite (NaN or inf)")
