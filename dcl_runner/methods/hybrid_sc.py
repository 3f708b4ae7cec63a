"""Hybrid-SC, the contrastive-learning hybrid network (Wang, Han, Wei, Zhang, Wang, CVPR 2021, arXiv 2103.14267).

The paper's own text was not available here, and no official code exists. The method follows its sec. 2 / 4.1 as
restated by a reproduction report (CENG502-Projects/CENG502-Spring2022 Project_Durmus-Yavuz/Readme.md, "the
restatement" below), and the supervised contrastive loss of Khosla et al. 2020 (arXiv 2004.11362) as its authors'
code computes it (HobbitLong/SupContrast losses.py SupConLoss, networks/resnet_big.py SupConResNet).

One backbone, two branches on its pooled feature f (``HybridHead``):
- the feature branch: a projection MLP with one hidden layer (Linear(d, h), ReLU, Linear(h, 128); SupConResNet
  head='mlp') and an L2-normalised output z; its loss is
  ``loss: sc``   the supervised contrastive loss (SupCon eq. 2, L^sup_out) over two augmented views of each image
                 of the instance-balanced batch B_SC: anchor i's log-probability of each positive p (same class,
                 p != i) against every a != i, averaged over its positives, then over the 2N anchors; or
  ``loss: psc``  the prototypical SC loss (the restatement's L_PSCL): one learnable prototype p_c per class,
                 L(z_i) = -log exp(z_i.p_{y_i} / tau) / sum_{j != y_i} exp(z_i.p_j / tau), the denominator over the
                 *other* classes as the restatement writes it, averaged over the 2N views;
- the classifier branch: one linear layer on f, cross-entropy on its own batch B_CE (``ce_sampler``);
- L_hybrid = alpha L_SC(B_SC) + (1 - alpha) L_CE(B_CE) (the restatement's L_hybrid), alpha = 1 - (T / T_max)^2 per
  epoch (the restatement's parabolic decay), T the 0-based epoch.
Prediction: the classifier branch's logits.

Where the sources are silent (conf/method/hybrid_sc.yaml, docs/longtail_one_stage.md "Hybrid-SC"): the CE batch's
sampler, the views, the prototypes' normalisation, the mean (not sum) over anchors, no SupContrast
temperature / base_temperature factor, T 0-based.
"""
from __future__ import annotations

from typing import Dict, Optional

import torch
import torch.nn.functional as F
from torch import nn

from ..data.base import MULTICLASS, TaskInfo
from ..errors import ConfigError, check_value
from .base import METHODS, Batch, Method, StepResult, TrainContext
from .bbn import cumulative_alpha
from .class_index import ClassIndex

LOSSES = {"sc": "supervised contrastive loss over two views (SupCon eq. 2)",
          "psc": "prototypical supervised contrastive loss (one learnable prototype per class)"}
CE_SAMPLERS = {"class_balanced": "a class drawn uniformly, then one of its images uniformly (per CE-batch sample)",
               "instance": "the trainer's instance-balanced batch (its first view)"}


# -- the losses -------------------------------------------------------------------------------------------------------
def supcon_loss(z: torch.Tensor, labels: torch.Tensor, tau: float) -> torch.Tensor:
    """SupCon eq. 2 (L^sup_out), averaged over anchors: z [M, D] L2-normalised views, labels [M].

    For anchor i: -1/|P(i)| sum_{p in P(i)} log( exp(z_i.z_p / tau) / sum_{a != i} exp(z_i.z_a / tau) ), P(i) the
    other views of i's class. An anchor without a positive contributes nothing (SupContrast losses.py divides by 1).
    """
    similarity = z @ z.t() / tau
    self_mask = torch.eye(len(z), dtype=torch.bool, device=z.device)
    log_prob = similarity - torch.logsumexp(similarity.masked_fill(self_mask, float("-inf")), dim=1, keepdim=True)
    positives = (labels[:, None] == labels[None, :]) & ~self_mask
    per_anchor = (log_prob * positives).sum(1) / positives.sum(1).clamp(min=1)
    return -per_anchor.mean()


def psc_loss(z: torch.Tensor, labels: torch.Tensor, prototypes: torch.Tensor, tau: float) -> torch.Tensor:
    """The restatement's L_PSCL, averaged over views: -log exp(z_i.p_{y_i} / tau) / sum_{j != y_i} exp(z_i.p_j / tau),
    i.e. -(z_i.p_{y_i}) / tau + logsumexp_{j != y_i} z_i.p_j / tau; z [M, D] and prototypes [C, D] L2-normalised."""
    scores = z @ prototypes.t() / tau
    own = scores.gather(1, labels[:, None]).squeeze(1)
    others = scores.scatter(1, labels[:, None], float("-inf"))
    return (torch.logsumexp(others, dim=1) - own).mean()


def class_balanced_indices(by_class: ClassIndex, size: int, generator: Optional[torch.Generator]) -> torch.Tensor:
    """``size`` training indices: each a class drawn uniformly among those with images, then one of its images
    uniformly (class-balanced sampling, Kang et al. 2020 sec. 3 with q = 0)."""
    present = torch.nonzero(by_class.sizes > 0).flatten()
    classes = present[torch.randint(len(present), (size,), generator=generator, device=present.device)]
    return by_class.draw(classes, generator)


