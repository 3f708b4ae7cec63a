"""The one seam (DESIGN.md): a method is an object built from ``cfg.method``; the trainer knows none.

The trainer calls, in order:

    method = METHODS.get(cfg.method.name)(cfg.method, task)
    head = method.build_head(backbone.feature_dim, backbone.out_channels)    # shape the model
    method.setup(ctx)                                        # once per process; on resume the
                                                             # checkpoint's state is loaded over it
    for epoch:
        method.on_epoch_start(epoch)                         # scheduler values, deferred switches
        order = method.epoch_order(epoch, generator)         # which samples, in which order
        for batch in loader(order):
            result = method.training_step(model, batch, epoch)   # forward + loss
            result.loss.backward(); model optimizer and every method.optimizers() step
        history row += method.epoch_scalars(); curves += method.epoch_curves()
    evaluation: scores = method.predict(model(x))            # back to the dataset's label space

``Method`` is an ``nn.Module``: parameters and buffers it owns (data parameters, cluster maps) move
to the device with it and are saved in checkpoints; put other resumable state in
``get_extra_state``/``set_extra_state``. The defaults below are plain cross-entropy for both task
types, so ``method=ce`` is this class.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data.base import TaskInfo
from ..models.heads import AttributeBranches, LinearHead
from ..registry import Registry

METHODS: Registry = Registry("method", "dcl_runner.methods")


@dataclass
class Batch:
    """One training batch, already on the device and augmented.

    x: float images [B, C, H, W]; y: int64 [B] (multiclass) or float [B, A] in {0,1} (attributes);
    index: int64 [B] positions in the training split (for per-sample state);
    generator: a torch.Generator on the batch's device, seeded by (seed, epoch, step), for any
    randomness the method draws, so that a resumed run draws the same numbers.
    """

    x: torch.Tensor
    y: torch.Tensor
    index: torch.Tensor
    generator: Optional[torch.Generator] = None


@dataclass
class StepResult:
    """What a training step returns.

    loss:   scalar to back-propagate.
    parts:  named loss parts / batch statistics (tensors or floats), averaged per epoch in history.csv.
    logits: label-space scores of the batch for training accuracy (None: not reported).
    """

    loss: torch.Tensor
    parts: Dict[str, Any] = field(default_factory=dict)
    logits: Optional[torch.Tensor] = None


@dataclass
class TrainContext:
    """What ``setup`` may look at: the training data, its statistics, and the run's schedule."""

    task: TaskInfo
    train_targets: torch.Tensor  # on the device, int64 [N] or float [N, A]
    device: torch.device
    epochs: int
    steps_per_epoch: int
    seed: int
    meta: Dict[str, Any]
    model: nn.Module
    # iterate_train(batch_size) yields un-augmented (x, y, index) batches of the training set on
    # the device, in index order (e.g. to cluster features before training).
    iterate_train: Callable[[int], Iterator[tuple]]


class Method(nn.Module):
    """Plain cross-entropy; subclasses override the hooks they need."""

    def __init__(self, cfg: Any, task: TaskInfo):
        super().__init__()
        self.cfg = cfg
        self.task = task

    # -- model shape -------------------------------------------------------------------------
    def build_head(self, in_features: int, in_channels: int) -> nn.Module:
        if self.task.is_multiclass:
            return LinearHead(in_features, self.task.num_outputs)
        branch_dim = int(self.cfg.get("branch_dim", 64)) if self.cfg is not None else 64
        return AttributeBranches(in_features, self.task.num_outputs, branch_dim)

    # -- schedule ----------------------------------------------------------------------------
    def setup(self, ctx: TrainContext) -> None:
        """Called once before training, also when resuming (the checkpoint's state is then loaded over it)."""

    def on_epoch_start(self, epoch: int) -> None:
        """Called at the start of every epoch, also the first epoch after a resume."""

    def epoch_order(self, epoch: int, generator: torch.Generator) -> Optional[torch.Tensor]:
        """Training indices for this epoch (may repeat or omit samples); None: a shuffle of all."""
        return None

    # -- loss --------------------------------------------------------------------------------
    def training_step(self, model: nn.Module, batch: Batch, epoch: int) -> StepResult:
        outputs = model(batch.x)
        return self.loss(outputs, batch, epoch)

    def loss(self, outputs: Dict[str, torch.Tensor], batch: Batch, epoch: int) -> StepResult:
        logits = outputs["logits"]
        if self.task.is_multiclass:
            loss = F.cross_entropy(logits.float(), batch.y)
        else:
            # per-attribute binary CE (mean over the batch), summed over attributes (DCL sec. 4.3.1)
            loss = F.binary_cross_entropy_with_logits(logits.float(), batch.y, reduction="sum") / len(batch.y)
        return StepResult(loss=loss, parts={}, logits=logits)

    def optimizers(self) -> List[torch.optim.Optimizer]:
        """Extra optimizers for parameters the method owns; stepped after the model's, not lr-scheduled."""
        return []

    # -- evaluation ----------------------------------------------------------------------------
    def predict(self, outputs: Dict[str, torch.Tensor]) -> torch.Tensor:
        """Scores in the dataset's label space: [B, C] class logits or [B, A] attribute logits."""
        return outputs["logits"]

    # -- reporting -------------------------------------------------------------------------------
    def epoch_scalars(self) -> Dict[str, float]:
        """Per-epoch values for history.csv (scheduler values, data-parameter statistics...)."""
        return {}

    def epoch_curves(self) -> Dict[str, np.ndarray]:
        """Per-epoch arrays appended to curves/<name>.npy (one row per epoch)."""
        return {}

    def final_outputs(self, model: nn.Module) -> Dict[str, np.ndarray]:
        """Arrays saved once at the end of training in curves/ (e.g. classifier weight norms)."""
        return {}


METHODS.register("ce")(Method)


def build_method(cfg: Any, task: TaskInfo) -> Method:
    try:
        cls = METHODS.get(cfg.name)
    except KeyError as exc:
        from ..errors import ConfigError

        raise ConfigError(f"method.name: {exc.args[0]}") from None
    return cls(cfg, task)
