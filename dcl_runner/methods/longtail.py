"""The single-stage long-tail baselines of the two-head paper's tables, as one configurable method family.

One class, many ``method=`` names; each YAML in conf/method/ pins one baseline's own paper defaults
(conf/_base/longtail.yaml lists every key):

=========  ====================================================================================
ce         (base ``Method``) plain softmax cross-entropy
focal      focal loss, gamma 1 (Lin et al. 2020; the value LDAM-DRW's code uses for this baseline)
cb         softmax CE re-weighted by the effective number of samples, beta 0.9999 (Cui et al. 2019)
cb_focal   class-balanced focal loss (gamma 1, beta 0.9999): Cui et al. as kaidic/LDAM-DRW runs it, the focal
           term of the class-weighted CE, averaged over the batch (``focal_class_weight: inside``)
ldam       LDAM loss on a cosine classifier: margins proportional to n^-1/4, max 0.5, scale 30
drw        CE, then deferred re-weighting (effective number, beta 0.9999) from 80% of training
           (epoch 160 of 200, Cao et al. 2019)
drs        CE, then deferred class-balanced re-sampling from 80% of training (Cao et al. 2019)
ldam_drw   LDAM + DRW
mixup      CE on mixup batches, alpha 1 (Zhang et al. 2018)
=========  ====================================================================================

Every loss is computed per sample (``losses_longtail.py``), weighted by the class weight of the
sample's target (1 before a deferred re-weighting starts), mixed for Mixup and reduced as the
weighted mean sum_i w_i l_i / sum_i w_i (PyTorch's weighted-CE reduction). The focal loss with
``focal_class_weight: inside`` (the default) instead puts w inside the loss (FL of w_i CE_i) and averages
over the batch, as LDAM-DRW's ``FocalLoss(weight=...)`` does; ``outside`` gives w_i FL_i / sum_i w_i. Deferred schedules start at
the 0-based epoch ``start_epoch`` or, when that is null, ``int(start_fraction * trainer.epochs)``
(0.8 of 200 = 160, as in LDAM-DRW; 0.8 of a 2-epoch smoke run = epoch 1), so they work at any budget.

Subclasses (the two-head model) override ``build_head`` and ``loss_terms`` and inherit weighting,
re-sampling and Mixup.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
from torch import nn

from ..data.base import MULTICLASS, TaskInfo
from ..errors import ConfigError, check_value
from ..models.cosine_head import CosineHead
from ..models.heads import LinearHead
from .base import METHODS, Batch, Method, StepResult, TrainContext
from .losses_longtail import cross_entropy, effective_number_weights, focal_loss, ldam_loss, ldam_margins
from .mixup import draw_mixup, mix

LOSSES = ("ce", "focal", "ldam")
CLASSIFIERS = {"linear": "", "cosine": "LDAM's normalised classifier"}
SCHEDULED = {"none": "off", "cb": "effective-number weights, Cui et al. 2019"}
FOCAL_WEIGHTING = {"inside": "FL of w_y CE, as kaidic/LDAM-DRW", "outside": "w_y FL / sum w"}


@dataclass(frozen=True, kw_only=True)
class Deferred:
    """``method.reweight`` / ``method.resample``: a class re-weighting / re-sampling that may start late (DRW, DRS)."""

    type: str                   # none | cb
    beta: float                 # of the effective number (Cui et al. eq. 5)
    start_epoch: Optional[int]  # 0-based; null: int(start_fraction * trainer.epochs)
    start_fraction: float


def deferred_start(schedule: Deferred, epochs: int) -> Optional[int]:
    """0-based epoch from which a deferred schedule (re-weighting / re-sampling) is on; None: never."""
    if schedule.type == "none":
        return None
    if schedule.start_epoch is not None:
        return int(schedule.start_epoch)
    return int(float(schedule.start_fraction) * epochs)


class LongTailLoss(Method):
    """The family's keys are conf/_base/longtail.yaml's (documented there)."""

    multi_process = True  # tested on 2 processes against 1 (docs/distributed.md)

    task_kinds = (MULTICLASS,)

    def __init__(self, task: TaskInfo, *, loss: str, classifier: str, focal_gamma: float, focal_class_weight: str,
                 ldam_max_margin: float, ldam_scale: float, reweight: Deferred, resample: Deferred,
                 mixup_alpha: Optional[float]):
        super().__init__(task, branch_dim=None)  # multi-class only: no attribute branches
        self.loss_name = str(check_value("method.loss", loss, LOSSES))
        self.classifier = str(check_value("method.classifier", classifier, CLASSIFIERS))
        self.reweight, self.resample = reweight, resample
        for key, schedule in (("reweight", reweight), ("resample", resample)):
            check_value(f"method.{key}.type", schedule.type, SCHEDULED)
        self.gamma = float(focal_gamma)
        self.focal_weighting = str(check_value("method.focal_class_weight", focal_class_weight, FOCAL_WEIGHTING))
        self.scale = float(ldam_scale)
        self.mixup_alpha = float(mixup_alpha or 0.0)
        counts = np.asarray(task.train_counts)
        self.register_buffer("margins", torch.tensor(ldam_margins(counts, float(ldam_max_margin)), dtype=torch.float32), persistent=False)
        self.register_buffer("class_weights", torch.ones(len(counts)), persistent=False)
        self.reweight_from: Optional[int] = None
        self.resample_from: Optional[int] = None
        self.reweighting = False
        self.train_targets: Optional[torch.Tensor] = None

    # -- model ---------------------------------------------------------------------------------
    def build_head(self, in_features: int, in_channels: int) -> nn.Module:
        if self.classifier == "cosine":
            return CosineHead(in_features, self.task.num_outputs)
        if self.loss_name == "ldam":
            raise ConfigError("method.loss=ldam needs method.classifier=cosine (its margins are on cosine logits)")
        return LinearHead(in_features, self.task.num_outputs)

    # -- schedule --------------------------------------------------------------------------------
    def setup(self, ctx: TrainContext) -> None:
        self.reweight_from = deferred_start(self.reweight, ctx.epochs)
        self.resample_from = deferred_start(self.resample, ctx.epochs)
        self.train_targets = ctx.train_targets.detach().cpu().long()

    def _cb_weights(self, schedule: Deferred) -> torch.Tensor:
        beta = float(schedule.beta)
        return torch.tensor(effective_number_weights(self.task.train_counts, beta), dtype=torch.float32)

    def on_epoch_start(self, epoch: int) -> None:
        self.reweighting = self.reweight_from is not None and epoch >= self.reweight_from
        weights = self._cb_weights(self.reweight) if self.reweighting else torch.ones(self.task.num_outputs)
        self.class_weights.copy_(weights.to(self.class_weights.device))

    def epoch_order(self, epoch: int, generator: torch.Generator) -> Optional[torch.Tensor]:
        """Deferred re-sampling: N draws with replacement, sample i with probability proportional to w_{y_i}."""
        if self.resample_from is None or epoch < self.resample_from or self.train_targets is None:
            return None
        per_sample = self._cb_weights(self.resample)[self.train_targets].double()
        return torch.multinomial(per_sample, len(per_sample), replacement=True, generator=generator)

    # -- loss --------------------------------------------------------------------------------------
    def loss_terms(self, outputs: Dict[str, torch.Tensor], y: torch.Tensor, index: torch.Tensor) -> Dict[str, Tuple[float, torch.Tensor]]:
        """Named (coefficient, per-sample loss [B]) terms for targets ``y``; the total is sum coef * term."""
        logits = outputs["logits"]
        if self.loss_name == "ldam":
            return {"loss_ldam": (1.0, ldam_loss(logits, y, self.margins, self.scale))}
        if self.loss_name == "focal":
            inside = self.class_weights[y] if self.weights_inside_loss() else None
            return {"loss_focal": (1.0, focal_loss(logits, y, self.gamma, inside))}
        return {"loss_ce": (1.0, cross_entropy(logits, y))}

    def weights_inside_loss(self) -> bool:
        """True when the class weight enters the per-sample loss itself (CB+Focal as LDAM-DRW computes it)."""
        return self.loss_name == "focal" and self.focal_weighting == "inside"

    def training_step(self, model: nn.Module, batch: Batch, epoch: int) -> StepResult:
        if self.mixup_alpha > 0:
            perm, lam = draw_mixup(len(batch.y), self.mixup_alpha, batch.generator, batch.x.device)
            outputs = model(mix(batch.x, perm, lam))
            pairs = [(lam, batch.y, batch.index), (1.0 - lam, batch.y[perm], batch.index[perm])]
        else:
            outputs = model(batch.x)
            pairs = [(1.0, batch.y, batch.index)]
        return self.combine(outputs, pairs, batch)

    def combine(self, outputs: Dict[str, torch.Tensor], pairs: List[Tuple[float, torch.Tensor, torch.Tensor]],
                batch: Optional[Batch] = None) -> StepResult:
        """sum over (share, y, index) pairs of share * w_y * term, over sum of share * w_y, per term
        (w_y = 1 here when the weight is inside the term: a plain batch mean). Distributed: the normaliser is
        the global batch's (its mean over processes), so the processes' averaged gradient is the global one."""
        sums: Dict[str, torch.Tensor] = {}
        coefficients: Dict[str, float] = {}
        norm = None
        inside = self.weights_inside_loss()
        for share, y, index in pairs:
            weight = share * (torch.ones_like(self.class_weights[y]) if inside else self.class_weights[y])
            norm = weight.sum() if norm is None else norm + weight.sum()
            for name, (coef, per_sample) in self.loss_terms(outputs, y, index).items():
                coefficients[name] = coef
                value = (weight * per_sample).sum()
                sums[name] = value if name not in sums else sums[name] + value
        if batch is not None:
            norm = batch.process_mean(norm)
        parts = {name: value / norm.clamp_min(1e-12) for name, value in sums.items()}
        loss = sum(coefficients[name] * value for name, value in parts.items())
        report = {name: value.detach() for name, value in parts.items()} if len(parts) > 1 else {}
        return StepResult(loss=loss, parts=report, logits=self.predict(outputs).detach())

    # -- reporting -----------------------------------------------------------------------------------
    def epoch_scalars(self) -> Dict[str, float]:
        out: Dict[str, float] = {}
        if self.reweight_from is not None:
            out["reweighting"] = float(self.reweighting)
        return out


for _name in ("focal", "cb", "cb_focal", "ldam", "drw", "drs", "ldam_drw", "mixup"):
    METHODS.register(_name)(LongTailLoss)