# -- the model --------------------------------------------------------------------------------------------------------
class HybridHead(nn.Module):
    """The classifier branch ``fc`` and the feature branch ``projection`` (with ``prototypes`` for PSC) on the pooled
    backbone feature. ``forward`` gives ``logits`` (the classifier) and ``projection`` (L2-normalised z)."""

    def __init__(self, in_features: int, num_classes: int, hidden: int, out_dim: int, prototypes: bool):
        super().__init__()
        self.fc = nn.Linear(in_features, num_classes)
        self.projection = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, out_dim))
        # PSC: one learnable prototype per class (the restatement: "learning a prototype for each class"); N(0, 1)
        # rows, used L2-normalised (a choice: the sources do not say how they start or whether they are normalised)
        self.prototypes = nn.Parameter(torch.randn(num_classes, out_dim)) if prototypes else None

    def forward(self, features: torch.Tensor, feature_map: torch.Tensor) -> Dict[str, torch.Tensor]:
        return {"logits": self.fc(features), "projection": F.normalize(self.projection(features), dim=1)}


@METHODS.register("hybrid_sc")
class HybridSC(Method):
    """Keys: conf/method/hybrid_sc.yaml."""

    task_kinds = (MULTICLASS,)
    # SupCon's denominator spans the batch; it is not gathered across processes (one process only)
    multi_process = False

    def __init__(self, task: TaskInfo, *, loss: str, sc_temperature: float, psc_temperature: float,
                 projection_hidden: Optional[int], projection_dim: int, alpha_epochs: Optional[int], ce_sampler: str):
        super().__init__(task, branch_dim=None)
        self.loss_name = str(check_value("method.loss", loss, LOSSES))
        self.ce_sampler = str(check_value("method.ce_sampler", ce_sampler, CE_SAMPLERS))
        for key, value in (("sc_temperature", sc_temperature), ("psc_temperature", psc_temperature)):
            if float(value) <= 0:
                raise ConfigError(f"method.{key}={value}: expected a positive temperature (Hybrid-SC sec. 4.1 as "
                                  "restated: 0.1 for SC; 0.1 for PSC on CIFAR-100, 1.0 on CIFAR-10)")
        for key, value in (("projection_hidden", projection_hidden), ("projection_dim", projection_dim),
                           ("alpha_epochs", alpha_epochs)):
            if value is not None and int(value) < 1:
                raise ConfigError(f"method.{key}={value}: expected a positive integer"
                                  + (" or null" if key != "projection_dim" else ""))
        self.temperature = float(sc_temperature if self.loss_name == "sc" else psc_temperature)
        self.projection_hidden = projection_hidden
        self.projection_dim = int(projection_dim)
        self.alpha_epochs = alpha_epochs
        self.alpha = 1.0
        self.total_epochs = 1
        self.fetch = None
        self.by_class: Optional[ClassIndex] = None  # the training indices grouped by class (setup)

    def build_head(self, in_features: int, in_channels: int) -> nn.Module:
        hidden = int(self.projection_hidden or in_features)  # null: the feature width (SupConResNet Linear(dim_in, dim_in))
        return HybridHead(in_features, self.task.num_outputs, hidden, self.projection_dim, self.loss_name == "psc")

    # -- schedule --------------------------------------------------------------------------------------------------
    def setup(self, ctx: TrainContext) -> None:
        if ctx.fetch is None:
            raise ConfigError("method=hybrid_sc draws its second view and its CE batch with TrainContext.fetch; this "
                              "trainer gives none")
        self.fetch = ctx.fetch
        self.total_epochs = int(self.alpha_epochs or ctx.epochs)
        self.by_class = ClassIndex(ctx.train_targets, self.task.num_outputs)

    def on_epoch_start(self, epoch: int) -> None:
        # the restatement's alpha = 1 - (T / T_max)^2, T the 0-based epoch: BBN eq. 5, which Hybrid-SC borrows
        self.alpha = cumulative_alpha(epoch, self.total_epochs)

    def ce_indices(self, size: int, generator: Optional[torch.Generator]) -> torch.Tensor:
        return class_balanced_indices(self.by_class, size, generator)

    # -- loss --------------------------------------------------------------------------------------------------------
    def training_step(self, model: nn.Module, batch: Batch, epoch: int) -> StepResult:
        """B_SC: the batch and a second view of it (``fetch`` of the same indices), one forward pass as SupContrast's
        main_supcon.py (torch.cat of the two views); B_CE: a class-balanced batch as large, its own forward pass (or
        the first view's logits, ``ce_sampler: instance``)."""
        n = len(batch.y)
        second, _, _ = self.fetch(batch.index, generator=batch.generator)
        views = model(torch.cat((batch.x, second)))
        z, labels = views["projection"].float(), torch.cat((batch.y, batch.y))
        if self.loss_name == "sc":
            feature_loss = supcon_loss(z, labels, self.temperature)
        else:
            feature_loss = psc_loss(z, labels, F.normalize(model.head.prototypes.float(), dim=1), self.temperature)
        if self.ce_sampler == "class_balanced":
            x_ce, y_ce, _ = self.fetch(self.ce_indices(n, batch.generator), generator=batch.generator)
            ce_logits = model(x_ce)["logits"]
        else:
            ce_logits, y_ce = views["logits"][:n], batch.y
        ce = F.cross_entropy(ce_logits.float(), y_ce)
        loss = self.alpha * feature_loss + (1.0 - self.alpha) * ce
        return StepResult(loss=loss, parts={"alpha": self.alpha, f"{self.loss_name}_loss": feature_loss.detach(),
                                            "ce_loss": ce.detach()}, logits=views["logits"][:n])

    def epoch_scalars(self) -> Dict[str, float]:
        return {"alpha": self.alpha}
