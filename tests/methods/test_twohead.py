"""The two-head model: eq. 3 cluster counts, eq. 4 soft labels, the grouped convolution (eq. 1),
the cluster <-> class maps, every table method over a th_* experiment, tiny end-to-end runs, and (``-m slow``) its
tail recall against CE on real digits."""
import json

import numpy as np
import pytest
import torch

from dcl_runner.config_check import check_config
from dcl_runner.data.longtail import longtail_counts
from dcl_runner.errors import ConfigError
from dcl_runner.methods.twohead_parts import (
    FeatureBalancingHead,
    assign_clusters,
    cluster_class_map,
    clusters_per_class,
    clusters_to_classes,
    soft_cluster_targets,
)
from helpers import SLOW_DIGITS, SLOW_SEEDS, TINY, compose
from dcl_runner.train import run_experiment


# -- eq. 3 --------------------------------------------------------------------------------------------
def test_clusters_per_class_on_the_cifar10_ratio_100_profile():
    counts = longtail_counts(5000, 10, 100)  # 5000 2997 1796 1077 645 387 232 139 83 50
    # 1 + round((n - 50) / 4950 * 9), e.g. 2997 -> 1 + round(5.358) = 6, 645 -> 1 + round(1.082) = 2
    assert clusters_per_class(counts, 10).tolist() == [10, 6, 4, 3, 2, 2, 1, 1, 1, 1]
    assert clusters_per_class(counts[::-1], 10).tolist() == [1, 1, 1, 1, 2, 2, 3, 4, 6, 10]  # order-free


def test_clusters_per_class_edge_profiles():
    assert clusters_per_class([100, 50, 50, 10], 10).tolist() == [10, 5, 5, 1]  # equal classes, equal u_c
    assert clusters_per_class([7, 7], 10).tolist() == [1, 1]  # balanced: nothing to divide
    assert clusters_per_class([30], 10).tolist() == [1]  # one class
    assert clusters_per_class([10, 15, 20], 2).tolist() == [1, 2, 2]  # 0.5 rounds up
    assert clusters_per_class([3, 1], 10).tolist() == [3, 1]  # never more clusters than images
    assert clusters_per_class([500, 5], 1).tolist() == [1, 1]  # u = 1: no division (CDH off)
    with pytest.raises(ConfigError):
        clusters_per_class([5, 1], 0)


# -- eq. 4 --------------------------------------------------------------------------------------------
def test_soft_labels_sum_to_one_with_alpha_on_the_own_cluster():
    u_c = torch.tensor([4, 1, 2])
    cluster_class = cluster_class_map(u_c.numpy())  # [0 0 0 0 1 2 2]
    y = torch.tensor([0, 0, 1, 2])
    cluster = torch.tensor([2, 0, 4, 6])
    q = soft_cluster_targets(cluster, y, cluster_class, u_c, alpha=0.7)
    torch.testing.assert_close(q.sum(1), torch.ones(4))
    torch.testing.assert_close(q[0], torch.tensor([0.1, 0.1, 0.7, 0.1, 0, 0, 0]))
    torch.testing.assert_close(q[1], torch.tensor([0.7, 0.1, 0.1, 0.1, 0, 0, 0]))
    torch.testing.assert_close(q[2], torch.tensor([0, 0, 0, 0, 1.0, 0, 0]))  # single cluster: one-hot
    torch.testing.assert_close(q[3], torch.tensor([0, 0, 0, 0, 0, 0.3, 0.7]))


# -- eq. 1: the grouped convolution ----------------------------------------------------------------------
def _connected_channels(head, channels, num_classes):
    x = torch.randn(2, channels, 5, 5, requires_grad=True)
    z = head(x)
    out = []
    for c in range(num_classes):
        (grad,) = torch.autograd.grad(z[:, c].sum(), x, retain_graph=True)
        out.append(set(torch.nonzero(grad.abs().sum(dim=(0, 2, 3))).flatten().tolist()))
    return out


