"""Data parameters: a learnt temperature per class and/or per training sample (Saxena et al., NeurIPS 2019).

``method=data_params`` with ``method.curriculum``:

- ``class``:    sigma_i = sigma^class_{y_i}                       (DP eq. 1, class-level curriculum)
- ``instance``: sigma_i = sigma^inst_i                            (DP sec. 2.2, instance-level)
- ``joint``:    sigma_i = sigma^class_{y_i} + sigma^inst_i        (DP sec. 2.2, joint; grads eq. 5)

During training the logits of sample i are divided by sigma_i before the softmax cross-entropy (the
target's parameter scales every logit of the sample: the paper's text and eq. 3, and the authors'
code). Evaluation (``predict``) uses the raw logits, so inference is the baseline network's.

The parameters are stored as log(sigma) (DP sec. 3.1) in ``nn.Parameter``s of this module, so they
are in the checkpoint; each has its own :class:`SparseSGD` (momentum 0.9, lr and weight decay of its
own, entries absent from the mini-batch untouched, the whole set clamped to [log 1/20, log 20] after
every step as the authors' code does; see :mod:`.sparse_sgd`). ``optimizers()``
are not lr-scheduled by the trainer: data-parameter learning rates stay constant, as in the paper.

Distributed runs: the parameters are global (every process holds all of them); the trainer averages their
gradients over the processes and each process marks the entries of the whole global batch, so every process
takes the same step and the class / instance sigmas stay identical (and equal the 1-process run's).

Multi-attribute tasks (CelebA-style, per-attribute binary CE): the class-level parameters are one per
(attribute, label value) pair ([A, 2]); the logit of attribute a of sample i is divided by
sigma^class_{a, y_ia} (+ sigma^inst_i, one instance parameter per sample shared by its attributes).

Detection (DP sec. 3.3): one instance parameter per training *box* (its ``BOX_ID``, data/boxes.py); an anchor
matched to box b divides its class logits by sigma_b, a background anchor by the mean sigma of the batch's target
boxes (``Method.detection_loss``, ``base.anchor_temperature``); class / joint add sigma^class of the box's class.
The tracked instances are the boxes of seeded-random training images, saved with the images for DP fig. 3.
"""
from __future__ import annotations

import math
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data import boxes as B
from ..data.base import ATTRIBUTES, DETECTION, MULTICLASS, TaskInfo
from ..errors import ConfigError, check_value
from .base import METHODS, Batch, Method, StepResult, TrainContext, batch_box_ids
from .sparse_sgd import SparseSGD

CURRICULA = {"class": "DP eq. 1", "instance": "DP sec. 2.2", "joint": "DP sec. 2.2, eq. 5"}


