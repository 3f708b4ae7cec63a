"""BBN, the bilateral-branch network (Zhou et al., CVPR 2020), as its authors' code (Megvii-Nanjing/BBN) trains it.

Two branches share every block of the backbone but the last (``Backbone.split_last_block``; BBN sec. 3.2): the
*conventional* branch reads a batch drawn as usual (uniform over samples, the trainer's epoch order); the
*re-balancing* branch reads a second batch from the *reversed sampler* (BBN eq. 4: class i with probability
w_i / sum_j w_j, w_i = N_max / N_i, then a uniform sample of that class), drawn inside ``training_step`` with
``TrainContext.fetch``. Each branch's last block is followed by global average pooling (f_c, f_r); one linear
classifier reads the concatenation of the weighted features, 2 [alpha f_c, (1 - alpha) f_r] (BBN eq. 1, where
W_c and W_r are the two halves of that classifier), and the loss mixes the two batches' labels with the same
weight (BBN eq. 3): L = alpha CE(z, y_c) + (1 - alpha) CE(z, y_r). Cumulative learning (BBN eq. 5) moves alpha
from 1 to 0: alpha = 1 - (T / T_max)^2, T the 0-based epoch (the code's ``epoch - 1``; 1 - ((epoch - 1) /
div_epoch) ** 2 in lib/core/combiner.py bbn_mix).

Inference (lib/core/function.py valid_model): both branches see the test image, the classifier reads
[f_c, f_r] = 2 [0.5 f_c, 0.5 f_r], i.e. alpha fixed to 0.5 (BBN sec. 3.3 "fixed to 0.5 in the test phase").

From the authors' code where the paper is silent (conf/method/bbn.yaml; docs/longtail_one_stage.md):
- the factor 2 on the mixed feature (combiner.py ``2 * torch.cat(...)``), so that alpha = 0.5 at inference is the
  plain concatenation the classifier sees in valid_model;
- T_max: ``alpha_epochs`` (null: trainer.epochs); combiner.py uses div_epoch = 100 (epochs // 100 + 1) when
  MAX_EPOCH is 90 or 180 (its iNaturalist configs), else MAX_EPOCH;
- the two batches go through the network separately (BatchNorm statistics per batch, as bbn_mix's two calls);
- the classifier keeps PyTorch's own initialisation (``classifier_init: torch_default``): lib/net/network.py builds
  it as a plain ``nn.Linear`` outside the backbone, whose ``apply(_weights_init)`` (Kaiming normal) reaches the
  convolutions of the trunk, ``cb_block`` and ``rb_block`` only.
"""
from __future__ import annotations

from typing import Dict, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data.base import MULTICLASS, TaskInfo
from ..errors import ConfigError, check_value
from ..models.base import Backbone, Classifier
from .base import METHODS, Batch, Method, StepResult, TrainContext
from .class_index import ClassIndex

CLASSIFIER_INITS = {
    "torch_default": "PyTorch's nn.Linear initialisation, as BBN lib/net/network.py _get_classifer",
    "kaiming_normal": "Kaiming normal (fan-in) on the weight, as the CIFAR backbones' own classifiers",
}


def reversed_class_probabilities(counts) -> np.ndarray:
    """BBN eq. 4: P_i = w_i / sum_j w_j with w_i = N_max / N_i (the reversed sampler's class distribution). A class
    without training images cannot be drawn: P_i = 0 (e.g. a capped smoke-test subset)."""
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 1 or not (counts > 0).any():
        raise ConfigError(f"method=bbn: the reversed sampler needs training images; got class counts "
                          f"{counts.astype(int).tolist()}")
    weights = np.where(counts > 0, counts.max() / np.maximum(counts, 1.0), 0.0)
    return weights / weights.sum()


def cumulative_alpha(epoch: int, total_epochs: int) -> float:
    """BBN eq. 5: alpha = 1 - (T / T_max)^2, T the 0-based epoch (1 at the first epoch, near 0 at the last)."""
    return 1.0 - (float(epoch) / float(total_epochs)) ** 2


def mixed_logits(classifier: nn.Module, f_c: torch.Tensor, f_r: torch.Tensor, alpha: float) -> torch.Tensor:
    """BBN eq. 1 as the authors' code computes it: z = W [2 alpha f_c, 2 (1 - alpha) f_r] + b."""
    return classifier(2.0 * torch.cat((alpha * f_c, (1.0 - alpha) * f_r), dim=1))


def bilateral_loss(logits: torch.Tensor, y_c: torch.Tensor, y_r: torch.Tensor, alpha: float) -> torch.Tensor:
    """BBN eq. 3: L = alpha E(p, y_c) + (1 - alpha) E(p, y_r), E the cross-entropy."""
    return alpha * F.cross_entropy(logits, y_c) + (1.0 - alpha) * F.cross_entropy(logits, y_r)


