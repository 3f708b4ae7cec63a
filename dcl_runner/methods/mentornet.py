"""MentorNet (Jiang et al., ICML 2018): MentorNet PD (a predefined curriculum) and MentorNet DD (a mentor learnt on
a small clean set), the "MentorNet PD" and "MentorNet DD" rows of DP Table 2 (copied there from Ren et al. 2018
Table 2, who quote Jiang et al.).

A mentor gives each sample of the mini-batch a weight v_i in [0, 1] from its loss, and the student minimises the
weighted loss (1/B) sum_i v_i l_i (Jiang et al.'s objective / Algorithm 1; the authors' ``cifar_train_mentornet.py``:
``reduce_mean(loss * v)``). The mentor's inputs (Jiang et al.) are the loss l_i and its difference to a
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

MentorNet DD: that network (``MentorNetwork``, the authors' ``utils.mentornet_nn``) learnt from data where it is
known which labels are right (Jiang et al., "data-driven curriculum"; the authors' ``training_mentornet``):
records (loss, loss difference, epoch percent) with target v* = 1[label is right], fitted by sigmoid cross-entropy
with Adam, gradients clipped to global norm 5 (``train.py create_train_op``). Here the records come from the clean
hold-out (``dataset.clean_holdout``) with a seeded synthetic noise (rate 0.2, the authors' mentor
"nl_0.2_percentile_90"): at the start of every burn-in epoch a student's losses on all held-out images are recorded,
and when the burn-in ends once more under the fixed epoch feature the mentor will be asked with (its epoch
embedding is fixed and random: a row never seen in the fit would be noise), and the mentor is fitted. Each epoch's
records are one student dump, and a record's loss difference is to the 90th percentile of its own dump
(``record_loss_differences``; the authors' ``generate_data_driven`` takes it over their one dump): a single
percentile over all dumps let the untrained student's first dump (losses ~50) push every later difference to ~-45,
where the LSTM saturates and the mentor fits a constant (docs/noisy_labels.md). Then, as the authors run
DD (--fixed_epoch_after_burn_in --burn_in_epoch=18):

    e' = min(e, 18);   v_i = sigmoid(mentor(l_i, d_i, e'))  and  v_i = 1 while e' < 17;  drop-out at e'

Which student is recorded (``mentor_data``): ``trained_student`` (default; the authors' TRAINING.md dumps "the
StudentNet feature" of a student whose clean labels are known for the dumped images) is a second student of the
run's architecture, copied from the run's untrained one, trained right after each dump with the authors' student
optimiser on what ``student_data`` says: ``training_set`` (default; their dump's ids and name point to a student on
the whole 20%-noise CIFAR-10 training set) one pass over the run's training images and the held-out ones under
their synthetic labels, ``holdout`` only the held-out images (a small hold-out is memorised in the burn-in). The run's
student never trains on the hold-out. ``heldout``: the run's own student, on images it never trains on.
"""
from __future__ import annotations

import copy
import math
from typing import Dict, List, Sequence

import torch
import torch.nn.functional as F

import numpy as np
from torch import nn

from ..data.base import MULTICLASS, TaskInfo
from ..data.noise import uniform_noise
from ..errors import ConfigError, check_value
from .base import METHODS, Batch, Method, StepResult, TrainContext
from .clean_holdout import CleanHoldout


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


