"""DCL: DSL weights (eq. 6-7), triplet mining (eq. 8-9), the loss scheduler, the Table 1 special
cases, the re-balancing baselines, short training runs of every DCL method, and (``-m slow``) DCL against CE on
the rarest attributes."""
import os

import numpy as np
import pandas as pd
import pytest
import torch

from dcl_runner.data.base import ATTRIBUTES, MULTICLASS, TaskInfo
from dcl_runner.data.celeba_attributes import ATTRIBUTE_NAMES, positive_rates
from dcl_runner.errors import ConfigError
from dcl_runner.methods.base import Batch, Method, build_method
from dcl_runner.methods.dcl import dsl_ratios, dsl_weights, dsl_weights_from_train, mine_triplets, triplet_loss
from dcl_runner.methods.rebalance import epoch_weights
from helpers import TINY, compose
from dcl_runner.train import run_experiment

# small synthetic sets: generating the default 6000 + 2000 images dominates a tiny run
RUN = [*TINY, "dataset.num_train=400", "dataset.num_test=200"]


def gen(seed=0):
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def column(*labels):
    return torch.tensor(labels, dtype=torch.long).unsqueeze(1)


# ---------------------------------------------------------------------------------------------- DSL
def test_dsl_balanced_target_reweights_the_minority_and_keeps_part_of_the_majority():
    labels = column(*([0] * 8 + [1] * 2))  # 8 negatives, 2 positives; target 50 : 50
    w = dsl_weights(labels, torch.tensor([[0.5, 0.5]]), gen())[:, 0]
    assert torch.all(w[8:] == 2.5)  # 0.5 / 0.2
    kept = w[:8]
    assert set(kept.tolist()) <= {0.0, 1.0} and kept.sum() == 5  # 0.5 * 10 of 8 negatives
    assert w.sum() == pytest.approx(10)  # weighted class sizes = N * target


def test_dsl_partial_target_and_seeded_subset():
    labels = column(*([0] * 16 + [1] * 4))
    target = torch.tensor([[0.75, 0.25]])  # D_train 9:1 at g = 0.5
    w = dsl_weights(labels, target, gen(1))[:, 0]
    assert w[:16].sum() == 15 and torch.all(w[16:] == 1.25)
    assert torch.equal(w, dsl_weights(labels, target, gen(1))[:, 0])  # same generator seed, same subset
    subsets = {tuple(dsl_weights(labels, target, gen(s))[:16].flatten().tolist()) for s in range(6)}
    assert len(subsets) > 1  # the dropped sample is drawn, not always the same


def test_dsl_batch_missing_a_class_and_batch_of_one_class():
    target = torch.tensor([[0.5, 0.5]])
    only_neg = dsl_weights(column(*([0] * 10)), target, gen())[:, 0]
    assert only_neg.sum() == 5 and set(only_neg.tolist()) == {0.0, 1.0}  # the negatives keep their share
    only_pos = dsl_weights(column(*([1] * 4)), target, gen())[:, 0]
    assert only_pos.sum() == 2
    minority_only = dsl_weights(column(1, 1), torch.tensor([[0.9, 0.1]]), gen())[:, 0]
    assert minority_only.sum() == 0  # share 0.1 < current 1: round(0.1 * 2) = 0 of them kept


def test_dsl_many_attributes_and_multiclass_at_once():
    labels = torch.tensor([[0, 1], [0, 0], [0, 1], [1, 0]])  # two attributes
    w = dsl_weights(labels, torch.tensor([[0.5, 0.5], [0.5, 0.5]]), gen())
    assert w[3, 0] == 2.0 and w[:3, 0].sum() == 2  # attr 0: 3 neg, 1 pos
    assert torch.all(w[:, 1] == 1)  # attr 1: already balanced
    classes = column(0, 0, 0, 0, 1, 1, 2, 2, 2, 2, 2, 2)  # one task of three classes
    w = dsl_weights(classes, torch.full((1, 3), 1 / 3), gen())[:, 0]
    assert w[:4].sum() == 4 and torch.all(w[4:6] == 2) and w[6:].sum() == 4


