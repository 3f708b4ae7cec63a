"""LMLE (Huang et al., CVPR 2016) and CLMLE (Huang et al., TPAMI 2019): the clusters, the quintuplets, the
triple-header hinge (LMLE eq. 1), CLMLE's cluster margin softmax and the cluster-wise kNN against hand-worked cases;
slow: both beat CE's few-shot recall on long-tailed digits."""
import json
import math
import time

import numpy as np
import pytest
import torch

from dcl_runner.data.base import MULTICLASS, TaskInfo
from dcl_runner.errors import ConfigError
from dcl_runner.methods.base import build_method
from dcl_runner.methods.clmle import angular_distances, cluster_margin_softmax
from dcl_runner.methods.lmle import quintuplet_partners, triple_header_hinge
from dcl_runner.methods.local_embedding import ABSENT, UNANIMOUS, cluster_knn_scores, cluster_tasks, kmeans
from dcl_runner.train import run_experiment
from helpers import SLOW_DIGITS, SLOW_SEEDS, compose


def test_kmeans_splits_two_far_groups_at_their_means():
    x = torch.tensor([[0.0], [0.1], [10.0], [10.1], [10.2]])
    assign, centroids = kmeans(x, 2, torch.Generator().manual_seed(0), iters=10)
    assert assign[0] == assign[1] != assign[2] == assign[3] == assign[4]
    torch.testing.assert_close(centroids[assign[0]], torch.tensor([0.05]))
    torch.testing.assert_close(centroids[assign[2]], torch.tensor([10.1]))
    # fewer samples than clusters: one cluster each
    assign, centroids = kmeans(x[:2], 5, torch.Generator().manual_seed(0), iters=10)
    assert assign.tolist() == [0, 1] and torch.equal(centroids, x[:2])


def test_clusters_are_per_task_and_class_with_ids_unique_in_the_task():
    x = torch.tensor([[0.0], [0.1], [5.0], [5.1], [9.0], [9.1]])
    labels = torch.tensor([[0, 1], [0, 1], [0, 0], [0, 0], [1, 0], [1, 0]])
    bank = cluster_tasks(x, labels, 2, torch.Generator().manual_seed(0), 10, step=0)
    # task 0: class 0 = {0, 0.1, 5, 5.1} -> clusters at 0.05 and 5.05; class 1 = {9, 9.1}: two samples, two clusters
    assert bank.cluster[0, 0] == bank.cluster[1, 0] != bank.cluster[2, 0] == bank.cluster[3, 0]
    assert len(set(bank.cluster[:, 0].tolist())) == 4 and bank.centroid_class[0].tolist().count(1) == 2
    torch.testing.assert_close(bank.centroids[0][bank.cluster[0, 0]], torch.tensor([0.05]))
    # task 1: class 1 = {0, 0.1} (2 one-sample clusters), class 0 = {5, 5.1, 9, 9.1}: clusters at 5.05 and 9.05
    assert bank.centroid_class[1].tolist().count(0) == 2
    torch.testing.assert_close(bank.centroids[1][bank.cluster[4, 1]], torch.tensor([9.05]))


def test_moving_samples_moves_their_cluster_means():
    x = torch.tensor([[0.0], [2.0], [10.0]])
    bank = cluster_tasks(x.clone(), torch.tensor([[0], [0], [1]]), 1, torch.Generator().manual_seed(0), 10, step=0)
    torch.testing.assert_close(bank.centroids[0], torch.tensor([[1.0], [10.0]]))
    bank.move(torch.tensor([0]), torch.tensor([[4.0]]))  # class 0's mean becomes (4 + 2) / 2
    torch.testing.assert_close(bank.centroids[0], torch.tensor([[3.0], [10.0]]))
    assert bank.features[0].item() == 4.0


