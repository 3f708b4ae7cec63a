"""MiSLAS (Zhong et al., CVPR 2021, "Improving Calibration for Long-Tailed Recognition"), stage 2.

Stage 1 is mixup training (``method=mixup`` under MiSLAS's stage-1 protocol, conf/experiment/th_*_mislas_stage1.yaml).
Stage 2 (``method=mislas``, ``trainer.init_from=<stage-1 run folder>``; the tables script chains the two) follows
dvlab-research/MiSLAS train_stage2.py:

- the backbone is fixed; the stage-1 classifier is loaded (not re-initialised) and re-trained with class-balanced
  sampling (datasets/*.py ``train_balance``: ClassAwareSampler, 4 samples per class visit) at
  ``classifier_lr`` (= lr_factor x lr), together with one learnable scale per class at the trainer's lr
  (methods.py LearnableWeightScaling; both are applied at test time too);
- shift learning on BatchNorm (sec. 3.2): with ``shift_bn`` the backbone runs in train mode, so its BatchNorm
  running statistics move to the class-balanced data while no weight of it is trained (train_stage2.py
  ``model.train()`` under ``torch.no_grad()``); without, the backbone is in eval mode;
- label-aware smoothing (sec. 3.3): the target of a sample of class y is smoothed by eps_y = f(N_y), larger for
  larger classes, from eps_1 (the largest class, ``eps_head``) down to eps_K (the smallest, ``eps_tail``), with one
  of the paper's function shapes (:func:`label_aware_epsilon`).
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data.base import MULTICLASS, TaskInfo
from ..errors import ConfigError, check_value
from .base import METHODS, Batch, Method, StepResult, TrainContext
from .decoupling import ScaledHead, backbone_eval, class_aware_order, freeze

SHAPES = {
    "concave": "eps_K + (eps_1 - eps_K) sin(pi (N_y - N_K) / (2 (N_1 - N_K)))  (the default in methods.py)",
    "linear": "eps_K + (eps_1 - eps_K) (N_y - N_K) / (N_1 - N_K)",
    "convex": "eps_1 + (eps_1 - eps_K) sin(3 pi / 2 + pi (N_y - N_K) / (2 (N_1 - N_K)))",
    "exp": "eps_K + (eps_1 - eps_K) ((N_y - N_K) / (N_1 - N_K))^p",
}
SPREADS = {
    "all": "eps_y / K to every class, the true one included (methods.py LabelAwareSmoothing: -mean_k log p_k)",
    "others": "eps_y / (K - 1) to each other class (the paper's q_i for i != y)",
}


def label_aware_epsilon(counts: Sequence[int], eps_head: float, eps_tail: float, shape: str,
                        power: Optional[float] = None) -> np.ndarray:
    """MiSLAS sec. 3.3, the smoothing factor of each class: eps_y = f(N_y) with f one of ``SHAPES`` (the paper's
    concave, linear and convex forms, and the exponential form with power p), f(N_1) = eps_1 for the largest class
    and f(N_K) = eps_K for the smallest. All classes equally large: eps_1 for all (methods.py would divide by 0)."""
    n = np.asarray(counts, dtype=np.float64)
    n1, nk = n.max(), n.min()
    if n1 == nk:
        return np.full(len(n), float(eps_head))
    r = (n - nk) / (n1 - nk)  # 0 at the smallest class, 1 at the largest
    e1, ek = float(eps_head), float(eps_tail)
    if shape == "concave":
        return ek + (e1 - ek) * np.sin(r * np.pi / 2)
    if shape == "linear":
        return ek + (e1 - ek) * r
    if shape == "convex":
        return e1 + (e1 - ek) * np.sin(1.5 * np.pi + r * np.pi / 2)
    return ek + (e1 - ek) * np.power(r, float(power))


def label_aware_smoothing_loss(logits: torch.Tensor, y: torch.Tensor, eps: torch.Tensor, spread: str) -> torch.Tensor:
    """MiSLAS sec. 3.3, per sample: -sum_i q_i log p_i with q_y = 1 - eps_y and the rest of eps_y spread as
    ``spread`` says; ``eps`` [C] per class. Returns [B]."""
    logp = F.log_softmax(logits.float(), dim=1)
    e = eps[y]
    nll = -logp.gather(1, y[:, None]).squeeze(1)
    if spread == "all":
        return (1 - e) * nll - e * logp.mean(1)
    others = -(logp.sum(1) + nll) / (logits.shape[1] - 1)  # mean of -log p_i over i != y (log p_y = -nll)
    return (1 - e) * nll + e * others


@METHODS.register("mislas")
class MiSLAS(Method):
    """MiSLAS stage 2. conf/method/mislas.yaml documents the keys."""

    task_kinds = (MULTICLASS,)
    stage1_method = "mixup"  # the stage-1 run it starts from (trainer.init_from)

    def __init__(self, task: TaskInfo, *, eps_head: float, eps_tail: float, shape: str, power: Optional[float],
                 spread: str, shift_bn: bool, classifier_lr: Optional[float], samples_per_class: int):
        super().__init__(task, branch_dim=None)
        self.shape = str(check_value("method.shape", shape, SHAPES))
        self.spread = str(check_value("method.spread", spread, SPREADS))
        if self.shape == "exp" and power is None:
            raise ConfigError("method.shape=exp needs method.power (eps_y = eps_K + (eps_1 - eps_K) r^power); set e.g. method.power=2")
        for key, value in (("eps_head", eps_head), ("eps_tail", eps_tail)):
            if not 0.0 <= float(value) <= 1.0:
                raise ConfigError(f"method.{key}={value}: expected a smoothing factor in [0, 1] (MiSLAS CIFAR-10 "
                                  "beta=100: eps_head 0.3, eps_tail 0.0)")
        if int(samples_per_class) < 1:
            raise ConfigError(f"method.samples_per_class={samples_per_class}: expected a positive number (MiSLAS: 4)")
        eps = label_aware_epsilon(task.train_counts, float(eps_head), float(eps_tail), self.shape, power)
        self.register_buffer("eps", torch.tensor(eps, dtype=torch.float32), persistent=False)
        self.shift_bn = bool(shift_bn)
        self.classifier_lr = None if classifier_lr is None else float(classifier_lr)
        self.samples_per_class = int(samples_per_class)
        self.train_targets: Optional[torch.Tensor] = None

    def build_head(self, in_features: int, in_channels: int) -> nn.Module:
        return ScaledHead(in_features, self.task.num_outputs)

    def param_groups(self, model: nn.Module):
        """The stage-1 classifier at ``classifier_lr`` and the per-class scales at the trainer's lr
        (train_stage2.py: SGD([{classifier}, {lws_model}]), group 0 at lr_factor x lr)."""
        freeze(model)
        for p in model.head.parameters():
            p.requires_grad_(True)
        classifier = {"params": list(model.head.fc.parameters())}
        if self.classifier_lr is not None:
            classifier["lr"] = self.classifier_lr
        return [classifier, {"params": [model.head.scales]}]

    def train_mode(self, model: nn.Module) -> None:
        if not self.shift_bn:
            backbone_eval(model, batchnorm_only=False)

    def setup(self, ctx: TrainContext) -> None:
        self.train_targets = ctx.train_targets.detach().cpu().long()

    def epoch_order(self, epoch: int, generator: torch.Generator) -> Optional[torch.Tensor]:
        n = len(self.train_targets)
        return class_aware_order(self.train_targets, self.task.num_outputs, n, self.samples_per_class, generator)

    def loss(self, outputs: Dict[str, torch.Tensor], batch: Batch, epoch: int) -> StepResult:
        logits = outputs["logits"]
        per_sample = label_aware_smoothing_loss(logits, batch.y, self.eps, self.spread)
        return StepResult(loss=per_sample.mean(), parts={}, logits=logits)
