"""The one seam (DESIGN.md): a method is an object built from ``cfg.method``; the trainer knows none.

The trainer calls, in order:

    method = build_method(cfg.method, task)                  # METHODS[name](task, **the section's other keys)
    model = method.build_model(backbone)                    # Classifier(backbone, method.build_head(
                                                             #   backbone.feature_dim, backbone.out_channels))
    if trainer.init_from: method.load_initial_weights(model, checkpoint["model"])  # stage 2
    optimizer = SGD/Adam(method.param_groups(model))        # what trains, per-group lr / wd
    method.setup(ctx)                                        # once per process; on resume the
                                                             # checkpoint's state is loaded over it
    for epoch:
        method.on_epoch_start(epoch)                         # scheduler values, deferred switches
        order = method.epoch_order(epoch, generator)         # which samples, in which order
        model.train(); method.train_mode(model)              # e.g. frozen backbone BatchNorm
        for batch in loader(order):
            result = method.training_step(model, batch, epoch)   # forward + loss
            result.loss.backward(); model optimizer and every method.optimizers() step
        history row += method.epoch_scalars(); curves += method.epoch_curves()
    evaluation: scores = method.predict(model(x))            # back to the dataset's label space

Task types (``data.base.TASK_KINDS``) share every seam: a batch's ``y`` is always one tensor of the split's
targets. Detection's variable number of boxes per image is a fixed-size padded table (``data/boxes.py``: box
rows [B, M, K], padding rows marked), so the loader, the caps and ``predictions.npz`` need no collate; its model is
a backbone returning a tuple of maps (``ssd_vgg16``) and the head ``build_head`` makes for it (``models/ssd.py``:
SSD's head and default boxes), ``loss`` is SSD's multibox loss and ``predict`` gives a fixed number of detections
per image ([B, D, 6]: normalised box, score, class; class -1 pads), which ``metrics.evaluate`` scores with KITTI's
AP. A method opts into detection by listing it in ``task_kinds`` (``ce`` and ``data_params`` do).

Hooks for two-stage and two-branch methods (decoupled cRT / LWS, MiSLAS, BBN, OLTR, Hybrid-SC):

- ``build_model(backbone)``: the whole model from the built backbone. The default is ``Classifier(backbone,
  build_head(...))``, so most methods only shape the head; a method that needs the backbone itself overrides it.
  BBN (``methods/bbn.py``) takes the backbone's last residual block out (``Backbone.split_last_block``) and puts
  it, with a freshly initialised twin, into its head: two branches sharing every block but the last. The
  returned model's ``forward(x)`` gives a dict with ``logits`` (what ``predict`` reads) as ``Classifier`` does.

- ``trainer.init_from=PATH`` (a run folder or a ``.pt`` checkpoint; null by default):
  before the optimizer is built, ``load_initial_weights(model, state)`` copies that run's model
  weights. The default copies every tensor whose name and shape match and leaves the rest as
  initialised (a stage-2 classifier of another size is re-initialised); override it to skip keys
  (cRT re-initialises ``head.``). Resuming a run loads its own checkpoint over this.
- ``param_groups(model)``: what the model optimizer trains, as a parameter iterable or a list of
  torch param-group dicts (per-group ``lr`` / ``weight_decay`` override ``trainer.optimizer``;
  every group follows ``trainer.lr_schedule`` relative to its own base lr). Freeze parameters by
  leaving them out and setting ``requires_grad_(False)`` (cRT: only ``head.``; LWS: one scale per
  class, owned by the method and given here or through ``optimizers()``).
- ``train_mode(model)``: called right after every ``model.train()``; e.g. put the backbone's
  BatchNorm back in eval mode while only the classifier trains.
- ``TrainContext.fetch(indices, generator=None, augment=True)`` -> ``(x, y, index)``: training
  samples by position, on the device, augmented like a training batch (``generator`` draws the
  augmentation; pass ``batch.generator`` for reproducible resumes). BBN's reversed sampler draws
  its second batch with it inside ``training_step``; keep the ctx from ``setup``.

Distributed runs (N processes, dcl_runner/distributed.py): a ``Batch`` is this process's share of the global
batch. A per-sample loss averaged over it needs nothing more (DDP averages the processes' equal shares, and
the trainer averages the gradients of the method's own parameters). Whatever spans the batch (class counts of
the batch, hard-sample mining, a loss normaliser) uses ``batch.gather(t)`` (the global batch's rows, gradients
flow back), ``batch.local(t)`` (this process's rows of a global-batch tensor) and ``batch.process_mean(t)``;
random draws per sample are made for ``len(batch.gather(...))`` samples from ``batch.generator`` (the same on
every process) and sliced with ``local``. All three are the identity in a 1-process run. What ``setup``
builds must follow from the config and seed alone (every process builds it; process 0's copy of the
method's parameters and buffers is then broadcast to all). ``TrainContext.fetch`` reads on this process.

A method's YAML keys are its constructor's keyword-only arguments (``dcl_runner/sections.py``): ``__init__(self,
task, *, key, ...)`` without a default where the YAML gives one, so a misspelt key is a ConfigError naming it
before any data is read. ``task_kinds`` says which task types it trains; ``build_method`` refuses the others.

``Method`` is an ``nn.Module``: parameters and buffers it owns (data parameters, cluster maps) move
to the device with it and are saved in checkpoints; put other resumable state in
``get_extra_state``/``set_extra_state``. The defaults below are plain cross-entropy for the classification task
types and SSD's multibox loss for detection; ``method=ce`` is this class, declared for all three.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Dict, Iterator, List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data.base import ATTRIBUTES, DETECTION, MULTICLASS, TaskInfo
from ..distributed import BatchPart
from ..errors import ConfigError
from ..models.base import Backbone, Classifier
from ..models.heads import AttributeBranches, LinearHead
from ..registry import Registry
from .. import sections

METHODS: Registry = Registry("method", "dcl_runner.methods")


@dataclass
class Batch:
    """One training batch, already on the device and augmented.

    x: float images [B, C, H, W]; y: int64 [B] (multiclass), float [B, A] in {0,1} (attributes) or float
    [B, M, K] box rows (detection, ``data/boxes.py``);
    index: int64 [B] positions in the training split (for per-sample state);
    generator: a torch.Generator on the batch's device, seeded by (seed, epoch, step), for any
    randomness the method draws, so that a resumed run draws the same numbers.
    part: in a distributed run, where these samples sit in the global batch (None: they are all of it).
    """

    x: torch.Tensor
    y: torch.Tensor
    index: torch.Tensor
    generator: Optional[torch.Generator] = None
    part: Optional[BatchPart] = None

    def gather(self, t: torch.Tensor) -> torch.Tensor:
        """A per-sample tensor of this batch -> the same over the global batch, in order (autograd-aware)."""
        return t if self.part is None else self.part.gather(t)

    def local(self, t: torch.Tensor) -> torch.Tensor:
        """This process's rows of a tensor over the global batch (e.g. weights computed from ``gather``)."""
        return t if self.part is None else self.part.local(t)

    def process_mean(self, t: torch.Tensor) -> torch.Tensor:
        """The mean over the processes of a per-process value (no gradient), e.g. a loss normaliser."""
        return t if self.part is None else self.part.mean(t)


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
    # fetch(indices, generator=None, augment=True) -> (x, y, index): the training samples at these
    # positions on the device, augmented as a training batch (e.g. BBN's reversed-sampler batch).
    fetch: Optional[Callable[..., tuple]] = None