def test_grouped_convolution_connects_each_class_only_to_its_group():
    head = FeatureBalancingHead(in_channels=12, num_classes=4)  # 3 channels per class, no adapter
    assert head.fit == "none" and head.channels_per_class == 3
    assert _connected_channels(head, 12, 4) == [{0, 1, 2}, {3, 4, 5}, {6, 7, 8}, {9, 10, 11}]


def _owned_channels(head, channels, num_classes):
    """Per class, the channels of the grouped convolution's input (the projected map for ``project``) it reads."""
    g = head.grouped_input(torch.randn(2, channels, 5, 5)).detach().requires_grad_(True)
    z = head.conv(g).mean(dim=(2, 3))
    out = []
    for c in range(num_classes):
        (grad,) = torch.autograd.grad(z[:, c].sum(), g, retain_graph=True)
        out.append(set(torch.nonzero(grad.abs().sum(dim=(0, 2, 3))).flatten().tolist()))
    return out


def test_by_default_no_two_classes_share_a_feature_channel():
    """Sec. 2.1: each class gets "a unique" group of channels. Hand case D = 6 channels, C = 4 classes:
    k = ceil(6/4) = 2 channels per class, 8 slots. ``repeat`` fills them with backbone channels
    0 1 | 2 3 | 4 5 | 0 1, so class 3 shares channels 0 and 1 with class 0. The default ``project`` maps the
    6 channels to 8 learned ones (1x1 conv + BatchNorm + ReLU): class c owns projected channels 2c, 2c+1."""
    head = FeatureBalancingHead(in_channels=6, num_classes=4)
    assert head.fit == "project" and head.channels_per_class == 2
    owned = _owned_channels(head, 6, 4)
    assert owned == [{0, 1}, {2, 3}, {4, 5}, {6, 7}]
    assert all(not (a & b) for i, a in enumerate(owned) for b in owned[i + 1:])  # pairwise disjoint
    conv, bn = head.project[0], head.project[1]
    assert (conv.in_channels, conv.out_channels, conv.kernel_size, bn.num_features) == (6, 8, (1, 1), 8)
    # every projected channel is its own learned map of all 6 backbone channels
    projected = head.grouped_input(torch.eye(6)[:, :, None, None].expand(6, 6, 3, 3).contiguous())
    assert torch.linalg.matrix_rank(conv.weight.detach().view(8, 6)) == 6 and projected.shape == (6, 8, 3, 3)
    repeat = FeatureBalancingHead(in_channels=6, num_classes=4, fit="repeat")
    assert _connected_channels(repeat, 6, 4) == [{0, 1}, {2, 3}, {4, 5}, {0, 1}]  # classes 0 and 3 share


def test_channel_fit_shapes_of_the_papers_backbones():
    repeat = FeatureBalancingHead(in_channels=5, num_classes=3, fit="repeat")  # k = 2: channels 0..5 -> 0,1,2,3,4,0
    assert _connected_channels(repeat, 5, 3) == [{0, 1}, {2, 3}, {4, 0}]
    with pytest.raises(ConfigError, match="exact"):
        FeatureBalancingHead(in_channels=64, num_classes=100, fit="exact")
    # ResNet-32 on CIFAR-100: 64 channels, 100 classes, k = 1. repeat: class 99 reads channel 35, as class 35 does
    assert FeatureBalancingHead(in_channels=64, num_classes=100, fit="repeat").channel_index[99].item() == 35
    resnet32_cifar100 = FeatureBalancingHead(in_channels=64, num_classes=100)
    assert resnet32_cifar100.fit == "project" and resnet32_cifar100.project[0].out_channels == 100
    assert _owned_channels(resnet32_cifar100, 64, 100) == [{c} for c in range(100)]
    # ResNeXt-50 on ImageNet-LT: 2048 channels, 1000 classes, k = ceil(2.048) = 3: 3000 projected channels
    # (repeat would reuse 952 backbone channels in the last 952 slots)
    resnext = FeatureBalancingHead(in_channels=2048, num_classes=1000)
    assert resnext.project[0].out_channels == 3000 and resnext.conv.groups == 1000
    assert (torch.arange(3000) % 2048 < torch.arange(3000)).sum().item() == 952


