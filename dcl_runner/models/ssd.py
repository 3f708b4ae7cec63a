"""SSD's head, default boxes, matching, loss and decoding (Liu et al., "SSD: Single Shot MultiBox Detector",
ECCV 2016), built from torchvision's detection parts: ``SSDHead`` (a 3x3 class and box convolution per map),
``DefaultBoxGenerator``, ``BoxCoder`` and ``SSDMatcher``, with SSD300's settings as ``ssd300_vgg16`` sets them.

The values (``SSD300``), each SSD's own (the data-parameters paper gives none, sec. 3.3):

- default boxes: aspect ratios {1, 1', 2, 1/2} on conv4_3, conv10_2, conv11_2 and {1, 1', 2, 1/2, 3, 1/3} on the
  others, scales 0.07 ... 1.05 and steps 8 ... 300 (torchvision's ssd300_vgg16, the original SSD300 prototxt);
  steps only at 300 px (elsewhere the centres tile each map evenly);
- matching (Liu et al. sec. 2.2): every box to its best default box, then every default box to the box of
  highest Jaccard overlap above 0.5 (``SSDMatcher(0.5)``);
- box encoding: centre / size offsets with variances 0.1 / 0.2 (``BoxCoder`` weights 10, 10, 5, 5);
- loss (sec. 2.2, eq. 1): (softmax CE over the positives and the hardest negatives at 3 negatives per positive
  + smooth L1 of the positives' offsets) / number of positives;
- inference: per class, scores > 0.01, the 400 best, non-maximum suppression at IoU 0.45, 200 detections per
  image (sec. 3 and torchvision's defaults).

``multibox_loss`` takes a per-anchor temperature: the data-parameter rescaling of DP sec. 3.3 divides each anchor's
class logits by it (``methods/data_params.py`` gives it; plain SSD passes none).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from ..data import boxes as B


@dataclass(frozen=True)
class SSDSettings:
    aspect_ratios: Tuple[Tuple[int, ...], ...] = ((2,), (2, 3), (2, 3), (2, 3), (2,), (2,))
    scales: Tuple[float, ...] = (0.07, 0.15, 0.33, 0.51, 0.69, 0.87, 1.05)
    steps: Tuple[int, ...] = (8, 16, 32, 64, 100, 300)
    steps_size: int = 300            # the input size the steps are for
    iou_threshold: float = 0.5       # matching (sec. 2.2)
    box_weights: Tuple[float, ...] = (10.0, 10.0, 5.0, 5.0)
    negatives_per_positive: float = 3.0  # hard negative mining (sec. 2.2)
    score_threshold: float = 0.01
    candidates: int = 400
    nms_threshold: float = 0.45
    detections: int = 200


SSD300 = SSDSettings()


class SSDHead(nn.Module):
    """Class and box predictions on every map, and the default boxes: ``forward(features, feature_map)`` (the
    ``Classifier`` seam; ``feature_map`` is the backbone's tuple of maps) returns ``cls_logits`` [B, A, C + 1]
    (background first), ``bbox_regression`` [B, A, 4] and ``anchors`` [A, 4] (x1 y1 x2 y2, input pixels)."""

    def __init__(self, in_channels: Sequence[int], num_classes: int, image_size: int, settings: SSDSettings = SSD300):
        super().__init__()
        from torchvision.models.detection.anchor_utils import DefaultBoxGenerator
        from torchvision.models.detection.ssd import SSDHead as TorchvisionSSDHead

        channels = list(in_channels)
        ratios = [list(r) for r in settings.aspect_ratios]
        if len(channels) != len(ratios):
            raise ValueError(f"SSD head: {len(channels)} feature maps, {len(ratios)} aspect-ratio sets")
        steps = list(settings.steps) if int(image_size) == settings.steps_size else None
        self.generator = DefaultBoxGenerator(ratios, scales=list(settings.scales), steps=steps)
        self.head = TorchvisionSSDHead(channels, self.generator.num_anchors_per_location(), num_classes + 1)
        self.image_size = int(image_size)
        self._anchors: Dict[Tuple, torch.Tensor] = {}

    def anchors(self, maps: Sequence[torch.Tensor]) -> torch.Tensor:
        from torchvision.models.detection.image_list import ImageList

        grids = tuple(tuple(int(s) for s in m.shape[-2:]) for m in maps)
        key = (grids, maps[0].device)
        if key not in self._anchors:  # in float32 whatever the maps' precision (bf16 would move centres by pixels)
            size, device = self.image_size, maps[0].device
            frame = ImageList(torch.empty((0, 0, size, size), device=device), [(size, size)])
            shapes = [torch.empty((0, 0, *grid), device=device) for grid in grids]
            self._anchors[key] = self.generator(frame, shapes)[0]
        return self._anchors[key]

    def forward(self, features, feature_map) -> Dict[str, torch.Tensor]:
        maps = list(feature_map)
        out = self.head(maps)
        out["anchors"] = self.anchors(maps)
        return out


def image_targets(rows: torch.Tensor, image_size: int) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One image's training boxes (LABEL >= 0) as (boxes [k, 4] in input pixels, labels [k] 1-based, box ids [k])."""
    rows = rows[rows[:, B.LABEL] >= 0]
    scale = torch.stack([image_size / rows[:, B.IMAGE_W], image_size / rows[:, B.IMAGE_H]] * 2, dim=1)
    boxes = rows[:, [B.X1, B.Y1, B.X2, B.Y2]] * scale
    return boxes, rows[:, B.LABEL].long() + 1, rows[:, B.BOX_ID].long()


def match(anchors: torch.Tensor, targets: torch.Tensor, image_size: int, settings: SSDSettings = SSD300) -> List[tuple]:
    """Per image (boxes, labels, box ids, matched [A]: the matched box's position or -1 for background)."""
    from torchvision.models.detection._utils import SSDMatcher
    from torchvision.ops import box_iou

    matcher = SSDMatcher(settings.iou_threshold)
    out = []
    for rows in targets:
        boxes, labels, ids = image_targets(rows, image_size)
        if len(boxes) == 0:
            matched = torch.full((len(anchors),), -1, dtype=torch.long, device=anchors.device)
        else:
            matched = matcher(box_iou(boxes, anchors))
        out.append((boxes, labels, ids, matched))
    return out


def positives(matches: List[tuple]) -> int:
    """The matched (positive) anchors of these images: SSD eq. 1's N over them."""
    return sum(int((m[3] >= 0).sum()) for m in matches)


def multibox_loss(outputs: Dict[str, torch.Tensor], matches: List[tuple], temperature: Optional[torch.Tensor] = None,
                  settings: SSDSettings = SSD300, normaliser: Optional[float] = None
                  ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
    """SSD eq. 1: (L_conf + L_loc) / N over the positives and the hardest negatives (3 per positive, by their loss,
    mined per image); ``temperature`` [B, A] divides every anchor's class logits first (DP sec. 3.3), None: 1.
    ``normaliser``: the N to divide by (a distributed run's share of the global batch's, ``Method.detection_loss``);
    None: max(1, positives of these images)."""
    from torchvision.models.detection._utils import BoxCoder

    coder = BoxCoder(weights=settings.box_weights)
    logits, regression, anchors = outputs["cls_logits"].float(), outputs["bbox_regression"].float(), outputs["anchors"]
    class_targets, box_losses, positives = [], [], 0
    for b, (boxes, labels, _, matched) in enumerate(matches):
        fg = torch.nonzero(matched >= 0).flatten()
        positives += fg.numel()
        target = torch.zeros(len(anchors), dtype=torch.long, device=anchors.device)
        target[fg] = labels[matched[fg]]
        class_targets.append(target)
        encoded = coder.encode_single(boxes[matched[fg]], anchors[fg])
        box_losses.append(F.smooth_l1_loss(regression[b, fg], encoded, reduction="sum"))
    class_target = torch.stack(class_targets)
    if temperature is not None:
        logits = logits / temperature.unsqueeze(-1)
    conf = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), class_target.reshape(-1), reduction="none").view(class_target.shape)
    foreground = class_target > 0
    wanted = settings.negatives_per_positive * foreground.sum(1, keepdim=True)
    negative = conf.detach().masked_fill(foreground, -float("inf"))
    rank = negative.sort(1, descending=True)[1].sort(1)[1]
    background = rank < wanted
    n = max(1, positives) if normaliser is None else normaliser
    conf_loss = (conf[foreground].sum() + conf[background].sum()) / n
    box_loss = torch.stack(box_losses).sum() / n
    return conf_loss + box_loss, {"loss_conf": conf_loss.detach(), "loss_loc": box_loss.detach(),
                                  "positives_per_image": torch.tensor(positives / max(1, len(matches)))}