class Method(nn.Module):
    """Plain cross-entropy; subclasses override the hooks they need.

    ``branch_dim``: attribute tasks, the width of each attribute's own feature layer of the default head (DCL
    sec. 4.3.1); None for a method that trains multi-class tasks only.
    """

    #: the task types (``data.base.TASK_KINDS``) the method trains; build_method refuses the others
    task_kinds: Tuple[str, ...] = (MULTICLASS, ATTRIBUTES)
    #: whether N processes compute what one process computes (whatever spans the batch made global with
    #: ``Batch.gather / local / process_mean`` and tested against one process: tests/test_distributed.py,
    #: docs/distributed.md). Each class says so itself, it is not inherited: a run of N > 1 processes refuses a
    #: method that does not, rather than train something other than the method.
    multi_process: ClassVar[bool] = True
    #: the same for a detection task (SSD's loss: ``detection_loss``), also each class's own word; a distributed
    #: detection run refuses a method without it
    multi_process_detection: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.multi_process = bool(cls.__dict__.get("multi_process", False))
        cls.multi_process_detection = bool(cls.__dict__.get("multi_process_detection", False))
    #: True: the method learns from ``dataset.clean_holdout`` (``meta["clean_holdout_mask"]``) and leaves those
    #: images out of its training order (it refuses to set up without one); the config check refuses a hold-out for
    #: any other method
    uses_clean_holdout: bool = False

    def __init__(self, task: TaskInfo, *, branch_dim: Optional[int]):
        super().__init__()
        self.task = task
        self.branch_dim = branch_dim

    # -- model shape -------------------------------------------------------------------------
    def build_model(self, backbone: Backbone) -> nn.Module:
        """The model the trainer trains: the backbone and this method's head (override to reshape the backbone)."""
        return Classifier(backbone, self.build_head(backbone.feature_dim, backbone.out_channels))

    def build_head(self, in_features: int, in_channels: int) -> nn.Module:
        if self.task.is_detection:  # in_channels: one per map of a detection backbone
            from ..models.ssd import SSDHead

            return SSDHead(in_channels, self.task.num_outputs, self.task.image_shape[-1])
        if self.task.is_multiclass:
            return LinearHead(in_features, self.task.num_outputs)
        return AttributeBranches(in_features, self.task.num_outputs, int(self.branch_dim))

    # -- what trains (two-stage methods) --------------------------------------------------------
    def load_initial_weights(self, model: nn.Module, state: Dict[str, torch.Tensor]) -> List[str]:
        """``trainer.init_from``: copy the tensors of ``state`` whose name and shape match; return their names."""
        own = model.state_dict()
        matched = {k: v for k, v in state.items() if k in own and tuple(own[k].shape) == tuple(v.shape)}
        if not matched:
            raise ConfigError("trainer.init_from: no weight of that checkpoint matches this model (another backbone?)")
        own.update(matched)
        model.load_state_dict(own)
        return sorted(matched)

    def param_groups(self, model: nn.Module):
        """What the model optimizer trains: parameters, or torch param-group dicts (own lr / weight_decay)."""
        return model.parameters()

    def train_mode(self, model: nn.Module) -> None:
        """Called after every ``model.train()`` (e.g. keep a frozen backbone's BatchNorm in eval mode)."""

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
        if self.task.is_detection:
            return self.detection_loss(outputs, batch, None)
        logits = outputs["logits"]
        if self.task.is_multiclass:
            loss = F.cross_entropy(logits.float(), batch.y)
        else:
            # per-attribute binary CE (mean over the batch), summed over attributes (DCL sec. 4.3.1)
            loss = F.binary_cross_entropy_with_logits(logits.float(), batch.y, reduction="sum") / len(batch.y)
        return StepResult(loss=loss, parts={}, logits=logits)

    def detection_loss(self, outputs: Dict[str, torch.Tensor], batch: Batch, box_sigma: Optional[torch.Tensor],
                       box_ids: Optional[torch.Tensor] = None) -> StepResult:
        """SSD's multibox loss (``models/ssd.py``). ``box_sigma`` [K] (a temperature per training box, by BOX_ID; None:
        plain SSD): DP sec. 3.3, every anchor matched to a box divides its class logits by that box's sigma, every
        background anchor by the mean sigma of the batch's target boxes (``box_ids``: ``batch_box_ids(batch)`` where
        the caller has it already, so that a distributed step gathers them once).

        What spans the batch is the global batch's (docs/distributed.md): SSD eq. 1's N is its positives, and the
        background sigma the mean over its boxes; hard negatives are mined per image, already local."""
        from ..models import ssd

        matches = ssd.match(outputs["anchors"], batch.y, self.task.image_shape[-1])
        temperature = None
        if box_sigma is not None:
            temperature = anchor_temperature(matches, box_sigma, batch_box_ids(batch) if box_ids is None else box_ids)
        loss, parts = ssd.multibox_loss(outputs, matches, temperature, normaliser=positives_share(batch, ssd.positives(matches)))
        return StepResult(loss=loss, parts=parts, logits=None)

    def optimizers(self) -> List[torch.optim.Optimizer]:
        """Extra optimizers for parameters the method owns; stepped after the model's, not lr-scheduled."""
        return []

    # -- evaluation ----------------------------------------------------------------------------
    def predict(self, outputs: Dict[str, torch.Tensor]) -> torch.Tensor:
        """Scores in the dataset's label space: [B, C] class logits, [B, A] attribute logits, or [B, D, 6] detections."""
        if self.task.is_detection:
            from ..models.ssd import decode

            return decode(outputs, self.task.image_shape[-1])
        return outputs["logits"]

    # -- reporting -------------------------------------------------------------------------------
    def epoch_scalars(self) -> Dict[str, float]:
        """Per-epoch values for history.csv (scheduler values, data-parameter statistics...)."""
        return {}

    def epoch_curves(self) -> Dict[str, np.ndarray]:
        """Per-epoch arrays appended to curves/<name>.npy (one row per epoch)."""
        return {}

    def final_outputs(self, model: nn.Module) -> Dict[str, np.ndarray]:
        """Arrays saved once at the end of training in curves/.

        Multi-class with a classifier ``head.fc`` whose ``weight`` has one row per class: the training images
        per class and the L2 norm of each class's classifier weight (two-head Fig. 3, CE side).
        """
        fc = getattr(getattr(model, "head", None), "fc", None)
        weight = getattr(fc, "weight", None)
        if not self.task.is_multiclass or weight is None or weight.ndim != 2 or weight.shape[0] != self.task.num_outputs:
            return {}
        return {
            "class_train_counts": np.asarray(self.task.train_counts, dtype=np.int64),
            "classifier_weight_norm": weight.detach().float().norm(dim=1).cpu().numpy(),
        }