# D_current = D_train (method.current=train)
@pytest.mark.parametrize("g", [0.0, 0.3, 0.77, 1.0])
@pytest.mark.parametrize("mode", ["power", "linear"])
def test_dsl_on_a_balanced_training_set_gives_ce_weights_for_every_g(g, mode):
    # balanced: D_train = 1 : 1 : 1, so D_target = 1^g = D_train and r = 1 for every class (DCL sec. 4.5)
    ratio = dsl_ratios(torch.tensor([[50.0, 50.0, 50.0], [7.0, 7.0, 7.0]]), g, mode)
    assert torch.equal(ratio, torch.ones(2, 3, dtype=ratio.dtype))
    labels = column(0, 0, 0, 0, 1, 2)  # an uneven batch of a balanced set
    assert torch.equal(dsl_weights_from_train(labels, ratio[:1], gen()), torch.ones(6, 1))


def test_dsl_batch_reading_reweights_a_balanced_set():
    # method.current=batch on the same batch: target share 1/3 = 2 samples of 6 per class
    w = dsl_weights(column(0, 0, 0, 0, 1, 2), torch.full((1, 3), 1 / 3), gen())[:, 0]
    assert w[:4].sum() == 2 and set(w[:4].tolist()) == {0.0, 1.0} and torch.all(w[4:] == 2)


def test_dsl_ratio_is_eq_5_over_the_training_shares_by_hand():
    # attribute 900 negatives : 100 positives, g = 0.5: D_train = 9 : 1, D_target = 3 : 1 (eq. 5)
    # -> shares 0.75 / 0.25 against 0.9 / 0.1: r = 5/6 and 2.5
    torch.testing.assert_close(dsl_ratios(torch.tensor([[900.0, 100.0]]), 0.5), torch.tensor([[5 / 6, 2.5]], dtype=torch.float64))
    # three classes 600 : 300 : 100 (D_train = 6 : 3 : 1), g = 0.5: r_j = sum D / (sqrt(D_j) * sum sqrt(D))
    d = np.array([6.0, 3.0, 1.0])
    expected = d.sum() / (np.sqrt(d) * np.sqrt(d).sum())
    np.testing.assert_allclose(dsl_ratios(torch.tensor([[600.0, 300.0, 100.0]]), 0.5).numpy()[0], expected, rtol=1e-12)
    # g = 0: balanced target, shares 1/3 against 0.6 / 0.3 / 0.1
    np.testing.assert_allclose(dsl_ratios(torch.tensor([[600.0, 300.0, 100.0]]), 0.0).numpy()[0], [5 / 9, 10 / 9, 10 / 3])
    # g = 1 (DCL Table 1 row CE): the training distribution itself, r = 1 exactly
    assert torch.all(dsl_ratios(torch.tensor([[600.0, 300.0, 100.0], [999.0, 1.0, 5.0]]), 1.0) == 1)


def test_dsl_weights_from_train_on_an_imbalanced_batch_by_hand():
    # 800 : 200 training attribute, g = 0: r = 0.5 / 0.8 = 0.625 and 0.5 / 0.2 = 2.5
    ratio = dsl_ratios(torch.tensor([[800.0, 200.0]]), 0.0).float()
    w = dsl_weights_from_train(column(*([0] * 8 + [1] * 2)), ratio, gen())[:, 0]
    assert torch.all(w[8:] == 2.5)                                  # minority re-weighted by r
    assert set(w[:8].tolist()) == {0.0, 1.0} and w[:8].sum() == 5   # 0.625 * 8 = 5 majority samples kept
    assert w.sum() == 10                                            # N * (0.5 + 0.5)


