"""The noisy-label baselines of DP Table 2 (reed_hard, s_model, l2rw, mentornet_pd) on hand-worked values: each
expected number below is worked out from the paper's formula by hand (the arithmetic is in the comments)."""
import math

import numpy as np
import pytest
import torch
from torch import nn

from dcl_runner.data.base import MULTICLASS, TaskInfo
from dcl_runner.errors import ConfigError
from dcl_runner.methods import Batch, TrainContext, build_method
from dcl_runner.methods.bootstrapping import hard_bootstrap_loss
from dcl_runner.methods.l2rw import l2rw_weights, normalised_weights
from dcl_runner.methods.mentornet import (MentorNetwork, dropout_schedule, example_dropout, mentornet_pd_weights,
                                          percent_of_training)
from dcl_runner.methods.s_model import channel_log_probs, confusion_channel, initial_channel
from helpers import compose


def task(classes=3, n=12):
    return TaskInfo(MULTICLASS, [f"c{i}" for i in range(classes)], np.full(classes, n // classes), n, (1, 2, 2))


def method(name, *overrides, classes=3):
    return build_method(compose([f"method={name}", *overrides]).method, task(classes))


# -- Reed Hard -----------------------------------------------------------------------------------------------
def test_hard_bootstrapping_mixes_the_label_with_the_predicted_class():
    """Reed et al. hard bootstrapping, q = (0.5, 0.25, 0.25), label 1, beta 0.8: the argmax is class 0, so
    L = -(0.8 log 0.25 + 0.2 log 0.5) = 0.8 * 1.386294 + 0.2 * 0.693147 = 1.247665, and
    dL/dlogits = q - (0.8 e_1 + 0.2 e_0) = (0.3, -0.55, 0.25)."""
    logits = torch.tensor([[0.5, 0.25, 0.25]]).log().requires_grad_(True)
    loss = hard_bootstrap_loss(logits, torch.tensor([1]), beta=0.8)
    assert loss.item() == pytest.approx(1.247665, abs=1e-5)
    loss.sum().backward()
    assert logits.grad[0].tolist() == pytest.approx([0.3, -0.55, 0.25], abs=1e-6)
    # the label is the predicted class: -log q_y, whatever beta; beta = 1 is plain CE on any label
    assert hard_bootstrap_loss(logits.detach(), torch.tensor([0]), 0.8).item() == pytest.approx(math.log(2), abs=1e-6)
    assert hard_bootstrap_loss(logits.detach(), torch.tensor([2]), 1.0).item() == pytest.approx(math.log(4), abs=1e-6)


def test_reed_hard_reads_beta_from_its_yaml_and_checks_it():
    assert method("reed_hard").beta == 0.8  # Reed et al. 2015 (hard bootstrapping)
    with pytest.raises(ConfigError, match="method.beta=1.5"):
        method("reed_hard", "method.beta=1.5")


# -- S-Model --------------------------------------------------------------------------------------------------
def test_the_noise_channel_mixes_the_base_probabilities():
    """The S-model channel: p = (0.8, 0.2), theta = [[0.9, 0.1], [0.3, 0.7]]:
    p(z=0) = 0.8 * 0.9 + 0.2 * 0.3 = 0.78, p(z=1) = 0.8 * 0.1 + 0.2 * 0.7 = 0.22."""
    base = torch.tensor([[0.8, 0.2]]).log()
    b = torch.tensor([[0.9, 0.1], [0.3, 0.7]]).log()  # softmax of a row of log-probabilities is the row itself
    assert channel_log_probs(base, b).exp()[0].tolist() == pytest.approx([0.78, 0.22], abs=1e-6)
    # the start: 0.9 on the diagonal, (1 - 0.9) / 2 = 0.05 elsewhere
    assert torch.softmax(initial_channel(3, 0.9), 1)[1].tolist() == pytest.approx([0.05, 0.9, 0.05], abs=1e-6)


def test_the_channel_starts_from_the_base_networks_confusion():
    """G&BR's initialisation theta(i, j) = sum_t 1[z_t = j] p(i | x_t) / sum_t p(i | x_t). Base probabilities
    (0.9, 0.1), (0.2, 0.8), (0.6, 0.4) with noisy labels 0, 0, 1:
    row 0: (0.9 + 0.2, 0.6) / 1.7 = (0.647059, 0.352941); row 1: (0.1 + 0.8, 0.4) / 1.3 = (0.692308, 0.307692)."""
    theta = confusion_channel(torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]]), torch.tensor([0, 0, 1]))
    assert theta.flatten().tolist() == pytest.approx([0.647059, 0.352941, 0.692308, 0.307692], abs=1e-6)
    # in a run: the first epoch after the warm-up sets the channel from the model's predictions on the training set
    m = method("s_model", "method.warmup_epochs=1", classes=2)
    model = nn.Module()
    model.head = m.build_head(2, 2)
    with torch.no_grad():
        model.head.fc.weight.copy_(torch.eye(2))
        model.head.fc.bias.zero_()
    model.forward = lambda x: model.head(x, None)
    x = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]]).log()  # logits whose softmax is those probabilities
    y = torch.tensor([0, 0, 1])
    m.setup(TrainContext(task=task(2, 3), train_targets=y, device=torch.device("cpu"), epochs=3, steps_per_epoch=1,
                         seed=0, meta={}, model=model, iterate_train=lambda size: iter([(x, y, torch.arange(3))])))
    m.on_epoch_start(0)
    assert torch.softmax(model.head.channel, 1)[0, 0].item() == pytest.approx(0.9, abs=1e-6)  # still init_keep
    m.on_epoch_start(1)
    assert torch.softmax(model.head.channel, 1).flatten().tolist() == pytest.approx(
        [0.647059, 0.352941, 0.692308, 0.307692], abs=1e-5)