# -- clusters <-> classes ---------------------------------------------------------------------------------
@pytest.mark.parametrize("strategy", ["random", "kmeans", "hierarchical"])
def test_cluster_assignment_round_trips_to_classes(strategy):
    counts = [40, 17, 9, 3]
    targets = np.random.default_rng(0).permutation(np.repeat(np.arange(4), counts))
    u_c = clusters_per_class(counts, 5)
    cluster_class = cluster_class_map(u_c).numpy()
    features = np.random.default_rng(1).normal(size=(len(targets), 6))
    cluster = assign_clusters(targets, u_c, strategy, seed=0, features=features)
    assert np.array_equal(cluster_class[cluster], targets)  # every sample's cluster belongs to its class
    assert np.array_equal(np.unique(cluster), np.arange(u_c.sum()))  # no empty cluster
    if strategy == "random":
        sizes = np.bincount(cluster)[:5]  # the 40 images of class 0 in 5 clusters of 8
        assert sizes.tolist() == [8] * 5
        assert np.array_equal(cluster, assign_clusters(targets, u_c, "random", seed=0))  # seeded


def test_cluster_logits_map_back_to_their_class():
    u_c = np.array([3, 1, 2])
    cluster_class = cluster_class_map(u_c)
    for k in range(6):
        logits = torch.full((1, 6), -5.0)
        logits[0, k] = 5.0
        for mode in ("sum", "argmax"):
            assert clusters_to_classes(logits, cluster_class, 3, mode).argmax(1).item() == cluster_class[k].item()
    # sum: three weak clusters of class 0 outweigh one stronger cluster of class 2
    logits = torch.log(torch.tensor([[0.2, 0.2, 0.2, 0.05, 0.35, 0.0 + 1e-9]]))
    assert clusters_to_classes(logits, cluster_class, 3, "sum").argmax(1).item() == 0
    assert clusters_to_classes(logits, cluster_class, 3, "argmax").argmax(1).item() == 2
    torch.testing.assert_close(clusters_to_classes(logits, cluster_class, 3, "sum").exp().sum(1), torch.ones(1))


def test_default_prediction_is_the_class_of_the_arg_max_cluster():
    """Two-head sec. 2.2, read plainly: arg-max over the K clusters, then that cluster's class.

    u_c = (3, 1, 2): clusters 0-2 are class 0, 3 class 1, 4-5 class 2. Softmax over clusters
    (0.2, 0.2, 0.2, 0.05, 0.35, 0): the best cluster is 4 (class 2), while class 0's clusters sum to 0.6."""
    from dcl_runner.data.base import MULTICLASS, TaskInfo
    from dcl_runner.methods.base import build_method

    task = TaskInfo(MULTICLASS, list("abc"), np.array([30, 10, 20]), 60, (3, 8, 8))
    logits = torch.log(torch.tensor([[0.2, 0.2, 0.2, 0.05, 0.35, 1e-9]]))
    default = build_method(compose(["method=twohead", "method.u=3"]).method, task)
    # u_c = 1 + round((n - 10) / 20 * 2): 30 -> 3, 10 -> 1, 20 -> 2
    assert default.clusters_per_class.tolist() == [3, 1, 2] and default.mapping == "argmax"
    scores = default.predict({"logits": logits})
    torch.testing.assert_close(scores, torch.log(torch.tensor([[0.2, 0.05, 0.35]])))  # each class's best cluster
    assert scores.argmax(1).item() == 2
    summed = build_method(compose(["method=twohead", "method.u=3", "method.cluster_to_class=sum"]).method, task)
    torch.testing.assert_close(summed.predict({"logits": logits}).exp(), torch.tensor([[0.6, 0.05, 0.35]]))
    assert summed.predict({"logits": logits}).argmax(1).item() == 0
    with pytest.raises(ConfigError, match="cluster_to_class"):
        build_method(compose(["method=twohead", "method.cluster_to_class=mean"]).method, task)