def test_dsl_weights_from_train_rounds_a_fractional_count_at_random_without_bias():
    # 600 : 300 : 100, g = 0: r = 5/9, 10/9, 10/3; a batch 6 : 3 : 1 keeps 6 * 5/9 = 3.33 of class 0:
    # 3 samples, plus a fourth with probability 1/3
    ratio = dsl_ratios(torch.tensor([[600.0, 300.0, 100.0]]), 0.0).float()
    labels = column(*([0] * 6 + [1] * 3 + [2]))
    kept = []
    for seed in range(600):
        w = dsl_weights_from_train(labels, ratio, gen(seed))[:, 0]
        torch.testing.assert_close(w[6:9], torch.full((3,), 10 / 9))
        assert w[9] == pytest.approx(10 / 3)
        kept.append(int(w[:6].sum()))
    assert set(kept) == {3, 4}
    assert np.mean(kept) == pytest.approx(10 / 3, abs=0.08)  # 4 standard errors of the mean of 600 draws


# -------------------------------------------------------------------------------------------- triplets
def hand_batch():
    # one attribute (task-major [T, B]); samples 0-2 are minority (positive), 3-5 majority. Scores = P(minority class).
    scores = torch.tensor([[0.9, 0.6, 0.2, 0.7, 0.1, 0.4]])
    minority = torch.tensor([[True, True, True, False, False, False]])
    correct = minority & (scores > 0.5)
    return scores, minority, correct


def test_easy_anchor_mining_picks_what_eq_9_says():
    scores, minority, correct = hand_batch()
    t = mine_triplets(scores, minority, correct, k=1)
    assert (t["anchor"].item(), t["positive"].item(), t["negative"].item()) == (0, 2, 3)
    t = mine_triplets(scores, minority, correct, k=2)
    assert t["anchor"][0].tolist() == [0, 1]  # correctly predicted minority, most confident first
    assert t["positive"][0].tolist() == [2, 1]  # lowest minority score first
    assert t["negative"][0].tolist() == [3, 5]  # highest minority score among the others
    t = mine_triplets(scores, minority, correct, k=4)  # only 2 easy anchors and 3 minority samples exist
    assert t["anchor_ok"][0].tolist() == [True, True, False, False]
    assert t["positive_ok"][0].sum() == 3 and t["negative_ok"][0].sum() == 3


def test_crl_anchors_are_all_minority_samples():
    scores, minority, correct = hand_batch()
    t = mine_triplets(scores, minority, correct, k=1, anchors="all")
    assert t["anchor_ok"][0].tolist() == [True, True, True, False, False, False]


def test_triplet_loss_value_on_hand_features():
    scores, minority, correct = hand_batch()
    feats = torch.tensor([[0.0, 0.0], [0.0, 0.1], [1.0, 0.0], [0.5, 0.0], [3.0, 0.0], [2.0, 0.0]]).unsqueeze(1)
    t = mine_triplets(scores, minority, correct, k=1)
    # anchor 0, positive 2 (d=1), negative 3 (d=0.5): max(0, 0.2 + 1 - 0.5) = 0.7
    assert triplet_loss(feats, t, 0.2, normalize=False).item() == pytest.approx(0.7)
    t = mine_triplets(scores, minority, correct, k=2)
    d = torch.cdist(feats[[0, 1], 0], feats[:, 0])
    expected = np.mean([max(0, 0.2 + d[a, p] - d[a, n]) for a in range(2) for p in (2, 1) for n in (3, 5)])
    assert triplet_loss(feats, t, 0.2, normalize=False).item() == pytest.approx(expected, rel=1e-5)
    no_anchor = mine_triplets(scores, minority, torch.zeros_like(correct), k=2)
    assert triplet_loss(feats, no_anchor, 0.2).item() == 0.0


# --------------------------------------------------------------------------------------- the method
def attribute_task(pos=(10, 50), n=100):
    return TaskInfo(ATTRIBUTES, ["a", "b"], np.array(pos), n, (3, 8, 8))


def method_cfg(*overrides):
    return compose(["method=dcl", *overrides]).method


