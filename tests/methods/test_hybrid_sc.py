"""Hybrid-SC (Wang et al., CVPR 2021): SupCon and PSC losses on hand-worked values, the parabolic alpha, the class-
balanced CE batch, a tiny end-to-end run, and (``-m slow``) its few-shot recall against CE on real digits."""
import math

import numpy as np
import pandas as pd
import pytest
import torch

from dcl_runner.data.base import MULTICLASS, TaskInfo
from dcl_runner.errors import ConfigError
from dcl_runner.methods.base import Batch, TrainContext, build_method
from dcl_runner.methods.bbn import cumulative_alpha
from dcl_runner.methods.hybrid_sc import psc_loss, supcon_loss
from dcl_runner.models import build_backbone
from dcl_runner.train import run_experiment
from helpers import TINY, compose, few_shot_against_ce


def _task(counts):
    return TaskInfo(MULTICLASS, [str(i) for i in range(len(counts))], np.asarray(counts), int(sum(counts)), (3, 16, 16))


# -- SupCon eq. 2 -------------------------------------------------------------------------------------------------------
def test_supcon_loss_by_hand():
    """Four unit vectors in 2-d: z0 = z1 = e1 (class 0), z2 = e2 (class 0), z3 = -e1 (class 1); tau = 0.5.

    Similarities / tau: z0.z1 = 2, z0.z2 = 0, z0.z3 = -2, z1.z2 = 0, z1.z3 = -2, z2.z3 = 0.
    Anchor 0: positives {1, 2}, denominator e^2 + e^0 + e^-2 = D; -(1/2)[(2 - log D) + (0 - log D)] = log D - 1.
    Anchor 1: the same as anchor 0 (log D - 1).
    Anchor 2: positives {0, 1}, all three others at 0: denominator 3; -(1/2)[2 (0 - log 3)] = log 3.
    Anchor 3: no positive: contributes 0. Mean over the four anchors.
    """
    z = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    labels = torch.tensor([0, 0, 0, 1])
    d = math.exp(2) + 1 + math.exp(-2)
    expected = (2 * (math.log(d) - 1) + math.log(3) + 0.0) / 4
    assert supcon_loss(z, labels, 0.5).item() == pytest.approx(expected, rel=1e-6)


def test_supcon_loss_two_views_of_two_images():
    """Two views each of image a (class 0) and b (class 1): a1 = a2 = e1, b1 = b2 = e2; tau 1.
    Each anchor: one positive at similarity 1, denominator e^1 + 2 e^0: loss = log(e + 2) - 1 for all four."""
    z = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    assert supcon_loss(z, torch.tensor([0, 1, 0, 1]), 1.0).item() == pytest.approx(math.log(math.e + 2) - 1, rel=1e-6)


# -- the restated L_PSCL ------------------------------------------------------------------------------------------------
def test_psc_loss_by_hand():
    """Prototypes e1, e2, -e1 (classes 0, 1, 2); tau 0.5.
    z = e1, class 0: own score 1/0.5 = 2; others e2 -> 0, -e1 -> -2: -2 + log(e^0 + e^-2).
    z = (0.6, 0.8), class 1: own 0.8/0.5 = 1.6; others e1 -> 1.2, -e1 -> -1.2: -1.6 + log(e^1.2 + e^-1.2).
    The denominator leaves the own class out (the restatement's sum over j != y_i). Mean of the two."""
    prototypes = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    z = torch.tensor([[1.0, 0.0], [0.6, 0.8]])
    first = -2 + math.log(1 + math.exp(-2))
    second = -1.6 + math.log(math.exp(1.2) + math.exp(-1.2))
    assert psc_loss(z, torch.tensor([0, 1]), prototypes, 0.5).item() == pytest.approx((first + second) / 2, rel=1e-6)


# -- alpha = 1 - (T / T_max)^2 -----------------------------------------------------------------------------------------
def test_parabolic_alpha_by_hand():
    """Hybrid-SC's alpha = 1 - (T / T_max)^2 (as restated), BBN eq. 5's function (methods/bbn.py), T 0-based."""
    assert cumulative_alpha(0, 200) == 1.0                     # first epoch: feature branch only
    assert cumulative_alpha(50, 200) == pytest.approx(0.9375)  # 1 - (1/4)^2
    assert cumulative_alpha(120, 200) == pytest.approx(0.64)   # 1 - 0.6^2
    assert cumulative_alpha(199, 200) == pytest.approx(1 - 0.995 ** 2)


# -- the classifier branch's batch ---------------------------------------------------------------------------------------
def _context(targets, fetch, epochs=4):
    return TrainContext(task=None, train_targets=targets, device=torch.device("cpu"), epochs=epochs, steps_per_epoch=1,
                        seed=0, meta={}, model=None, iterate_train=None, fetch=fetch)