def scaled_cross_entropy(logits: torch.Tensor, sigma: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Per-sample loss -log p_{y_i} with p = softmax(z_i / sigma_i) (DP eq. 1; sigma [B] or [B, 1])."""
    return F.cross_entropy(logits.float() / sigma.reshape(-1, 1), targets, reduction="none")


def sigma_gradient_closed_form(logits: torch.Tensor, sigma: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """dL_i/dsigma_i = (1 - p_y) / sigma^2 * (z_y - sum_{j != y} q_j z_j), q_j = p_j / (1 - p_y) (DP eq. 4 / 5).

    eq. 4 is the class-level case (sigma = sigma^class_{y_i}); eq. 5 is the same expression for the
    joint sigma* = sigma^class + sigma^inst, whose two parts therefore get the same gradient.
    """
    z = logits.double()
    s = sigma.double().reshape(-1)
    p = torch.softmax(z / s[:, None], dim=1)
    p_y = p.gather(1, targets[:, None]).squeeze(1)
    z_y = z.gather(1, targets[:, None]).squeeze(1)
    others = torch.ones_like(p).scatter_(1, targets[:, None], 0.0)
    q = p * others / (1 - p_y)[:, None]
    return (1 - p_y) / s**2 * (z_y - (q * z).sum(1))


def _log_bounds(bounds: Optional[Sequence[float]]) -> Optional[Tuple[float, float]]:
    """``method.clamp_sigma`` [min, max] as log bounds; null: no clamp."""
    if bounds is None:
        return None
    lo, hi = (float(b) for b in bounds)
    if not 0 < lo < hi:
        raise ConfigError(f"method.clamp_sigma={list(bounds)}: expected [min, max] with 0 < min < max, or null")
    return (math.log(lo), math.log(hi))


def _log_sigma(key: str, value: float) -> float:
    value = float(value)
    if value <= 0:
        raise ConfigError(f"method.{key}={value}: sigma must be > 0")
    return math.log(value)


@METHODS.register("data_params")
class DataParameters(Method):
    """conf/method/data_params.yaml documents every key below and its source."""

    multi_process = True  # tested on 2 processes against 1 (docs/distributed.md)
    multi_process_detection = True  # the global batch's boxes marked; their mean sigma for background anchors
    task_kinds = (MULTICLASS, ATTRIBUTES, DETECTION)

    def __init__(self, task: TaskInfo, *, branch_dim: int, curriculum: str, class_lr: float, class_weight_decay: float,
                 inst_lr: float, inst_weight_decay: float, momentum: float, init_class_sigma: float,
                 init_inst_sigma: Optional[float], clamp_sigma: Optional[Sequence[float]], top_fraction: float,
                 track_instances: Optional[int]):
        super().__init__(task, branch_dim=branch_dim)
        self.curriculum = str(check_value("method.curriculum", curriculum, CURRICULA))
        self.use_class = self.curriculum in ("class", "joint")
        self.use_inst = self.curriculum in ("instance", "joint")
        self.lr = {"class": float(class_lr), "inst": float(inst_lr)}
        self.weight_decay = {"class": float(class_weight_decay), "inst": float(inst_weight_decay)}
        for kind in ("class", "inst"):
            for key, value in ((f"{kind}_lr", self.lr[kind]), (f"{kind}_weight_decay", self.weight_decay[kind])):
                if value < 0:
                    raise ConfigError(f"method.{key}={value}: expected a number >= 0")
        self.momentum = float(momentum)
        # joint: instance sigmas start at 0.001 so that sigma* = 1 + 0.001 ~ 1 (DP sec. 3.1; init_inst_sigma: null);
        # the clamp raises them to 1/20 after the first step (see _optimizer)
        inst_sigma = (0.001 if self.curriculum == "joint" else 1.0) if init_inst_sigma is None else float(init_inst_sigma)
        initial = {"class": ("init_class_sigma", init_class_sigma), "inst": ("init_inst_sigma", inst_sigma)}
        used = [kind for kind, on in (("class", self.use_class), ("inst", self.use_inst)) if on]
        self.init_log_sigma = {kind: _log_sigma(*initial[kind]) for kind in used}
        self.clamp = _log_bounds(clamp_sigma)
        self.top_fraction = float(top_fraction)
        self.track_instances = int(track_instances or 0)
        self._optimizers: List[SparseSGD] = []
        self.noisy_mask: Optional[torch.Tensor] = None
        self.tracked: Optional[torch.Tensor] = None
        self.tracked_class: Optional[torch.Tensor] = None
        self.tracked_boxes: Optional[torch.Tensor] = None   # detection: [images, M, 5] for DP fig. 3
        self.tracked_images: Optional[torch.Tensor] = None  # detection: uint8 [images, 3, S, S] for DP fig. 3

    # -- parameters ------------------------------------------------------------------------------
    def setup(self, ctx: TrainContext) -> None:
        device, n = ctx.device, int(ctx.task.num_instances)  # detection: one instance per training box
        self._optimizers = []
        if self.task.is_detection:
            self.box_labels = box_labels(ctx.train_targets, n).to(device)
        if self.use_class:
            shape = (self.task.num_outputs, 2) if self.task.kind == ATTRIBUTES else (self.task.num_outputs,)
            self.class_log_sigma = nn.Parameter(torch.full(shape, self.init_log_sigma["class"], device=device))
            self._optimizers.append(self._optimizer(self.class_log_sigma, "class"))
        if self.use_inst:
            self.inst_log_sigma = nn.Parameter(torch.full((n,), self.init_log_sigma["inst"], device=device))
            self._optimizers.append(self._optimizer(self.inst_log_sigma, "inst"))
        noisy = ctx.meta.get("noisy_mask")
        if noisy is not None:
            self.noisy_mask = torch.as_tensor(np.asarray(noisy), dtype=torch.bool, device=device)
        k = min(self.track_instances, n)
        if self.use_inst and k and self.task.is_detection:
            self.track_images(ctx, k)
        elif self.use_inst and k:
            targets = ctx.train_targets if self.task.is_multiclass else None
            self.tracked = tracked_samples(targets, n, k, int(ctx.seed)).to(device)
            self.tracked_class = None if targets is None else targets[self.tracked].long()

    def _optimizer(self, param: nn.Parameter, kind: str) -> SparseSGD:
        """One SparseSGD per set; the clamp acts on the whole set after every step, as the authors'
        ``clamp_data_parameters`` does (joint: the instance sigmas' initial 0.001 is raised to the 1/20
        floor after the first step, so that they can move: d loss / d log sigma scales with sigma)."""
        return SparseSGD([param], lr=self.lr[kind], momentum=self.momentum, weight_decay=self.weight_decay[kind], clamp=self.clamp)

    def optimizers(self) -> List[torch.optim.Optimizer]:
        return list(self._optimizers)

    # -- the loss ----------------------------------------------------------------------------------
    def batch_sigma(self, batch: Batch) -> torch.Tensor:
        """sigma of each sample of the batch: [B] (multiclass) or [B, A] (attributes); marks the optimizers."""
        sigma = 0.0
        if self.use_class:
            if self.task.is_multiclass:
                class_ids = batch.y
            else:  # flat position of (attribute a, label y_ia) in the [A, 2] table
                a = torch.arange(self.task.num_outputs, device=batch.y.device)
                class_ids = a * 2 + batch.y.long()
            self._optimizers[0].mark(batch.gather(class_ids))  # distributed: every process's (same step everywhere)
            sigma = sigma + self.class_log_sigma.view(-1)[class_ids].exp()
        if self.use_inst:
            self._optimizers[-1].mark(batch.gather(batch.index))
            inst = self.inst_log_sigma[batch.index].exp()
            sigma = sigma + (inst if self.task.is_multiclass else inst[:, None])
        return sigma

    def box_sigma(self, batch: Batch, ids: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Detection: sigma of every training box [K] (class part by the box's class, instance part by its BOX_ID);
        marks the optimizers with the batch's boxes ``ids`` (``batch_box_ids``; DP sec. 3.3: one instance parameter
        per box; distributed: the global batch's, so that every process takes the same step)."""
        ids = batch_box_ids(batch) if ids is None else ids
        sigma = 0.0
        if self.use_class:
            self._optimizers[0].mark(self.box_labels[ids])
            sigma = sigma + self.class_log_sigma[self.box_labels].exp()
        if self.use_inst:
            self._optimizers[-1].mark(ids)
            sigma = sigma + self.inst_log_sigma.exp()
        return sigma

    def loss(self, outputs: Dict[str, torch.Tensor], batch: Batch, epoch: int) -> StepResult:
        if self.task.is_detection:
            ids = batch_box_ids(batch)  # gathered once a step (a collective on N processes)
            result = self.detection_loss(outputs, batch, self.box_sigma(batch, ids), ids)
            result.parts["sigma_mean"] = self.inst_log_sigma.exp().mean().detach() if self.use_inst else \
                self.class_log_sigma.exp().mean().detach()
            return result
        logits = outputs["logits"]
        sigma = self.batch_sigma(batch)
        if self.task.is_multiclass:
            loss = scaled_cross_entropy(logits, sigma, batch.y).mean()
        else:  # per-attribute binary CE on logits / sigma, summed over attributes, mean over the batch
            scaled = logits.float() / sigma
            loss = F.binary_cross_entropy_with_logits(scaled, batch.y, reduction="sum") / len(batch.y)
        return StepResult(loss=loss, parts={"sigma_mean": sigma.detach().mean()}, logits=logits)

    # -- reporting -------------------------------------------------------------------------------
    @torch.no_grad()
    def epoch_scalars(self) -> Dict[str, float]:
        out: Dict[str, float] = {}
        if self.use_class:
            sigma = self.class_log_sigma.exp()
            out.update(dp_class_sigma_mean=sigma.mean().item(), dp_class_sigma_max=sigma.max().item(), dp_class_sigma_min=sigma.min().item())
        if self.use_inst:
            sigma = self.inst_log_sigma.exp()
            out.update(dp_inst_sigma_mean=sigma.mean().item(), dp_inst_sigma_std=sigma.std().item())
            if self.noisy_mask is not None:
                out.update(noisy_instance_statistics(sigma, self.noisy_mask, self.top_fraction))
        return out

    @torch.no_grad()
    def epoch_curves(self) -> Dict[str, np.ndarray]:
        curves: Dict[str, np.ndarray] = {}
        if self.use_class:
            curves["dp_class_sigma"] = self.class_log_sigma.exp().cpu().numpy()
        if self.use_inst and self.tracked is not None:
            curves["dp_inst_sigma_tracked"] = self.inst_log_sigma[self.tracked].exp().cpu().numpy()
        return curves

    @torch.no_grad()
    def track_images(self, ctx: TrainContext, k: int) -> None:
        """Detection (DP fig. 3): the boxes of seeded-random training images (with target boxes) until ``k`` boxes
        are tracked; the images (min-max scaled to uint8, for display only) and their boxes go to curves/ at the end."""
        rows = ctx.train_targets
        has_boxes = torch.nonzero((rows[:, :, B.LABEL] >= 0).any(1)).flatten().cpu()
        order = has_boxes[torch.randperm(len(has_boxes), generator=torch.Generator().manual_seed(int(ctx.seed)))]
        chosen, ids = [], []
        for image in order.tolist():
            image_rows = rows[image][rows[image][:, B.LABEL] >= 0]
            chosen.append(image)
            ids.append(image_rows[:, B.BOX_ID].long())
            if sum(len(i) for i in ids) >= k:
                break
        self.tracked = torch.cat(ids).to(rows.device)
        table = rows[chosen].float()
        boxes = table[:, :, [B.X1, B.Y1, B.X2, B.Y2]] / table[:, :, [B.IMAGE_W, B.IMAGE_H, B.IMAGE_W, B.IMAGE_H]]
        position = torch.full(table.shape[:2], -1.0, device=table.device)
        target = table[:, :, B.LABEL] >= 0
        position[target] = torch.arange(int(target.sum()), device=table.device).float()  # index into tracked
        self.tracked_boxes = torch.cat([boxes, position[:, :, None]], dim=2).cpu()
        self.tracked_images = None
        if ctx.fetch is not None:
            x = ctx.fetch(torch.as_tensor(chosen), None, False)[0].float().cpu()
            low, high = x.amin(dim=(1, 2, 3), keepdim=True), x.amax(dim=(1, 2, 3), keepdim=True)
            self.tracked_images = ((x - low) / (high - low).clamp_min(1e-6) * 255).round().to(torch.uint8)

    @torch.no_grad()
    def final_outputs(self, model: nn.Module) -> Dict[str, np.ndarray]:
        out: Dict[str, np.ndarray] = {}
        if self.task.is_detection and self.tracked_boxes is not None:
            out["dp_det_tracked_boxes"] = self.tracked_boxes.numpy()
            if self.tracked_images is not None:
                out["dp_det_tracked_images"] = self.tracked_images.numpy()
        if self.use_inst:
            out["dp_inst_sigma_final"] = self.inst_log_sigma.exp().cpu().numpy()
            if self.tracked is not None:
                out["dp_inst_tracked_index"] = self.tracked.cpu().numpy()
            if self.tracked_class is not None:
                out["dp_inst_tracked_class"] = self.tracked_class.cpu().numpy()
        if self.use_class:
            out["dp_class_sigma_final"] = self.class_log_sigma.exp().cpu().numpy()
        return out


def box_labels(targets: torch.Tensor, n: int) -> torch.Tensor:
    """Detection: the class of each of the ``n`` training boxes, by BOX_ID."""
    rows = targets.reshape(-1, targets.shape[-1])
    rows = rows[rows[:, B.LABEL] >= 0]
    labels = torch.zeros(n, dtype=torch.long, device=targets.device)
    labels[rows[:, B.BOX_ID].long()] = rows[:, B.LABEL].long()
    return labels


def tracked_samples(targets: Optional[torch.Tensor], n: int, k: int, seed: int) -> torch.Tensor:
    """The training samples whose instance sigma is recorded every epoch (DP fig. 1 right: "two instances of
    the same class"): pairs of samples of k // 2 seeded-random classes (each with >= 2 samples), in pair order;
    without class labels (attribute tasks), k seeded-random samples."""
    gen = torch.Generator().manual_seed(seed)
    if targets is None:
        return torch.randperm(n, generator=gen)[:k]
    labels = targets.detach().cpu().long()
    pairs = []
    for c in torch.randperm(int(labels.max()) + 1, generator=gen).tolist():
        members = torch.nonzero(labels == c).flatten()
        if len(members) >= 2:
            pairs.append(members[torch.randperm(len(members), generator=gen)[:2]])
        if 2 * len(pairs) >= k:
            break
    return torch.cat(pairs) if pairs else torch.randperm(n, generator=gen)[:k]


def noisy_instance_statistics(sigma: torch.Tensor, noisy: torch.Tensor, top_fraction: float) -> Dict[str, float]:
    """Instance sigma split clean / noisy, and the % of corrupt samples among the top ``top_fraction``
    of training samples sorted by sigma (DP fig. 4, left and right)."""
    out: Dict[str, float] = {}
    for name, mask in (("clean", ~noisy), ("noisy", noisy)):
        part = sigma[mask]
        if part.numel():
            out[f"dp_inst_sigma_mean_{name}"] = part.mean().item()
            out[f"dp_inst_sigma_std_{name}"] = part.std().item() if part.numel() > 1 else 0.0
    k = int(round(top_fraction * sigma.numel()))
    if k > 0:
        top = torch.topk(sigma, k).indices
        out["dp_pct_corrupt_in_top"] = 100.0 * noisy[top].float().mean().item()
    return out