def fake_outputs(batch_size=32, attrs=2, seed=0):
    g = gen(seed)
    return {"logits": torch.randn(batch_size, attrs, generator=g, requires_grad=True),
            "embedding": torch.randn(batch_size, attrs, 64, generator=g, requires_grad=True),
            "features": torch.randn(batch_size, 16, generator=g)}


def attr_batch(batch_size=32, seed=1):
    g = gen(seed)
    y = (torch.rand(batch_size, 2, generator=g) < torch.tensor([0.2, 0.5])).float()
    return Batch(x=torch.zeros(batch_size), y=y, index=torch.arange(batch_size), generator=gen(seed))


def test_g1_f0_reproduces_ce_exactly():
    cfg = compose(["method=dcl", "scheduler=constant", "method.loss_scheduler.name=constant",
                   "method.loss_scheduler.value=0", "method.loss_scheduler.p=null"]).method
    dcl, ce = build_method(cfg, attribute_task()), Method(attribute_task(), branch_dim=64)
    out, batch = fake_outputs(), attr_batch()
    for epoch in (0, 5):
        dcl.on_epoch_start(epoch)
        got = dcl.loss(out, batch, epoch)
        assert torch.equal(got.loss, ce.loss(out, batch, epoch).loss)
        assert got.parts["loss_triplet"] == 0 and dcl.epoch_scalars() == {"g_l": 1.0, "f_l": 0.0}


def test_dcl_loss_is_dsl_plus_f_times_tea_and_has_gradients():
    method = build_method(method_cfg("trainer.epochs=10"), attribute_task())
    method.on_epoch_start(2)
    assert 0 < method.g_l < 1 and method.f_l > 1  # convex g, composite f + eps before p*L
    out, batch = fake_outputs(), attr_batch()
    result = method.loss(out, batch, 2)
    parts = result.parts
    assert parts["loss_triplet"] > 0
    assert result.loss.item() == pytest.approx((parts["loss_dsl"] + method.f_l * parts["loss_triplet"]).item(), rel=1e-6)
    result.loss.backward()
    assert out["embedding"].grad.abs().sum() > 0
    method.on_epoch_start(5)  # past p*L = 3: f = eps
    assert method.f_l == pytest.approx(0.1)


def test_selective_learning_and_crl_i_are_dcl_configs():
    task = attribute_task()
    sl = build_method(compose(["method=selective_learning"]).method, task)
    crl = build_method(compose(["method=crl_i"]).method, task)
    assert type(sl).__name__ == type(crl).__name__ == "DCL"
    sl.on_epoch_start(0)
    torch.testing.assert_close(sl.target, torch.full((2, 2), 0.5))  # balanced from the first epoch
    assert sl.f_l == 0
    crl.on_epoch_start(7)
    assert (crl.g_l, crl.f_l, crl.anchors) == (1.0, pytest.approx(0.1), "all")
    out, batch = fake_outputs(), attr_batch()
    plain = Method(task, branch_dim=64).loss(out, batch, 0).loss
    assert crl.loss(out, batch, 7).loss.item() == pytest.approx((plain + 0.1 * crl.tea_loss(out, batch)).item())


def test_multiclass_dcl_uses_pooled_features_and_every_class_of_a_balanced_set():
    task = TaskInfo(MULTICLASS, ["0", "1", "2"], np.array([20, 20, 20]), 60, (3, 8, 8))
    method = build_method(method_cfg("trainer.epochs=10"), task)
    assert method.minority.all()
    method.on_epoch_start(1)
    g = gen(3)
    out = {"logits": torch.randn(12, 3, generator=g, requires_grad=True), "features": torch.randn(12, 16, generator=g, requires_grad=True)}
    batch = Batch(x=torch.zeros(12), y=torch.tensor([0] * 6 + [1] * 4 + [2] * 2), index=torch.arange(12), generator=gen())
    result = method.loss(out, batch, 1)
    result.loss.backward()
    assert torch.isfinite(result.loss) and out["features"].grad.abs().sum() > 0


