"""KITTI's 2D AP (dcl_runner/kitti_ap.py) against values worked out by hand from the devkit's rules
(evaluate_object.cpp: cleanData, computeStatistics, getThresholds, eval_class; 11-point = positions 0, 4, ..., 40
of the 41-position precision, 40-point = positions 1..40)."""
import numpy as np
import pytest

from dcl_runner import kitti_ap as K
from dcl_runner.data import boxes as B

CAR, VAN, DONTCARE = B.type_position("Car"), B.type_position("Van"), B.type_position("DontCare")


def rows(objects, size):
    """Box rows of one image from (type, x1, y1, x2, y2, truncation, occlusion)."""
    out = np.zeros((len(objects), len(B.COLUMNS)), dtype=np.float32)
    for k, (kind, x1, y1, x2, y2, trunc, occ) in enumerate(objects):
        out[k, [B.TYPE, B.LABEL, B.X1, B.Y1, B.X2, B.Y2, B.TRUNCATION, B.OCCLUSION]] = (
            kind, 0 if kind == CAR else -1, x1, y1, x2, y2, trunc, occ)
    return out


def detections(boxes_scores, size, slots=12):
    """[slots, 6] normalised detections of class 0 (car) from (x1, y1, x2, y2, score) in pixels; -1 pads."""
    out = np.zeros((slots, 6))
    out[:, 5] = -1
    for k, (x1, y1, x2, y2, score) in enumerate(boxes_scores):
        out[k] = (x1 / size[0], y1 / size[1], x2 / size[0], y2 / size[1], score, 0)
    return out


def table(images, sizes):
    return B.with_image_size(B.box_table(images), np.asarray(sizes))


# Two 100 x 100 images (hand computation in the docstring of test_regimes_neighbours_dontcare_and_small_boxes)
IMAGE1 = [(CAR, 10, 10, 60, 60, 0.0, 0), (CAR, 60, 20, 90, 50, 0.2, 1), (VAN, 0, 60, 40, 95, 0.0, 0),
          (DONTCARE, 70, 60, 100, 100, -1, -1)]
DETS1 = [(10, 10, 60, 60, 0.9), (60, 20, 90, 50, 0.8), (0, 60, 40, 95, 0.7), (72, 62, 98, 98, 0.6),
         (20, 70, 35, 90, 0.5), (30, 5, 50, 45, 0.4)]
IMAGE2 = [(CAR, 10, 10, 50, 70, 0.0, 2)]
DETS2 = [(10, 10, 50, 70, 0.3), (60, 60, 90, 90, 0.95)]


def test_regimes_neighbours_dontcare_and_small_boxes():
    """Image 1: car1 (h 50, visible) counts everywhere; car2 (h 30, occlusion 1, truncation 0.2) is ignored in easy
    (h <= 40, occluded); the van is Car's neighbour (ignored; d3 on it is neither TP nor FP); d4 lies in the DontCare
    region (intersection / its area = 1 > 0.7: no FP); d5 is 20 px high (< 25: ignored); d6 (IoU 0.27 with car1) is
    an FP. Image 2: car3 (occlusion 2) counts in hard only; d8 (h 30) is ignored in easy, an FP elsewhere.
    easy:     n_gt 1, TP scores [0.9] -> thresholds [0.9]: tp 1 fp 0 -> P = [1, 0, ...]
              AP11 = 1/11 = 9.0909, AP40 = 0.
    moderate: n_gt 2, TP scores [0.9, 0.8] -> thresholds [0.9, 0.8]: (tp 1, fp 1 (d8)) 1/2, (2, 1) 2/3
              -> monotone [2/3, 2/3, 0, ...]: AP11 = (2/3)/11 = 6.0606, AP40 = (2/3)/40 = 1.6667.
    hard:     n_gt 3, TP scores [0.9, 0.8, 0.3] -> thresholds all three: 1/2, 2/3, (3 TP, FP d6 + d8) 3/5
              -> monotone [2/3, 2/3, 3/5, 0, ...]: AP11 = 6.0606, AP40 = (2/3 + 3/5)/40 = 3.1667."""
    sizes = [(100, 100), (100, 100)]
    targets = table([rows(IMAGE1, sizes[0]), rows(IMAGE2, sizes[1])], sizes)
    dets = np.stack([detections(DETS1, sizes[0]), detections(DETS2, sizes[1])])
    ap11 = K.kitti_ap(dets, targets, ["Car"], points=11)["Car"]
    ap40 = K.kitti_ap(dets, targets, ["Car"], points=40)["Car"]
    assert ap11 == pytest.approx({"easy": 100 / 11, "moderate": 200 / 3 / 11, "hard": 200 / 3 / 11})
    assert ap40 == pytest.approx({"easy": 0.0, "moderate": 200 / 3 / 40, "hard": (2 / 3 + 3 / 5) * 100 / 40})


def test_precision_at_the_devkits_recall_positions():
    """Ten visible cars found with scores 0.90, 0.85, ..., 0.45 and two false positives at 0.875 and 0.625:
    every TP score is a threshold (n_gt 10 < 40), precision 1, 2/3, 3/4, 4/5, 5/6, 6/7, 7/9, 8/10, 9/11, 10/12,
    monotone 1, 6/7 (x5), 5/6 (x4). AP11 = (1 + 6/7 + 5/6) / 11 = 24.4589; AP40 = (5 * 6/7 + 4 * 5/6) / 40 = 19.0476."""
    size = (1000, 100)
    cars = [(CAR, 100 * k + 10, 10, 100 * k + 60, 70, 0.0, 0) for k in range(10)]
    found = [(100 * k + 10, 10, 100 * k + 60, 70, 0.90 - 0.05 * k) for k in range(10)]
    false = [(970, 10, 995, 70, 0.875), (962, 20, 999, 80, 0.625)]
    targets = table([rows(cars, size)], [size])
    dets = detections(found + false, size)[None]
    assert K.kitti_ap(dets, targets, ["Car"], 11)["Car"]["easy"] == pytest.approx((1 + 6 / 7 + 5 / 6) / 11 * 100)
    assert K.kitti_ap(dets, targets, ["Car"], 40)["Car"]["easy"] == pytest.approx((5 * 6 / 7 + 4 * 5 / 6) / 40 * 100)


def test_thresholds_one_per_recall_step_of_a_fortieth():
    """80 ground truth boxes, 80 TP scores: recall moves 1/80 per score, so every other score is a threshold."""
    scores = [1 - k / 100 for k in range(80)]
    chosen = K.thresholds_of(scores, 80)
    assert len(chosen) == 41 and chosen[0] == scores[0] and chosen[1] == scores[1] and chosen[2] == scores[3]


def test_overlap_criteria():
    a, b = np.array([[0, 0, 10, 10]]), np.array([[5, 0, 15, 10]])
    assert K.box_overlap(a, b)[0, 0] == pytest.approx(50 / 150)
    assert K.box_overlap(a, b, over_first=True)[0, 0] == pytest.approx(0.5)


def test_no_ground_truth_in_a_regime_gives_no_ap_and_points_are_checked():
    size = (100, 100)
    targets = table([rows([(CAR, 10, 10, 60, 30, 0.0, 3)], size)], [size])  # occlusion 3 (unknown): ignored in all
    result = K.detection_metrics(detections([(10, 10, 60, 30, 0.9)], size)[None], targets, ["Car"])
    assert result["ap_easy"] is None and result["ap_moderate"] is None and result["ap_points"] == 11
    with pytest.raises(ValueError, match="ap_points=20"):
        K.kitti_ap(np.zeros((1, 1, 6)), targets, ["Car"], points=20)
