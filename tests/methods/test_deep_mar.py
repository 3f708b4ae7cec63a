"""DeepMAR's weighted sigmoid cross-entropy (Li et al., ACPR 2015; the authors' code's weights) on hand-worked cases."""
import math

import numpy as np
import pytest
import torch

from dcl_runner.data.base import ATTRIBUTES, TaskInfo
from dcl_runner.methods.base import Batch, TrainContext, build_method
from dcl_runner.methods.deep_mar import deepmar_weights
from helpers import compose


def test_weights_are_exp_of_the_other_class_share():
    # attribute 0: 25% positives -> positives weigh e^0.75, negatives e^0.25; attribute 1: 50% -> e^0.5 both
    y = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    w = deepmar_weights(y, torch.tensor([0.25, 0.5]), sigma=1.0)
    expected = torch.tensor([[math.exp(0.75), math.exp(0.5)], [math.exp(0.25), math.exp(0.5)]])
    torch.testing.assert_close(w, expected)
    # sigma = 0.5 divides the exponent by 1/4: e^(0.75 * 4) = e^3
    assert deepmar_weights(y, torch.tensor([0.25, 0.5]), sigma=0.5)[0, 0].item() == pytest.approx(math.exp(3.0))


def test_loss_is_the_weighted_sum_over_attributes_per_image():
    y = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    task = TaskInfo(ATTRIBUTES, ["a", "b"], np.array([1, 2]), 4, (3, 8, 8))
    method = build_method(compose(["method=deep_mar"]).method, task)
    targets = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [0.0, 0.0]])  # p = (0.25, 0.5)
    method.setup(TrainContext(task=task, train_targets=targets, device=torch.device("cpu"), epochs=1, steps_per_epoch=1,
                              seed=0, meta={}, model=None, iterate_train=None))
    # logits 0: every binary cross-entropy is ln 2; the code's mean over B x A times A = sum / B
    result = method.loss({"logits": torch.zeros(2, 2)}, Batch(x=None, y=y, index=torch.arange(2)), 0)
    expected = math.log(2.0) * (math.exp(0.75) + math.exp(0.5) + math.exp(0.25) + math.exp(0.5)) / 2
    assert result.loss.item() == pytest.approx(expected, rel=1e-6)


def test_head_is_dropout_then_one_linear_layer_initialised_as_the_code():
    task = TaskInfo(ATTRIBUTES, [str(a) for a in range(51)], np.ones(51, dtype=int), 10, (3, 8, 8))
    torch.manual_seed(0)
    head = build_method(compose(["method=deep_mar"]).method, task).build_head(2048, 2048)
    assert head.dropout.p == 0.5 and head.fc.weight.shape == (51, 2048)
    assert head.fc.weight.std().item() == pytest.approx(0.001, rel=0.02) and head.fc.bias.abs().max().item() == 0.0
