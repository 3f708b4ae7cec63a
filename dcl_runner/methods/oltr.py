"""OLTR, open long-tailed recognition (Liu et al., CVPR 2019), closed-set, as zhmiao/OpenLongTailRecognition-OLTR trains
its stage 2 (config/ImageNet_LT/stage_2_meta_embedding.py).

The model (``OLTRHead`` on the backbone's last map):
- modulated attention (OLTR sec. 3.2; layers/ModulatedAttLayer.py): f + SA(f) * MA(f), MA an embedded-Gaussian
  non-local block (1x1 g / theta / phi to C/2 channels, 1x1 ``conv_mask`` back to C, zero-initialised) and SA a
  softmax over the 7x7 positions from one linear layer on the flattened map;
- average pooling, then ``fc_add`` + ReLU to ``feature_dim`` (ResNetFeature.py use_fc: 512): v_direct;
- dynamic meta-embedding (OLTR sec. 3.1; models/MetaEmbeddingClassifier.py): the visual memory M is the class
  centroids; v_memory = softmax(T_hal(v_direct)) M (the hallucinated coefficients o over the centroids); the concept
  selector e = tanh(T_sel(v_direct)); the reachability gamma = min_i ||v_direct - c_i||; and
  v_meta = (s / gamma) (v_direct + e * v_memory), s = ``reachability_scale`` (10 in the code);
- the cosine classifier (models/CosNormClassifier.py): logits = 16 (|x| / (1 + |x|)) (x / |x|) . w_c / |w_c|.

The loss (OLTR sec. 3.3; run_networks.py batch_loss): CE(logits) + 0.01 L_DC(v_direct), L_DC the discriminative
centroids loss (loss/DiscCentroidsLoss.py): attraction sum_i ||v_i - c_{y_i}||^2 / 2 / B, plus 0.01 x repulsion
max(0, 10 - mean over the B x C (sample, other class) pairs of ||v_i - c_j||^2) (the own class's distances count as
zeros in that mean, as the code's masked sum / (B C)). The centroids are the loss's parameters, initialised as the
class means of v_direct over the training set (run_networks.py centroids_cal, at the start of training) and trained
by their own SGD (lr 0.01, momentum 0.9, weight decay 5e-4) with the code's centre-loss gradient: their attraction
gradient is divided by n_c + 1 for the n_c batch samples of class c (DiscCentroidsLossFunc.backward). The memory
the meta-embedding reads is their current value, without gradient (``centroids.data``). Training batches come from
the class-aware sampler (data/ClassAwareSampler.py, 4 samples per class visit), an epoch being N / B steps.

Stage 1 of the authors' code (a plain softmax model, 30 epochs) is ``method=ce``; ``trainer.init_from`` then starts
this method from it: the backbone's tensors and the stage-1 classifier as the hallucinator T_hal (MetaEmbedding
_Classifier create_model: ``fc_hallucinator = init_weights(... stage1 classifier)``) where the shapes agree. Without
it the method trains in one stage from random weights. Choices where the paper / code are silent:
docs/longtail_one_stage.md.
"""
from __future__ import annotations

import math
from typing import Dict, List, Optional

import torch
import torch.nn.functional as F
from torch import nn

from ..data.base import MULTICLASS, TaskInfo
from ..errors import ConfigError
from ..models.base import Backbone, Classifier
from .base import METHODS, Batch, Method, StepResult, TrainContext


# -- the classifier side -----------------------------------------------------------------------------------------
def cosine_norm_logits(x: torch.Tensor, weight: torch.Tensor, scale: float) -> torch.Tensor:
    """CosNorm_Classifier: scale (|x| / (1 + |x|)) (x / |x|) . (w_c / |w_c|)."""
    norm = x.norm(dim=1, keepdim=True)
    squashed = (norm / (1.0 + norm)) * (x / norm)
    return scale * squashed @ F.normalize(weight, dim=1).t()


def meta_embedding(direct: torch.Tensor, centroids: torch.Tensor, hallucinated: torch.Tensor, selector: torch.Tensor,
                   scale: float) -> torch.Tensor:
    """OLTR sec. 3.1: v_meta = (s / min_i |v_direct - c_i|) (v_direct + tanh(selector) * softmax(hallucinated) M)."""
    memory = hallucinated.softmax(dim=1) @ centroids
    reachability = scale / torch.cdist(direct, centroids).min(dim=1, keepdim=True).values
    return reachability * (direct + selector.tanh() * memory)


