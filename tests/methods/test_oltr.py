"""OLTR (Liu et al., CVPR 2019), closed-set: the cosine classifier, the meta-embedding, the discriminative centroids
loss and its centre-loss gradient, the class-aware sampler, the centroid memory's initialisation, a stage-1 start, a
tiny run, and (``-m slow``) its few-shot recall against CE on real digits."""
import math

import numpy as np
import pytest
import torch

from dcl_runner.data.base import MULTICLASS, TaskInfo
from dcl_runner.errors import ConfigError
from dcl_runner.methods.base import TrainContext, build_method
from dcl_runner.methods.oltr import (
    ModulatedAttention,
    centroid_attraction,
    centroid_repulsion,
    class_aware_order,
    cosine_norm_logits,
    meta_embedding,
)
from dcl_runner.models import build_backbone
from dcl_runner.train import run_experiment
from helpers import TINY, compose, few_shot_against_ce


def _task(counts):
    return TaskInfo(MULTICLASS, [str(i) for i in range(len(counts))], np.asarray(counts), int(sum(counts)), (3, 16, 16))


def test_cosine_norm_classifier_by_hand():
    # |x| = 5: squashed 5/6 [0.6, 0.8] = [0.5, 0.6667]; unit rows [1, 0], [0, 1]; scale 16 -> [8, 10.667]
    logits = cosine_norm_logits(torch.tensor([[3.0, 4.0]]), torch.tensor([[1.0, 0.0], [0.0, 2.0]]), 16.0)
    assert torch.allclose(logits, torch.tensor([[8.0, 32.0 / 3.0]]))


def test_meta_embedding_by_hand():
    direct, centroids = torch.tensor([[1.0, 0.0]]), torch.tensor([[1.0, 1.0], [3.0, 0.0]])
    # distances 1 and 2: reachability 10 / 1; o = softmax([0, 0]) = [0.5, 0.5]: v_memory = [2, 0.5];
    # e = tanh([atanh 0.5, 0]) = [0.5, 0]: v_meta = 10 ([1, 0] + [1, 0]) = [20, 0]
    selector = torch.tensor([[math.atanh(0.5), 0.0]])
    out = meta_embedding(direct, centroids, torch.zeros(1, 2), selector, 10.0)
    assert torch.allclose(out, torch.tensor([[20.0, 0.0]]), atol=1e-5)


def test_centroid_attraction_and_its_centre_loss_gradient_by_hand():
    features = torch.tensor([[1.0, 0.0], [3.0, 0.0]], requires_grad=True)
    centroids = torch.tensor([[0.0, 0.0], [5.0, 5.0]], requires_grad=True)
    loss = centroid_attraction(features, torch.tensor([0, 0]), centroids)
    assert loss.item() == pytest.approx((1 + 9) / 2 / 2)  # sum |v - c|^2 / 2 / B
    loss.backward()
    # centroid 0: sum (c - v) = [-4, 0], / (n_c + 1 = 3) / B = 2 -> [-2/3, 0]; centroid 1 has no sample: 0
    assert torch.allclose(centroids.grad, torch.tensor([[-2.0 / 3.0, 0.0], [0.0, 0.0]]))
    assert torch.allclose(features.grad, torch.tensor([[0.5, 0.0], [1.5, 0.0]]))  # (v - c) / B


def test_centroid_repulsion_by_hand():
    features, centroids = torch.tensor([[0.0, 0.0]]), torch.tensor([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0]])
    # other classes' squared distances 2 and 4, own class counted as 0: 6 / (B C = 3) = 2
    assert centroid_repulsion(features, torch.tensor([0]), centroids, 10.0).item() == pytest.approx(8.0)
    assert centroid_repulsion(features, torch.tensor([0]), centroids, 1.0).item() == 0.0  # clamped at 0


def test_class_aware_sampler_visits_classes_in_cycles_of_groups():
    targets = torch.tensor([0, 0, 1, 0, 2, 0, 1, 0])  # 5, 2, 1 images
    order = class_aware_order(targets, 2, 12, torch.Generator().manual_seed(0))
    assert len(order) == 12
    groups = targets[order].view(6, 2)
    assert (groups[:, 0] == groups[:, 1]).all()  # 2 samples of one class per visit
    visits = groups[:, 0]
    assert sorted(visits[:3].tolist()) == [0, 1, 2] and sorted(visits[3:].tolist()) == [0, 1, 2]  # cycles over classes
    gap = torch.tensor([0, 2, 2])  # no image of class 1: its visits are skipped, not an error
    assert set(gap[class_aware_order(gap, 1, 6, torch.Generator())].tolist()) == {0, 2}
    zeros = order[targets[order] == 0][:4]  # class 0's first 4 draws: 4 distinct images of its 5 (its own cycle)
    assert len(set(zeros.tolist())) == 4


