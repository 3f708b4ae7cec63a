"""BBN (Zhou et al., CVPR 2020): its equations on hand-worked values, the reversed sampler's draws, the shared-trunk /
two-last-block model, a tiny end-to-end run, and (``-m slow``) its few-shot recall against CE on real digits."""
import math

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from dcl_runner.data.base import MULTICLASS, TaskInfo
from dcl_runner.errors import ConfigError
from dcl_runner.methods.base import build_method
from dcl_runner.methods.bbn import (
    BilateralHead,
    bilateral_loss,
    cumulative_alpha,
    mixed_logits,
    reversed_class_probabilities,
)
from dcl_runner.models import build_backbone
from dcl_runner.models.backbones.resnet_cifar import BasicBlock
from dcl_runner.train import run_experiment
from helpers import TINY, compose, few_shot_against_ce


def _task(counts):
    return TaskInfo(MULTICLASS, [str(i) for i in range(len(counts))], np.asarray(counts), int(sum(counts)), (3, 16, 16))


# -- eq. 4: the reversed sampler ----------------------------------------------------------------------------------
def test_reversed_sampler_probabilities_by_hand():
    # w = N_max / N_i = 100/100, 100/10, 100/1 = 1, 10, 100; sum 111
    assert np.allclose(reversed_class_probabilities([100, 10, 1]), [1 / 111, 10 / 111, 100 / 111])
    assert np.allclose(reversed_class_probabilities([7, 7]), [0.5, 0.5])  # balanced: uniform
    assert np.allclose(reversed_class_probabilities([5, 0, 1]), [1 / 6, 0.0, 5 / 6])  # an absent class is never drawn
    with pytest.raises(ConfigError, match="needs training images"):
        reversed_class_probabilities([0, 0])


def test_reversed_sampler_draws_classes_by_eq4_and_samples_uniformly_within():
    counts = [50, 5, 1]  # w = 1, 10, 50: P = 1/61, 10/61, 50/61
    targets = torch.tensor([0] * 50 + [1] * 5 + [2])[torch.randperm(56, generator=torch.Generator().manual_seed(1))]
    method = build_method(compose(["method=bbn"]).method, _task(counts))
    method.setup(_context(targets, epochs=10))
    drawn = method.reversed_indices(40000, torch.Generator().manual_seed(0))
    labels = targets[drawn]
    freq = torch.bincount(labels, minlength=3).double() / len(drawn)
    assert torch.allclose(freq, torch.tensor([1 / 61, 10 / 61, 50 / 61], dtype=torch.float64), atol=0.01)
    # within class 1 (5 images), each image about 1/5 of that class's draws
    per_image = torch.bincount(drawn[labels == 1], minlength=56)[targets == 1].double()
    assert torch.allclose(per_image / per_image.sum(), torch.full((5,), 0.2, dtype=torch.float64), atol=0.02)


# -- eq. 5: cumulative learning ----------------------------------------------------------------------------------
def test_cumulative_alpha_by_hand():
    assert cumulative_alpha(0, 200) == 1.0                            # the code's epoch 1: (1 - 1) / 200 = 0
    assert cumulative_alpha(100, 200) == pytest.approx(0.75)          # 1 - (1/2)^2
    assert cumulative_alpha(199, 200) == pytest.approx(1 - 0.995**2)  # 0.009975 in the last epoch
    assert cumulative_alpha(179, 200) == pytest.approx(1 - 0.895**2)  # iNat: 180 epochs, div_epoch 200


# -- eq. 1 and eq. 3: the mixed logits and loss; inference ---------------------------------------------------------
def test_mixed_logits_by_hand():
    fc = nn.Linear(4, 2)
    with torch.no_grad():
        fc.weight.copy_(torch.tensor([[1.0, 0, 0, 0], [0, 0, 0, 1.0]]))
        fc.bias.copy_(torch.tensor([0.5, -0.5]))
    f_c, f_r = torch.tensor([[1.0, 2.0]]), torch.tensor([[3.0, 4.0]])
    # 2 [0.75 f_c, 0.25 f_r] = [1.5, 3, 1.5, 2] -> z = [1.5 + 0.5, 2 - 0.5]
    assert torch.allclose(mixed_logits(fc, f_c, f_r, 0.75), torch.tensor([[2.0, 1.5]]))
    # alpha = 1: the re-balancing half is zeroed, the conventional doubled: [2, 4, 0, 0] -> [2.5, -0.5]
    assert torch.allclose(mixed_logits(fc, f_c, f_r, 1.0), torch.tensor([[2.5, -0.5]]))


