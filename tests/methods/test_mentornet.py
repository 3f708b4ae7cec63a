"""MentorNet DD's mentor (Jiang et al., ICML 2018; google/mentornet code/training_mentornet): its training data from
the clean hold-out, its loss-difference feature per student dump, that it learns to separate right from wrong labels,
and that its records survive a resume mid burn-in. Every expected number is worked out by hand in the docstrings."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dcl_runner.data.base import MULTICLASS, TaskInfo
from dcl_runner.errors import ConfigError
from dcl_runner.methods import TrainContext, build_method
from dcl_runner.methods.mentornet import MentorNetwork, fit_mentor, record_loss_differences, separation_auc
from dcl_runner.train import RunInterrupted, run_experiment
from helpers import TINY, compose, interrupt_at_step


def binary_entropy(p: float) -> float:
    return -(p * math.log(p) + (1 - p) * math.log(1 - p))


def test_loss_differences_are_to_the_percentile_of_their_own_dump():
    """Two dumps (epochs 0 and 3). np.percentile(linear) at 0.9 of (1, 2, 3): position 0.9 * 2 = 1.8, 2 + 0.8 = 2.8;
    of (10, 20, 30): 20 + 0.8 * 10 = 28. So d = (-1.8, -0.8, 0.2, -18, -8, 2)."""
    loss = torch.tensor([1.0, 2.0, 3.0, 10.0, 20.0, 30.0])
    dump = torch.tensor([0.0, 0.0, 0.0, 3.0, 3.0, 3.0])
    assert record_loss_differences(loss, dump, 0.9).tolist() == pytest.approx([-1.8, -0.8, 0.2, -18, -8, 2], abs=1e-5)


def test_separation_auc_by_hand():
    """Positives score 0.9, 0.8; negatives 0.3, 0.8: pairs 1 + 1 + 1 + 1/2 (the tie) = 3.5 of 4 = 0.875."""
    assert separation_auc(torch.tensor([0.9, 0.8, 0.3, 0.8]), torch.tensor([1, 1, 0, 0])) == pytest.approx(0.875)
    assert math.isnan(separation_auc(torch.tensor([0.9]), torch.tensor([1])))


class FixedStudent(nn.Module):
    """p(class 0) = 0.8 for every image: CE 0.223144 under label 0, ln(1 / 0.02222) under another of 10 classes."""

    def forward(self, inputs):
        probs = torch.full((10,), 0.2 / 9)
        probs[0] = 0.8
        return {"logits": probs.log().expand(len(inputs), 10)}


class LinearStudent(nn.Module):
    """logits = W x + b from W = 0, b = 0; on the all-zero images the logits are b."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 10)
        with torch.no_grad():
            self.fc.weight.zero_()
            self.fc.bias.zero_()

    def forward(self, inputs):
        return {"logits": self.fc(inputs)}


