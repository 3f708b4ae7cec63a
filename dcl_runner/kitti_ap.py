"""KITTI's 2D detection average precision, as the benchmark's devkit computes it (evaluate_object.cpp of
devkit_object; the same rules as its Python ports in second.pytorch / OpenPCDet's kitti_common eval).

Per class and difficulty regime (``DIFFICULTIES``: KITTI's easy / moderate / hard, cumulative):

- ground truth of the class whose occlusion > max occlusion, truncation > max truncation or pixel height
  <= min height is *ignored* (neither a hit nor a miss; a detection matched to it is not a false positive);
  so is a box of the neighbouring class (Van for Car, Person_sitting for Pedestrian: ``boxes.NEIGHBOURS``);
  boxes of every other type play no part;
- a detection lower than the min height (pixels) is ignored; one that overlaps a DontCare region by more than
  the class's min overlap (intersection over the *detection's* area) and matched nothing is not a false positive;
- a ground-truth box is matched to the unassigned detection of greatest IoU above the class's min overlap
  (``MIN_OVERLAP``: 0.7 car, 0.5 pedestrian / cyclist);
- score thresholds: the scores of the true positives at threshold 0, thinned to about one per recall step of
  1/40 (the devkit's getThresholds); precision at each threshold, then made monotone (max over the higher
  recalls), on 41 positions (zeros past the last threshold);
- AP, 11-point (the devkit until 8 Oct 2019): the mean of precision at positions 0, 4, ..., 40 (recall 0, 0.1, ...,
  1); 40-point (``ap_points=40``, the devkit since, after Simonelli et al. ICCV 2019): the mean at positions 1..40
  (recall 0 excluded). Times 100.

A regime without any non-ignored ground truth of the class has no AP (None). Boxes are in pixels.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .data import boxes as B

# name -> (min box height in pixels, max occlusion level, max truncation): evaluate_object.cpp MIN_HEIGHT,
# MAX_OCCLUSION, MAX_TRUNCATION
DIFFICULTIES: Dict[str, Tuple[float, int, float]] = {
    "easy": (40.0, 0, 0.15),
    "moderate": (25.0, 1, 0.30),
    "hard": (25.0, 2, 0.50),
}
# evaluate_object.cpp MIN_OVERLAP[0] (2D boxes): car, pedestrian, cyclist, van, truck, person_sitting, tram
MIN_OVERLAP = {"Car": 0.7, "Pedestrian": 0.5, "Cyclist": 0.5, "Van": 0.7, "Truck": 0.7, "Person_sitting": 0.5,
               "Tram": 0.7, "Misc": 0.7}
SAMPLE_POINTS = 41  # evaluate_object.cpp N_SAMPLE_PTS
AP_POINTS = {11: "11-point: recall 0, 0.1, ..., 1 (KITTI until Oct 2019)", 40: "40-point: recall 1/40 .. 1 (KITTI since)"}


@dataclass
class ImageBoxes:
    """One image, one class, one regime: ground truth with its ignore flag (0 counts, 1 ignored), DontCare regions,
    detections with their scores and ignore flag (0 counts, 1 ignored: too small)."""

    gt: np.ndarray            # [g, 4] x1 y1 x2 y2
    gt_ignored: np.ndarray    # [g] 0 / 1
    dontcare: np.ndarray      # [d, 4]
    det: np.ndarray           # [k, 4]
    det_score: np.ndarray     # [k]
    det_ignored: np.ndarray   # [k] 0 / 1
    overlap: Optional[np.ndarray] = None      # [k, g] IoU, computed once
    in_dontcare: Optional[np.ndarray] = None  # [k] inside a DontCare region, computed once


def box_overlap(a: np.ndarray, b: np.ndarray, over_first: bool = False) -> np.ndarray:
    """[len(a), len(b)] IoU, or intersection over the area of a's box (``over_first``: the devkit's criterion 0)."""
    a, b = np.asarray(a, dtype=np.float64).reshape(-1, 4), np.asarray(b, dtype=np.float64).reshape(-1, 4)
    w = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    h = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = np.where((w > 0) & (h > 0), w * h, 0.0)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    denominator = area_a[:, None] if over_first else area_a[:, None] + area_b[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, inter / np.where(denominator > 0, denominator, 1.0), 0.0)


def image_boxes(gt_rows: np.ndarray, detections: np.ndarray, class_name: str, class_label: int,
                regime: str) -> ImageBoxes:
    """The devkit's cleanData for one image: ``gt_rows`` are its box rows (``boxes.COLUMNS``, pixels, padding
    dropped), ``detections`` [k, 6] its detections (``boxes.PRED_COLUMNS``, pixels) of any class."""
    min_height, max_occlusion, max_truncation = DIFFICULTIES[regime]
    types = gt_rows[:, B.TYPE].astype(int)
    own, neighbour = B.type_position(class_name), B.NEIGHBOURS.get(class_name)
    is_own = types == own
    is_neighbour = types == B.type_position(neighbour) if neighbour else np.zeros_like(is_own)
    height = gt_rows[:, B.Y2] - gt_rows[:, B.Y1]
    hard = (gt_rows[:, B.OCCLUSION] > max_occlusion) | (gt_rows[:, B.TRUNCATION] > max_truncation) | (height <= min_height)
    keep = is_own | is_neighbour
    counted = is_own & ~hard
    det = detections[detections[:, 5] == class_label]
    det_height = np.abs(det[:, 3] - det[:, 1])
    return ImageBoxes(
        gt=gt_rows[keep][:, [B.X1, B.Y1, B.X2, B.Y2]], gt_ignored=(~counted[keep]).astype(int),
        dontcare=gt_rows[types == B.type_position("DontCare")][:, [B.X1, B.Y1, B.X2, B.Y2]],
        det=det[:, :4], det_score=det[:, 4], det_ignored=(det_height < min_height).astype(int),
    )


def statistics(image: ImageBoxes, min_overlap: float, threshold: float, compute_fp: bool) -> Tuple[int, int, int, List[float]]:
    """The devkit's computeStatistics: (tp, fp, fn, scores of the true positives). Ground truth is matched in order;
    for each, among the unassigned detections above ``threshold`` overlapping it by more than ``min_overlap``: the
    highest-scoring one (``compute_fp`` False, for the thresholds), else the one of greatest IoU among those not
    ignored, or failing that the first ignored (too small) one."""
    if image.overlap is None:
        image.overlap = box_overlap(image.det, image.gt)  # [k, g]
    overlap = image.overlap
    below = image.det_score < threshold
    assigned = np.zeros(len(image.det), dtype=bool)
    tp = fn = 0
    scores: List[float] = []
    for i in range(len(image.gt)):
        candidate = ~assigned & ~below & (overlap[:, i] > min_overlap)
        best = -1
        if candidate.any():
            if not compute_fp:
                best = int(np.argmax(np.where(candidate, image.det_score, -np.inf)))
            elif (candidate & (image.det_ignored == 0)).any():
                best = int(np.argmax(np.where(candidate & (image.det_ignored == 0), overlap[:, i], -1.0)))
            else:
                best = int(np.flatnonzero(candidate)[0])
        if best < 0:
            fn += int(image.gt_ignored[i] == 0)
        elif image.gt_ignored[i] == 1 or image.det_ignored[best] == 1:
            assigned[best] = True  # matched to ignored ground truth or an ignored (small) detection: neither
        else:
            tp += 1
            scores.append(float(image.det_score[best]))
            assigned[best] = True
    fp = 0
    if compute_fp:
        unmatched = ~assigned & ~below & (image.det_ignored == 0)
        fp = int(unmatched.sum())
        if len(image.dontcare) and unmatched.any():  # detections in DontCare regions are not false positives
            if image.in_dontcare is None:
                image.in_dontcare = (box_overlap(image.det, image.dontcare, over_first=True) > min_overlap).any(axis=1)
            fp -= int((unmatched & image.in_dontcare).sum())
    return tp, fp, fn, scores


def thresholds_of(scores: Sequence[float], num_gt: int) -> List[float]:
    """The devkit's getThresholds: true-positive scores, descending, one per recall step of 1/(SAMPLE_POINTS - 1)."""
    ordered = sorted(scores, reverse=True)
    chosen, current = [], 0.0
    for i, score in enumerate(ordered):
        left = (i + 1) / num_gt
        right = (i + 2) / num_gt if i < len(ordered) - 1 else left
        if (right - current) < (current - left) and i < len(ordered) - 1:
            continue
        chosen.append(score)
        current += 1.0 / (SAMPLE_POINTS - 1.0)
    return chosen