def test_bilateral_loss_by_hand():
    logits = torch.tensor([[0.0, math.log(3.0)]])  # p = [1/4, 3/4]
    # alpha CE(y_c = 0) + (1 - alpha) CE(y_r = 1) = 0.25 log 4 + 0.75 log(4/3)
    expected = 0.25 * math.log(4) + 0.75 * math.log(4 / 3)
    assert bilateral_loss(logits, torch.tensor([0]), torch.tensor([1]), 0.25).item() == pytest.approx(expected)


def test_inference_is_both_branches_at_alpha_one_half():
    """valid_model: the classifier reads [f_c, f_r], which is eq. 1's 2 [0.5 f_c, 0.5 f_r]."""
    torch.manual_seed(0)
    head = BilateralHead(BasicBlock(4, 4, 1), BasicBlock(4, 4, 1), 4, 3).eval()
    feature_map = torch.randn(2, 4, 5, 5)
    f_c, f_r = head.branch("conventional", feature_map), head.branch("rebalancing", feature_map)
    out = head(feature_map.mean(dim=(2, 3)), feature_map)
    assert torch.allclose(out["logits"], mixed_logits(head.fc, f_c, f_r, 0.5), atol=1e-6)
    assert torch.allclose(out["logits"], f_c @ head.fc.weight[:, :4].t() + f_r @ head.fc.weight[:, 4:].t() + head.fc.bias, atol=1e-5)


# -- the model: a shared trunk, two last blocks ---------------------------------------------------------------------
def test_branches_share_every_block_but_the_last():
    """ResNet-32: 15 blocks; BBN_ResNet_Cifar keeps 14 in the trunk (layer3 has 5 - 1) plus cb_block and rb_block."""
    torch.manual_seed(0)
    method = build_method(compose(["method=bbn"]).method, _task([20, 5, 2]))
    model = method.build_model(build_backbone(compose(["backbone=resnet32"]).backbone, 3, 16))
    assert len(model.backbone.blocks) == 14
    head = model.head
    assert isinstance(head.conventional, BasicBlock) and isinstance(head.rebalancing, BasicBlock)
    assert not torch.equal(head.conventional.conv1.weight, head.rebalancing.conv1.weight)  # independent draws
    assert head.conventional.conv1.weight.std().item() == pytest.approx((2 / (64 * 9)) ** 0.5, rel=0.1)  # Kaiming
    assert head.fc.in_features == 128 and head.fc.out_features == 3 and head.fc.bias is not None
    out = model(torch.randn(2, 3, 16, 16))
    assert out["logits"].shape == (2, 3) and out["features"].shape == (2, 128)


def test_classifier_initialisation_is_the_authors_nn_linear():
    """lib/net/network.py builds the classifier as nn.Linear(128, C) outside the backbone's apply(_weights_init):
    weight and bias U(-1/sqrt(128), 1/sqrt(128)), std 1/sqrt(3 * 128) = 0.0510 (Kaiming normal would be
    sqrt(2 / 128) = 0.125)."""
    def fc(init):
        torch.manual_seed(0)
        method = build_method(compose(["method=bbn", f"method.classifier_init={init}"]).method, _task([9] * 10))
        return method.build_model(build_backbone(compose(["backbone=resnet32"]).backbone, 3, 16)).head.fc

    default = fc("torch_default")
    assert default.weight.abs().max().item() <= 1 / 128 ** 0.5 and default.bias.abs().max().item() <= 1 / 128 ** 0.5
    assert default.weight.std().item() == pytest.approx(1 / (3 * 128) ** 0.5, rel=0.1)
    assert fc("kaiming_normal").weight.std().item() == pytest.approx((2 / 128) ** 0.5, rel=0.1)
    with pytest.raises(ConfigError, match="method.classifier_init"):
        build_method(compose(["method=bbn", "method.classifier_init=xavier"]).method, _task([9, 3]))