def test_s_model_warms_up_the_base_then_trains_through_the_channel():
    m = method("s_model", "method.warmup_epochs=2", classes=2)
    head = m.build_head(in_features=2, in_channels=2)
    with torch.no_grad():
        head.fc.weight.zero_()
        head.fc.bias.copy_(torch.tensor([0.8, 0.2]).log())
        head.channel.copy_(torch.tensor([[0.9, 0.1], [0.3, 0.7]]).log())
    batch = Batch(x=torch.zeros(1, 2), y=torch.tensor([0]), index=torch.tensor([0]))
    # after the warm-up: -log p(z = 0 | x) = -log 0.78
    late = m.loss(head(torch.zeros(1, 2), None), batch, epoch=2)
    assert late.loss.item() == pytest.approx(-math.log(0.78), abs=1e-6)
    # warm-up: CE of the base (-log 0.8) + the channel's fit to the detached base (-log 0.78); the base's gradient is
    # CE's alone: dCE/dbias = p - e_0 = (-0.2, 0.2)
    early = m.loss(head(torch.zeros(1, 2), None), batch, epoch=1)
    assert early.loss.item() == pytest.approx(-math.log(0.8) - math.log(0.78), abs=1e-6)
    early.loss.backward()
    assert head.fc.bias.grad.tolist() == pytest.approx([-0.2, 0.2], abs=1e-6)
    assert head.channel.grad.abs().sum() > 0
    # evaluation drops the channel: the base network's logits
    assert torch.equal(m.predict(head(torch.zeros(1, 2), None)), head.fc.bias[None].detach() + 0)


def test_s_model_param_groups_give_the_channel_its_own_weight_decay():
    m = method("s_model", "method.channel_weight_decay=0.0", classes=2)
    model = nn.Module()
    model.head, model.body = m.build_head(2, 2), nn.Linear(2, 2)
    rest, channel = m.param_groups(model)
    assert channel["params"] == [model.head.channel] and channel["weight_decay"] == 0.0
    assert all(p is not model.head.channel for p in rest["params"]) and len(rest["params"]) == 4