@METHODS.register("ce")
class CrossEntropy(Method):
    """``method=ce``: the defaults above (softmax / binary cross-entropy; SSD's multibox loss for detection)."""

    task_kinds = (MULTICLASS, ATTRIBUTES, DETECTION)
    multi_process = True  # tested on 2 processes against 1 (docs/distributed.md)
    multi_process_detection = True  # SSD's N and the background sigma are the global batch's (detection_loss)


def positives_share(batch: Batch, local: int) -> float:
    """SSD eq. 1's N for this process: max(1, the global batch's positives) / N processes (one process: max(1,
    local)). One process divides the sum over the global batch by its positives; DDP averages the N processes'
    gradients, so each divides its own sum by 1/N of that count and the average is the one-process loss."""
    if batch.part is None:
        return float(max(1, local))
    world = batch.part.procs.world
    return max(float(batch.process_mean(torch.tensor(float(local), dtype=torch.float64, device=batch.y.device))), 1.0 / world)


def batch_box_ids(batch: Batch) -> torch.Tensor:
    """The BOX_IDs of the global batch's target boxes (LABEL >= 0), gathered from every process in rank order."""
    from ..data import boxes as B

    rows = batch.gather(batch.y.detach()).reshape(-1, batch.y.shape[-1])
    return rows[:, B.BOX_ID][rows[:, B.LABEL] >= 0].long()