@pytest.mark.parametrize("current", ["batch", "train"])
@pytest.mark.parametrize("method", ["dcl", "selective_learning"])
def test_dsl_on_a_balanced_multiclass_set_is_ce_at_every_epoch(method, current):
    # DCL sec. 4.5: on balanced CIFAR-100 the sampling part is the cross-entropy baseline
    task = TaskInfo(MULTICLASS, [str(c) for c in range(4)], np.array([25, 25, 25, 25]), 100, (3, 8, 8))
    dcl = build_method(compose([f"method={method}", "trainer.epochs=10", f"method.current={current}"]).method, task)
    logits = torch.randn(12, 4, generator=gen(5))
    batch = Batch(x=torch.zeros(12), y=torch.tensor([0] * 7 + [1] * 3 + [2] * 2), index=torch.arange(12), generator=gen())
    ce = Method(task, branch_dim=64).loss({"logits": logits}, batch, 0).loss
    for epoch in range(10):
        dcl.on_epoch_start(epoch)
        assert torch.equal(dcl.dsl_loss(logits, batch), ce), epoch


def test_dsl_batch_reading_keeps_a_balanced_attribute_as_drawn_and_rebalances_the_other():
    # attribute 0: 50 : 50 in training (balanced), attribute 1: 80 : 20; g = 0 (selective learning)
    task = TaskInfo(ATTRIBUTES, ["even", "rare"], np.array([50, 20]), 100, (3, 8, 8))
    sl = build_method(compose(["method=selective_learning"]).method, task)
    sl.on_epoch_start(0)
    y = torch.tensor([[1, 1]] * 2 + [[0, 0]] * 6, dtype=torch.float32)  # a batch 6 : 2 in both attributes
    logits = torch.randn(8, 2, generator=gen(2))
    logits[2:, 1] = 0.3  # the rare attribute's negatives alike: the loss does not depend on which 4 are kept
    w_rare = dsl_weights(y[:, 1:].long(), torch.tensor([[0.5, 0.5]]), gen())  # target 4 : 4 of 8 -> keep 4 of 6, x2
    assert w_rare[:2].tolist() == [[2.0], [2.0]] and w_rare[2:].sum() == 4
    weights = torch.cat([torch.ones(8, 1), w_rare], 1)
    expected = torch.nn.functional.binary_cross_entropy_with_logits(logits, y, weight=weights, reduction="sum") / 8
    torch.testing.assert_close(sl.dsl_loss(logits, Batch(x=torch.zeros(8), y=y, index=torch.arange(8), generator=gen())), expected)


def test_method_current_must_be_train_or_batch():
    with pytest.raises(ConfigError, match="unknown value 'epoch' for method.current; valid values are batch"):
        build_method(method_cfg("method.current=epoch"), attribute_task())


# ------------------------------------------------------------------------------------- baselines
def test_rebalancing_baselines_per_attribute():
    labels = torch.tensor([[0, 1]] * 6 + [[1, 0]] * 2)  # attr 0: 6 neg / 2 pos; attr 1: 2 neg / 6 pos
    cost = epoch_weights("cost_sensitive", labels, 2, gen())
    torch.testing.assert_close(cost[[0, -1]], torch.tensor([[8 / 12, 8 / 12], [2.0, 2.0]]))
    over = epoch_weights("oversample", labels, 2, gen())
    assert over[:, 0].tolist() == [1] * 6 + [3] * 2 and over[:, 1].tolist() == [1] * 6 + [3] * 2
    under = epoch_weights("undersample", labels, 2, gen())
    assert under[:6, 0].sum() == 2 and torch.all(under[6:, 0] == 1)
    assert under[:6, 1].sum() == 2 and torch.all(under[6:, 1] == 1)
    fractional = epoch_weights("oversample", torch.tensor([[0]] * 5 + [[1]] * 2), 2, gen())
    assert fractional[5:, 0].tolist() in ([2.0, 3.0], [3.0, 2.0], [2.0, 2.0], [3.0, 3.0])


