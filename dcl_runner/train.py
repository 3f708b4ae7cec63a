"""The single trainer loop. It knows no method: everything method-specific goes through the seam
(``dcl_runner.methods.base.Method``).

``run_experiment(cfg, run_dir)`` trains one composed config into ``run_dir`` and returns the final
metrics. The pieces it stands on each live in their own module: ``runtime`` (device, precision, seeds,
Ctrl-C), ``optim`` (optimizers and lr schedules by name), ``run_folder`` (the files a run writes, and its
checkpoint), ``divergence`` (a NaN never becomes a number). Ctrl-C or SIGTERM finishes the current step,
saves a checkpoint that resumes at the next step exactly, marks the run ``interrupted`` and raises
``RunInterrupted``. A run that diverges stops with status ``failed`` and ``RunFailed``, and its last
checkpoint stays the last finite state. A resume that cannot start writes nothing.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np
import torch

from . import metrics as metric_fns
from .config_check import check_config
from .data import DataBundle, build_data
from .data.augment import build_augment
from .data.loader import SplitLoader, choose_resident
from .divergence import DivergenceWatch, check_predictions, check_tensors
from .errors import ConfigError, RunnerError
from .methods.base import Batch, Method, TrainContext, build_method
from .models import Classifier, build_backbone
from .optim import LrScheduleKeys, OptimizerKeys, build_optimizer, lr_factor
from .run_folder import Progress, RunFolder, describe
from .runtime import Runtime, StopRequest, make_generator, rng_state, set_rng_state, step_seed
from .trackers import Trackers

log = logging.getLogger(__name__)


class RunInterrupted(RunnerError):
    """Training stopped on Ctrl-C / SIGTERM after saving a checkpoint."""


@dataclass(frozen=True, kw_only=True)
class TrainerKeys:
    """The ``trainer`` section's keys (conf/config.yaml documents them); the config check holds it to them."""

    epochs: int
    batch_size: int
    eval_batch_size: int
    drop_last: bool
    optimizer: OptimizerKeys
    lr_schedule: LrScheduleKeys
    device: str
    precision: str
    channels_last: Any
    compile: bool
    deterministic: bool
    num_threads: Optional[int]
    num_workers: int
    eval_every: int
    eval_epochs: List[int]
    eval_split: str
    init_from: Optional[str]
    checkpoint_every: int
    progress: bool
    log_every: int