# -- end to end -----------------------------------------------------------------------------------------
DIGITS = [*TINY, "dataset=digits_lt", "backbone=resnet32", "dataset.max_train_samples=64"]


def test_cdh_off_is_a_c_way_classifier():
    from dcl_runner.methods.base import build_method
    from dcl_runner.data.base import MULTICLASS, TaskInfo

    task = TaskInfo(MULTICLASS, list("abc"), np.array([50, 10, 2]), 62, (3, 8, 8))
    # u_c = 1 + round((n - 2) / 48 * 9): 50 -> 10, 10 -> 1 + round(1.5) = 3, 2 -> 1
    assert build_method(compose(["method=twohead"]).method, task).num_clusters == 10 + 3 + 1
    assert build_method(compose(["method=twohead", "method.cdh=false"]).method, task).num_clusters == 3


def test_every_table_method_overrides_the_experiment():
    methods = ["twohead_full", "ce", "focal", "mixup", "cb", "ldam", "cb_focal", "drs", "ldam_drw"]
    for m in methods:
        cfg = compose(["experiment=th_cifar100_lt", f"method={m}", "backbone=mobilenetv2", "dataset.imbalance_ratio=10"])
        check_config(cfg)
        assert (cfg.method.name, cfg.backbone.name, cfg.dataset.imbalance_ratio) == (m, "mobilenetv2", 10)


def test_resnext50_is_32x4d():
    from dcl_runner.models import build_backbone

    net = build_backbone(compose(["backbone=resnext50"]).backbone, in_channels=3, image_size=32)
    conv2 = net.stages[0][0].conv2
    assert conv2.groups == 32 and conv2.in_channels == 128  # 32 groups x 4 channels in the first stage


def _classifier(overrides, counts=(500, 50, 5) * 34):
    from dcl_runner.data.base import MULTICLASS, TaskInfo
    from dcl_runner.methods.base import build_method
    from dcl_runner.models import Classifier, build_backbone

    cfg = compose(overrides)
    task = TaskInfo(MULTICLASS, [str(i) for i in range(len(counts))], np.asarray(counts), int(sum(counts)), (3, 32, 32))
    backbone = build_backbone(cfg.backbone, in_channels=3, image_size=32)
    return Classifier(backbone, build_method(cfg.method, task).build_head(backbone.feature_dim, backbone.out_channels))


@pytest.mark.parametrize("method", ["ce", "twohead"])
def test_resnet32_classifier_is_kaiming_normal_as_ldam_drw(method):
    """kaidic/LDAM-DRW models/resnet_cifar.py: _weights_init = kaiming_normal_ on every Linear (the classifier
    too): std sqrt(2 / fan_in) = sqrt(2 / 64) = 0.1768 for ResNet-32's 64-d features, normal (4.55% of draws
    beyond 2 std). PyTorch's own Linear init is uniform on +-1/sqrt(64): std 0.125 / sqrt(3) = 0.0722, none beyond."""
    torch.manual_seed(0)
    weight = _classifier(["backbone=resnet32", f"method={method}"]).head.fc.weight.detach().flatten()
    assert weight.numel() >= 102 * 64  # 102 classes (or more clusters): >= 6,528 draws, std error of the std ~0.0016
    std = (2 / 64) ** 0.5
    assert abs(weight.std().item() - std) < 0.01 and abs(weight.mean().item()) < 0.01
    assert 0.035 < (weight.abs() > 2 * std).float().mean().item() < 0.056
    default = _classifier(["backbone=resnet32", f"method={method}", "backbone.head_init=torch_default"]).head.fc.weight
    assert abs(default.detach().std().item() - 0.125 / 3**0.5) < 0.005 and default.abs().max().item() <= 0.125