def test_ce_batch_is_class_balanced():
    """Classes of 90, 9 and 1 images: a class-balanced draw takes each class a third of the time, and within class 1
    each of its 9 images about equally."""
    targets = torch.tensor([0] * 90 + [1] * 9 + [2])[torch.randperm(100, generator=torch.Generator().manual_seed(2))]
    method = build_method(compose(["method=hybrid_sc"]).method, _task([90, 9, 1]))
    method.setup(_context(targets, fetch=lambda at, generator=None, augment=True: at))
    drawn = method.ce_indices(30000, torch.Generator().manual_seed(0))
    counts = torch.bincount(targets[drawn], minlength=3)
    assert torch.allclose(counts.double() / 30000, torch.full((3,), 1 / 3, dtype=torch.float64), atol=0.015)
    per_image = torch.bincount(drawn[targets[drawn] == 1], minlength=100)[targets == 1].double()
    assert torch.allclose(per_image / per_image.sum(), torch.full((9,), 1 / 9, dtype=torch.float64), atol=0.015)


def test_training_step_fetches_a_second_view_and_a_class_balanced_batch():
    """The step asks ``fetch`` for the batch's own indices (the second view) and then for the CE batch; the CE batch's
    labels are what the CE term sees. At alpha = 1 (epoch 0) the loss is the SC loss alone."""
    torch.manual_seed(0)
    counts = [12, 3, 1]
    targets = torch.tensor([0] * 12 + [1] * 3 + [2])
    images = torch.randn(16, 3, 16, 16)
    calls = []

    def fetch(at, generator=None, augment=True):
        calls.append(at.clone())
        return images[at], targets[at], at

    method = build_method(compose(["method=hybrid_sc"]).method, _task(counts))
    model = method.build_model(build_backbone(compose(["backbone=resnet32", "backbone.width=0.25"]).backbone, 3, 16))
    method.setup(_context(targets, fetch))
    method.on_epoch_start(0)
    at = torch.tensor([0, 5, 12, 15])
    result = method.training_step(model, Batch(x=images[at], y=targets[at], index=at, generator=torch.Generator().manual_seed(1)), 0)
    assert torch.equal(calls[0], at) and len(calls[1]) == 4
    assert result.parts["alpha"] == 1.0 and result.loss.item() == pytest.approx(float(result.parts["sc_loss"]))
    assert result.logits.shape == (4, 3)


def test_model_heads_and_bad_keys():
    method = build_method(compose(["method=hybrid_sc", "method.loss=psc"]).method, _task([5, 2, 1]))
    head = method.build_head(64, 64)
    assert (head.projection[0].in_features, head.projection[0].out_features, head.projection[2].out_features) == (64, 64, 128)
    assert head.prototypes.shape == (3, 128) and head.fc.out_features == 3
    assert build_method(compose(["method=hybrid_sc"]).method, _task([5, 2])).build_head(64, 64).prototypes is None
    with pytest.raises(ConfigError, match="method.loss"):
        build_method(compose(["method=hybrid_sc", "method.loss=triplet"]).method, _task([3, 1]))
    with pytest.raises(ConfigError, match="method.ce_sampler"):
        build_method(compose(["method=hybrid_sc", "method.ce_sampler=reversed"]).method, _task([3, 1]))
    with pytest.raises(ConfigError, match="method.sc_temperature=0: expected a positive temperature"):
        build_method(compose(["method=hybrid_sc", "method.sc_temperature=0"]).method, _task([3, 1]))


# -- end to end -----------------------------------------------------------------------------------------------------------
def test_hybrid_sc_trains_end_to_end_with_alpha_in_history(tmp_path):
    overrides = [*TINY, "dataset=digits_lt", "backbone=resnet32", "backbone.width=0.25", "dataset.max_train_samples=32",
                 "dataset.max_eval_samples=40",
                 "method=hybrid_sc", "trainer.epochs=2", "trainer.batch_size=16", "dataset.augment.grayscale=0.2"]
    final = run_experiment(compose(overrides), tmp_path / "run")
    assert 0 <= final["top1"] <= 100 and final["few_shot"] is not None
    history = pd.read_csv(tmp_path / "run" / "history.csv")
    assert history.alpha.tolist() == [1.0, 0.75]  # 1 - (0/2)^2, 1 - (1/2)^2


# -- slow -------------------------------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_hybrid_sc_improves_few_shot_recall_over_ce_on_digits_lt(tmp_path):
    gain, spread = few_shot_against_ce(tmp_path, ["method=hybrid_sc"])
    assert gain > spread