# ------------------------------------------------------------------------------------- training runs
# one run per code path: DCL, its CRL variant, the re-balancing baselines (selective_learning and
# oversample are the same code paths with other values; their values are tested above)
@pytest.mark.parametrize("method", ["dcl", "crl_i", "undersample"])
def test_every_dcl_method_trains_on_attributes(tmp_path, method):
    final = run_experiment(compose([*RUN, f"method={method}"]), tmp_path)
    assert 0 < final["mA"] <= 100
    history = pd.read_csv(tmp_path / "history.csv")
    if method in ("dcl", "crl_i"):
        assert {"g_l", "f_l", "loss_dsl", "loss_triplet"} <= set(history.columns)


def test_dcl_history_follows_the_schedulers_and_runs_multiclass(tmp_path):
    run_experiment(compose([*RUN, "method=dcl", "trainer.epochs=3", "dataset.max_train_samples=64"]), tmp_path / "a")
    history = pd.read_csv(tmp_path / "a" / "history.csv")
    np.testing.assert_allclose(history.g_l, [1.0, np.cos(np.pi / 6), np.cos(np.pi / 3)])
    np.testing.assert_allclose(history.f_l, [1.1, 0.1, 0.1])  # p * L = 0.9: only epoch 0 is before it
    final = run_experiment(compose([*TINY, "method=dcl", "dataset=digits_lt", "dataset.max_train_samples=64"]), tmp_path / "b")
    assert "top1" in final


def test_dcl_g1_f0_run_equals_the_ce_run(tmp_path):
    ce = run_experiment(compose([*RUN, "method=ce"]), tmp_path / "ce")
    dcl = run_experiment(compose([*RUN, "method=dcl", "scheduler=constant", "method.loss_scheduler.name=constant",
                                  "method.loss_scheduler.value=0", "method.loss_scheduler.p=null"]), tmp_path / "dcl")
    assert ce["mA"] == dcl["mA"] and ce["per_attribute_mA"] == dcl["per_attribute_mA"]


@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("shared", [False, True], ids=["per-task-features", "shared-features"])
@pytest.mark.parametrize("anchors", ["easy", "all"])
def test_triplet_loss_and_gradient_equal_the_brute_force_over_all_triplets(normalize, shared, anchors):
    """The hand-written forward and backward of TripletHinge against autograd over every triplet one by one."""
    g = gen(7)
    shape = (48, 8) if shared else (48, 5, 8)  # multi-class tasks share one [B, D] feature
    embedding = torch.randn(*shape, generator=g, dtype=torch.float64).requires_grad_()
    scores = torch.rand(5, 48, generator=g)  # task-major [T, B]
    minority = torch.rand(5, 48, generator=g) < 0.25
    t = mine_triplets(scores, minority, minority & (scores > 0.5), 6, anchors)
    fast = triplet_loss(embedding, t, 0.5, normalize=normalize)
    total = torch.zeros((), dtype=torch.float64)
    for task in range(5):  # every (anchor, positive, negative) triplet, one by one per task
        f = embedding if shared else embedding[:, task]
        f = torch.nn.functional.normalize(f, dim=-1) if normalize else f
        a = t["anchor"][task][t["anchor_ok"][task]]
        p = t["positive"][task][t["positive_ok"][task]]
        n = t["negative"][task][t["negative_ok"][task]]
        d_ap = (f[a][:, None] - f[p][None]).square().sum(-1).clamp_min(1e-12).sqrt()  # [a, p]
        d_an = (f[a][:, None] - f[n][None]).square().sum(-1).clamp_min(1e-12).sqrt()  # [a, n]
        hinge = torch.relu(0.5 + d_ap[:, :, None] - d_an[:, None, :])  # [a, p, n]: every triplet
        total = total + (hinge.mean() if hinge.numel() else 0)
    assert fast.item() == pytest.approx(total.item(), rel=1e-5)
    fast_grad, = torch.autograd.grad(fast, embedding)
    brute_grad, = torch.autograd.grad(total, embedding)
    torch.testing.assert_close(fast_grad.float(), brute_grad.float(), atol=1e-5, rtol=1e-4)