def test_quintuplet_partners_by_hand():
    # class 0: cluster 0 at 0, 0.1, 0.3; cluster 1 at 1.0, 1.2; class 1: 2.0, 5.0 (1-d, squared distances)
    x = torch.tensor([0.0, 0.1, 0.3, 1.0, 1.2, 2.0, 5.0]).unsqueeze(1)
    classes = torch.tensor([0, 0, 0, 0, 0, 1, 1])
    clusters = torch.tensor([0, 0, 0, 1, 1, 2, 3])
    anchor = torch.tensor([0, 6])
    dist = torch.cdist(x[anchor], x).pow(2)
    index, valid = quintuplet_partners(dist, classes[anchor], clusters[anchor], anchor, classes, clusters)
    # anchor 0: p+ the farthest of its cluster (0.3), p- the nearest other cluster of its class (1.0),
    # p-- the farthest of its class (1.2), n the nearest of the other class (2.0)
    assert index[0].tolist() == [2, 3, 4, 5] and valid[0].all()
    # anchor 6 (5.0) is alone in its cluster and its class has no other sample in another cluster but 2.0:
    # no p+ (one-sample cluster), p- = 2.0, p-- = 2.0, n = the nearest of class 0 (1.2)
    assert valid[1].tolist() == [False, True, True, True] and index[1, 1:].tolist() == [5, 5, 4]


def test_triple_header_hinge_by_hand():
    d = torch.tensor([[0.5, 0.6, 0.7, 0.8], [0.09, 1.0, 1.44, 4.0]])
    valid = torch.ones(2, 4, dtype=torch.bool)
    loss, parts = triple_header_hinge(d, valid, (0.2, 0.2, 0.2))
    # first: eps = 0.2 + 0.5 - 0.6 = 0.1, tau = 0.1, sigma = 0.1; second: every margin met (0); mean over 2 anchors
    assert loss.item() == pytest.approx(0.15)
    assert parts["eps"].item() == pytest.approx(0.05) and parts["sigma"].item() == pytest.approx(0.05)
    # without p- the first anchor keeps only sigma: 0.1 / 2
    valid[0, 1] = False
    assert triple_header_hinge(d, valid, (0.2, 0.2, 0.2))[0].item() == pytest.approx(0.05)
    # margins differ per term: g3 = 0.5 -> sigma = 0.4 on the first anchor
    assert triple_header_hinge(d, torch.ones(2, 4, dtype=torch.bool), (0.2, 0.2, 0.5))[0].item() == pytest.approx((0.1 + 0.1 + 0.4) / 2)


def test_cluster_wise_knn_by_hand():
    distances = torch.tensor([[0.1, 0.2, 0.5, 0.9]])
    owners = torch.tensor([0, 1, 0, 1])
    # k = 3: clusters 0.1 (class 0), 0.2 (class 1), 0.5 (class 0). Class 0: nearest other 0.2 - farthest own 0.5
    # = -0.3; class 1: nearest other 0.1 - farthest own 0.2 = -0.1 -> class 1, though the nearest cluster is class 0's
    scores = cluster_knn_scores(distances, owners, 2, 3)
    torch.testing.assert_close(scores, torch.tensor([[-0.3, -0.1]]))
    # k = 1: class 0 owns all nearest clusters, class 1 none
    torch.testing.assert_close(cluster_knn_scores(distances, owners, 2, 1), torch.tensor([[UNANIMOUS, ABSENT]]))
    # a class with no cluster at all (class 2) is absent
    assert cluster_knn_scores(distances, owners, 3, 4)[0, 2].item() == ABSENT


