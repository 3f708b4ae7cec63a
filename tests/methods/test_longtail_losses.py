"""The single-stage long-tail baselines' losses against small hand-computed cases, and their schedules."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dcl_runner.data.base import MULTICLASS, TaskInfo
from dcl_runner.errors import ConfigError
from dcl_runner.methods.base import Batch, build_method
from dcl_runner.methods.losses_longtail import (
    cross_entropy,
    effective_number_weights,
    focal_loss,
    ldam_loss,
    ldam_margins,
    soft_cross_entropy,
    weighted_mean,
)
from dcl_runner.methods.mixup import draw_mixup
from helpers import compose


def task(counts):
    return TaskInfo(MULTICLASS, [str(i) for i in range(len(counts))], np.asarray(counts), int(sum(counts)), (3, 8, 8))


def test_focal_with_gamma_zero_is_cross_entropy():
    logits, y = torch.randn(16, 5), torch.randint(0, 5, (16,))
    torch.testing.assert_close(focal_loss(logits, y, 0.0), F.cross_entropy(logits, y, reduction="none"))


def test_focal_hand_case():
    # two classes, logits (0, ln 3): p(class 1) = 3/4; FL = -(1 - 3/4)^2 log(3/4)
    logits = torch.tensor([[0.0, math.log(3.0)]])
    expected = (0.25**2) * -math.log(0.75)
    assert focal_loss(logits, torch.tensor([1]), 2.0).item() == pytest.approx(expected, rel=1e-5)
    # the easy example is down-weighted more than the hard one
    hard = focal_loss(logits, torch.tensor([0]), 2.0) / cross_entropy(logits, torch.tensor([0]))
    assert hard.item() == pytest.approx(0.75**2, rel=1e-5)


def test_class_balanced_weights_for_a_known_profile():
    # counts 100 / 10 / 1, beta 0.9: E_n = (1 - 0.9^n) / 0.1 = 9.99973439 / 6.513215599 / 1
    inverse = np.array([1 / 9.99973439, 1 / 6.513215599, 1.0])
    expected = inverse / inverse.sum() * 3
    np.testing.assert_allclose(effective_number_weights([100, 10, 1], 0.9), expected, rtol=1e-7)
    np.testing.assert_allclose(effective_number_weights([100, 10, 1], 0.0), [1, 1, 1])
    # beta -> 1: inverse class frequency
    near = effective_number_weights([100, 10, 1], 1 - 1e-9)
    np.testing.assert_allclose(near / near[2], [0.01, 0.1, 1.0], rtol=1e-4)


def test_ldam_margins_follow_n_to_the_minus_quarter():
    np.testing.assert_allclose(ldam_margins([10000, 1], 0.5), [0.05, 0.5])
    np.testing.assert_allclose(ldam_margins([16, 81, 1], 0.5), [0.25, 0.5 / 3, 0.5])


def test_ldam_loss_hand_case():
    logits, margins = torch.tensor([[0.2, 0.1]]), torch.tensor([0.25, 0.5])
    # true class 0: its logit drops by 0.25 -> 30 * (-0.05, 0.1)
    expected = -math.log(math.exp(-1.5) / (math.exp(-1.5) + math.exp(3.0)))
    assert ldam_loss(logits, torch.tensor([0]), margins, 30.0).item() == pytest.approx(expected, rel=1e-5)


def test_soft_cross_entropy_of_one_hot_is_cross_entropy_and_weighted_mean():
    logits, y = torch.randn(8, 4), torch.randint(0, 4, (8,))
    torch.testing.assert_close(soft_cross_entropy(logits, F.one_hot(y, 4).float()), cross_entropy(logits, y))
    losses, w = torch.tensor([1.0, 3.0]), torch.tensor([3.0, 1.0])
    assert weighted_mean(losses, w).item() == pytest.approx(1.5)
    assert weighted_mean(losses, None).item() == pytest.approx(2.0)


class Ctx:
    def __init__(self, targets, epochs):
        self.train_targets = torch.as_tensor(targets)
        self.epochs = epochs


def method(name, counts, epochs=10, extra=()):
    cfg = compose([f"method={name}", *extra]).method
    m = build_method(cfg, task(counts))
    targets = np.repeat(np.arange(len(counts)), counts)
    m.setup(Ctx(targets, epochs))
    return m


def test_drw_switches_to_class_balanced_weights_at_80_percent():
    m = method("drw", [90, 9, 1], epochs=10)
    m.on_epoch_start(7)
    assert torch.equal(m.class_weights, torch.ones(3)) and m.epoch_scalars() == {"reweighting": 0.0}
    m.on_epoch_start(8)
    np.testing.assert_allclose(m.class_weights.numpy(), effective_number_weights([90, 9, 1], 0.9999), rtol=1e-6)
    # pinned in epochs instead
    m = method("drw", [90, 9, 1], epochs=200, extra=["method.reweight.start_epoch=160"])
    m.on_epoch_start(159)
    assert m.class_weights[2] == 1
    m.on_epoch_start(160)
    assert m.class_weights[2] > m.class_weights[0]


def test_drs_resamples_class_balanced_after_the_deferral():
    counts = [900, 90, 10]
    m = method("drs", counts, epochs=10)
    gen = torch.Generator().manual_seed(0)
    assert m.epoch_order(7, gen) is None
    order = m.epoch_order(8, gen)
    assert len(order) == sum(counts)
    drawn = np.bincount(m.train_targets[order].numpy(), minlength=3) / len(order)
    w = effective_number_weights(counts, 0.9999) * np.asarray(counts)
    np.testing.assert_allclose(drawn, w / w.sum(), atol=0.03)
    assert drawn[2] > 0.2  # the 1% class now fills a large share of the epoch


def test_weighted_batch_loss_uses_class_weights():
    m = method("cb", [3, 1], epochs=2)
    m.on_epoch_start(0)
    logits, y = torch.randn(6, 2), torch.tensor([0, 0, 0, 1, 1, 0])
    model = lambda x: {"logits": logits}  # noqa: E731
    result = m.training_step(model, Batch(x=torch.zeros(6, 1), y=y, index=torch.arange(6)), 0)
    w = m.class_weights[y]
    expected = (w * F.cross_entropy(logits, y, reduction="none")).sum() / w.sum()
    assert result.loss.item() == pytest.approx(expected.item(), rel=1e-6)


def test_cb_focal_takes_the_focal_term_of_the_weighted_ce_and_averages_over_the_batch():
    """Cui et al.'s CB+Focal as kaidic/LDAM-DRW losses.py runs it: l = w_y CE, FL = (1 - exp(-l))^gamma l, mean.

    Hand case: counts (3, 1), beta 0.5: E_n = (1 - 0.5^n)/0.5 = 1.75 and 1; weights proportional to 4/7 and 1,
    normalised to sum 2: w = (8/11, 14/11). Two samples with logits (0, ln 3): p = (1/4, 3/4)."""
    m = method("cb_focal", [3, 1], epochs=2, extra=["method.reweight.beta=0.5"])
    m.on_epoch_start(0)
    np.testing.assert_allclose(m.class_weights.numpy(), [8 / 11, 14 / 11], rtol=1e-6)
    logits, y = torch.log(torch.tensor([[1.0, 3.0], [1.0, 3.0]])), torch.tensor([0, 1])
    l_a, l_b = 8 / 11 * math.log(4), 14 / 11 * math.log(4 / 3)  # w_y * CE
    expected = ((1 - math.exp(-l_a)) * l_a + (1 - math.exp(-l_b)) * l_b) / 2  # gamma 1, batch mean
    result = m.training_step(lambda x: {"logits": logits}, Batch(x=torch.zeros(2, 1), y=y, index=torch.arange(2)), 0)
    assert result.loss.item() == pytest.approx(expected, rel=1e-6)  # 0.376311
    # the former reduction (weights outside the focal term, over sum w) stays an option and differs
    m = method("cb_focal", [3, 1], epochs=2, extra=["method.reweight.beta=0.5", "method.focal_class_weight=outside"])
    m.on_epoch_start(0)
    fl_a, fl_b = (1 - 1 / 4) * math.log(4), (1 - 3 / 4) * math.log(4 / 3)
    outside = (8 / 11 * fl_a + 14 / 11 * fl_b) / 2
    result = m.training_step(lambda x: {"logits": logits}, Batch(x=torch.zeros(2, 1), y=y, index=torch.arange(2)), 0)
    assert result.loss.item() == pytest.approx(outside, rel=1e-6) and abs(outside - expected) > 0.04


def test_mixup_draws_are_reproducible_and_mix_the_loss():
    a = draw_mixup(8, 1.0, torch.Generator().manual_seed(3), torch.device("cpu"))
    b = draw_mixup(8, 1.0, torch.Generator().manual_seed(3), torch.device("cpu"))
    assert torch.equal(a[0], b[0]) and a[1] == b[1] and 0 <= a[1] <= 1
    other_step = draw_mixup(8, 1.0, torch.Generator().manual_seed(4), torch.device("cpu"))
    assert other_step[1] != a[1]  # each step's seed gives its own lam
    m = method("mixup", [4, 4], epochs=2)
    m.on_epoch_start(0)
    logits, y = torch.randn(8, 2), torch.tensor([0, 1] * 4)
    gen = torch.Generator().manual_seed(3)
    result = m.training_step(lambda x: {"logits": logits}, Batch(x=torch.zeros(8, 1), y=y, index=torch.arange(8), generator=gen), 0)
    perm, lam = a
    expected = lam * F.cross_entropy(logits, y) + (1 - lam) * F.cross_entropy(logits, y[perm])
    assert result.loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_bad_long_tail_settings_are_config_errors():
    with pytest.raises(ConfigError, match="cosine"):
        build_method(compose(["method=ldam", "method.classifier=linear"]).method, task([3, 1])).build_head(4, 4)
    with pytest.raises(ConfigError, match="method.loss"):
        build_method(compose(["method=focal", "method.loss=hinge"]).method, task([3, 1]))
    with pytest.raises(ConfigError, match="reweight.type"):
        build_method(compose(["method=cb", "method.reweight.type=inverse"]).method, task([3, 1]))
    with pytest.raises(ConfigError, match="focal_class_weight"):
        build_method(compose(["method=cb_focal", "method.focal_class_weight=both"]).method, task([3, 1]))


def test_every_long_tail_method_has_its_yaml():
    from dcl_runner.config import CONFIG_DIR
    from dcl_runner.methods.base import METHODS

    names = ["focal", "cb", "cb_focal", "ldam", "drw", "drs", "ldam_drw", "mixup", "twohead", "twohead_full"]
    for name in names:
        assert name in METHODS and compose([f"method={name}"]).method.name == name
        assert (CONFIG_DIR / "method" / f"{name}.yaml").exists()