class BilateralHead(nn.Module):
    """The two last blocks (``conventional``, ``rebalancing``) on the shared trunk's map, and the classifier ``fc``
    on their concatenated pooled features. ``forward`` is inference (alpha = 0.5)."""

    def __init__(self, conventional: nn.Module, rebalancing: nn.Module, feature_dim: int, num_classes: int):
        super().__init__()
        self.conventional = conventional
        self.rebalancing = rebalancing
        self.fc = nn.Linear(2 * feature_dim, num_classes)  # BBN configs: CLASSIFIER FC, BIAS True

    def branch(self, name: str, feature_map: torch.Tensor) -> torch.Tensor:
        """Pooled feature of one branch's last block (f_c or f_r)."""
        block = self.conventional if name == "conventional" else self.rebalancing
        return block(feature_map).mean(dim=(2, 3))

    def forward(self, features: torch.Tensor, feature_map: torch.Tensor) -> Dict[str, torch.Tensor]:
        both = torch.cat((self.branch("conventional", feature_map), self.branch("rebalancing", feature_map)), dim=1)
        return {"logits": self.fc(both), "features": both}


@METHODS.register("bbn")
class BBN(Method):
    """Keys: conf/method/bbn.yaml."""

    task_kinds = (MULTICLASS,)

    def __init__(self, task: TaskInfo, *, alpha_epochs: Optional[int], classifier_init: str):
        super().__init__(task, branch_dim=None)
        check_value("method.classifier_init", classifier_init, CLASSIFIER_INITS)
        self.classifier_init = classifier_init
        if alpha_epochs is not None and int(alpha_epochs) < 1:
            raise ConfigError(f"method.alpha_epochs={alpha_epochs}: expected a positive number of epochs (T_max of "
                              "BBN eq. 5) or null for trainer.epochs")
        self.alpha_epochs = alpha_epochs
        self.probabilities = torch.tensor(reversed_class_probabilities(task.train_counts), dtype=torch.float32)
        self.alpha = 1.0
        self.total_epochs = 1
        self.fetch = None
        self.by_class: Optional[ClassIndex] = None  # the training indices grouped by class (setup)

    # -- model ---------------------------------------------------------------------------------
    def build_model(self, backbone: Backbone) -> nn.Module:
        conventional, rebalancing = backbone.split_last_block()
        model = Classifier(backbone, BilateralHead(conventional, rebalancing, backbone.feature_dim, self.task.num_outputs))
        self.init_classifier(model.head.fc)  # after Classifier, whose backbone.init_head reaches the whole head
        return model

    def init_classifier(self, fc: nn.Linear) -> None:
        """``method.classifier_init``: the authors' classifier is ``nn.Linear`` with PyTorch's own initialisation."""
        if self.classifier_init == "torch_default":
            fc.reset_parameters()
        else:
            nn.init.kaiming_normal_(fc.weight)  # fan-in, gain sqrt 2; the bias keeps its own

    # -- schedule --------------------------------------------------------------------------------
    def setup(self, ctx: TrainContext) -> None:
        if ctx.fetch is None:
            raise ConfigError("method=bbn draws its re-balancing batch with TrainContext.fetch; this trainer gives none")
        self.fetch = ctx.fetch
        self.total_epochs = int(self.alpha_epochs or ctx.epochs)
        targets = ctx.train_targets.long()
        self.by_class = ClassIndex(targets, self.task.num_outputs)
        self.probabilities = self.probabilities.to(targets.device)

    def on_epoch_start(self, epoch: int) -> None:
        self.alpha = cumulative_alpha(epoch, self.total_epochs)

    def reversed_indices(self, size: int, generator: Optional[torch.Generator]) -> torch.Tensor:
        """BBN eq. 4's sampler: ``size`` classes drawn with P_i, then one uniform training index of each
        (lib/dataset/imbalance_cifar.py: sample_class_index_by_weight, then random.choice in the class)."""
        classes = torch.multinomial(self.probabilities, size, replacement=True, generator=generator)
        return self.by_class.draw(classes, generator)

    # -- loss --------------------------------------------------------------------------------
    def training_step(self, model: nn.Module, batch: Batch, epoch: int) -> StepResult:
        x_r, y_r, _ = self.fetch(self.reversed_indices(len(batch.y), batch.generator), generator=batch.generator)
        f_c = self.branch_features(model, "conventional", batch.x)
        f_r = self.branch_features(model, "rebalancing", x_r)
        logits = mixed_logits(model.head.fc, f_c, f_r, self.alpha)
        loss = bilateral_loss(logits.float(), batch.y, y_r, self.alpha)
        return StepResult(loss=loss, parts={"alpha": self.alpha}, logits=logits)

    @staticmethod
    def branch_features(model: nn.Module, name: str, x: torch.Tensor) -> torch.Tensor:
        feature_map, _ = model.backbone(x)
        return model.head.branch(name, feature_map)

    def epoch_scalars(self) -> Dict[str, float]:
        return {"alpha": self.alpha}