def test_angular_distance_and_cluster_margin_softmax_by_hand():
    f = torch.tensor([[1.0, 0.0]])
    torch.testing.assert_close(angular_distances(f, torch.tensor([[0.0, 2.0], [3.0, 0.0]])), torch.tensor([[1.0, 0.0]]))
    # clusters 0, 1 of class 0 and 2, 3 of class 1; the anchor is in cluster 0 of class 0; margins 0.1 / 0.2, s = 1:
    # logits own 0.8, sibling 0.5 + 0.1, other class 0.6 + 0.2 and 0.2 + 0.2
    cos = torch.tensor([[0.8, 0.5, 0.6, 0.2]])
    owners, own, own_class = torch.tensor([0, 0, 1, 1]), torch.tensor([0]), torch.tensor([0])
    loss, parts = cluster_margin_softmax(cos, own, own_class, owners, torch.tensor([2, 3, 1, 4]), (0.1, 0.2), 1.0)
    expected = math.log(math.exp(0.8) + math.exp(0.6) + math.exp(0.8) + math.exp(0.4)) - 0.8
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    assert parts["within_met"].item() == 1.0 and parts["between_met"].item() == 1.0  # 0.8 >= 0.6, 0.8 >= 0.8
    # the scale multiplies every logit: s = 2
    loss2, _ = cluster_margin_softmax(cos, own, own_class, owners, torch.tensor([2, 3, 1, 4]), (0.1, 0.2), 2.0)
    expected2 = math.log(math.exp(1.6) + math.exp(1.2) + math.exp(1.6) + math.exp(0.8)) - 1.6
    assert loss2.item() == pytest.approx(expected2, rel=1e-6)
    # a one-sample own cluster (its centroid is the sample) has no siblings in the sum
    loss, parts = cluster_margin_softmax(cos, own, own_class, owners, torch.tensor([1, 3, 1, 4]), (0.1, 0.2), 1.0)
    expected = math.log(math.exp(0.8) + math.exp(0.8) + math.exp(0.4)) - 0.8
    assert loss.item() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("name,margins", [("lmle", "[0.2,0.2]"), ("clmle", "[0.1,0.2,0.2]")])
def test_wrong_number_of_margins_is_one_config_error(name, margins):
    task = TaskInfo(MULTICLASS, ["a", "b"], np.array([3, 1]), 4, (3, 8, 8))
    with pytest.raises(ConfigError, match=f"method.margins: method={name} takes"):
        build_method(compose([f"method={name}", f"method.margins={margins}"]).method, task)


# -- slow -------------------------------------------------------------------------------------------
# ``python -m pytest -m slow tests/methods/test_lmle.py -s``: scikit-learn's digits at imbalance ratio 100 (150 .. 1
# training images per digit, 30 test images each); LMLE's and CLMLE's few-shot recall (digits with < 20 training
# images: 6 of 10) beats CE's, averaged over 3 seeds, by more than the seed spread (the larger std over seeds).
# the digits setting and seeds: helpers.SLOW_DIGITS / SLOW_SEEDS (shared by every long-tail method's slow check)


@pytest.mark.slow
def test_lmle_and_clmle_improve_few_shot_recall_over_ce_on_digits_lt(tmp_path):
    results = {m: {"few_shot": [], "top1": [], "wall_time_s": []} for m in ("ce", "lmle", "clmle")}
    for seed in SLOW_SEEDS:
        for m, scores in results.items():
            start = time.perf_counter()
            final = run_experiment(compose([*SLOW_DIGITS, f"method={m}", f"seed={seed}"]), tmp_path / f"{m}-{seed}")
            final["wall_time_s"] = round(time.perf_counter() - start, 1)
            for key in scores:
                scores[key].append(final[key])
    print("\ndigits_lt ratio 100, seeds", SLOW_SEEDS, json.dumps(results))
    ce = results["ce"]["few_shot"]
    for m in ("lmle", "clmle"):
        gain = np.mean(results[m]["few_shot"]) - np.mean(ce)
        spread = max(np.std(results[m]["few_shot"]), np.std(ce))
        print(f"{m}: few-shot {np.mean(results[m]['few_shot']):.2f} vs CE {np.mean(ce):.2f}, gain {gain:.2f}, spread {spread:.2f}")
        assert gain > spread, m
