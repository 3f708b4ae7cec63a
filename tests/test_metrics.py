import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score

from dcl_runner.metrics import attribute_metrics, multiclass_metrics


def test_mA_matches_sklearn_balanced_accuracy_per_attribute():
    rng = np.random.default_rng(0)
    targets = (rng.random((300, 5)) < [0.5, 0.2, 0.05, 0.9, 0.3]).astype(np.uint8)
    scores = rng.normal(size=(300, 5)) + 1.5 * (targets - 0.5)
    out = attribute_metrics(scores, targets, list("abcde"))
    expected = [balanced_accuracy_score(targets[:, k], scores[:, k] > 0) * 100 for k in range(5)]
    assert [out["per_attribute_mA"][n] for n in "abcde"] == pytest.approx(expected)
    assert out["mA"] == pytest.approx(np.mean(expected))


def test_attribute_without_positives_uses_the_recall_that_exists():
    targets = np.array([[0, 1], [0, 0], [0, 1], [0, 0]], dtype=np.uint8)
    scores = np.array([[-1, 1], [1, -1], [-1, -1], [-1, -1]], dtype=float)
    out = attribute_metrics(scores, targets, ["none_positive", "b"])
    assert out["per_attribute_mA"]["none_positive"] == pytest.approx(75.0)  # TN/N only: 3 of 4
    assert out["per_attribute_mA"]["b"] == pytest.approx(75.0)  # (1/2 + 2/2) / 2
    assert out["per_attribute_tpr"]["none_positive"] is None
    assert not np.isnan(out["mA"])


def test_instance_metrics_on_a_hand_example():
    targets = np.array([[1, 1, 0], [0, 0, 0], [1, 0, 0]], dtype=np.uint8)
    scores = np.array([[1, -1, 1], [-1, -1, -1], [-1, -1, -1]], dtype=float)
    out = attribute_metrics(scores, targets, list("xyz"))
    # image 1: inter 1, union 3, pred 2, gt 2; image 2: all empty (1, 1, 1); image 3: pred empty, gt 1
    assert out["instance_accuracy"] == pytest.approx((1 / 3 + 1 + 0) / 3 * 100)
    assert out["instance_precision"] == pytest.approx((1 / 2 + 1 + 1) / 3 * 100)
    assert out["instance_recall"] == pytest.approx((1 / 2 + 1 + 0) / 3 * 100)
    p, r = (1 / 2 + 2) / 3, 1.5 / 3
    assert out["instance_f1"] == pytest.approx(2 * p * r / (p + r) * 100)


def test_multiclass_metrics_and_shot_groups():
    targets = np.array([0, 0, 1, 1, 2, 2, 2, 2])
    pred = np.array([0, 1, 1, 1, 2, 0, 0, 0])
    scores = np.eye(3)[pred]
    out = multiclass_metrics(scores, targets, ["head", "mid", "tail"], np.array([500, 50, 5]))
    assert out["top1"] == pytest.approx(4 / 8 * 100)
    assert out["per_class_recall"] == {"head": 50.0, "mid": 100.0, "tail": 25.0}
    assert out["mean_class_recall"] == pytest.approx((50 + 100 + 25) / 3)
    assert (out["many_shot"], out["medium_shot"], out["few_shot"]) == (50.0, 100.0, 25.0)


def test_class_absent_from_the_evaluated_set_is_left_out():
    out = multiclass_metrics(np.eye(3)[[0, 1]], np.array([0, 1]), ["a", "b", "c"], np.array([10, 10, 10]))
    assert out["per_class_recall"]["c"] is None
    assert out["mean_class_recall"] == 100.0