class Trainer:
    """Everything a run is built from, built here (config check first, so a bad value stops the run before any
    data is read); ``run()`` trains it."""

    def __init__(self, cfg: Any, run_dir: str | Path, choices: Optional[Dict[str, str]] = None,
                 overrides: Optional[List[str]] = None) -> None:
        self.cfg, t = cfg, cfg.trainer
        self.folder = RunFolder(run_dir, cfg, choices, overrides)
        check_config(cfg)
        self.runtime = Runtime(t, int(cfg.seed))
        self.device = self.runtime.device

        self.data: DataBundle = build_data(cfg.dataset, int(cfg.seed))
        self.task = self.data.task()
        self.method: Method = build_method(cfg.method, self.task)
        self.model = self.build_model()
        self.forward_model = torch.compile(self.model) if t.compile else self.model

        self.optimizer = build_optimizer(self.method.param_groups(self.model), t.optimizer)
        self.base_lrs = [g["lr"] for g in self.optimizer.param_groups]
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.runtime.amp_dtype == torch.float16)
        self.divergence = DivergenceWatch(self.device)

        self.train_loader = self.loader(self.data.train)
        self.eval_loader = self.loader(self.data.split(t.eval_split))
        d = cfg.dataset
        self.augment = build_augment(d, self.runtime.channels_last)
        self.steps_per_epoch = SplitLoader.num_batches(len(self.data.train), int(t.batch_size), bool(t.drop_last))
        self.folder.describe_run(self.task.kind, self.device, self.steps_per_epoch, Trackers(cfg.logger, self.folder.path))
        self.last_eval: Optional[tuple] = None  # (epoch, scores, targets, metrics) of the latest evaluation
        log.info(
            "%s: %d train / %d %s images %s, %s task with %d outputs; %s on %s (%s, %s)",
            d.name, len(self.data.train), len(self.eval_loader), t.eval_split, self.task.image_shape, self.task.kind,
            self.task.num_outputs, cfg.method.name, self.device, self.runtime.amp_dtype or "fp32",
            "device-resident" if self.train_loader.resident else "DataLoader",
        )
        log.info("run folder: %s", self.folder.path)

    # -- building ------------------------------------------------------------------------------------------
    def build_model(self) -> torch.nn.Module:
        """Backbone + the method's head on the device; ``trainer.init_from`` loads another run's weights."""
        channels, size = self.task.image_shape[0], int(self.cfg.dataset.image_size)
        backbone = build_backbone(self.cfg.backbone, in_channels=channels, image_size=size)
        model = Classifier(backbone, self.method.build_head(backbone.feature_dim, backbone.out_channels)).to(self.device)
        if self.runtime.channels_last:
            model = model.to(memory_format=torch.channels_last)
        self.method.to(self.device)
        if self.cfg.trainer.init_from:
            self.load_initial_weights(model, str(self.cfg.trainer.init_from))
        return model

    def load_initial_weights(self, model: torch.nn.Module, path: str) -> None:
        """``trainer.init_from``: start from another run's model weights (stage 2 of a two-stage method)."""
        source = Path(path).expanduser()
        if source.is_dir():
            source = source / "checkpoints" / "last.pt"
        if not source.is_file():
            raise ConfigError(f"trainer.init_from={path!r}: expected a run folder holding checkpoints/last.pt or a .pt file; {source} does not exist")
        state = torch.load(source, map_location=self.device, weights_only=False)
        state = state.get("model", state) if isinstance(state, dict) else state
        loaded = self.method.load_initial_weights(model, state)
        log.info("initialised %d of %d model tensors from %s", len(loaded), len(model.state_dict()), source)

    def loader(self, split) -> SplitLoader:
        """A split on the device when it fits (dataset.resident / resident_max_gb), else through a DataLoader."""
        d, t = self.cfg.dataset, self.cfg.trainer
        resident = choose_resident(split, self.device, d.resident, float(d.resident_max_gb))
        return SplitLoader(split, self.device, resident, t.num_workers)

    def fetch(self, indices, generator: Optional[torch.Generator] = None, augment: bool = True) -> tuple:
        """Training samples by position on the device, augmented as a training batch (TrainContext.fetch)."""
        images, y, idx = self.train_loader.take(indices)
        return (self.augment.train(images, generator) if augment else self.augment.eval(images)), y, idx

    def train_context(self) -> TrainContext:
        def iterate_train(batch_size: int):
            order = torch.arange(len(self.data.train))
            for images, y, idx in self.train_loader.batches(order, batch_size):
                yield self.augment.eval(images), y, idx

        return TrainContext(
            task=self.task, train_targets=self.train_loader.targets, device=self.device,
            epochs=int(self.cfg.trainer.epochs), steps_per_epoch=self.steps_per_epoch, seed=int(self.cfg.seed),
            meta=self.data.meta, model=self.model, iterate_train=iterate_train, fetch=self.fetch,
        )

    # -- the whole run -------------------------------------------------------------------------------------
    def run(self, resume: bool = False) -> Dict[str, Any]:
        resuming = resume and self.folder.checkpoint.exists()
        progress = Progress()
        try:
            self.method.setup(self.train_context())
            if resuming:
                progress = self.load_checkpoint()  # loads the method's state over what setup built
            elif resume:
                log.info("no checkpoint in %s: starting from the beginning", self.folder.path)
        except BaseException as exc:
            if not resuming:  # a new run that cannot start says why; a resume that cannot start writes nothing
                self.folder.write_status(_status_of(exc), progress, describe(exc))
            raise
        self.folder.save_data_meta(self.data.meta)
        self.folder.write_status("running", progress)
        try:
            return self.loop(progress)
        except RunInterrupted:
            raise
        except BaseException as exc:  # a failed run says why, then the error goes on
            self.folder.write_status(_status_of(exc), progress, describe(exc))
            raise

    def loop(self, progress: Progress) -> Dict[str, Any]:
        t = self.cfg.trainer
        with StopRequest() as stop:
            while progress.epoch < int(t.epochs):
                self.divergence.reset()
                if not self.run_epoch(progress, stop):
                    self.check_finite(progress)
                    self.save_checkpoint(progress)
                    self.folder.write_status("interrupted", progress, "stopped by signal; resume to continue")
                    raise RunInterrupted(f"stopped at epoch {progress.epoch + 1}, step {progress.step}; checkpoint saved in {self.folder.checkpoint}")
                self.check_finite(progress)
                self.finish_epoch(progress)
                self.folder.write_history(progress)
                if progress.epoch % int(t.checkpoint_every) == 0 or progress.epoch == int(t.epochs):
                    self.save_checkpoint(progress)
                if stop.requested:
                    self.folder.write_status("interrupted", progress, "stopped by signal; resume to continue")
                    raise RunInterrupted(f"stopped after epoch {progress.epoch}; checkpoint saved in {self.folder.checkpoint}")
        return self.finalize(progress)

    def finalize(self, progress: Progress) -> Dict[str, Any]:
        done, scores, targets, final = self.last_eval or (None, None, None, None)
        if done != progress.epoch:  # e.g. resumed after the last epoch's checkpoint
            scores, targets = self.predict()
            check_predictions(scores, progress.epoch)
            final = self.score(scores, targets)
        self.folder.save_predictions(scores, targets)
        self.folder.save_curves(self.method.final_outputs(self.model))
        self.folder.write_status("completed", progress, None, final)
        return final

    # -- one epoch -----------------------------------------------------------------------------------------
    def run_epoch(self, progress: Progress, stop: StopRequest) -> bool:
        """Train one epoch from ``progress.step``; False if stopped by a signal (checkpoint saved)."""
        t, epoch, seed = self.cfg.trainer, progress.epoch, int(self.cfg.seed)
        self.method.on_epoch_start(epoch)
        if progress.order is None:
            progress.order = self.epoch_order(epoch)
        self.model.train()
        self.method.train_mode(self.model)
        sums: Dict[str, Any] = dict(progress.sums)
        steps = SplitLoader.num_batches(len(progress.order), int(t.batch_size), bool(t.drop_last))
        bar = _progress_bar(t, steps, progress.step, f"epoch {epoch + 1}/{t.epochs}")
        tick = time.time()
        batches = self.train_loader.batches(progress.order, int(t.batch_size), bool(t.drop_last), start=progress.step)
        for images, y, idx in batches:
            step = progress.step
            lr = self.set_lr(epoch + step / max(1, steps))
            gen = make_generator(self.device, step_seed(seed, epoch, step))
            batch = Batch(x=self.augment.train(images, gen), y=y, index=idx, generator=gen)
            self.train_step(batch, epoch, step, sums)
            progress.step += 1
            if (bar is not None or self.folder.trackers) and (progress.step % int(t.log_every) == 0 or progress.step == steps):
                self.divergence.check(epoch)  # the bar and the trackers sync here anyway
                loss = float(sums["loss"] / sums["_batches"])
                rate = int(t.log_every) * int(t.batch_size) / max(1e-9, time.time() - tick)
                self.folder.track_step({"train/loss": loss, "train/lr": lr, "train/images_per_s": rate}, progress)
                if bar is not None:
                    bar.set_postfix(loss=f"{loss:.4f}", lr=f"{lr:.2g}", img_s=f"{rate:.0f}")
                    bar.update(progress.step - bar.n)
                tick = time.time()
            if stop.requested:
                break
        if bar is not None:
            bar.close()
        progress.sums = {k: float(v) for k, v in sums.items()}
        return not stop.requested

    def epoch_order(self, epoch: int) -> torch.Tensor:
        gen = make_generator(torch.device("cpu"), step_seed(int(self.cfg.seed), epoch, -1))
        order = self.method.epoch_order(epoch, gen)
        if order is None:
            order = torch.randperm(len(self.data.train), generator=gen)
        return order.detach().cpu().long()

    def set_lr(self, t_epoch: float) -> float:
        factor = lr_factor(self.cfg.trainer.lr_schedule, t_epoch, int(self.cfg.trainer.epochs))
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = base * factor
        return self.base_lrs[0] * factor

    def train_step(self, batch: Batch, epoch: int, step: int, sums: Dict[str, Any]) -> None:
        with self.runtime.autocast():
            result = self.method.training_step(self.forward_model, batch, epoch)
        self.divergence.record(result.loss, step)
        optimizers = [self.optimizer, *self.method.optimizers()]
        for opt in optimizers:
            opt.zero_grad(set_to_none=True)
        self.scaler.scale(result.loss).backward()
        for opt in optimizers:
            self.scaler.step(opt)
        self.scaler.update()
        self.accumulate(sums, result, batch)

    def accumulate(self, sums: Dict[str, Any], result, batch: Batch) -> None:
        """Running sums for the epoch's history row; device tensors stay on the device (no sync)."""

        def add(key: str, value) -> None:
            value = value.detach().float() if torch.is_tensor(value) else float(value)
            sums[key] = sums[key] + value if key in sums else value

        add("loss", result.loss)
        add("_batches", 1)
        for key, value in result.parts.items():
            add(key, value)
        if result.logits is not None:
            logits = result.logits.detach()
            if self.task.is_multiclass:
                add("_correct", (logits.argmax(1) == batch.y).sum())
            else:
                add("_correct", ((logits > 0).float() == batch.y).float().mean(1).sum())
            add("_seen", len(batch.y))

    def check_finite(self, progress: Progress) -> None:
        """Stop a diverged run before it writes a checkpoint or a history row: a non-finite loss in this epoch,
        or a non-finite weight / buffer / method parameter."""
        self.divergence.check(progress.epoch)
        tensors = {f"model.{k}": v for k, v in self.model.state_dict().items()}
        tensors.update({f"method.{k}": v for k, v in self.method.state_dict().items() if torch.is_tensor(v)})
        check_tensors(tensors, progress.epoch)

    def finish_epoch(self, progress: Progress) -> None:
        """The epoch's history row (and its evaluation when one is due); ``progress`` moves to the next epoch."""
        t, epoch, sums = self.cfg.trainer, progress.epoch, progress.sums
        batches = max(1.0, sums.pop("_batches", 1.0))
        row: Dict[str, Any] = {"epoch": epoch + 1, "lr": self.optimizer.param_groups[0]["lr"]}
        correct, seen = sums.pop("_correct", None), sums.pop("_seen", None)
        row.update({k: v / batches for k, v in sums.items()})
        if correct is not None and seen:
            row["train_acc"] = 100.0 * correct / seen
        row.update(self.method.epoch_scalars())
        for name, value in self.method.epoch_curves().items():
            progress.curves.setdefault(name, []).append(np.asarray(value))
        done = epoch + 1
        if done % int(t.eval_every) == 0 or done == int(t.epochs) or done in t.eval_epochs:
            scores, targets = self.predict()
            check_predictions(scores, done)
            result = self.score(scores, targets)
            self.last_eval = (done, scores, targets, result)
            row.update({k: v for k, v in result.items() if isinstance(v, (int, float)) and v is not None})
            if done in t.eval_epochs:
                progress.metrics_at_epoch[str(done)] = result
        row["time_s"] = round(progress.elapsed + time.time() - self.folder.clock, 3)
        progress.history.append(row)
        progress.epoch, progress.step, progress.order, progress.sums = epoch + 1, 0, None, {}

    # -- evaluation ----------------------------------------------------------------------------------------
    @torch.no_grad()
    def predict(self) -> tuple:
        self.model.eval()
        scores, targets = [], []
        order = torch.arange(len(self.eval_loader))
        for images, y, _ in self.eval_loader.batches(order, int(self.cfg.trainer.eval_batch_size)):
            with self.runtime.autocast():
                out = self.method.predict(self.forward_model(self.augment.eval(images)))
            scores.append(out.float().cpu())
            targets.append(y.cpu())
        self.model.train()
        self.method.train_mode(self.model)
        return torch.cat(scores).numpy(), torch.cat(targets).numpy()

    def score(self, scores: np.ndarray, targets: np.ndarray) -> Dict[str, Any]:
        return metric_fns.evaluate(self.task, scores, targets, self.data.meta)

    # -- checkpoints ---------------------------------------------------------------------------------------
    def save_checkpoint(self, progress: Progress) -> None:
        self.folder.save_checkpoint({
            "model": self.model.state_dict(),
            "method": self.method.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "method_optimizers": [o.state_dict() for o in self.method.optimizers()],
            "scaler": self.scaler.state_dict(),
            "rng": rng_state(),
        }, progress)

    def load_checkpoint(self) -> Progress:
        state = self.folder.load_checkpoint(self.device)
        self.model.load_state_dict(state["model"])
        self.method.load_state_dict(state["method"])
        self.optimizer.load_state_dict(state["optimizer"])
        for opt, opt_state in zip(self.method.optimizers(), state["method_optimizers"]):
            opt.load_state_dict(opt_state)
        self.scaler.load_state_dict(state["scaler"])
        set_rng_state(state["rng"])
        progress = Progress(**state["progress"])
        log.info("resuming %s at epoch %d, step %d", self.folder.path, progress.epoch + 1, progress.step)
        return progress


def _status_of(exc: BaseException) -> str:
    return "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"


def _progress_bar(t: Any, total: int, initial: int, desc: str):
    if not t.progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc, leave=False, dynamic_ncols=True)


def build_trainer(cfg: Any, run_dir: str | Path, choices=None, overrides=None, resume: bool = False) -> Trainer:
    """A Trainer for ``cfg``; a new run that cannot be built (a bad value, a missing dataset) records why in its
    folder's metrics.json before the error goes on. A resume that cannot be built writes nothing."""
    try:
        return Trainer(cfg, run_dir, choices, overrides)
    except BaseException as exc:
        folder = RunFolder(run_dir, cfg, choices, overrides)
        if not (resume and folder.checkpoint.exists()):
            folder.write_status(_status_of(exc), Progress(), describe(exc))
        raise


def run_experiment(cfg: Any, run_dir: str | Path, choices=None, overrides=None, resume: bool = False) -> Dict[str, Any]:
    """Train ``cfg`` into ``run_dir``; returns the final metrics (see module docstring)."""
    return build_trainer(cfg, run_dir, choices, overrides, resume).run(resume=resume)