@torch.no_grad()
def decode(outputs: Dict[str, torch.Tensor], image_size: int, settings: SSDSettings = SSD300) -> torch.Tensor:
    """Detections [B, D, 6] (``boxes.PRED_COLUMNS``: boxes normalised to [0, 1], score, 0-based class; label -1
    pads), D = ``settings.detections``: per class scores > threshold, the best candidates, NMS, the best D."""
    from torchvision.models.detection._utils import BoxCoder
    from torchvision.ops import batched_nms, clip_boxes_to_image

    coder = BoxCoder(weights=settings.box_weights)
    scores_all = F.softmax(outputs["cls_logits"].float(), dim=-1)
    regression, anchors = outputs["bbox_regression"].float(), outputs["anchors"]
    out = torch.zeros(len(scores_all), settings.detections, 6, device=anchors.device)
    out[:, :, 5] = -1
    for b in range(len(scores_all)):
        boxes = clip_boxes_to_image(coder.decode_single(regression[b], anchors), (image_size, image_size))
        kept_boxes, kept_scores, kept_labels = [], [], []
        for label in range(1, scores_all.shape[-1]):
            score = scores_all[b, :, label]
            keep = torch.nonzero(score > settings.score_threshold).flatten()
            top = score[keep].topk(min(settings.candidates, keep.numel())).indices
            keep = keep[top]
            kept_boxes.append(boxes[keep])
            kept_scores.append(score[keep])
            kept_labels.append(torch.full_like(keep, label - 1))
        boxes_b, scores_b, labels_b = torch.cat(kept_boxes), torch.cat(kept_scores), torch.cat(kept_labels)
        keep = batched_nms(boxes_b, scores_b, labels_b, settings.nms_threshold)[: settings.detections]
        k = keep.numel()
        out[b, :k, :4] = boxes_b[keep] / image_size
        out[b, :k, 4] = scores_b[keep]
        out[b, :k, 5] = labels_b[keep].float()
    return out
