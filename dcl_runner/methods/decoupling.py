"""Decoupling representation and classifier (Kang et al., ICLR 2020), stage 2: cRT, LWS and tau-normalisation.

Stage 1 is plain instance-balanced training (``method=ce``); stage 2 starts from it (``trainer.init_from=<stage-1
run folder>``, the tables script chains the two) with the representation fixed:

- ``crt``  classifier re-training (sec. 4.1 "cRT"): the linear classifier is re-initialised and trained with
  class-balanced sampling, the backbone frozen;
- ``lws``  learnable weight scaling (sec. 4.1 "LWS"): the stage-1 classifier is kept and frozen, one scale f_j per
  class is learnt with class-balanced sampling; logits are f_j (w_j^T x + b_j) (classifier-balancing
  models/TauNormClassifier.py ``x *= self.scales``);
- ``tau_norm``  tau-normalised classifier (sec. 4.1 eq. 3): w~_j = w_j / ||w_j||^tau, applied when predicting;
  training is plain CE, so ``method=tau_norm`` is joint training followed by tau-normalisation in one run (post
  hoc on a finished run would need ``trainer.epochs=0``, which the config check refuses).

Class-balanced sampling is classifier-balancing's ClassAwareSampler (data/ClassAwareSampler.py): classes are visited
in a shuffled cycle and each visit takes ``samples_per_class`` samples from that class's own shuffled cycle
(:func:`class_aware_order`). The frozen backbone's BatchNorm keeps updating its running statistics in the authors'
code (run_networks.py puts every network in ``train()``); ``backbone_bn`` chooses (docs/twohead.md).
"""
from __future__ import annotations

from typing import Dict, List, Optional

import torch
from torch import nn

from ..data.base import MULTICLASS, TaskInfo
from ..errors import ConfigError, check_value
from ..models.heads import LinearHead
from .base import METHODS, Method, TrainContext

BACKBONE_BN = {"train": "running statistics follow the stage-2 batches (classifier-balancing run_networks.py)",
               "eval": "the stage-1 statistics stay (a fully frozen backbone)"}