def holdout_method(n: int, rate: float, *overrides, student=None, fetched=None):
    """mentornet_dd over n training images of 10 classes (all of class 0), every one of them held out but the last;
    its student FixedStudent under mentor_data=heldout (the default's dumped student trains: a LinearStudent). Every
    position fetched is appended to ``fetched``."""
    m = build_method(compose(["method=mentornet_dd", "method.mentor_steps=5", f"method.mentor_noise_rate={rate}",
                              *(overrides or ["method.mentor_data=heldout"])]).method,
                     TaskInfo(MULTICLASS, [f"c{i}" for i in range(10)], np.full(10, n // 10), n, (1, 2, 2)))
    x, y = torch.zeros(n, 2), torch.zeros(n, dtype=torch.long)
    held = np.ones(n, dtype=bool)
    held[-1] = False
    fetched = [] if fetched is None else fetched

    def fetch(at, generator=None, augment=True):
        fetched.extend(torch.as_tensor(at).tolist())
        return x[at], y[at], at

    m.setup(TrainContext(task=m.task, train_targets=y, device=torch.device("cpu"), epochs=100, steps_per_epoch=1,
                         seed=0, meta={"clean_holdout_mask": held}, model=student or FixedStudent(), iterate_train=None,
                         fetch=fetch))
    return m


STUDENT_SGD = ["method.student_lr=1.0", "method.student_momentum=0.0", "method.student_weight_decay=0.0",
               "method.student_batch_size=64"]


def test_the_hold_out_dumped_student_trains_on_the_corrupted_hold_out_only():
    """student_data=holdout (the dumped StudentNet trains on the corrupted subset only). 200 images of class
    0, 199 held out at noise 0.5; one step (steps_per_epoch 1) of SGD, lr 1, no momentum or decay, 64 images drawn
    from the hold-out. From b = 0 the cross-entropy's gradient in b is softmax(0) - (share of each label in the
    batch), so the step leaves b_k = share_k - 1/10: a distribution less 0.1 on the batch's NOISY labels (trained on
    the true ones it would be (0.9, -0.1, ...)); about 0.55 of the labels are still 0 (0.5 + 0.5 / 10), and a batch of
    64 from 199 is all right with probability ~0.55^64. Only held-out positions (0..198) are fetched, never 199; the
    run's student is not touched. The next dump is the trained student's loss, logsumexp(b) - b_label."""
    student, fetched = LinearStudent(), []
    m = holdout_method(200, 0.5, *STUDENT_SGD, "method.student_data=holdout", student=student, fetched=fetched)
    m.on_epoch_start(0)
    assert fetched and max(fetched) <= 198                                   # only the hold-out, dump and training
    assert student.fc.bias.abs().sum().item() == 0.0                         # the run's student never moved
    share = m.aux_student.fc.bias.detach() + 0.1
    assert share.sum().item() == pytest.approx(1.0, abs=1e-5) and share.min().item() >= -1e-6
    noisy = set(m.holdout_labels.tolist())
    assert all(share[k].item() == pytest.approx(0.0, abs=1e-6) for k in range(10) if k not in noisy)
    assert 0.2 < share[0].item() < 0.8                                        # not the true labels' one-hot
    b = m.aux_student.fc.bias.detach().clone()
    m.on_epoch_start(1)  # epoch 1's dump is taken before its training step
    dump = m.records[m.records[:, 3] == 1]
    assert dump[:, 0].tolist() == pytest.approx((torch.logsumexp(b, 0) - b[m.holdout_labels]).tolist(), abs=1e-5)
    assert dump[:, 2].tolist() == (m.holdout_labels == 0).float().tolist()  # v* = noisy label == true label (0)


def test_the_dumped_student_trains_one_pass_over_the_training_set_with_the_hold_outs_synthetic_labels():
    """student_data=training_set (default: the authors' dump is of a student on the whole 20%-noise training set).
    200 images of class 0, 199 held out at noise 0.5, image 199 trained on under the run's label 9; one batch of all
    200 (student_batch_size 200), lr 1, no momentum or decay; epoch 0 is in the burn-in, whose example drop-out keeps
    floor(200 * 0.5) = 100 images at v = 1. The batch loss is sum(v * CE) / 200, so from b = 0 the step leaves
    b_k = n_k / 200 - (100 / 200) / 10, n_k the kept images under label k: (b_k + 0.05) sums to 100 / 200 = 0.5, each a
    multiple of 1 / 200, and it is 0 for a label neither the hold-out's synthetic ones nor 9. The pass fetches every
    position 0..199 once, after the dump's 0..198; the run's student is not touched."""
    student, fetched = LinearStudent(), []
    m = holdout_method(200, 0.5, "method.mentor_data=trained_student", *STUDENT_SGD[:3], "method.student_batch_size=200",
                       student=student, fetched=fetched)
    m.aux_labels[199] = 9
    m.on_epoch_start(0)
    assert fetched[:199] == list(range(199)) and sorted(fetched[199:]) == list(range(200))
    assert student.fc.bias.abs().sum().item() == 0.0
    share = m.aux_student.fc.bias.detach() + 0.05
    assert share.sum().item() == pytest.approx(0.5, abs=1e-5)
    assert (share * 200).tolist() == pytest.approx((share * 200).round().tolist(), abs=1e-3)
    seen = set(m.holdout_labels.tolist()) | {9}
    assert all(share[k].item() == pytest.approx(0.0, abs=1e-6) for k in range(10) if k not in seen)
    # batches of 64: 64, 64, 64 and the last 8, every image once; with 193 images (batches 64, 64, 64, 1) the batch of
    # one image (BatchNorm cannot train on it) is left out: 192 of them
    for n, trained in ((200, 200), (193, 192)):
        fetched = []
        holdout_method(n, 0.5, "method.mentor_data=trained_student", *STUDENT_SGD, student=LinearStudent(),
                       fetched=fetched).on_epoch_start(0)
        assert len(fetched[n - 1:]) == trained and len(set(fetched[n - 1:])) == trained
    with pytest.raises(ConfigError, match="student_data.*training_set"):
        holdout_method(20, 0.2, "method.mentor_data=trained_student", "method.student_data=everything")


def test_mentor_data_switches_the_dumped_student_and_refuses_an_unknown_one():
    """heldout: the run's own student is dumped (FixedStudent: 0.223144 under label 0) and nothing else is built;
    an unknown mentor_data is refused, naming the key and the values it takes."""
    m = holdout_method(20, 0.2)
    assert m.aux_student is None
    m.on_epoch_start(0)
    right = m.records[:, 2] == 1
    assert m.records[right, 0].tolist() == pytest.approx([0.223144] * int(right.sum()), abs=1e-5)
    with pytest.raises(ConfigError, match="mentor_data.*trained_student"):
        holdout_method(20, 0.2, "method.mentor_data=teacher")


def test_the_mentor_data_has_both_targets_in_the_proportion_of_the_corruption():
    """The hold-out's labels are corrupted (uniform noise, Jiang et al.'s: each label is, with probability p, replaced
    by a uniform random class, the true one included) and v* = 1[label still right]. Over 1,999 held-out images at
    p = 0.2 and 10 classes, the wrong fraction is 0.2 * 9/10 = 0.18, binomial sd sqrt(0.18 * 0.82 / 1999) = 0.0086:
    within 0.035 (4 sd). Every record's loss is the student's under its own (noisy) label: 0.223144 where the label
    is 0 (right), -ln(0.2 / 9) = 3.806662 where it is not."""
    m = holdout_method(2000, 0.2)
    m.on_epoch_start(0)
    right, loss = m.records[:, 2], m.records[:, 0]
    assert set(right.tolist()) == {0.0, 1.0}
    assert abs((1 - right.mean().item()) - 0.18) < 0.035
    assert loss[right == 1].tolist() == pytest.approx([0.223144] * int(right.sum()), abs=1e-5)
    assert loss[right == 0].tolist() == pytest.approx([3.806662] * int((1 - right).sum()), abs=1e-5)
    assert m.records[:, 3].unique().tolist() == [0.0]  # the dump's epoch
    # the same hand-worked v* on a tiny hold-out: 4 images, p = 0.5
    tiny = holdout_method(5, 0.5)
    tiny.on_epoch_start(0)
    assert tiny.records[:, 2].tolist() == (tiny.holdout_labels == 0).float().tolist()


def separable_records():
    """Two student dumps: an untrained student (epoch 0, percent 0: losses 40-60 whatever the label, as the real
    first dump on noisy digits) and the student at the burn-in's end (epoch 7, percent 18): right labels lose 0-1,
    wrong ones 2-4. Each dump: 160 right, 40 wrong (80% right, the mentor's 0.2 noise)."""
    gen = torch.Generator().manual_seed(0)
    right = torch.cat([torch.ones(160), torch.zeros(40)])
    untrained = 40 + 20 * torch.rand(200, generator=gen)
    trained = torch.where(right == 1, torch.rand(200, generator=gen), 2 + 2 * torch.rand(200, generator=gen))
    first = torch.stack([untrained, torch.zeros(200), right, torch.zeros(200)], 1)
    last = torch.stack([trained, torch.full((200,), 18.0), right, torch.full((200,), 7.0)], 1)
    return torch.cat([first, last])


def test_the_mentor_separates_right_from_wrong_labels_where_the_loss_does():
    """The authors' fit (Adam lr 0.1, batch 32, clip 5), 200 steps. On the trained dump a constant mentor's best
    cross-entropy is the entropy of 80/20, H(0.8) = -(0.8 ln 0.8 + 0.2 ln 0.2) = 0.500402; the loss alone separates
    the dump, so the mentor must rank every right label above every wrong one (AUC 1) and its cross-entropy fall
    well below chance (< 0.15, under a third of it). Before the per-dump percentile, the untrained dump set the 90th
    percentile (~58) for both and this fit stayed at 0.50 with AUC 0.5 (a saturated, constant mentor)."""
    assert binary_entropy(0.8) == pytest.approx(0.500402, abs=1e-6)
    records = separable_records()
    mentor = MentorNetwork(torch.Generator().manual_seed(0))
    fit_mentor(mentor, records, 0.9, steps=200, lr=0.1, batch_size=32, max_grad_norm=5.0,
               generator=torch.Generator().manual_seed(1))
    last = records[200:]
    diff = record_loss_differences(last[:, 0], last[:, 3], 0.9)
    with torch.no_grad():
        logit = mentor(last[:, 0], diff, last[:, 1].long())
    assert F.binary_cross_entropy_with_logits(logit, last[:, 2]).item() < 0.15
    assert separation_auc(logit, last[:, 2]) == 1.0


DD_RUN = [*TINY, "dataset=digits_lt", "backbone=resnet32", "method=mentornet_dd", "dataset.noise.rate=0.4",
          "dataset.max_train_samples=64", "dataset.clean_holdout.size=100", "method.mentor_steps=20",
          "trainer.epochs=3", "trainer.eval_every=3"]


def test_a_resume_mid_burn_in_keeps_the_dumps_and_fits_the_same_mentor(tmp_path, monkeypatch):
    """3 epochs of 2 steps (64 images less the hold-out's share, batch 32): a dump at the start of epoch 0 (percent
    0), the last dump and the fit at epoch 1 (floor(100 / 3) = 33 -> 18). Stopped mid-epoch 0 (after step 1) and
    resumed, the run must not take epoch 0's dump again (its student has moved on): 2 dumps of the hold-out's H
    records and the same mentor as an unbroken run."""
    run_experiment(compose(DD_RUN), tmp_path / "ref")
    interrupt_at_step(monkeypatch, 1)
    with pytest.raises(RunInterrupted):
        run_experiment(compose(DD_RUN), tmp_path / "run")
    run_experiment(compose(DD_RUN), tmp_path / "run", resume=True)
    a = torch.load(tmp_path / "ref" / "checkpoints" / "last.pt", weights_only=False)["method"]
    b = torch.load(tmp_path / "run" / "checkpoints" / "last.pt", weights_only=False)["method"]
    records = a["_extra_state"]["records"]
    held = int((records[:, 3] == 0).sum())
    assert held > 0 and records.shape == (2 * held, 4) and records[:, 3].unique().tolist() == [0.0, 1.0]
    assert records[:, 1].unique().tolist() == [0.0, 18.0]
    assert torch.equal(records, b["_extra_state"]["records"])
    assert all(torch.equal(a[k], b[k]) for k in a if k.startswith("mentor."))
    assert not any(k.startswith("model.") for k in a)  # the student is not saved twice
