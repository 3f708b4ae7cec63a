"""MentorNet PD: the predefined curriculum of MentorNet (Jiang et al., ICML 2018), the "MentorNet PD" row of DP
Table 2 (copied there from Ren et al. 2018 Table 2, who quote Jiang et al.).

A mentor gives each sample of the mini-batch a weight v_i in [0, 1] from its loss, and the student minimises the
weighted loss (1/B) sum_i v_i l_i (Jiang et al. eq. 1 / Algorithm 1; the authors' ``cifar_train_mentornet.py``:
``reduce_mean(loss * v)``). The mentor's inputs (Jiang et al. sec. 3.1) are the loss l_i and its difference to a
moving average of the p-th percentile of the mini-batch losses,

    lambda_t = decay lambda_{t-1} + (1 - decay) percentile_p(l_1..l_B),   d_i = l_i - lambda_t
                                                                         (authors' ``utils.mentornet``)

(lambda_1 is the first batch's percentile, where the authors start from lambda_0 = 0: the same after the burn-in,
by which the zero start has decayed by 0.5^(thousands of steps); docs/noisy_labels.md)

and the training progress e in 0..99 (percent of training). MentorNet PD's curriculum (the authors'
``training_mentornet/models.py vstar_mentornet_pd``, a predefined mix of self-paced learning and the linear
self-paced curriculum of Jiang et al. 2015, each in its closed form):

    v_i = 1                                   e <= 18   (burn-in: every sample)
    v_i = 1[d_i <= 0]                         18 < e < 90   (self-paced: the samples below the percentile)
    v_i = min(max(1 - d_i / gamma, 0), 1)     e >= 90   (SPCL linear, gamma = 1)

Then example drop-out (Liang et al. 2016, the authors' ``probabilistic_sample`` 'random' mode): a uniformly drawn
floor(B (1 - rate)) samples keep their v, the others get 0, at the rate of the current percent of training.

The authors train a small network (bidirectional LSTM + embeddings) to imitate this function and plug the network in;
here the function itself is the mentor (docs/noisy_labels.md says why).
"""
from __future__ import annotations

import math
from typing import Dict, List, Sequence

import torch
import torch.nn.functional as F

from ..data.base import MULTICLASS, TaskInfo
from ..errors import ConfigError
from .base import METHODS, Batch, Method, StepResult, TrainContext


def dropout_schedule(pairs: Sequence[float]) -> List[float]:
    """[rate, percent]+ -> the rate at each of the 100 percents of training (authors' ``parse_dropout_rate_list``)."""
    pairs = [float(v) for v in pairs]
    if len(pairs) % 2 or not pairs:
        raise ConfigError(f"method.example_dropout_rates={pairs}: expected [rate, percent] pairs, e.g. [0.5, 17, 0.05, 83]")
    rates, spans = pairs[0::2], pairs[1::2]
    if any(not 0.0 <= r <= 1.0 for r in rates) or any(s != int(s) or s < 0 for s in spans) or sum(spans) != 100:
        raise ConfigError(f"method.example_dropout_rates={pairs}: rates must be in [0, 1] and the percents whole "
                          "numbers summing to 100")
    return [r for r, s in zip(rates, spans) for _ in range(int(s))]


def mentornet_pd_weights(loss_diff: torch.Tensor, percent: int, gamma: float, burn_in: int = 18,
                         switch: int = 90) -> torch.Tensor:
    """v of MentorNet PD (authors' vstar_mentornet_pd): 1 up to ``burn_in`` percent, then self-paced 1[d <= 0],
    then from ``switch`` percent the SPCL linear clip(1 - d / gamma, 0, 1)."""
    if percent <= burn_in:
        return torch.ones_like(loss_diff)
    if percent < switch:
        return (loss_diff <= 0).to(loss_diff.dtype)
    return (1.0 - loss_diff / gamma).clamp(0.0, 1.0)


def example_dropout(v: torch.Tensor, rate: float, generator=None) -> torch.Tensor:
    """Keep v on floor(B (1 - rate)) uniformly drawn samples, 0 elsewhere (authors' probabilistic_sample 'random')."""
    keep = int(len(v) * (1.0 - rate))
    order = torch.randperm(len(v), generator=generator, device=generator.device if generator is not None else v.device)
    out = torch.zeros_like(v)
    out[order[:keep]] = v[order[:keep]]
    return out


def percent_of_training(epoch: int, epochs: int) -> int:
    """The mentor's epoch feature: floor(100 * progress), in 0..99 (authors: floor(step / max_steps * 100), per epoch)."""
    return min(99, int(math.floor(100.0 * epoch / max(1, epochs))))


@METHODS.register("mentornet_pd")
class MentorNetPD(Method):
    """conf/method/mentornet_pd.yaml documents every key and its source."""

    task_kinds = (MULTICLASS,)

    def __init__(self, task: TaskInfo, *, loss_percentile: float, moving_average_decay: float, gamma: float,
                 burn_in_percent: int, switch_percent: int, example_dropout_rates: Sequence[float]):
        super().__init__(task, branch_dim=None)  # multi-class only: no attribute branches
        for key, value in (("loss_percentile", loss_percentile), ("moving_average_decay", moving_average_decay)):
            if not 0.0 <= float(value) <= 1.0:
                raise ConfigError(f"method.{key}={value!r}: expected a number in [0, 1]")
        if float(gamma) == 0:
            raise ConfigError("method.gamma=0: the SPCL linear curriculum divides by gamma; expected a number != 0")
        if not 0 <= int(burn_in_percent) <= int(switch_percent) <= 100:
            raise ConfigError(f"method.burn_in_percent={burn_in_percent}, switch_percent={switch_percent}: expected "
                              "0 <= burn_in_percent <= switch_percent <= 100")
        self.loss_percentile = float(loss_percentile)
        self.decay = float(moving_average_decay)
        self.gamma = float(gamma)
        self.burn_in = int(burn_in_percent)
        self.switch = int(switch_percent)
        self.dropout_rates = dropout_schedule(example_dropout_rates)
        self.epochs = 1
        self.register_buffer("loss_moving_average", torch.zeros(()))  # lambda_t, in the checkpoint
        self.register_buffer("started", torch.zeros((), dtype=torch.bool))  # lambda_1 set

    def setup(self, ctx: TrainContext) -> None:
        self.epochs = int(ctx.epochs)

    def update_moving_average(self, losses: torch.Tensor) -> torch.Tensor:
        """lambda_t = decay lambda_{t-1} + (1 - decay) percentile_p(losses) (nearest rank, as tf percentile)."""
        percentile = torch.quantile(losses.detach().float(), self.loss_percentile, interpolation="nearest")
        if not bool(self.started):  # lambda_1: the first batch's percentile
            self.loss_moving_average.copy_(percentile)
            self.started.fill_(True)
        else:
            self.loss_moving_average.mul_(self.decay).add_((1.0 - self.decay) * percentile)
        return self.loss_moving_average

    def loss(self, outputs: Dict[str, torch.Tensor], batch: Batch, epoch: int) -> StepResult:
        logits = outputs["logits"]
        losses = F.cross_entropy(logits.float(), batch.y, reduction="none")
        percent = percent_of_training(epoch, self.epochs)
        diff = losses.detach() - self.update_moving_average(losses)
        v = mentornet_pd_weights(diff, percent, self.gamma, self.burn_in, self.switch)
        v = example_dropout(v, self.dropout_rates[percent], batch.generator)
        loss = (v * losses).mean()
        return StepResult(loss=loss, parts={"mentor_weight_mean": v.mean(), "mentor_lambda": self.loss_moving_average.clone()},
                          logits=logits)
