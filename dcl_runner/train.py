"""The single trainer loop. It knows no method: everything method-specific goes through the seam
(``dcl_runner.methods.base.Method``).

``run_experiment(cfg, run_dir)`` trains one composed config into ``run_dir`` and returns the final
metrics. The pieces it stands on each live in their own module: ``runtime`` (device, precision, seeds,
Ctrl-C), ``optim`` (optimizers and lr schedules by name), ``run_folder`` (the files a run writes, and its
checkpoint), ``divergence`` (a NaN never becomes a number), ``distributed`` (N processes under DDP: each
trains its part of every global batch; with one process its calls do nothing). Ctrl-C or SIGTERM finishes the current step,
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
from .data import DataBundle, build_data, dataset_class
from .data.augment import build_augment
from .data.loader import SplitLoader, choose_resident
from .distributed import Processes, init_from_env, is_main_process
from .divergence import DivergenceWatch, check_predictions, check_tensors
from .errors import ConfigError, RunnerError
from .methods.base import Batch, Method, TrainContext, build_method, method_class
from .models import build_backbone
from .models.pretrained import require_weights_file
from .optim import LrScheduleKeys, OptimizerKeys, build_optimizer, lr_factor
from .run_folder import Progress, RunFolder, describe
from .runtime import Runtime, StopRequest, make_generator, rng_state, set_rng_state, step_seed
from .trackers import Trackers

log = logging.getLogger(__name__)


class RunInterrupted(RunnerError):
    """Training stopped on Ctrl-C / SIGTERM after saving a checkpoint."""


@dataclass(frozen=True, kw_only=True)
class DistributedKeys:
    """``trainer.distributed`` (conf/config.yaml): read by distributed.Processes in a run of N processes."""

    sync_batchnorm: bool
    find_unused_parameters: bool


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
    distributed: DistributedKeys


class Trainer:
    """Everything a run is built from, built here (config check first, so a bad value stops the run before any
    data is read); ``run()`` trains it."""

    def __init__(self, cfg: Any, run_dir: str | Path, choices: Optional[Dict[str, str]] = None,
                 overrides: Optional[List[str]] = None) -> None:
        self.cfg, t = cfg, cfg.trainer
        self.procs: Processes = init_from_env()
        self.folder = RunFolder(run_dir, cfg, choices, overrides, writes=self.procs.is_main)
        check_config(cfg)
        require_weights_file(cfg.backbone)  # a weights file that is never downloaded: refused before data is read
        self.procs.check(t)
        self.procs.check_method(str(cfg.method.name), method_class(cfg.method), dataset_class(cfg.dataset).kind)
        self.runtime = Runtime(t, int(cfg.seed), self.procs.device(t.device))
        self.device = self.runtime.device

        self.data: DataBundle = self.procs.main_first(lambda: build_data(cfg.dataset, int(cfg.seed)))
        self.task = self.data.task()
        self.method: Method = build_method(cfg.method, self.task)
        self.model = self.build_model()
        self.forward_model, self.eval_model = self.compiled_models()

        self.optimizer = build_optimizer(self.method.param_groups(self.model), t.optimizer)
        self.base_lrs = [g["lr"] for g in self.optimizer.param_groups]
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.runtime.amp_dtype == torch.float16)
        self.divergence = DivergenceWatch(self.device, self.procs)

        self.train_loader = self.loader(self.data.train)
        self.eval_loader = self.loader(self.data.split(t.eval_split))
        d = cfg.dataset
        self.augment = build_augment(d, self.runtime.channels_last, self.train_loader.crops_in_workers)
        self.steps_per_epoch = len(self.procs.parts(torch.arange(len(self.data.train)), int(t.batch_size), bool(t.drop_last)))
        trackers = Trackers(cfg.logger, self.folder.path) if self.procs.is_main else None
        self.folder.describe_run(self.task.kind, self.device, self.steps_per_epoch, trackers, self.procs.world)
        self.last_eval: Optional[tuple] = None  # (epoch, scores, targets, metrics) of the latest evaluation
        log.info(
            "%s: %d train / %d %s images %s, %s task with %d outputs; %s on %s (%s, %s); global batch %d%s",
            d.name, len(self.data.train), len(self.eval_loader), t.eval_split, self.task.image_shape, self.task.kind,
            self.task.num_outputs, cfg.method.name, self.device, self.runtime.amp_dtype or "fp32",
            "device-resident" if self.train_loader.resident else "DataLoader", int(t.batch_size),
            f" = {self.procs.world} processes x {int(t.batch_size) // self.procs.world}" if self.procs.distributed else "",
        )
        log.info("run folder: %s", self.folder.path)

    # -- building ------------------------------------------------------------------------------------------
    def build_model(self) -> torch.nn.Module:
        """The method's model of the backbone (``Method.build_model``: backbone + head) on the device;
        ``trainer.init_from`` loads another run's weights."""
        channels, size = self.task.image_shape[0], int(self.cfg.dataset.image_size)
        backbone = build_backbone(self.cfg.backbone, in_channels=channels, image_size=size)
        model = self.method.build_model(backbone).to(self.device)
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

    def compiled_models(self) -> tuple:
        """(what trains: the model, under DDP with N processes; what evaluates: the model itself), each through
        torch.compile when ``trainer.compile``."""
        t = self.cfg.trainer
        train = self.procs.wrap(self.model, bool(t.distributed.sync_batchnorm), bool(t.distributed.find_unused_parameters))
        if not t.compile:
            return train, self.model
        evaluate = torch.compile(self.model)
        return (evaluate if train is self.model else torch.compile(train)), evaluate

    def loader(self, split) -> SplitLoader:
        """A split on the device when it fits (dataset.resident / resident_max_gb), else through a DataLoader."""
        d, t = self.cfg.dataset, self.cfg.trainer
        resident = choose_resident(split, self.device, d.resident, float(d.resident_max_gb))
        return SplitLoader(split, self.device, resident, t.num_workers)

    def fetch(self, indices, generator: Optional[torch.Generator] = None, augment: bool = True) -> tuple:
        """Training samples by position on the device, augmented as a training batch (TrainContext.fetch)."""
        crop = None
        if augment and self.train_loader.crops_in_workers:
            crop = (generator.initial_seed() if generator is not None else int(torch.randint(2**62, ())), 0)
        images, y, idx = self.train_loader.take(indices, crop)
        if not augment:
            return self.augment.eval(images), y, idx
        x, y = self.augment.train_batch(images, y, generator)
        return x, y, idx

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
            self.procs.broadcast_state(self.method)  # process 0's method state on every process
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
                if not self.run_epoch(progress, stop):  # every process stops at the same step
                    self.check_finite(progress)
                    self.save_checkpoint(progress)
                    self.interrupted(progress, f"at epoch {progress.epoch + 1}, step {progress.step}")
                self.check_finite(progress)
                self.finish_epoch(progress)
                self.folder.write_history(progress)
                if progress.epoch % int(t.checkpoint_every) == 0 or progress.epoch == int(t.epochs):
                    self.save_checkpoint(progress)
                if self.procs.any(stop.requested, self.device):
                    self.interrupted(progress, f"after epoch {progress.epoch}")
        return self.finalize(progress)

    def interrupted(self, progress: Progress, where: str) -> None:
        """Mark the run interrupted (its checkpoint is saved) and stop every process."""
        self.folder.write_status("interrupted", progress, "stopped by signal; resume to continue")
        self.procs.barrier()
        raise RunInterrupted(f"stopped {where}; checkpoint saved in {self.folder.checkpoint}")

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
        parts = self.procs.parts(progress.order, int(t.batch_size), bool(t.drop_last))  # this process's share of each batch
        steps, todo = len(parts), parts[progress.step:]
        bar = _progress_bar(t, steps, progress.step, f"epoch {epoch + 1}/{t.epochs}") if self.procs.is_main else None
        tick, stopping = time.time(), False
        crops = [(step_seed(seed, epoch, progress.step + k), p.start) for k, p in enumerate(todo)]  # standard pipeline
        for (images, y, idx), part in zip(self.train_loader.load([p.index for p in todo], crops), todo):
            step = progress.step
            lr = self.set_lr(epoch + step / max(1, steps))
            gen = make_generator(self.device, step_seed(seed, epoch, step))
            x, y = self.augment.train_batch(images, y, gen, part)  # detection: the boxes follow the pixels
            batch = Batch(x=x, y=y, index=idx, generator=gen, part=part)
            self.train_step(batch, epoch, step, sums)
            progress.step += 1
            sync_point = progress.step % int(t.log_every) == 0 or progress.step == steps
            if sync_point and (bar is not None or self.folder.trackers or self.procs.distributed):
                self.divergence.check(epoch)  # the bar and the trackers sync here anyway; processes agree here
                self.report_step(sums, lr, tick, progress, bar)
                tick = time.time()
            stopping = self.procs.stop_agreed(stop.requested, sync_point, self.device)
            if stopping:
                break
        if bar is not None:
            bar.close()
        progress.sums = self.procs.mean_values(sums)  # the global batches' running sums
        return not stopping

    def report_step(self, sums: Dict[str, Any], lr: float, tick: float, progress: Progress, bar) -> None:
        """The running loss, lr and images/s (all processes) to the progress bar and the trackers."""
        t = self.cfg.trainer
        if bar is None and not self.folder.trackers:
            return
        loss = float(sums["loss"] / sums["_batches"])
        rate = int(t.log_every) * int(t.batch_size) / max(1e-9, time.time() - tick)
        self.folder.track_step({"train/loss": loss, "train/lr": lr, "train/images_per_s": rate}, progress)
        if bar is not None:
            bar.set_postfix(loss=f"{loss:.4f}", lr=f"{lr:.2g}", img_s=f"{rate:.0f}")
            bar.update(progress.step - bar.n)

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
        self.procs.average_gradients(self.method.parameters(), skip=self.model.parameters())  # DDP does the model's
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
        self.procs.together(lambda: check_tensors(tensors, progress.epoch))

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
        """(scores, targets) of the evaluation split; N processes score a block each, and every process gets all."""
        self.procs.broadcast_state(self.model, buffers_only=True)  # process 0's BatchNorm statistics
        self.model.eval()
        scores = []
        n = len(self.eval_loader)
        order = torch.arange(*self.procs.block(n))
        batch_size = -(-int(self.cfg.trainer.eval_batch_size) // self.procs.world)
        for images, y, _ in self.eval_loader.batches(order, batch_size):
            with self.runtime.autocast():
                out = self.method.predict(self.eval_model(self.augment.eval(images)))
            scores.append(out.float())
        self.model.train()
        self.method.train_mode(self.model)
        local = torch.cat(scores) if scores else torch.zeros(0, self.task.num_outputs, device=self.device)
        return self.procs.gather_rows(local, n).cpu().numpy(), self.eval_loader.targets.cpu().numpy()

    def score(self, scores: np.ndarray, targets: np.ndarray) -> Dict[str, Any]:
        return metric_fns.evaluate(self.task, scores, targets, self.data.meta)

    # -- checkpoints ---------------------------------------------------------------------------------------
    def save_checkpoint(self, progress: Progress) -> None:
        """Process 0 writes it (the model unwrapped: it resumes on any number of processes)."""
        self.folder.save_checkpoint({
            "model": self.model.state_dict(),
            "method": self.method.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "method_optimizers": [o.state_dict() for o in self.method.optimizers()],
            "scaler": self.scaler.state_dict(),
            "rng": rng_state(),
        }, progress)
        self.procs.barrier()

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
        folder = RunFolder(run_dir, cfg, choices, overrides, writes=is_main_process())
        if not (resume and folder.checkpoint.exists()):
            folder.write_status(_status_of(exc), Progress(), describe(exc))
        raise


def run_experiment(cfg: Any, run_dir: str | Path, choices=None, overrides=None, resume: bool = False) -> Dict[str, Any]:
    """Train ``cfg`` into ``run_dir``; returns the final metrics (see module docstring)."""
    return build_trainer(cfg, run_dir, choices, overrides, resume).run(resume=resume)