def test_modulated_attention_starts_as_the_identity():
    """ModulatedAttLayer.init_weights: conv_mask zero, so f + SA(f) * MA(f) = f at the start."""
    torch.manual_seed(0)
    attention = ModulatedAttention(8, 7)
    fmap = torch.randn(2, 8, 7, 7)
    assert torch.allclose(attention(fmap), fmap)
    assert attention.fc_spatial.in_features == 7 * 7 * 8 and attention.g.out_channels == 4


def _model(overrides=()):
    method = build_method(compose(["method=oltr", *overrides]).method, _task([6, 3, 1]))
    return method, method.build_model(build_backbone(compose(["backbone=resnet32", "backbone.width=0.25"]).backbone, 3, 16))


def test_memory_starts_at_the_class_means_of_the_direct_feature():
    torch.manual_seed(0)
    method, model = _model()
    x, y = torch.randn(10, 3, 16, 16), torch.tensor([0, 1, 0, 2, 0, 1, 0, 0, 1, 0])
    index = torch.arange(10)
    context = TrainContext(task=method.task, train_targets=y, device=torch.device("cpu"), epochs=2, steps_per_epoch=1,
                           seed=0, meta={}, model=model, iterate_train=lambda size: iter([(x, y, index)]))
    running = {k: v.clone() for k, v in model.state_dict().items() if "running" in k}
    method.setup(context)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in running.items())  # BatchNorm statistics untouched
    model.train()  # random weights: each batch by its own statistics (no running statistics yet)
    with torch.no_grad():
        direct = model.head.direct_feature(model.backbone(x)[0])
    for c in range(3):
        assert torch.allclose(model.head.centroids[c], direct[y == c].mean(0), atol=1e-5)
    assert method.optimizers()[0].param_groups[0]["lr"] == 0.01
    # from a stage-1 model (trainer.init_from): centroids_cal's eval mode, the trained running statistics
    method.load_initial_weights(model, model.state_dict())
    method.setup(context)
    model.eval()
    with torch.no_grad():
        direct = model.head.direct_feature(model.backbone(x)[0])
    assert torch.allclose(model.head.centroids[1], direct[y == 1].mean(0), atol=1e-5)


def test_classifier_lr_group_and_stage_one_start():
    torch.manual_seed(0)
    method, model = _model(["method.classifier_lr=0.1"])
    features, classifier = method.param_groups(model)
    assert classifier["lr"] == 0.1 and len(classifier["params"]) == 5
    assert all(p is not model.head.centroids for p in features["params"])  # the centroids have their own SGD
    stage1 = {"head.fc.weight": torch.full((3, 128), 0.5), "head.fc.bias": torch.ones(3)}  # 512-d: width 1 would be 64
    _, small = _model(["method.feature_dim=128"])
    method.load_initial_weights(small, {**stage1, **{f"backbone.{k}": v for k, v in small.backbone.state_dict().items()}})
    assert torch.equal(small.head.hallucinator.weight, stage1["head.fc.weight"])


def test_bad_sizes_are_one_message():
    with pytest.raises(ConfigError, match="method.samples_per_class=0: expected a positive integer"):
        build_method(compose(["method=oltr", "method.samples_per_class=0"]).method, _task([3, 1]))


def test_oltr_trains_end_to_end(tmp_path):
    overrides = [*TINY, "dataset=digits_lt", "backbone=resnet32", "dataset.max_train_samples=64", "method=oltr",
                 "trainer.epochs=2", "trainer.batch_size=16"]
    final = run_experiment(compose(overrides), tmp_path / "run")
    assert 0 <= final["top1"] <= 100 and final["few_shot"] is not None


@pytest.mark.slow
def test_oltr_improves_few_shot_recall_over_ce_on_digits_lt(tmp_path):
    gain, spread = few_shot_against_ce(tmp_path, ["method=oltr"])
    assert gain > spread
