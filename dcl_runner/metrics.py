"""Evaluation metrics for the three task types; :func:`evaluate` picks the task's.

Multi-attribute (DCL sec. 4.2): per-attribute class-balanced accuracy mA_i = (TP_i/P_i + TN_i/N_i)/2
(DCL eq. 12) and its mean mA (DCL eq. 13); and the instance-based accuracy / precision / recall / F1
of pedestrian-attribute work (Li et al. 2016): per image, |pred & gt| / |pred | gt|, |pred & gt| / |pred|,
|pred & gt| / |gt|, averaged over images, F1 = 2PR / (P + R) of those means.

Rules for empty sets (so no metric is ever NaN):
- an attribute with no positives (or no negatives) in the evaluated set: mA_i is the recall of the
  class that is present (the mean of the defined recalls, as scikit-learn's balanced accuracy does);
- an image with an empty predicted set or empty ground-truth set: 0/0 counts as 1 (perfect
  agreement on "nothing"), x/0 cannot occur since the intersection is then empty too.

Multi-class: top-1, per-class recall, mean per-class recall (over classes present in the evaluated
set) and many / medium / few-shot accuracy (classes with > 100, 20..100, < 20 training images,
as in Liu et al. 2019), each the mean recall over the group's classes present in the evaluated set.

Detection: KITTI's 2D AP per difficulty regime (``kitti_ap``), 11- or 40-point (``DataBundle.meta['ap_points']``).
"""
from __future__ import annotations

from typing import Dict, Sequence

import numpy as np

MANY_SHOT = 100
FEW_SHOT = 20


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num/den with 0/0 = 1."""
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    out = np.ones_like(num)
    nz = den > 0
    out[nz] = num[nz] / den[nz]
    return out


def attribute_metrics(scores: np.ndarray, targets: np.ndarray, names: Sequence[str]) -> Dict:
    """``scores`` [N, A] logits (positive if > 0), ``targets`` [N, A] in {0, 1}."""
    pred = np.asarray(scores) > 0
    gt = np.asarray(targets).astype(bool)
    tp = (pred & gt).sum(0)
    tn = (~pred & ~gt).sum(0)
    pos = gt.sum(0)
    neg = (~gt).sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        tpr = np.where(pos > 0, tp / np.maximum(pos, 1), np.nan)
        tnr = np.where(neg > 0, tn / np.maximum(neg, 1), np.nan)
    per_attr = np.nanmean(np.stack([tpr, tnr]), axis=0)  # both present: (TPR + TNR) / 2 (eq. 12)
    inter = (pred & gt).sum(1)
    union = (pred | gt).sum(1)
    precision = float(_ratio(inter, pred.sum(1)).mean())
    recall = float(_ratio(inter, gt.sum(1)).mean())
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return {
        "mA": float(per_attr.mean() * 100),  # eq. 13
        "instance_accuracy": float(_ratio(inter, union).mean() * 100),
        "instance_precision": precision * 100,
        "instance_recall": recall * 100,
        "instance_f1": f1 * 100,
        "per_attribute_mA": {n: float(v * 100) for n, v in zip(names, per_attr)},
        "per_attribute_tpr": {n: (None if np.isnan(v) else float(v * 100)) for n, v in zip(names, tpr)},
        "per_attribute_tnr": {n: (None if np.isnan(v) else float(v * 100)) for n, v in zip(names, tnr)},
    }


def multiclass_metrics(scores: np.ndarray, targets: np.ndarray, names: Sequence[str], train_counts: np.ndarray) -> Dict:
    """``scores`` [N, C], ``targets`` [N] class ids, ``train_counts`` [C] training images per class."""
    targets = np.asarray(targets)
    pred = np.asarray(scores).argmax(1)
    num_classes = len(names)
    support = np.bincount(targets, minlength=num_classes)
    hits = np.bincount(targets[pred == targets], minlength=num_classes)
    present = support > 0
    recall = np.full(num_classes, np.nan)
    recall[present] = hits[present] / support[present]
    counts = np.asarray(train_counts)
    groups = {"many": counts > MANY_SHOT, "medium": (counts >= FEW_SHOT) & (counts <= MANY_SHOT), "few": counts < FEW_SHOT}
    out = {
        "top1": float((pred == targets).mean() * 100),
        "mean_class_recall": float(np.nanmean(recall) * 100),
        "per_class_recall": {n: (None if np.isnan(r) else float(r * 100)) for n, r in zip(names, recall)},
    }
    for group, mask in groups.items():
        sel = mask & present
        out[f"{group}_shot"] = float(np.mean(recall[sel]) * 100) if sel.any() else None
        out[f"{group}_classes"] = int(mask.sum())
    return out


def evaluate(task, scores: np.ndarray, targets: np.ndarray, meta: Dict) -> Dict:
    """The task type's metrics of evaluation ``scores`` (what ``Method.predict`` gave, stacked) against ``targets``:
    multi-class, attributes (with ``group_mA`` where ``meta['attribute_groups']`` names groups) or detection."""
    if task.kind == "detection":
        from .kitti_ap import detection_metrics

        return detection_metrics(scores, targets, task.names, int(meta.get("ap_points", 11)))
    if task.kind == "multiclass":
        return multiclass_metrics(scores, targets, task.names, task.train_counts)
    result = attribute_metrics(scores, targets, task.names)
    groups = meta.get("attribute_groups")
    if groups:
        per = result["per_attribute_mA"]
        result["group_mA"] = {g: float(np.mean([per[a] for a in names])) for g, names in groups.items() if names}
    return result


HEADLINES = {"attributes": "mA", "multiclass": "top1", "detection": "ap_moderate"}  # KITTI ranks by moderate


def headline(metrics: Dict, kind: str) -> str:
    """The name of the headline metric of a task type."""
    return HEADLINES.get(kind, "top1")