# -- learning to re-weight -------------------------------------------------------------------------------------
class TinyLinear(nn.Module):
    """logits = W x, W = 0: every softmax is (1/2, 1/2)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 2, bias=False)
        nn.init.zeros_(self.fc.weight)

    def forward(self, x):
        return {"logits": self.fc(x)}


def test_l2rw_weights_are_the_normalised_positive_gradient_alignments():
    """Ren et al. eqs. 4-7 at eps = 0: w~_i = max(grad f_i . grad f^v, 0). With W = 0 and two classes,
    grad_W f_i = (p - e_{y_i}) x_i^T with p - e_y = s_y (-1/2, 1/2), s_0 = -1, s_1 = +1, so
    grad f_i . grad f_c = (1/4) s_i s_c |(-1, 1)|^2 (x_i . x_c) = (1/2) s_i s_c (x_i . x_c).
    Clean example x_c = (1, 0), y_c = 0. Batch:
      x=(1,0) y=0: 1/2 * 1 * 1 = 0.5      x=(1,0) y=1: -0.5 -> 0
      x=(2,1) y=0: 1/2 * 1 * 2 = 1.0      x=(0,1) y=0: 0
    w = (0.5, 0, 1, 0) / 1.5 = (1/3, 0, 2/3, 0)."""
    model = TinyLinear()
    x = torch.tensor([[1.0, 0.0], [1.0, 0.0], [2.0, 1.0], [0.0, 1.0]])
    y = torch.tensor([0, 1, 0, 0])
    w = l2rw_weights(model, x, y, torch.tensor([[1.0, 0.0]]), torch.tensor([0]))
    assert w.tolist() == pytest.approx([1 / 3, 0.0, 2 / 3, 0.0], abs=1e-6)
    # no example helps: the weights stay 0 (Algorithm 1's zero-sum case)
    assert normalised_weights(torch.tensor([-1.0, 0.0])).tolist() == [0.0, 0.0]


def test_l2rw_meta_passes_leave_batchnorm_statistics_alone():
    net = _Logits(nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2)))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    net.train()
    l2rw_weights(net, torch.randn(6, 2), torch.randint(0, 2, (6,)), torch.randn(4, 2), torch.randint(0, 2, (4,)))
    for key, value in net.state_dict().items():
        assert torch.equal(value, before[key]), key
    assert all(m.track_running_stats for m in net.modules() if isinstance(m, nn.BatchNorm1d))


class _Logits(nn.Module):
    def __init__(self, body):
        super().__init__()
        self.body = body

    def forward(self, x):
        return {"logits": self.body(x)}


def test_l2rw_trains_on_the_noisy_images_and_meta_steps_on_the_held_out_ones():
    m = method("l2rw", "method.clean_batch_size=3", classes=2)
    x = torch.arange(10.0)[:, None].repeat(1, 2)
    y = torch.tensor([0, 1] * 5)
    held = np.zeros(10, dtype=bool)
    held[[2, 7]] = True
    asked = []

    def fetch(at, generator=None, augment=True):
        asked.append(at.clone())
        return x[at], y[at], at

    m.setup(TrainContext(task=task(2, 10), train_targets=y, device=torch.device("cpu"), epochs=1, steps_per_epoch=1,
                         seed=0, meta={"clean_holdout_mask": held}, model=None, iterate_train=None, fetch=fetch))
    order = m.epoch_order(0, torch.Generator().manual_seed(0))
    assert sorted(order.tolist()) == [0, 1, 3, 4, 5, 6, 8, 9]
    net = TinyLinear()
    result = m.training_step(net, Batch(x=x[:4], y=y[:4], index=torch.arange(4), generator=torch.Generator()), 0)
    assert torch.isfinite(result.loss) and len(asked) == 1 and set(asked[0].tolist()) <= {2, 7} and len(asked[0]) == 3
    with pytest.raises(ConfigError, match="clean hold-out"):
        m.setup(TrainContext(task=task(2, 10), train_targets=y, device=torch.device("cpu"), epochs=1, steps_per_epoch=1,
                             seed=0, meta={}, model=None, iterate_train=None, fetch=fetch))


# -- MentorNet PD ----------------------------------------------------------------------------------------------
def test_mentornet_pd_curriculum_by_phase():
    """authors' vstar_mentornet_pd, gamma 1, loss differences d = (-0.5, 0, 0.3, 2):
    burn-in (<= 18%): all 1; self-paced (18-90%): 1[d <= 0] = (1, 1, 0, 0);
    SPCL linear (>= 90%): clip(1 - d, 0, 1) = (1, 1, 0.7, 0)."""
    d = torch.tensor([-0.5, 0.0, 0.3, 2.0])
    assert mentornet_pd_weights(d, 18, 1.0).tolist() == [1, 1, 1, 1]
    assert mentornet_pd_weights(d, 19, 1.0).tolist() == [1, 1, 0, 0]
    assert mentornet_pd_weights(d, 89, 1.0).tolist() == [1, 1, 0, 0]
    assert mentornet_pd_weights(d, 90, 1.0).tolist() == pytest.approx([1, 1, 0.7, 0])
    assert mentornet_pd_weights(d, 99, 2.0).tolist() == pytest.approx([1, 1, 0.85, 0])  # 1 - 0.3 / 2


def test_mentornet_dropout_schedule_and_percent_of_training():
    rates = dropout_schedule([0.5, 17, 0.05, 83])
    assert len(rates) == 100 and rates[16] == 0.5 and rates[17] == 0.05 and rates[99] == 0.05
    with pytest.raises(ConfigError, match="summing to 100"):
        dropout_schedule([0.5, 17, 0.05, 80])
    v = torch.linspace(0.1, 1.0, 10)
    kept = example_dropout(v, 0.5, torch.Generator().manual_seed(0))
    assert int((kept > 0).sum()) == 5 and set(kept[kept > 0].tolist()) <= set(v.tolist())
    assert int((example_dropout(v, 0.05, torch.Generator()) > 0).sum()) == 9  # floor(10 * 0.95)
    assert percent_of_training(21, 120) == 17 and percent_of_training(119, 120) == 99  # floor(100 * 21 / 120) = 17


def test_mentornet_pd_loss_with_its_moving_percentile():
    """losses (1, 2, 3, 4) then (2, 4, 6, 8) (nearest-rank 75th percentile 3, then 6): lambda = 3, then
    0.5 * 3 + 0.5 * 6 = 4.5. At 50% of training (self-paced) and no drop-out the second batch's weights are
    1[l <= 4.5] = (1, 1, 0, 0), so the loss is (2 + 4) / 4 = 1.5."""
    m = method("mentornet_pd", "method.example_dropout_rates=[0.0,100]", classes=4)
    m.setup(TrainContext(task=task(4), train_targets=None, device=torch.device("cpu"), epochs=10, steps_per_epoch=1,
                         seed=0, meta={}, model=None, iterate_train=None))
    y = torch.zeros(4, dtype=torch.long)

    def logits_with_losses(losses):  # log-probabilities whose class-0 entry is -l: CE of label 0 is exactly l
        p0 = torch.exp(-torch.tensor(losses))
        rest = (1 - p0) / 3
        return torch.stack([p0, rest, rest, rest], 1).log()

    batch = Batch(x=None, y=y, index=torch.arange(4), generator=torch.Generator())
    first = m.loss({"logits": logits_with_losses([1.0, 2.0, 3.0, 4.0])}, batch, epoch=5)
    assert m.loss_moving_average.item() == pytest.approx(3.0, abs=1e-5)
    assert first.loss.item() == pytest.approx((1 + 2 + 3) / 4, abs=1e-5)  # 1[l <= 3]
    second = m.loss({"logits": logits_with_losses([2.0, 4.0, 6.0, 8.0])}, batch, epoch=5)
    assert m.loss_moving_average.item() == pytest.approx(4.5, abs=1e-5)
    assert second.loss.item() == pytest.approx(1.5, abs=1e-5)


# -- MentorNet DD ----------------------------------------------------------------------------------------------
def test_the_mentor_network_reads_the_lstm_cell_states():
    """utils.mentornet_nn on a one-step sequence from a zero state: c = sigmoid(i) tanh(g). All LSTM weights 0 and the
    g-gate bias 1: c = sigmoid(0) tanh(1) = 0.5 * 0.761594 = 0.380797 (h would be sigmoid(0) tanh(c) = 0.181762).
    A 20-unit layer reading only the forward cell (feature 7 of [label 2, epoch 5, cells 2]) and an output reading its
    first unit: logit = tanh(0.380797) = 0.363400."""
    mentor = MentorNetwork(torch.Generator().manual_seed(0))
    with torch.no_grad():
        for p in (*mentor.lstm.parameters(), mentor.fc.weight, mentor.fc.bias, mentor.out.weight, mentor.out.bias):
            p.zero_()
        mentor.lstm.bias_ih_l0[2] = 1.0          # gates i, f, g, o: the g gate's bias
        mentor.fc.weight[0, 7] = 1.0
        mentor.out.weight[0, 0] = 1.0
    logit = mentor(torch.tensor([3.0, 0.1]), torch.tensor([1.0, -2.0]), torch.tensor([5, 99]))
    expected = math.tanh(0.5 * math.tanh(1.0))
    assert expected == pytest.approx(0.363400, abs=1e-6) and logit.tolist() == pytest.approx([expected] * 2, abs=1e-6)


def test_mentornet_dd_records_the_held_out_images_then_weighs_with_the_fitted_mentor():
    """mentor_data=heldout: the run's own student is recorded on the held-out images (trained_student's dumped
    student: tests/methods/test_mentornet.py)."""
    m = method("mentornet_dd", "method.mentor_steps=5", "method.mentor_noise_rate=0.5", "method.mentor_data=heldout",
               "method.example_dropout_rates=[0.0,100]", classes=2)
    x = torch.zeros(10, 2)
    y = torch.tensor([0, 1] * 5)
    held = np.zeros(10, dtype=bool)
    held[:4] = True

    class Fixed(nn.Module):  # p(class 0) = 0.8 for every image: CE 0.223144 (label 0), 1.609438 (label 1)
        def forward(self, inputs):
            return {"logits": torch.tensor([0.8, 0.2]).log().expand(len(inputs), 2)}

    m.setup(TrainContext(task=task(2, 10), train_targets=y, device=torch.device("cpu"), epochs=100, steps_per_epoch=1,
                         seed=0, meta={"clean_holdout_mask": held, "noisy_mask": np.arange(10) % 2 == 1}, model=Fixed(),
                         iterate_train=None, fetch=lambda at, generator=None, augment=True: (x[at], y[at], at)))
    assert sorted(m.epoch_order(0, torch.Generator()).tolist()) == [4, 5, 6, 7, 8, 9]
    assert (m.mentor_epoch(10), m.mentor_epoch(50)) == (10, 18)  # --fixed_epoch_after_burn_in at 18
    m.on_epoch_start(3)  # 3% of training: record the 4 held-out images under their synthetic labels
    rec = m.records
    expected = np.where(m.holdout_labels.numpy() == 0, 0.223144, 1.609438)
    assert rec.shape == (4, 4) and rec[:, 0].tolist() == pytest.approx(expected.tolist(), abs=1e-5)
    assert rec[:, 1].tolist() == [3, 3, 3, 3]
    assert rec[:, 2].tolist() == (m.holdout_labels == y[:4]).float().tolist()
    # before the mentor exists, every weight is 1: the loss is the plain mean
    batch = Batch(x=x[4:8], y=y[4:8], index=torch.arange(4, 8), generator=torch.Generator())
    early = m.loss({"logits": torch.tensor([0.8, 0.2]).log().expand(4, 2)}, batch, epoch=3)
    assert early.loss.item() == pytest.approx((0.223144 + 1.609438) / 2, abs=1e-5)
    m.on_epoch_start(17)  # the burn-in ends: one more record under the fixed epoch feature 18, fit, then sigmoid(mentor)
    assert bool(m.fitted) and len(m.records) == 8 and m.records[4:, 1].tolist() == [18, 18, 18, 18]
    late = m.loss({"logits": torch.tensor([0.8, 0.2]).log().expand(4, 2)}, batch, epoch=50)
    assert 0 < late.parts["mentor_weight_mean"] < 1
    # mentor_auc: v of the batch against its labels' rightness (images 5 and 7 noisy). A mentor whose output ignores
    # its inputs (last layer 0, bias 1) ties every pair: AUC 1/2
    m.on_epoch_start(51)
    with torch.no_grad():
        m.mentor.out.weight.zero_()
        m.mentor.out.bias.fill_(1.0)
    m.loss({"logits": torch.tensor([0.8, 0.2]).log().expand(4, 2)}, batch, epoch=51)
    assert m.epoch_scalars()["mentor_auc"] == 0.5


# --------------------------------------------------------------------------------------------------
# the real-data check: bundled digits (1,497 training images, balanced), 40% uniform label noise, no augmentation (plain
# CE memorises the noisy labels), the same ResNet-32 / 40 epochs as test_data_params' check; 3 seeds per method. Each
# method's worst seed must beat CE's best. The methods' epoch-based keys scale to 40 epochs; the clean hold-out is 100
# images (~7%, 10 a class). Slow: 21 runs, 18 min on one free core (L2RW about 4x a CE run).
# --------------------------------------------------------------------------------------------------
NOISY_DIGITS = [
    "dataset=digits_lt", "dataset.imbalance_ratio=null", "dataset.noise.rate=0.4", "dataset.noise.mode=uniform",
    "dataset.augment.crop=none",
    "backbone=resnet32", "backbone.width=0.25", "trainer.epochs=40", "trainer.batch_size=64",
    "trainer.progress=false", "trainer.device=cpu", "trainer.checkpoint_every=40", "trainer.num_threads=1",
]
HOLDOUT = ["dataset.clean_holdout.size=100"]
METHOD_RUNS = {
    "reed_hard": ["method=reed_hard"],
    "s_model": ["method=s_model", "method.warmup_epochs=7"],            # 20 of 120 epochs -> 7 of 40
    "l2rw": ["method=l2rw", "method.clean_batch_size=64", *HOLDOUT],
    "mentornet_pd": ["method=mentornet_pd"],
    "mentornet_dd": ["method=mentornet_dd", "method.mentor_steps=3000", *HOLDOUT],  # mentor_data=trained_student
    "mentornet_dd_heldout": ["method=mentornet_dd", "method.mentor_steps=3000", "method.mentor_data=heldout", *HOLDOUT],
}
SEEDS = (0, 1, 2)


@pytest.fixture(scope="module")
def noisy_digits_runs(tmp_path_factory):
    """The runs' root folder (one sub-folder per method and seed, e.g. mentornet_dd0) and top-1 per method."""
    import json

    from dcl_runner.train import run_experiment

    root = tmp_path_factory.mktemp("noisy_digits")
    top1 = {}
    for name, overrides in {"ce": ["method=ce"], **METHOD_RUNS}.items():
        top1[name] = [run_experiment(compose([*NOISY_DIGITS, *overrides, f"seed={s}"]), root / f"{name}{s}")["top1"]
                      for s in SEEDS]
        print(json.dumps({name: top1[name]}), flush=True)
    return root, top1