def test_twohead_full_trains_end_to_end_and_resumes_bit_identically(tmp_path, monkeypatch):
    """A tiny run writes the Fig. 3 outputs; clusters are in the checkpoint and Mixup draws come from the
    per-step generator, so an interrupted and resumed run ends with the same weights as an uninterrupted one."""
    from helpers import interrupt_at_step
    from dcl_runner.train import RunInterrupted

    overrides = [*DIGITS, "method=twohead_full", "trainer.epochs=2", "trainer.batch_size=16"]
    reference = run_experiment(compose(overrides), tmp_path / "ref")  # 3 steps per epoch, re-weighting in epoch 2
    assert 0 <= reference["top1"] <= 100 and reference["few_shot"] is not None
    curves = tmp_path / "ref" / "curves"
    norms, counts = np.load(curves / "classifier_weight_norm.npy"), np.load(curves / "class_train_counts.npy")
    assert norms.shape == counts.shape == (10,) and (norms > 0).all()
    u_c = np.load(curves / "clusters_per_class.npy")
    assert u_c[np.argmax(counts)] == min(10, counts.max()) and u_c[np.argmin(counts)] == 1
    import pandas as pd

    history = pd.read_csv(tmp_path / "ref" / "history.csv")
    assert {"loss_fbh", "loss_cdh", "reweighting"} <= set(history.columns) and history.reweighting.tolist() == [0, 1]
    interrupt_at_step(monkeypatch, 5)  # mid epoch 2, with the deferred re-weighting on
    with pytest.raises(RunInterrupted):
        run_experiment(compose(overrides), tmp_path / "run")
    resumed = run_experiment(compose(overrides), tmp_path / "run", resume=True)
    assert resumed["per_class_recall"] == reference["per_class_recall"]
    ref = torch.load(tmp_path / "ref" / "checkpoints" / "last.pt", weights_only=False)
    run = torch.load(tmp_path / "run" / "checkpoints" / "last.pt", weights_only=False)
    assert torch.equal(ref["method"]["sample_cluster"], run["method"]["sample_cluster"])
    assert all(torch.equal(ref["model"][k], run["model"][k]) for k in ref["model"])


# -- slow -------------------------------------------------------------------------------------------
# Slow real-data check (``python -m pytest -m slow tests/methods/test_twohead.py -s``): on scikit-learn's digits at imbalance ratio 100
# (150 .. 1 training images per digit, balanced test set of 30 per digit), the two-head model's
# few-shot recall (digits with < 20 training images: 6 of 10) beats plain CE, averaged over 3 seeds, by more
# than the seed spread (the larger of the two methods' standard deviations over the seeds).
# the digits setting and seeds: helpers.SLOW_DIGITS / SLOW_SEEDS (shared by every long-tail method's slow check)


@pytest.mark.slow
def test_twohead_improves_tail_recall_over_ce_on_digits_lt(tmp_path):
    results = {m: {"few_shot": [], "top1": []} for m in ("ce", "twohead")}
    for seed in SLOW_SEEDS:
        for m, scores in results.items():
            final = run_experiment(compose([*SLOW_DIGITS, f"method={m}", f"seed={seed}"]), tmp_path / f"{m}-{seed}")
            scores["few_shot"].append(final["few_shot"])
            scores["top1"].append(final["top1"])
    print("\ndigits_lt ratio 100, seeds", SLOW_SEEDS, json.dumps(results))
    for m, scores in results.items():
        print(f"{m:8s} few-shot recall {np.mean(scores['few_shot']):.2f}  top-1 {np.mean(scores['top1']):.2f}")
    gain = np.mean(results["twohead"]["few_shot"]) - np.mean(results["ce"]["few_shot"])
    spread = max(np.std(results["twohead"]["few_shot"]), np.std(results["ce"]["few_shot"]))
    print(f"few-shot gain {gain:.2f} vs seed spread {spread:.2f} (std over seeds, the larger of the two)")
    assert gain > spread