def test_triplet_loss_backward_twice_and_under_bf16_autocast():
    """The saved counts survive a second backward (retain_graph); under autocast the loss is computed
    in fp32 from bf16 features and the gradient comes back in the features' dtype."""
    g = gen(3)
    embedding = torch.randn(32, 4, 8, generator=g).requires_grad_()
    scores, minority = torch.rand(4, 32, generator=g), torch.rand(4, 32, generator=g) < 0.3
    t = mine_triplets(scores, minority, minority & (scores > 0.5), 5)
    loss = triplet_loss(embedding, t, 0.2)
    first, = torch.autograd.grad(loss, embedding, retain_graph=True)
    second, = torch.autograd.grad(loss, embedding)
    torch.testing.assert_close(first, second)
    half = embedding.detach().bfloat16().requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss_bf16 = triplet_loss(half, t, 0.2)
    assert loss_bf16.dtype == torch.float32
    assert loss_bf16.item() == pytest.approx(loss.item(), rel=0.05)
    grad, = torch.autograd.grad(loss_bf16, half)
    assert grad.dtype == torch.bfloat16 and torch.isfinite(grad.float()).all()


# ---------------------------------------------------------------------------------------------- slow
# Slow check (``python -m pytest -m slow tests/methods/test_dcl.py -s``): on the default synthetic data,
# DCL beats plain cross-entropy in mA on the rarest attributes, judged over several seeds.
#
# Each seed trains ``method=ce`` and ``method=dcl`` on the default data (synthetic_attributes, 6000
# training images, deepid2 at quarter width, the default trainer, 6 epochs) and compares the mean per-attribute mA of the RAREST attributes
# (lowest positive rate). DCL must win on average and in a majority of seeds. About 1 min per run
# on an idle CPU thread; DCL_SLOW_SEEDS / DCL_SLOW_EPOCHS / DCL_SLOW_WIDTH change the setting.
SLOW_SEEDS = [int(s) for s in os.environ.get("DCL_SLOW_SEEDS", "0,1,2").split(",")]
SLOW_EPOCHS = int(os.environ.get("DCL_SLOW_EPOCHS", "6"))
SLOW_WIDTH = float(os.environ.get("DCL_SLOW_WIDTH", "0.25"))
RAREST = 10


def rare_mA(metrics):
    rates = positive_rates()
    minority_rate = np.minimum(rates, 1 - rates)
    rarest = [ATTRIBUTE_NAMES[i] for i in np.argsort(minority_rate)[:RAREST]]
    return float(np.mean([metrics["per_attribute_mA"][a] for a in rarest]))


@pytest.mark.slow
def test_dcl_beats_ce_on_the_rarest_attributes(tmp_path):
    common = ["trainer.device=cpu", "trainer.progress=false", "trainer.num_workers=0", f"trainer.epochs={SLOW_EPOCHS}", f"backbone.width={SLOW_WIDTH}"]
    rows = []
    for seed in SLOW_SEEDS:
        result = {}
        for method in ("ce", "dcl"):
            metrics = run_experiment(compose([f"method={method}", f"seed={seed}", *common]), tmp_path / f"{method}-{seed}")
            result[method] = (rare_mA(metrics), metrics["mA"])
        rows.append(result)
        print(f"seed {seed}: rarest-{RAREST} mA  ce {result['ce'][0]:.2f}  dcl {result['dcl'][0]:.2f}   "
              f"all-40 mA  ce {result['ce'][1]:.2f}  dcl {result['dcl'][1]:.2f}", flush=True)
    ce = np.array([r["ce"][0] for r in rows])
    dcl = np.array([r["dcl"][0] for r in rows])
    print(f"mean over {len(SLOW_SEEDS)} seeds: rarest-{RAREST} mA  ce {ce.mean():.2f}  dcl {dcl.mean():.2f}")
    assert dcl.mean() > ce.mean()
    assert (dcl > ce).sum() > len(SLOW_SEEDS) / 2