@pytest.fixture(scope="module")
def noisy_digits_top1(noisy_digits_runs):
    return noisy_digits_runs[1]


# Measured (top-1 % at epoch 40; CE 67.67 / 65.00 / 65.67, mean 66.11): L2RW 92.33 / (90.0 at epoch 25), MentorNet PD
# 88.33 / 84.00 pass (seeds 0 / 1). Reed Hard 71.67 / 60.67 / 71.67 (mean 68.00) and S-Model 71.33 / 64.00 / 70.00 (mean
# 68.44) do not beat CE beyond the seed spread, and neither do the rows they reproduce: Ren et al.'s Table 2 (DP Table
# 2), CIFAR-10, 40% uniform noise: Baseline 67.97 +- 0.62, Reed Hard 69.66 +- 1.21, S-Model 70.64 +- 3.09 (CIFAR-100:
# 50.66 +- 0.24, 51.34 +- 0.17, 49.10 +- 0.58, S-Model below its baseline). What those rows do show on a 10-class set
# is a mean gain of a few points within the spread: test_reed_hard_and_s_model_keep_the_sign_of_their_published_gain.
# Both memorise the wrong labels as CE does (train accuracy on the noisy labels 100 / 95-97% at epoch 40; CE 100%).
# MentorNet DD, seeds 0 / 1 / 2 (the default: mentor_data=trained_student, student_data=training_set, the dumped
# student one pass an epoch over the training set and the hold-out): 93.00 / 92.33 / 92.33, mentor fit 0.357 / 0.309 /
# 0.358, AUC of v on the training labels 0.76 / 0.97 / 0.98 when it starts weighing (mean over epochs 8-40 0.855 /
# 0.979 / 0.974); train accuracy on the noisy labels
# 64.6 / 64.7 / 66.4% at epoch 40 (the wrong labels are not fitted). Seeds 0-2 are the favourable end: on seeds 0-9
# DD 93.00 / 92.33 / 92.33 / 92.33 / 90.00 / 73.67 / 79.00 / 96.67 / 83.67 / 66.33 (mean 85.93) against CE 67.67 / 65.00
# / 65.67 / 71.67 / 71.33 / 72.00 / 70.33 / 70.00 / 71.00 / 72.00 (mean 69.67): the mentor fits on every seed, but on
# 5, 6, 8, 9 the student memorises part of the wrong labels (docs/noisy_labels.md). Before (issue 14b, student_data=holdout: the
# dumped student memorised its 100 images within 2-4 epochs, mentor at chance): 69.00 / 66.67 / 68.33. With the run's
# own student's held-out losses (mentor_data=heldout) the mentor fits (0.302 / 0.294 / 0.406) and separates (AUC 0.98
# / 0.97 / 0.99 at epoch 8), but the student then memorises the wrong labels and on seed 1 the separation falls to
# 0.80 by epoch 40: 83.67 / 65.33 / 87.67, its worst seed ties CE.
# Strict xfails, so a fix that makes them pass is noticed.
NOT_YET = {"reed_hard": "hard bootstrapping (beta 0.8) memorises the wrong labels as CE does: worst seed 60.67 against "
                        "CE's best 67.67 (Ren et al.'s own row: 69.66 +- 1.21 against 67.97 +- 0.62, within the spread)",
           "s_model": "the channel starts from the base network's confusion but the base memorises: worst seed 64.00 "
                      "against CE's best 67.67 (Ren et al.'s own row: 70.64 +- 3.09 against 67.97 +- 0.62)",
           "mentornet_dd_heldout": "the mentor separates, but the student memorises the wrong labels after the burn-in "
                                   "(AUC 0.97 -> 0.80); seed 1 ends at CE's top-1"}


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mentornet_dd", "mentornet_dd_heldout"])
def test_the_dd_mentor_fits_its_records_and_separates_the_students_training_labels(noisy_digits_runs, name):
    """A mentor that learns nothing fits its records at best at the entropy of their share p of right labels,
    H(p) = -(p ln p + (1 - p) ln(1 - p)) (p about 0.82: the hold-out's 0.2 noise keeps 1/10 of the redrawn labels
    right, 0.8 + 0.2 / 10; H(0.82) = 0.4711). The fit must be 0.1 below it, and the mentor's v must rank the student's
    right training labels above its wrong ones over the epochs it weighs (mean AUC > 0.8; 0.5 is no separation). Measured, seeds 0 / 1 / 2: p 0.82
    / 0.81 / 0.77, chance 0.471 / 0.486 / 0.539; heldout: fit 0.302 / 0.294 / 0.406, AUC 0.98 / 0.97 / 0.99 at epoch 8,
    mean 0.973 / 0.887 / 0.962
    (before issue 14: 0.497, AUC 0.5); trained_student (student_data=training_set): fit 0.357 / 0.309 / 0.358, AUC
    0.76 / 0.97 / 0.98 at epoch 8, mean over epochs 8-40 0.855 / 0.979 / 0.974 (with student_data=holdout, issue 14b's
    reading: fit 0.491 / 0.505 / 0.543, at chance)."""
    import pandas as pd

    root, _ = noisy_digits_runs
    for seed in SEEDS:
        run = root / f"{name}{seed}"
        records = torch.load(run / "checkpoints" / "last.pt", weights_only=False)["method"]["_extra_state"]["records"]
        p = records[:, 2].mean().item()
        chance = -(p * math.log(p) + (1 - p) * math.log(1 - p))
        history = pd.read_csv(run / "history.csv")
        assert history["mentor_fit_loss"].dropna().iloc[-1] < chance - 0.1, (chance, history)
        assert history["mentor_auc"].dropna().mean() > 0.8, history