# -- class-balanced sampling ----------------------------------------------------------------------------------
def class_aware_order(targets: torch.Tensor, num_classes: int, length: int, samples_per_class: int,
                      generator: torch.Generator) -> torch.Tensor:
    """``length`` training indices drawn as Kang et al.'s ClassAwareSampler draws them (data/ClassAwareSampler.py).

    The classes present are visited in a cycle reshuffled at every pass; each visit yields ``samples_per_class``
    indices of that class, taken from the class's own cycle of its samples (reshuffled at every pass), so every
    class is drawn equally often and within a class every sample before any repeats.
    """
    targets = targets.detach().cpu().long()
    members = [torch.nonzero(targets == c).flatten() for c in range(num_classes)]
    present = [c for c in range(num_classes) if len(members[c])]
    visits = -(-length // samples_per_class)
    cycles = -(-visits // len(present))
    class_sequence = torch.cat([torch.tensor(present)[torch.randperm(len(present), generator=generator)]
                                for _ in range(cycles)])[:visits]
    taken: Dict[int, torch.Tensor] = {}
    for c in present:
        need = int((class_sequence == c).sum()) * samples_per_class
        own = members[c]
        passes = -(-need // len(own))
        taken[c] = torch.cat([own[torch.randperm(len(own), generator=generator)] for _ in range(passes)])[:need] \
            if need else own[:0]
    used = {c: 0 for c in present}
    order = []
    for c in class_sequence.tolist():
        order.append(taken[c][used[c]:used[c] + samples_per_class])
        used[c] += samples_per_class
    return torch.cat(order)[:length]


# -- the frozen representation ----------------------------------------------------------------------------------
def freeze(module: nn.Module) -> None:
    for p in module.parameters():
        p.requires_grad_(False)


def backbone_eval(model: nn.Module, batchnorm_only: bool) -> None:
    """Put the backbone (or only its BatchNorm layers) in eval mode after ``model.train()``."""
    for m in model.backbone.modules():
        if not batchnorm_only or isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()


class ScaledHead(LinearHead):
    """A linear classifier with one learnable scale per class (Kang et al. sec. 4.1 LWS): logits f_j (w_j^T x + b_j).

    ``fc`` has LinearHead's names, so a stage-1 ``head.fc`` loads into it; ``scales`` start at 1
    (TauNormClassifier.py ``torch.ones(num_classes)``; MiSLAS methods.py LearnableWeightScaling).
    """

    def __init__(self, in_features: int, num_classes: int):
        super().__init__(in_features, num_classes)
        self.scales = nn.Parameter(torch.ones(num_classes))

    def forward(self, features: torch.Tensor, feature_map: torch.Tensor) -> Dict[str, torch.Tensor]:
        return {"logits": self.fc(features) * self.scales}


def tau_normalised(weight: torch.Tensor, tau: float) -> torch.Tensor:
    """Kang et al. eq. 3: w~_j = w_j / ||w_j||^tau (tau 1: unit norms; tau 0: unchanged)."""
    return weight / weight.norm(dim=1, keepdim=True).pow(tau)


class TauNormHead(LinearHead):
    """LinearHead whose ``logits_tau`` are x^T w~_j with eq. 3's weights and no bias (tau_norm.py: dot product only)."""

    def __init__(self, in_features: int, num_classes: int, tau: float):
        super().__init__(in_features, num_classes)
        self.tau = float(tau)

    def forward(self, features: torch.Tensor, feature_map: torch.Tensor) -> Dict[str, torch.Tensor]:
        return {"logits": self.fc(features), "logits_tau": features @ tau_normalised(self.fc.weight, self.tau).t()}


# -- stage-2 methods -----------------------------------------------------------------------------------------------
class ClassBalancedStage2(Method):
    """What cRT and LWS share: a frozen backbone and class-aware sampling. conf/method/crt.yaml, lws.yaml."""

    task_kinds = (MULTICLASS,)
    #: the method of the stage-1 run it starts from (trainer.init_from); scripts/benchmark_methods.py reads it
    stage1_method = "ce"

    def __init__(self, task: TaskInfo, *, samples_per_class: int, backbone_bn: str):
        super().__init__(task, branch_dim=None)
        if int(samples_per_class) < 1:
            raise ConfigError(f"method.samples_per_class={samples_per_class}: expected a positive number of samples "
                              "per class visit (classifier-balancing: 4)")
        self.samples_per_class = int(samples_per_class)
        self.backbone_bn = str(check_value("method.backbone_bn", backbone_bn, BACKBONE_BN))
        self.train_targets: Optional[torch.Tensor] = None

    def setup(self, ctx: TrainContext) -> None:
        self.train_targets = ctx.train_targets.detach().cpu().long()

    def epoch_order(self, epoch: int, generator: torch.Generator) -> Optional[torch.Tensor]:
        """As many class-aware draws as there are training samples (run_networks.py: int(N / batch) steps)."""
        n = len(self.train_targets)
        return class_aware_order(self.train_targets, self.task.num_outputs, n, self.samples_per_class, generator)

    def train_mode(self, model: nn.Module) -> None:
        if self.backbone_bn == "eval":
            backbone_eval(model, batchnorm_only=True)

    def trained(self, model: nn.Module) -> List[nn.Parameter]:
        raise NotImplementedError

    def param_groups(self, model: nn.Module):
        freeze(model)
        params = self.trained(model)
        for p in params:
            p.requires_grad_(True)
        return params


@METHODS.register("crt")
class ClassifierRetraining(ClassBalancedStage2):
    """cRT: the stage-1 backbone, a re-initialised linear classifier trained with class-balanced sampling."""

    def load_initial_weights(self, model: nn.Module, state: Dict[str, torch.Tensor]) -> List[str]:
        """Every stage-1 tensor but the classifier's (classifier-balancing run_networks.py load_model skips the
        DotProductClassifier: 'Skiping classifier initialization')."""
        return super().load_initial_weights(model, {k: v for k, v in state.items() if not k.startswith("head.")})

    def trained(self, model: nn.Module) -> List[nn.Parameter]:
        return list(model.head.parameters())


@METHODS.register("lws")
class LearnableWeightScaling(ClassBalancedStage2):
    """LWS: the stage-1 backbone and classifier, frozen; one scale per class learnt with class-balanced sampling."""

    def build_head(self, in_features: int, in_channels: int) -> nn.Module:
        return ScaledHead(in_features, self.task.num_outputs)

    def load_initial_weights(self, model: nn.Module, state: Dict[str, torch.Tensor]) -> List[str]:
        loaded = super().load_initial_weights(model, state)
        if "head.fc.weight" not in loaded:
            raise ConfigError("method=lws scales a stage-1 classifier, and trainer.init_from holds no head.fc.weight of "
                              f"shape {tuple(model.head.fc.weight.shape)}: start from a run of method=ce on this dataset")
        return loaded

    def trained(self, model: nn.Module) -> List[nn.Parameter]:
        return [model.head.scales]


@METHODS.register("tau_norm")
class TauNormalisation(Method):
    """Joint CE training, predictions from the tau-normalised classifier (eq. 3). conf/method/tau_norm.yaml: ``tau``."""

    task_kinds = (MULTICLASS,)

    def __init__(self, task: TaskInfo, *, tau: float):
        super().__init__(task, branch_dim=None)
        if float(tau) < 0:
            raise ConfigError(f"method.tau={tau}: expected tau >= 0 (Kang et al. sweep 0 to 2; 1 = unit-norm weights)")
        self.tau = float(tau)

    def build_head(self, in_features: int, in_channels: int) -> nn.Module:
        return TauNormHead(in_features, self.task.num_outputs, self.tau)

    def predict(self, outputs: Dict[str, torch.Tensor]) -> torch.Tensor:
        return outputs["logits_tau"]