# -- MentorNet DD -----------------------------------------------------------------------------------------------
class MentorNetwork(nn.Module):
    """The authors' ``utils.mentornet_nn``: a bidirectional LSTM (1 unit each way, forget bias 0) over the one-step
    sequence (loss, loss difference), whose two cell states join a trainable 2-d label embedding (labels are all 0 in
    the authors' runs) and a fixed random 5-d embedding of the epoch percent (0..99), then a 20-unit tanh layer and
    one logit (v = sigmoid of it)."""

    def __init__(self, generator: torch.Generator):
        super().__init__()
        self.lstm = nn.LSTM(2, 1, bidirectional=True, batch_first=True)
        with torch.no_grad():
            for name, p in self.lstm.named_parameters():
                p.copy_(torch.empty_like(p).uniform_(-1.0, 1.0, generator=generator))
                if name.startswith("bias"):  # forget gate bias 0 (BasicLSTMCell forget_bias=0.0): gates i, f, g, o
                    p[1] = 0.0
        self.label_embedding = nn.Parameter(torch.randn(2, 2, generator=generator))
        self.register_buffer("epoch_embedding", torch.randn(100, 5, generator=generator))  # trainable=False
        self.fc = nn.Linear(2 + 5 + 2, 20)
        self.out = nn.Linear(20, 1)
        with torch.no_grad():  # tf.random_normal initialisers
            for layer in (self.fc, self.out):
                layer.weight.copy_(torch.randn(layer.weight.shape, generator=generator))
                layer.bias.copy_(torch.randn(layer.bias.shape, generator=generator))

    def forward(self, loss: torch.Tensor, loss_diff: torch.Tensor, epoch: torch.Tensor) -> torch.Tensor:
        """The mentor's logit per sample (loss, loss_diff float [B]; epoch int [B] in 0..99)."""
        _, (_, cell) = self.lstm(torch.stack([loss, loss_diff], dim=1)[:, None, :])
        h = torch.cat([cell[0], cell[1]], dim=1)                                   # [B, 2]: forward, backward cell
        labels = torch.zeros(len(loss), dtype=torch.long, device=loss.device)
        feat = torch.cat([self.label_embedding[labels], self.epoch_embedding[epoch.clamp(0, 99)], h], dim=1)
        return self.out(torch.tanh(self.fc(feat))).squeeze(1)


def record_loss_differences(loss: torch.Tensor, dump: torch.Tensor, percentile: float) -> torch.Tensor:
    """d_i = l_i - (the ``percentile`` loss of the records of i's dump), dump = the epoch they were recorded at (the
    authors' ``data_generator.generate_data_driven``: loss minus np.percentile of the dump's losses, linear)."""
    diff = torch.empty_like(loss)
    for recorded_at in dump.unique():
        same = dump == recorded_at
        diff[same] = loss[same] - torch.quantile(loss[same], percentile)
    return diff


def separation_auc(score: torch.Tensor, positive: torch.Tensor) -> float:
    """P(score of a random positive > score of a random negative), ties counting 1/2: scikit-learn's ROC AUC (the
    Mann-Whitney U / (n+ n-), from ranks). nan without both classes."""
    from sklearn.metrics import roc_auc_score

    score, positive = score.detach().double().cpu().numpy(), positive.detach().bool().cpu().numpy()
    if positive.all() or not positive.any():
        return float("nan")
    return float(roc_auc_score(positive, score))


def fit_mentor(mentor: MentorNetwork, records: torch.Tensor, percentile: float, steps: int, lr: float,
               batch_size: int, max_grad_norm: float, generator: torch.Generator) -> float:
    """Fit the mentor to records [N, 4] = (loss, epoch percent, noisy label right (1) or not (0), epoch recorded at)
    as the authors' ``training_mentornet``: loss difference to its dump's ``percentile`` loss, sigmoid cross-entropy
    against v* = 1[label right], Adam at ``lr`` decayed x0.9 every 1000 steps (staircase), gradients clipped to global
    norm ``max_grad_norm``, ``batch_size`` records a step. Returns the final mean training loss over all records."""
    loss, epoch, right = records[:, 0], records[:, 1].long(), records[:, 2]
    diff = record_loss_differences(loss, records[:, 3], percentile)
    optimizer = torch.optim.Adam(mentor.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1000, gamma=0.9)
    with torch.enable_grad():
        for _ in range(steps):
            at = torch.randint(len(loss), (batch_size,), generator=generator).to(loss.device)
            fit = F.binary_cross_entropy_with_logits(mentor(loss[at], diff[at], epoch[at]), right[at])
            optimizer.zero_grad(set_to_none=True)
            fit.backward()
            torch.nn.utils.clip_grad_norm_(mentor.parameters(), max_grad_norm)
            optimizer.step()
            schedule.step()
    with torch.no_grad():
        return float(F.binary_cross_entropy_with_logits(mentor(loss, diff, epoch), right))