@pytest.mark.slow
@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.xfail(reason=NOT_YET[n], strict=True)) if n in NOT_YET
                                  else n for n in sorted(METHOD_RUNS)])
def test_each_noisy_label_baseline_beats_ce_beyond_the_seed_spread(noisy_digits_top1, name):
    assert min(noisy_digits_top1[name]) > max(noisy_digits_top1["ce"]), noisy_digits_top1


@pytest.mark.slow
@pytest.mark.parametrize("name", ["reed_hard", "s_model"])
def test_reed_hard_and_s_model_keep_the_sign_of_their_published_gain(noisy_digits_top1, name):
    """What Ren et al.'s Table 2 (DP Table 2) shows for these two on CIFAR-10 (10 classes, as digits), 40% uniform
    noise: Reed Hard 69.66 +- 1.21 and S-Model 70.64 +- 3.09 against the baseline's 67.97 +- 0.62, a mean gain of 1.69
    and 2.67 points within the spread. Checked: a mean top-1 over the seeds at or above CE's. Measured: Reed Hard
    68.00, S-Model 68.44 against CE 66.11 (a method that broke the training, e.g. a wrong sign, falls far below)."""
    mean = sum(noisy_digits_top1[name]) / len(noisy_digits_top1[name])
    ce = sum(noisy_digits_top1["ce"]) / len(noisy_digits_top1["ce"])
    assert mean >= ce, noisy_digits_top1