def test_resnet18_split_and_a_backbone_without_residual_blocks():
    torch.manual_seed(0)
    backbone = build_backbone(compose(["backbone=resnet18", "backbone.width=0.25"]).backbone, 3, 32)
    model = build_method(compose(["method=bbn"]).method, _task([9, 3])).build_model(backbone)
    assert len(model.backbone.stages[-1]) == 1 and model.head.fc.in_features == 2 * backbone.feature_dim
    assert model(torch.randn(2, 3, 32, 32))["logits"].shape == (2, 2)
    with pytest.raises(ConfigError, match="no last residual block .* choose a ResNet backbone"):
        build_method(compose(["method=bbn"]).method, _task([9, 3])).build_model(
            build_backbone(compose(["backbone=deepid2"]).backbone, 3, 32))


def test_bad_alpha_epochs_is_one_message():
    with pytest.raises(ConfigError, match="method.alpha_epochs=0: expected a positive number"):
        build_method(compose(["method=bbn", "method.alpha_epochs=0"]).method, _task([3, 1]))


def _context(targets, epochs):
    from dcl_runner.methods.base import TrainContext

    return TrainContext(task=None, train_targets=targets, device=torch.device("cpu"), epochs=epochs, steps_per_epoch=1,
                        seed=0, meta={}, model=None, iterate_train=None, fetch=lambda at, generator=None, augment=True: at)


# -- end to end -----------------------------------------------------------------------------------------------------
def test_bbn_trains_end_to_end_with_alpha_in_history(tmp_path):
    overrides = [*TINY, "dataset=digits_lt", "backbone=resnet32", "dataset.max_train_samples=64", "method=bbn",
                 "trainer.epochs=2", "trainer.batch_size=16"]
    final = run_experiment(compose(overrides), tmp_path / "run")
    assert 0 <= final["top1"] <= 100 and final["few_shot"] is not None
    history = pd.read_csv(tmp_path / "run" / "history.csv")
    assert history.alpha.tolist() == [1.0, 0.75]  # 1 - (0/2)^2, 1 - (1/2)^2


# -- slow -------------------------------------------------------------------------------------------------------------
# BBN's CIFAR recipe at the slow check's batch of 32 (the default slow setting, lr 0.05 without warm-up, makes BBN's
# 2x mixed feature diverge in its first epoch: docs/longtail_one_stage.md, 'Slow real-data check')
BBN_RECIPE = (
    "trainer.optimizer.lr=0.025",                     # BASE_LR 0.1 at TRAIN.BATCH_SIZE 128, scaled linearly to 32
    "trainer.optimizer.nesterov=true",                # lib/utils/utils.py get_optimizer nesterov=True
    "trainer.optimizer.weight_decay=2e-4",            # OPTIMIZER.WEIGHT_DECAY 2e-4
    "trainer.lr_schedule.warmup_epochs=5",            # LR_SCHEDULER.WARM_EPOCH 5
    "trainer.lr_schedule.warmup_start_factor=0.3333333333333333",  # WarmupMultiStepLR warmup_factor 1/3
)


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason=(
    "measured (seeds 0-2, ratio 100, the default slow setting): BBN few-shot recall 16.5 vs CE 52.2, top-1 "
    "34.4 vs 70.0. The digits' three rarest classes have 1, 2 and 4 training images and the reversed "
    "sampler (P ~ 1 / N_i) fills 83% of every re-balancing batch with those 7 images; under BBN's own recipe "
    "(BBN_RECIPE) BBN still loses here (seed 0: 42.2 vs 80.0) while it wins at ratio 10 (the next check). "
    "docs/longtail_one_stage.md, 'Slow real-data check'. strict: the day BBN beats CE here, this says so"))
def test_bbn_improves_few_shot_recall_over_ce_on_digits_lt(tmp_path):
    gain, spread = few_shot_against_ce(tmp_path, ["method=bbn"])
    assert gain > spread


@pytest.mark.slow
def test_bbn_improves_few_shot_recall_over_ce_at_ratio_10_under_its_recipe(tmp_path):
    """digits_lt ratio 10 (148 ... 19, 15 training images: 2 few-shot digits), CE and BBN both under BBN_RECIPE; measured (seeds 0-2):
    BBN few-shot recall 93.3, 88.3, 95.0 (top-1 96.7) vs CE 86.7, 75.0, 85.0 (top-1 95.2): a gain
    of 10.0 against a seed spread of 5.2."""
    gain, spread = few_shot_against_ce(tmp_path, ["method=bbn"], setting=["dataset.imbalance_ratio=10", *BBN_RECIPE])
    assert gain > spread