class ModulatedAttention(nn.Module):
    """OLTR sec. 3.2 (layers/ModulatedAttLayer.py) on a ``size`` x ``size`` map (the backbone's map is brought to it by
    adaptive average pooling: ResNets at 224 px give 7 x 7 already, the code's fixed shape)."""

    def __init__(self, channels: int, size: int):
        super().__init__()
        inter, self.size = max(1, channels // 2), size
        self.g, self.theta, self.phi = (nn.Conv2d(channels, inter, 1) for _ in range(3))
        self.conv_mask = nn.Conv2d(inter, channels, 1, bias=False)
        self.fc_spatial = nn.Linear(size * size * channels, size * size)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.fc_spatial.reset_parameters()
        for conv in (self.g, self.theta, self.phi):
            nn.init.kaiming_normal_(conv.weight)
            nn.init.zeros_(conv.bias)
        nn.init.zeros_(self.conv_mask.weight)

    def forward(self, fmap: torch.Tensor) -> torch.Tensor:
        x = F.adaptive_avg_pool2d(fmap, self.size)
        b, c = x.shape[:2]
        g = self.g(x).flatten(2).transpose(1, 2)          # [B, HW, C/2]
        theta = self.theta(x).flatten(2).transpose(1, 2)  # [B, HW, C/2]
        phi = self.phi(x).flatten(2)                      # [B, C/2, HW]
        attended = (theta @ phi).softmax(dim=-1) @ g      # [B, HW, C/2]
        mask = self.conv_mask(attended.transpose(1, 2).reshape(b, -1, self.size, self.size))
        spatial = self.fc_spatial(x.flatten(1)).softmax(dim=1).view(b, 1, self.size, self.size)
        return spatial * mask + x


class OLTRHead(nn.Module):
    """Attention, pooling, ``fc_add``, the meta-embedding and the cosine classifier; ``centroids`` is the memory."""

    def __init__(self, in_channels: int, num_classes: int, *, feature_dim: int, attention_size: Optional[int],
                 reachability_scale: float, cosine_scale: float):
        super().__init__()
        self.attention = ModulatedAttention(in_channels, attention_size) if attention_size else None
        self.fc_add = nn.Linear(in_channels, feature_dim)
        self.hallucinator = nn.Linear(feature_dim, num_classes)
        self.selector = nn.Linear(feature_dim, feature_dim)
        bound = 1.0 / math.sqrt(feature_dim)  # CosNorm_Classifier.reset_parameters: uniform(-1/sqrt(in), 1/sqrt(in))
        self.cosnorm_weight = nn.Parameter(torch.empty(num_classes, feature_dim).uniform_(-bound, bound))
        self.centroids = nn.Parameter(torch.zeros(num_classes, feature_dim))
        self.reachability_scale, self.cosine_scale = float(reachability_scale), float(cosine_scale)

    def reset_parameters(self) -> None:
        """OLTR's own initialisation, undoing a backbone's ``init_head`` (the CIFAR ResNets' Kaiming normal): its
        fc_add, hallucinator and selector are PyTorch-default ``nn.Linear`` layers (ResNetFeature.py initialises only
        convolutions and BatchNorm), the attention as ModulatedAttLayer.init_weights."""
        for layer in (self.fc_add, self.hallucinator, self.selector):
            layer.reset_parameters()
        if self.attention is not None:
            self.attention.reset_parameters()

    def direct_feature(self, feature_map: torch.Tensor) -> torch.Tensor:
        if self.attention is not None:
            feature_map = self.attention(feature_map)
        return F.relu(self.fc_add(feature_map.mean(dim=(2, 3))))

    def forward(self, features: torch.Tensor, feature_map: torch.Tensor) -> Dict[str, torch.Tensor]:
        direct = self.direct_feature(feature_map)
        meta = meta_embedding(direct, self.centroids.detach(), self.hallucinator(direct), self.selector(direct),
                              self.reachability_scale)
        return {"logits": cosine_norm_logits(meta, self.cosnorm_weight, self.cosine_scale), "features": direct}


# -- the discriminative centroids loss ------------------------------------------------------------------------------
class _Attraction(torch.autograd.Function):
    """sum_i |v_i - c_{y_i}|^2 / 2 / B; the centroid gradient of the code: sum over class c's batch samples of
    (c - v_i), divided by (n_c + 1) and by B (DiscCentroidsLossFunc.backward)."""

    @staticmethod
    def forward(ctx, features, labels, centroids):
        ctx.save_for_backward(features, labels, centroids)
        return (features - centroids[labels]).pow(2).sum() / 2.0 / len(labels)

    @staticmethod
    def backward(ctx, grad):
        features, labels, centroids = ctx.saved_tensors
        diff = centroids[labels] - features
        counts = torch.ones(len(centroids), device=centroids.device, dtype=diff.dtype).index_add_(
            0, labels, torch.ones(len(labels), device=diff.device, dtype=diff.dtype))
        grad_centroids = torch.zeros_like(centroids).index_add_(0, labels, diff) / counts[:, None]
        return -grad * diff / len(labels), None, grad * grad_centroids / len(labels)


def centroid_attraction(features: torch.Tensor, labels: torch.Tensor, centroids: torch.Tensor) -> torch.Tensor:
    return _Attraction.apply(features, labels, centroids)


def centroid_repulsion(features: torch.Tensor, labels: torch.Tensor, centroids: torch.Tensor, margin: float) -> torch.Tensor:
    """max(0, margin - sum of |v_i - c_j|^2 over j != y_i, divided by B C) (DiscCentroidsLoss's repelling loss)."""
    distances = torch.cdist(features, centroids).pow(2)
    others = distances.masked_fill(F.one_hot(labels, len(centroids)).bool(), 0.0)
    return torch.clamp(margin - others.sum() / distances.numel(), min=0.0)


def class_aware_order(targets: torch.Tensor, per_class: int, length: int, generator: torch.Generator) -> torch.Tensor:
    """data/ClassAwareSampler.py: classes visited in random cycles (each cycle a shuffle of all classes); a visit
    takes the next ``per_class`` samples of that class's own random cycle; ``length`` samples in all."""
    targets = targets.cpu()
    present = torch.unique(targets)  # the classes with training images (ClassAwareSampler: np.unique of the labels)
    visits = -(-length // per_class)
    cycles = -(-visits // len(present))
    classes = torch.cat([present[torch.randperm(len(present), generator=generator)] for _ in range(cycles)])[:visits]
    order = torch.empty(visits, per_class, dtype=torch.long)
    for c in present.tolist():
        at = (classes == c).nonzero().flatten()
        if len(at) == 0:
            continue
        members = (targets == c).nonzero().flatten()
        need = len(at) * per_class
        laps = -(-need // len(members))
        draws = torch.cat([members[torch.randperm(len(members), generator=generator)] for _ in range(laps)])[:need]
        order[at] = draws.view(len(at), per_class)
    return order.flatten()[:length]


@METHODS.register("oltr")
class OLTR(Method):
    """Keys: conf/method/oltr.yaml."""

    task_kinds = (MULTICLASS,)

    def __init__(self, task: TaskInfo, *, feature_dim: int, attention_size: Optional[int], reachability_scale: float,
                 cosine_scale: float, centroid_loss_weight: float, repel_weight: float, repel_margin: float,
                 centroid_lr: float, centroid_momentum: float, centroid_weight_decay: float, classifier_lr: Optional[float],
                 samples_per_class: Optional[int]):
        super().__init__(task, branch_dim=None)
        for key, value in (("feature_dim", feature_dim), ("attention_size", attention_size),
                           ("samples_per_class", samples_per_class)):
            if value is not None and int(value) < 1:
                raise ConfigError(f"method.{key}={value}: expected a positive integer (null turns attention_size / "
                                  "samples_per_class off)")
        self.head_keys = dict(feature_dim=int(feature_dim), attention_size=attention_size,
                              reachability_scale=reachability_scale, cosine_scale=cosine_scale)
        self.centroid_loss_weight, self.repel_weight = float(centroid_loss_weight), float(repel_weight)
        self.repel_margin = float(repel_margin)
        self.centroid_optim = dict(lr=float(centroid_lr), momentum=float(centroid_momentum),
                                   weight_decay=float(centroid_weight_decay))
        self.classifier_lr = classifier_lr
        self.samples_per_class = samples_per_class
        self.centroid_optimizer: Optional[torch.optim.Optimizer] = None
        self.from_weights = False  # set by a trainer.init_from start (OLTR's stage 2 from a stage-1 model)
        self.train_targets: Optional[torch.Tensor] = None

    # -- model ---------------------------------------------------------------------------------
    def build_model(self, backbone: Backbone) -> nn.Module:
        model = Classifier(backbone, OLTRHead(backbone.out_channels, self.task.num_outputs, **self.head_keys))
        model.head.reset_parameters()  # OLTR's initialisation, not the backbone's classifier rule
        return model

    def load_initial_weights(self, model: nn.Module, state: Dict[str, torch.Tensor]) -> List[str]:
        """A stage-1 run's weights: its classifier ``head.fc`` becomes the hallucinator where the shapes agree."""
        self.from_weights = True
        state = dict(state)
        for name in ("weight", "bias"):
            if f"head.fc.{name}" in state:
                state[f"head.hallucinator.{name}"] = state.pop(f"head.fc.{name}")
        return super().load_initial_weights(model, state)

    def param_groups(self, model: nn.Module):
        """Everything but the centroids (their own optimizer); the classifier at ``classifier_lr`` when set
        (stage_2_meta_embedding.py: features lr 0.01, classifier lr 0.1)."""
        head = model.head
        classifier = [head.hallucinator.weight, head.hallucinator.bias, head.selector.weight, head.selector.bias,
                      head.cosnorm_weight]
        skip = {id(p) for p in classifier} | {id(head.centroids)}
        features = [p for p in model.parameters() if id(p) not in skip]
        if self.classifier_lr is None:
            return [{"params": features + classifier}]
        return [{"params": features}, {"params": classifier, "lr": float(self.classifier_lr)}]

    # -- schedule --------------------------------------------------------------------------------
    def setup(self, ctx: TrainContext) -> None:
        head = ctx.model.head
        head.centroids.data.copy_(self.class_means(ctx))
        self.centroid_optimizer = torch.optim.SGD([head.centroids], **self.centroid_optim)
        self.train_targets = ctx.train_targets.detach().cpu().long()

    def class_means(self, ctx: TrainContext) -> torch.Tensor:
        """run_networks.py centroids_cal: the class means of v_direct over the (un-augmented) training set, the model
        in eval mode, as the code computes them from a trained stage-1 model (``trainer.init_from``). A model that
        starts from random weights has no BatchNorm statistics yet (eval mode would read the initial 0 / 1 and give
        features of arbitrary scale): there each batch is normalised by its own statistics, and the running ones are
        left as they were (a choice; docs/longtail_one_stage.md)."""
        model, head = ctx.model, ctx.model.head
        was_training = model.training
        saved = None if self.from_weights else {k: v.clone() for k, v in model.state_dict().items() if "running" in k or "num_batches" in k}
        model.train(not self.from_weights)
        sums = torch.zeros_like(head.centroids)
        with torch.no_grad():
            for x, y, _ in ctx.iterate_train(256):
                feature_map, _ = model.backbone(x)
                sums.index_add_(0, y, head.direct_feature(feature_map).float())
        if saved is not None:
            model.load_state_dict(saved, strict=False)
        model.train(was_training)
        counts = torch.bincount(ctx.train_targets.long(), minlength=len(sums)).clamp_min(1).to(sums)
        return sums / counts[:, None]

    def epoch_order(self, epoch: int, generator: torch.Generator) -> Optional[torch.Tensor]:
        if not self.samples_per_class or self.train_targets is None:
            return None
        return class_aware_order(self.train_targets, int(self.samples_per_class), len(self.train_targets), generator)

    def optimizers(self) -> List[torch.optim.Optimizer]:
        return [self.centroid_optimizer] if self.centroid_optimizer is not None else []

    # -- loss --------------------------------------------------------------------------------
    def training_step(self, model: nn.Module, batch: Batch, epoch: int) -> StepResult:
        outputs = model(batch.x)
        direct, centroids = outputs["features"].float(), model.head.centroids
        loss_ce = F.cross_entropy(outputs["logits"].float(), batch.y)
        attraction = centroid_attraction(direct, batch.y, centroids)
        repulsion = centroid_repulsion(direct, batch.y, centroids, self.repel_margin)
        loss_dc = attraction + self.repel_weight * repulsion
        return StepResult(loss=loss_ce + self.centroid_loss_weight * loss_dc,
                          parts={"loss_ce": loss_ce.detach(), "loss_centroids": loss_dc.detach()},
                          logits=outputs["logits"])