#: where the mentor's records come from (conf/method/mentornet_dd.yaml ``mentor_data``)
MENTOR_DATA = ("trained_student", "heldout")
#: what the dumped student (mentor_data=trained_student) trains on (``student_data``)
STUDENT_DATA = ("training_set", "holdout")


@METHODS.register("mentornet_dd")
class MentorNetDD(MentorNetPD):
    """conf/method/mentornet_dd.yaml documents every key and its source (the PD keys' burn-in is the DD's)."""

    uses_clean_holdout = True

    def __init__(self, task: TaskInfo, *, mentor_data: str, mentor_noise_rate: float, mentor_percentile: float,
                 mentor_steps: int, mentor_lr: float, mentor_batch_size: int, mentor_max_grad_norm: float,
                 student_data: str, student_lr: float, student_momentum: float, student_weight_decay: float,
                 student_batch_size: int, **kwargs):
        super().__init__(task, **kwargs)
        check_value("method.mentor_data", mentor_data, MENTOR_DATA)
        check_value("method.student_data", student_data, STUDENT_DATA)
        self.mentor_data, self.student_data = str(mentor_data), str(student_data)
        if isinstance(student_batch_size, bool) or not isinstance(student_batch_size, int) or student_batch_size < 1:
            raise ConfigError(f"method.student_batch_size={student_batch_size!r}: expected an integer >= 1")
        if not float(student_lr) > 0:
            raise ConfigError(f"method.student_lr={student_lr!r}: expected a learning rate > 0 (authors: 0.1)")
        self.student_lr, self.student_momentum = float(student_lr), float(student_momentum)
        self.student_weight_decay, self.student_batch_size = float(student_weight_decay), student_batch_size
        self.aux_student: nn.Module | None = None  # mentor_data=trained_student: the dumped student (a submodule)
        if not 0.0 < float(mentor_noise_rate) < 1.0:
            raise ConfigError(f"method.mentor_noise_rate={mentor_noise_rate!r}: expected a rate in (0, 1): the mentor "
                              "learns from right and wrong labels")
        for key, value in (("mentor_steps", mentor_steps), ("mentor_batch_size", mentor_batch_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"method.{key}={value!r}: expected an integer >= 1")
        if not float(mentor_max_grad_norm) > 0:
            raise ConfigError(f"method.mentor_max_grad_norm={mentor_max_grad_norm!r}: expected a norm > 0 (authors: 5)")
        self.mentor_noise_rate = float(mentor_noise_rate)
        self.mentor_percentile = float(mentor_percentile)
        self.mentor_steps, self.mentor_lr, self.mentor_batch_size = mentor_steps, float(mentor_lr), mentor_batch_size
        self.mentor_max_grad_norm = float(mentor_max_grad_norm)
        self.mentor = MentorNetwork(torch.Generator().manual_seed(0))
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))
        self.register_buffer("recorded_epoch", torch.full((), -1, dtype=torch.long))  # last epoch whose dump is taken
        self.records = torch.zeros(0, 4)
        self.mentor_fit_loss = float("nan")
        self.noisy_mask = None
        self.scored: List[torch.Tensor] = []  # (v, label right) of this epoch's batches, for mentor_auc

    def setup(self, ctx: TrainContext) -> None:
        super().setup(ctx)
        self.holdout = CleanHoldout(ctx, "mentornet_dd")
        # the student, read (not owned): a plain attribute, so that it is not a submodule in the method's checkpoint
        object.__setattr__(self, "student", ctx.model)
        self.seed = int(ctx.seed)
        self.steps_per_epoch = int(ctx.steps_per_epoch)
        if self.mentor_data == "trained_student":  # the run's untrained student, copied before its first step
            self.aux_student = copy.deepcopy(ctx.model).train()
            self.aux_optimizer = torch.optim.SGD(self.aux_student.parameters(), lr=self.student_lr,
                                                 momentum=self.student_momentum, weight_decay=self.student_weight_decay)
        self.mentor = MentorNetwork(torch.Generator().manual_seed(self.seed)).to(ctx.device)
        true = ctx.train_targets[self.holdout.clean.to(ctx.train_targets.device)].cpu().numpy()
        noisy = uniform_noise(true, self.task.num_outputs, self.mentor_noise_rate, self.seed).targets
        self.holdout_labels = torch.as_tensor(noisy, device=ctx.device)
        self.holdout_right = torch.as_tensor(noisy == true, dtype=torch.float32, device=ctx.device)
        # student_data=training_set: the dumped student's labels, the run's (noisy) ones and the hold-out's synthetic ones
        self.aux_labels = ctx.train_targets.clone()
        self.aux_labels[self.holdout.clean.to(ctx.train_targets.device)] = self.holdout_labels.to(ctx.train_targets.device)
        mask = ctx.meta.get("noisy_mask")  # which training labels the noise changed: only for the mentor_auc report
        self.noisy_mask = None if mask is None else torch.as_tensor(np.asarray(mask), dtype=torch.bool)

    def epoch_order(self, epoch: int, generator: torch.Generator):
        return self.holdout.training_order(generator)

    def mentor_epoch(self, epoch: int) -> int:
        """The mentor's epoch feature: the percent of training, fixed at the burn-in's end (--fixed_epoch_after_burn_in)."""
        return min(percent_of_training(epoch, self.epochs), self.burn_in)

    def on_epoch_start(self, epoch: int) -> None:
        self.scored = []
        if bool(self.fitted) or epoch <= int(self.recorded_epoch):  # fitted, or this dump came back with a resume
            return
        percent = self.mentor_epoch(epoch)
        device = self.holdout_right.device
        if percent < self.burn_in - 1:  # v = 1 for everyone: record the student on the held-out images
            self.records = torch.cat([self.records.to(device), self.record(percent, epoch)])
            self.recorded_epoch.fill_(epoch)
            if self.aux_student is not None:  # then it trains this epoch's steps on them, as the run's student does
                self.train_aux_student(epoch)
        else:  # the student at the burn-in's end, under the epoch feature the mentor will be asked with (fixed)
            self.records = torch.cat([self.records.to(device), self.record(self.burn_in, epoch)])
            self.recorded_epoch.fill_(epoch)
            generator = torch.Generator().manual_seed(self.seed + 1)
            self.mentor_fit_loss = fit_mentor(self.mentor, self.records, self.mentor_percentile, self.mentor_steps,
                                              self.mentor_lr, self.mentor_batch_size, self.mentor_max_grad_norm,
                                              generator)
            self.fitted.fill_(True)

    def train_aux_student(self, epoch: int) -> None:
        """mentor_data=trained_student: one epoch of SGD for the dumped student (seeded by the run's seed and the
        epoch, so a resumed run draws the same). student_data=training_set: one pass over the whole training split in
        ``student_batch_size`` batches (a last batch of one image left out), the run's noisy labels and the hold-out's synthetic ones, each batch's loss the
        mean of v * CE with v = 1 under the burn-in's example drop-out (the authors' dumped student: a MentorNet PD
        run on the 20%-noise training set, v = 1 through its burn-in). holdout: the run's steps per epoch of
        ``student_batch_size`` held-out images drawn with replacement, plain mean cross-entropy."""
        generator = torch.Generator().manual_seed(self.seed * 1000 + 2 + epoch)
        device = self.holdout_labels.device
        augment = torch.Generator(device=device).manual_seed(self.seed * 1000 + 3 + epoch)
        if self.student_data == "training_set":
            positions = torch.cat([self.holdout.noisy, self.holdout.clean])
            order = positions[torch.randperm(len(positions), generator=generator)]
            batches = list(order.split(self.student_batch_size))  # every image once an epoch, as the dumped student
            if len(batches) > 1 and len(batches[-1]) == 1:         # a last batch of one image would stop BatchNorm
                batches = batches[:-1]
            rate = self.dropout_rates[percent_of_training(epoch, self.epochs)]
        else:
            batches = [self.holdout.clean[torch.randint(len(self.holdout.clean), (self.student_batch_size,),
                                                        generator=generator)] for _ in range(self.steps_per_epoch)]
            rate = 0.0
        student = self.aux_student
        student.train()
        with torch.enable_grad():
            for at in batches:
                x, _, _ = self.holdout.fetch(at, generator=augment)
                losses = F.cross_entropy(student(x)["logits"].float(), self.aux_labels[at.to(self.aux_labels.device)],
                                         reduction="none")
                v = torch.ones(len(at)) if rate == 0.0 else example_dropout(torch.ones(len(at)), rate, generator)
                loss = (v.to(losses.device) * losses).mean()
                self.aux_optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.aux_optimizer.step()
        self.aux_optimizer.zero_grad(set_to_none=True)

    @torch.no_grad()
    def record(self, percent: int, epoch: int) -> torch.Tensor:
        """[H, 4]: the dumped student's loss on each held-out image under its synthetic label, the percent, label
        right, the epoch of this dump. The dumped student: mentor_data=trained_student, the one that trains on these
        images (``aux_student``); heldout, the run's own, which never trains on them."""
        student = self.aux_student if self.aux_student is not None else self.student
        was_training = student.training
        student.eval()
        losses = []
        for start in range(0, len(self.holdout.clean), 256):
            at = self.holdout.clean[start:start + 256]
            x, _, _ = self.holdout.fetch(at, augment=False)
            logits = student(x)["logits"].float()
            losses.append(F.cross_entropy(logits, self.holdout_labels[start:start + len(at)], reduction="none"))
        student.train(was_training)
        loss = torch.cat(losses)
        return torch.stack([loss, torch.full_like(loss, percent), self.holdout_right, torch.full_like(loss, epoch)], 1)

    def loss(self, outputs: Dict[str, torch.Tensor], batch: Batch, epoch: int) -> StepResult:
        logits = outputs["logits"]
        losses = F.cross_entropy(logits.float(), batch.y, reduction="none")
        percent = self.mentor_epoch(epoch)
        diff = losses.detach() - self.update_moving_average(losses)
        if percent < self.burn_in - 1 or not bool(self.fitted):
            v = torch.ones_like(diff)
        else:
            with torch.no_grad():
                v = torch.sigmoid(self.mentor(losses.detach(), diff, torch.full_like(batch.y, percent)))
            if self.noisy_mask is not None:
                right = ~self.noisy_mask[batch.index.cpu()].to(v.device)
                self.scored.append(torch.stack([v, right.to(v.dtype)], 1))
        v = example_dropout(v, self.dropout_rates[percent], batch.generator)
        loss = (v * losses).mean()
        return StepResult(loss=loss, parts={"mentor_weight_mean": v.mean(), "mentor_lambda": self.loss_moving_average.clone()},
                          logits=logits)

    def epoch_scalars(self) -> Dict[str, float]:
        """mentor_auc: how the mentor's v (before drop-out) ranks the student's right training labels above the wrong
        ones over this epoch (0.5: no separation; nan before the mentor weighs, or without a noise mask)."""
        scored = torch.cat(self.scored) if self.scored else torch.zeros(0, 2)
        return {"mentor_records": float(len(self.records)), "mentor_fit_loss": self.mentor_fit_loss,
                "mentor_auc": separation_auc(scored[:, 0], scored[:, 1])}

    def get_extra_state(self):
        aux = self.aux_optimizer.state_dict() if self.aux_student is not None else None
        return {"records": self.records.cpu(), "mentor_fit_loss": self.mentor_fit_loss, "aux_optimizer": aux}

    def set_extra_state(self, state) -> None:
        self.records = state["records"]
        self.mentor_fit_loss = state["mentor_fit_loss"]
        if self.aux_student is not None and state.get("aux_optimizer") is not None:
            self.aux_optimizer.load_state_dict(state["aux_optimizer"])