def anchor_temperature(matches, box_sigma: torch.Tensor, batch_ids: Optional[torch.Tensor] = None) -> torch.Tensor:
    """[B, A] per-anchor sigma (DP sec. 3.3): a matched anchor takes its box's sigma (``box_sigma`` by BOX_ID); a
    background anchor the mean sigma over the batch's target boxes (``batch_ids``, the global batch's; None: these
    images'; 1 in a batch without any)."""
    ids = torch.cat([m[2] for m in matches]) if batch_ids is None else batch_ids
    mean = box_sigma[ids].mean() if ids.numel() else box_sigma.new_ones(())
    rows = []
    for _, _, box_ids, matched in matches:
        sigma = mean.expand(len(matched)).clone()
        fg = matched >= 0
        sigma[fg] = box_sigma[box_ids[matched[fg]]]
        rows.append(sigma)
    return torch.stack(rows)


def method_class(section: Any) -> type:
    """The registered class of ``method.name``; an unknown name is one ConfigError listing the names."""
    return METHODS.lookup(section["name"], "method.name")


def check_method(section: Any) -> None:
    """``method``'s keys against its class's constructor (before any data is read; see ``sections``)."""
    sections.check(method_class(section), section, "method", f"method {section['name']}",
                   tolerated=sections.group_keys(METHODS.entries()))


def build_method(cfg: Any, task: TaskInfo) -> Method:
    """``METHODS[cfg.name](task, **cfg's other keys)``; an unknown or missing key, or a task type the method does
    not train, is one ConfigError."""
    cls = method_class(cfg)
    if task.kind not in cls.task_kinds:
        raise ConfigError(f"method={cfg['name']} trains {' and '.join(cls.task_kinds)} tasks only, and this dataset's "
                          f"task is {task.kind}: choose another method, or a {' or '.join(cls.task_kinds)} dataset")
    return sections.build(cls, cfg, "method", f"method {cfg['name']}", task, tolerated=sections.group_keys(METHODS.entries()))
