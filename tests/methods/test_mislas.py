"""MiSLAS (Zhong et al., CVPR 2021) stage 2: label-aware smoothing's epsilon per class and loss, the parameter groups
and shift learning on BatchNorm, on values worked out by hand."""
import math

import numpy as np
import pytest
import torch

from dcl_runner.data.base import MULTICLASS, TaskInfo
from dcl_runner.errors import ConfigError
from dcl_runner.methods import build_method
from dcl_runner.methods.mislas import label_aware_epsilon, label_aware_smoothing_loss
from dcl_runner.models import Classifier, build_backbone
from helpers import compose

COUNTS = [101, 51, 1]  # (N_y - N_K) / (N_1 - N_K) = 1, 1/2, 0
S = math.sqrt(0.5)     # sin(pi / 4)


@pytest.mark.parametrize("shape,power,expected", [
    ("concave", None, [0.3, 0.3 * S, 0.0]),                 # 0 + 0.3 sin(pi r / 2)
    ("linear", None, [0.3, 0.15, 0.0]),                     # 0 + 0.3 r
    ("convex", None, [0.3, 0.3 - 0.3 * S, 0.0]),            # 0.3 + 0.3 sin(3 pi / 2 + pi r / 2): sin(7 pi / 4) = -S
    ("exp", 2.0, [0.3, 0.075, 0.0]),                        # 0 + 0.3 r^2
])
def test_label_aware_epsilon_shapes_by_hand(shape, power, expected):
    assert np.allclose(label_aware_epsilon(COUNTS, 0.3, 0.0, shape, power), expected)


def test_label_aware_epsilon_runs_from_eps_tail_to_eps_head():
    # CIFAR-100 beta=100 (cifar100_imb001_stage2_mislas.yaml): eps_1 0.4, eps_K 0.1; linear midpoint 0.25
    assert np.allclose(label_aware_epsilon(COUNTS, 0.4, 0.1, "linear"), [0.4, 0.25, 0.1])
    assert np.allclose(label_aware_epsilon([5, 5], 0.2, 0.0, "concave"), [0.2, 0.2])  # no tail: eps_1 for all


def test_label_aware_smoothing_loss_by_hand():
    logits = torch.log(torch.tensor([[0.5, 0.25, 0.25]]))  # log p = [-ln 2, -2 ln 2, -2 ln 2]
    y, eps = torch.tensor([0]), torch.tensor([0.3, 0.0, 0.0])
    ln2 = math.log(2)
    # all:    0.7 ln 2 + 0.3 * mean(ln 2, 2 ln 2, 2 ln 2) = 0.7 ln 2 + 0.5 ln 2 = 1.2 ln 2
    assert label_aware_smoothing_loss(logits, y, eps, "all").item() == pytest.approx(1.2 * ln2, rel=1e-6)
    # others: 0.7 ln 2 + 0.3 * mean(2 ln 2, 2 ln 2) = 1.3 ln 2
    assert label_aware_smoothing_loss(logits, y, eps, "others").item() == pytest.approx(1.3 * ln2, rel=1e-6)
    # eps 0 (the tail class): plain cross-entropy, -log 0.25
    assert label_aware_smoothing_loss(logits, torch.tensor([1]), eps, "all").item() == pytest.approx(2 * ln2, rel=1e-6)


def mislas(*overrides):
    task = TaskInfo(MULTICLASS, ["a", "b", "c"], np.asarray(COUNTS), sum(COUNTS), (3, 16, 16))
    return build_method(compose(["method=mislas", *overrides]).method, task)


def model_for(method):
    backbone = build_backbone(compose(["backbone=resnet32", "backbone.width=0.25"]).backbone, 3, 16)
    return Classifier(backbone, method.build_head(backbone.feature_dim, backbone.out_channels))


def test_classifier_at_its_own_lr_scales_at_the_trainers_and_the_backbone_frozen():
    m = mislas("method.classifier_lr=0.05")
    model = model_for(m)
    groups = m.param_groups(model)
    assert groups[0]["lr"] == 0.05 and {id(p) for p in groups[0]["params"]} == {id(p) for p in model.head.fc.parameters()}
    assert "lr" not in groups[1] and [id(p) for p in groups[1]["params"]] == [id(model.head.scales)]
    assert not any(p.requires_grad for p in model.backbone.parameters())
    # the eps buffer is the concave default from eps_head 0.3 / eps_tail 0
    assert torch.allclose(m.eps, torch.tensor([0.3, 0.3 * S, 0.0]))


@pytest.mark.parametrize("shift,moves", [(True, True), (False, False)])
def test_shift_learning_on_batchnorm(shift, moves):
    m = mislas(f"method.shift_bn={str(shift).lower()}")
    model = model_for(m)
    m.param_groups(model)
    bn = next(x for x in model.backbone.modules() if isinstance(x, torch.nn.BatchNorm2d))
    before = bn.running_mean.clone()
    model.train()
    m.train_mode(model)
    with torch.no_grad():
        model(torch.randn(4, 3, 16, 16) + 3.0)
    assert (not torch.equal(bn.running_mean, before)) == moves
    assert model.head.training  # the classifier always trains


def test_bad_values_are_one_clear_message():
    with pytest.raises(ConfigError, match="method.shape"):
        mislas("method.shape=cubic")
    with pytest.raises(ConfigError, match="method.shape=exp needs method.power"):
        mislas("method.shape=exp")
    with pytest.raises(ConfigError, match="method.eps_head=1.5"):
        mislas("method.eps_head=1.5")