def precision_curve(images: Sequence[ImageBoxes], min_overlap: float) -> Optional[np.ndarray]:
    """The monotone precision at SAMPLE_POINTS positions (the devkit's eval_class); None without ground truth."""
    num_gt = sum(int((im.gt_ignored == 0).sum()) for im in images)
    if num_gt == 0:
        return None
    scores = [s for im in images for s in statistics(im, min_overlap, 0.0, compute_fp=False)[3]]
    precision = np.zeros(SAMPLE_POINTS)
    known: Dict[Tuple[int, int], Tuple[int, int]] = {}  # (image, detections at or above the threshold) -> (tp, fp)
    for t, threshold in enumerate(thresholds_of(scores, num_gt)):
        tp = fp = 0
        for n, im in enumerate(images):
            key = (n, int((im.det_score >= threshold).sum()))  # the outcome depends on that set only
            if key not in known:
                known[key] = statistics(im, min_overlap, threshold, compute_fp=True)[:2]
            tp, fp = tp + known[key][0], fp + known[key][1]
        precision[t] = tp / (tp + fp) if tp + fp else 0.0
    return np.maximum.accumulate(precision[::-1])[::-1]


def average_precision(precision: np.ndarray, points: int) -> float:
    """11-point: positions 0, 4, ..., 40; 40-point: positions 1..40 (module docstring), in %."""
    if points == 11:
        return float(precision[0:SAMPLE_POINTS:4].sum() / 11 * 100)
    if points == 40:
        return float(precision[1:SAMPLE_POINTS].sum() / 40 * 100)
    raise ValueError(f"ap_points={points}: expected one of {sorted(AP_POINTS)}")


def to_pixels(detections: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Detections with normalised boxes (``boxes.PRED_COLUMNS``) in the pixels of their image (size from its rows)."""
    out = np.array(detections, dtype=np.float64, copy=True)
    width, height = float(rows[0, B.IMAGE_W]), float(rows[0, B.IMAGE_H])
    out[:, [0, 2]] *= width
    out[:, [1, 3]] *= height
    return out


def kitti_ap(detections: np.ndarray, targets: np.ndarray, names: Sequence[str], points: int = 11) -> Dict[str, Dict[str, Optional[float]]]:
    """{class: {regime: AP %}} for ``detections`` [N, D, 6] (normalised boxes, score, label; label < 0: padding) and
    ``targets`` [N, M, len(boxes.COLUMNS)] (pixel boxes) of the same N images."""
    detections, targets = np.asarray(detections, dtype=np.float64), np.asarray(targets, dtype=np.float64)
    if points not in AP_POINTS:
        raise ValueError(f"ap_points={points}: expected one of {sorted(AP_POINTS)}")
    per_image = []
    for det, rows in zip(detections, targets):
        pixels = to_pixels(det[det[:, 5] >= 0], rows)
        per_image.append((rows[rows[:, B.TYPE] >= 0], pixels))
    out: Dict[str, Dict[str, Optional[float]]] = {}
    for label, name in enumerate(names):
        out[name] = {}
        for regime in DIFFICULTIES:
            images = [image_boxes(rows, pixels, name, label, regime) for rows, pixels in per_image]
            curve = precision_curve(images, MIN_OVERLAP[name])
            out[name][regime] = None if curve is None else average_precision(curve, points)
    return out


def detection_metrics(detections: np.ndarray, targets: np.ndarray, names: Sequence[str], points: int = 11) -> Dict:
    """metrics.json's detection metrics: ``ap_easy`` / ``ap_moderate`` / ``ap_hard`` of the first class (the headline
    class, Car by default), ``ap_points`` and ``ap`` {class: {regime: AP}} for every class."""
    per_class = kitti_ap(detections, targets, names, points)
    first = per_class[names[0]]
    return {**{f"ap_{regime}": first[regime] for regime in DIFFICULTIES}, "ap_points": int(points),
            "ap_class": names[0], "ap": per_class}
