"""The single trainer loop. It knows no method: everything method-specific goes through the seam
(``dcl_runner.methods.base.Method``).

``run_experiment(cfg, run_dir)`` trains one composed config into ``run_dir`` and returns the final
metrics. It writes the run-folder contract of DESIGN.md (metrics.json, history.csv, predictions.npz,
checkpoints/last.pt, curves/), every file atomically. Ctrl-C or SIGTERM finishes the current step,
saves a checkpoint that resumes at the next step exactly, marks the run ``interrupted`` and raises
``RunInterrupted``. A run that diverges (a non-finite loss, weight or prediction) stops with status
``failed`` and ``RunFailed``, and its last checkpoint stays the last finite state. A resume that cannot
start (an unreadable checkpoint, another configuration) raises before anything in the folder is written.
"""
from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import random
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np
import torch
from omegaconf import OmegaConf

from . import metrics as metric_fns
from .config_check import check_config
from .data import DataBundle, build_data
from .data.augment import Augment
from .data.loader import SplitLoader, choose_resident
from .errors import ConfigError, RunFailed, RunnerError
from .io import atomic_save_npy, atomic_save_npz, atomic_torch_save, atomic_write_json, atomic_write_text
from .methods.base import Batch, Method, TrainContext, build_method
from .models import Classifier, build_backbone

log = logging.getLogger(__name__)


class RunInterrupted(RunnerError):
    """Training stopped on Ctrl-C / SIGTERM after saving a checkpoint."""


# ---------------------------------------------------------------------------------------------
# runtime: device, precision, seeding
# ---------------------------------------------------------------------------------------------
def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"trainer.device={name!r} but no CUDA device is available; use trainer.device=cpu or auto")
    return device


def resolve_precision(name: str, device: torch.device) -> Optional[torch.dtype]:
    """The autocast dtype (None = fp32). bf16/fp16 run on GPU only; a CPU run is fp32."""
    if name == "auto":
        return torch.bfloat16 if device.type == "cuda" else None
    if name == "fp32":
        return None
    if device.type != "cuda":
        raise ConfigError(f"trainer.precision={name} needs a GPU; this run is on {device}. Use fp32 or auto.")
    return torch.bfloat16 if name == "bf16" else torch.float16


def seed_everything(seed: int, deterministic: bool, device: torch.device) -> None:
    """Seed every generator. ``deterministic`` asks torch for deterministic kernels on CUDA; CPU kernels
    are deterministic for a fixed thread count already, and asking there costs seconds per process
    (torch imports its compiler stack to set the flag), so the CPU path skips the call."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if device.type == "cuda":
        torch.use_deterministic_algorithms(deterministic, warn_only=True)
        torch.backends.cudnn.benchmark = not deterministic


def step_seed(seed: int, epoch: int, step: int) -> int:
    """A seed per (run seed, epoch, step): augmentation and method draws are reproducible on resume."""
    return ((seed * 1_000_003 + epoch) * 1_000_003 + step) % (2**63 - 1)


def make_generator(device: torch.device, seed: int) -> torch.Generator:
    gen = torch.Generator(device=device)
    gen.manual_seed(seed)
    return gen


def rng_state() -> Dict[str, Any]:
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# ---------------------------------------------------------------------------------------------
# optimisation
# ---------------------------------------------------------------------------------------------
def build_optimizer(params, cfg: Any) -> torch.optim.Optimizer:
    if cfg.name == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov, weight_decay=cfg.weight_decay)
    cls = torch.optim.Adam if cfg.name == "adam" else torch.optim.AdamW
    return cls(params, lr=cfg.lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay)


def lr_factor(cfg: Any, t: float, epochs: int) -> float:
    """Learning-rate multiplier at fractional epoch t (a pure function: nothing to checkpoint)."""
    warmup = float(cfg.warmup_epochs)
    if warmup > 0 and t < warmup:  # linear warm-up, per step
        return max(t, 1e-3) / warmup
    if cfg.name == "step":
        return cfg.gamma ** int(t // cfg.step_size)
    if cfg.name == "multistep":
        return cfg.gamma ** sum(1 for m in cfg.milestones if t >= m)
    if cfg.name == "cosine":
        progress = min(1.0, (t - warmup) / max(1e-8, epochs - warmup))
        floor = float(cfg.min_lr_factor)
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))
    return 1.0


# ---------------------------------------------------------------------------------------------
# stop requests (Ctrl-C / SIGTERM)
# ---------------------------------------------------------------------------------------------
class StopRequest:
    """First Ctrl-C / SIGTERM: finish the step, checkpoint, stop. Second Ctrl-C: stop at once."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: Dict[int, Any] = {}

    def _handle(self, signum, frame) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = True
        log.warning("stop requested (signal %d): finishing this step and saving a checkpoint", signum)

    def __enter__(self) -> "StopRequest":
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


# ---------------------------------------------------------------------------------------------
# the run
# ---------------------------------------------------------------------------------------------
@dataclass
class Progress:
    """Where training stands; saved in checkpoints. ``step`` is the next batch of ``epoch``."""

    epoch: int = 0
    step: int = 0
    order: Optional[torch.Tensor] = None
    sums: Dict[str, float] = field(default_factory=dict)
    history: List[Dict[str, Any]] = field(default_factory=list)
    curves: Dict[str, List[np.ndarray]] = field(default_factory=dict)
    metrics_at_epoch: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    elapsed: float = 0.0


def config_hash(cfg: Any) -> str:
    """A run's identity (``results.run_identity``): its config without run-time switches (device, workers,
    progress, ...), so a run may be resumed on another device or with other workers."""
    from .results import run_identity

    return run_identity(cfg)


def legacy_config_hash(cfg: Any) -> str:
    """The hash checkpoints written before run identities carried (every key but resume / hydra)."""
    plain = OmegaConf.to_container(cfg, resolve=True)
    plain.pop("resume", None)
    plain.pop("hydra", None)
    return hashlib.sha1(OmegaConf.to_yaml(OmegaConf.create(plain)).encode()).hexdigest()[:16]


class DivergenceWatch:
    """Notices a non-finite loss without a host sync per step: the first bad step of the epoch is kept on the
    device and read only where the loop syncs anyway (progress-bar updates, the end of an epoch, before a
    checkpoint is written)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.reset()

    def reset(self) -> None:
        self.first_bad = torch.full((), -1, dtype=torch.long, device=self.device)

    def record(self, loss: torch.Tensor, step: int) -> None:
        bad = ~torch.isfinite(loss.detach()).all()
        self.first_bad = torch.where(bad & (self.first_bad < 0), step, self.first_bad)

    def check(self, epoch: int) -> None:
        step = int(self.first_bad)
        if step >= 0:
            raise RunFailed(f"diverged at epoch {epoch + 1}, step {step + 1}: the training loss is not finite (NaN or inf)")


def nonfinite_names(named: Dict[str, torch.Tensor]) -> List[str]:
    """Names of the floating-point tensors holding a NaN or inf (one host sync for all of them)."""
    names = [n for n, t in named.items() if torch.is_tensor(t) and t.is_floating_point()]
    if not names:
        return []
    finite = torch.stack([torch.isfinite(named[n]).all() for n in names]).cpu()
    return [n for n, ok in zip(names, finite.tolist()) if not ok]


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class Trainer:
    def __init__(self, cfg: Any, run_dir: Path, choices: Optional[Dict[str, str]] = None, overrides: Optional[List[str]] = None):
        self.cfg = cfg
        self.run_dir = Path(run_dir)
        self.choices = dict(choices or {})
        self.overrides = list(overrides or [])
        self.ckpt_path = self.run_dir / "checkpoints" / "last.pt"
        self.started = time.time()

    # -- building ------------------------------------------------------------------------------
    def build(self) -> None:
        cfg, t = self.cfg, self.cfg.trainer
        check_config(cfg)
        if t.num_threads:
            torch.set_num_threads(int(t.num_threads))
        self.device = resolve_device(t.device)
        self.amp_dtype = resolve_precision(t.precision, self.device)
        self.channels_last = (self.device.type == "cuda") if t.channels_last == "auto" else bool(t.channels_last)
        seed_everything(int(cfg.seed), bool(t.deterministic), self.device)

        self.data: DataBundle = build_data(cfg.dataset, int(cfg.seed))
        self.task = self.data.task()
        self.method: Method = build_method(cfg.method, self.task)
        channels, size = self.task.image_shape[0], int(cfg.dataset.image_size)
        backbone = build_backbone(cfg.backbone, in_channels=channels, image_size=size)
        head = self.method.build_head(backbone.feature_dim, backbone.out_channels)
        self.model = Classifier(backbone, head).to(self.device)
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.method.to(self.device)
        if t.get("init_from"):
            self.load_initial_weights(str(t.init_from))
        self.forward_model = torch.compile(self.model) if t.compile else self.model

        self.optimizer = build_optimizer(self.method.param_groups(self.model), t.optimizer)
        self.base_lrs = [g["lr"] for g in self.optimizer.param_groups]
        self.divergence = DivergenceWatch(self.device)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)

        max_gb = float(cfg.dataset.resident_max_gb)
        resident = lambda split: choose_resident(split, self.device, cfg.dataset.resident, max_gb)  # noqa: E731
        self.train_loader = SplitLoader(self.data.train, self.device, resident(self.data.train), t.num_workers)
        eval_split = self.data.split(t.eval_split)
        self.eval_loader = SplitLoader(eval_split, self.device, resident(eval_split), t.num_workers)
        self.augment = Augment(cfg.dataset.augment, size, cfg.dataset.mean, cfg.dataset.std, self.channels_last)
        n = len(self.data.train)
        self.steps_per_epoch = SplitLoader.num_batches(n, int(t.batch_size), bool(t.drop_last))
        log.info(
            "%s: %d train / %d %s images %s, %s task with %d outputs; %s on %s (%s, %s)",
            cfg.dataset.name, n, len(eval_split), t.eval_split, self.task.image_shape, self.task.kind,
            self.task.num_outputs, cfg.method.name, self.device, self.amp_dtype or "fp32",
            "device-resident" if self.train_loader.resident else "DataLoader",
        )
        log.info("run folder: %s", self.run_dir)

    def load_initial_weights(self, path: str) -> None:
        """``trainer.init_from``: start from another run's model weights (stage 2 of a two-stage method)."""
        source = Path(path).expanduser()
        if source.is_dir():
            source = source / "checkpoints" / "last.pt"
        if not source.is_file():
            raise ConfigError(f"trainer.init_from={path!r}: expected a run folder holding checkpoints/last.pt or a .pt file; {source} does not exist")
        state = torch.load(source, map_location=self.device, weights_only=False)
        state = state.get("model", state) if isinstance(state, dict) else state
        loaded = self.method.load_initial_weights(self.model, state)
        log.info("initialised %d of %d model tensors from %s", len(loaded), len(self.model.state_dict()), source)

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
            task=self.task,
            train_targets=self.train_loader.targets,
            device=self.device,
            epochs=int(self.cfg.trainer.epochs),
            steps_per_epoch=self.steps_per_epoch,
            seed=int(self.cfg.seed),
            meta=self.data.meta,
            model=self.model,
            iterate_train=iterate_train,
            fetch=self.fetch,
        )

    # -- checkpoints ---------------------------------------------------------------------------
    def save_checkpoint(self, progress: Progress) -> None:
        progress.elapsed += time.time() - self.started
        self.started = time.time()
        atomic_torch_save(
            self.ckpt_path,
            {
                "config_hash": config_hash(self.cfg),
                "config": OmegaConf.to_container(self.cfg, resolve=True),
                "model": self.model.state_dict(),
                "method": self.method.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "method_optimizers": [o.state_dict() for o in self.method.optimizers()],
                "scaler": self.scaler.state_dict(),
                "progress": progress.__dict__,
                "rng": rng_state(),
            },
        )

    def load_checkpoint(self) -> Progress:
        try:
            state = torch.load(self.ckpt_path, map_location=self.device, weights_only=False)
        except Exception as exc:  # noqa: BLE001 - truncated, corrupt, or not a checkpoint at all
            raise ConfigError(
                f"cannot resume {self.run_dir}: {self.ckpt_path} is unreadable ({_describe(exc)}); it is truncated or "
                "corrupt. Start a new run (the run folder was left as it was)."
            ) from None
        if state.get("config_hash") not in (config_hash(self.cfg), legacy_config_hash(self.cfg)):
            from .results import identity_differences

            changed = identity_differences(state["config"], self.cfg) if "config" in state else []
            raise ConfigError(
                f"cannot resume {self.run_dir}: its checkpoint was made with a different configuration"
                + (f" ({'; '.join(changed[:8])})" if changed else "")
                + ". Resume without changing those options, or start a new run."
            )
        self.model.load_state_dict(state["model"])
        self.method.load_state_dict(state["method"])
        self.optimizer.load_state_dict(state["optimizer"])
        for opt, opt_state in zip(self.method.optimizers(), state["method_optimizers"]):
            opt.load_state_dict(opt_state)
        self.scaler.load_state_dict(state["scaler"])
        set_rng_state(state["rng"])
        progress = Progress(**state["progress"])
        log.info("resuming %s at epoch %d, step %d", self.run_dir, progress.epoch + 1, progress.step)
        return progress

    # -- status files ----------------------------------------------------------------------------
    def write_status(self, status: str, progress: Progress, reason: Optional[str] = None, final: Optional[Dict] = None) -> None:
        t = self.cfg.trainer
        elapsed = progress.elapsed + (time.time() - self.started)
        record = {
            "status": status,
            "reason": reason,
            "task": getattr(self, "task", None) and self.task.kind,
            "choices": self.choices,
            "overrides": self.overrides,
            "seed": _int_or_raw(self.cfg.seed),
            "epochs": _int_or_raw(t.epochs),
            "epochs_completed": len(progress.history),
            "wall_time_s": round(elapsed, 3),
            "headline": getattr(self, "task", None) and metric_fns.headline({}, self.task.kind),
            "metrics": final or {},
            "metrics_at_epoch": progress.metrics_at_epoch,
            "config_hash": config_hash(self.cfg),
            "device": str(getattr(self, "device", "")),
            "torch": torch.__version__,
        }
        atomic_write_json(self.run_dir / "metrics.json", record)

    def write_history(self, progress: Progress) -> None:
        import pandas as pd

        atomic_write_text(self.run_dir / "history.csv", pd.DataFrame(progress.history).to_csv(index=False))
        for name, rows in progress.curves.items():
            atomic_save_npy(self.run_dir / "curves" / f"{name}.npy", np.stack(rows))

    # -- one epoch ---------------------------------------------------------------------------------
    def set_lr(self, t_epoch: float) -> float:
        factor = lr_factor(self.cfg.trainer.lr_schedule, t_epoch, int(self.cfg.trainer.epochs))
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = base * factor
        return self.base_lrs[0] * factor

    def epoch_order(self, epoch: int) -> torch.Tensor:
        gen = make_generator(torch.device("cpu"), step_seed(int(self.cfg.seed), epoch, -1))
        order = self.method.epoch_order(epoch, gen)
        if order is None:
            order = torch.randperm(len(self.data.train), generator=gen)
        return order.detach().cpu().long()

    def autocast(self):
        """Mixed precision for a forward pass (trainer.precision); nothing on an fp32 run."""
        return torch.autocast(self.device.type, dtype=self.amp_dtype) if self.amp_dtype else contextlib.nullcontext()

    def train_step(self, batch: Batch, epoch: int, step: int, sums: Dict[str, Any]) -> None:
        with self.autocast():
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
            if bar is not None and (progress.step % int(t.log_every) == 0 or progress.step == steps):
                self.divergence.check(epoch)  # the bar syncs here anyway
                rate = int(t.log_every) * int(t.batch_size) / max(1e-9, time.time() - tick)
                bar.set_postfix(loss=f"{(sums['loss'] / sums['_batches']).item():.4f}", lr=f"{lr:.2g}", img_s=f"{rate:.0f}")
                bar.update(progress.step - bar.n)
                tick = time.time()
            if stop.requested:
                progress.sums = {k: float(v) for k, v in sums.items()}
                if bar is not None:
                    bar.close()
                return False
        if bar is not None:
            bar.close()
        progress.sums = {k: float(v) for k, v in sums.items()}
        return True

    def finish_epoch(self, progress: Progress) -> None:
        t, epoch = self.cfg.trainer, progress.epoch
        sums = progress.sums
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
            self.check_predictions(scores, done)
            result = self.score(scores, targets)
            self.last_eval = (done, scores, targets, result)
            row.update({k: v for k, v in result.items() if isinstance(v, (int, float)) and v is not None})
            if done in t.eval_epochs:
                progress.metrics_at_epoch[str(done)] = result
        row["time_s"] = round(progress.elapsed + time.time() - self.started, 3)
        progress.history.append(row)
        progress.epoch, progress.step, progress.order, progress.sums = epoch + 1, 0, None, {}

    def check_finite(self, progress: Progress) -> None:
        """Stop a diverged run before it writes a checkpoint or a history row: a non-finite loss in this epoch,
        or a non-finite weight / buffer / method parameter."""
        self.divergence.check(progress.epoch)
        tensors = {f"model.{k}": v for k, v in self.model.state_dict().items()}
        tensors.update({f"method.{k}": v for k, v in self.method.state_dict().items() if torch.is_tensor(v)})
        bad = nonfinite_names(tensors)
        if bad:
            raise RunFailed(
                f"diverged at epoch {progress.epoch + 1}: {len(bad)} tensor(s) hold NaN or inf, e.g. {', '.join(bad[:3])}"
            )

    @staticmethod
    def check_predictions(scores: np.ndarray, epoch: int) -> None:
        if not np.isfinite(scores).all():
            raise RunFailed(f"diverged at epoch {epoch}: the model's evaluation scores are not finite (NaN or inf)")

    # -- evaluation ----------------------------------------------------------------------------------
    @torch.no_grad()
    def predict(self) -> tuple:
        self.model.eval()
        scores, targets = [], []
        order = torch.arange(len(self.eval_loader))
        for images, y, _ in self.eval_loader.batches(order, int(self.cfg.trainer.eval_batch_size)):
            with self.autocast():
                out = self.method.predict(self.forward_model(self.augment.eval(images)))
            scores.append(out.float().cpu())
            targets.append(y.cpu())
        self.model.train()
        self.method.train_mode(self.model)
        return torch.cat(scores).numpy(), torch.cat(targets).numpy()

    def score(self, scores: np.ndarray, targets: np.ndarray) -> Dict[str, Any]:
        if self.task.is_multiclass:
            return metric_fns.multiclass_metrics(scores, targets, self.task.names, self.task.train_counts)
        result = metric_fns.attribute_metrics(scores, targets, self.task.names)
        groups = self.data.meta.get("attribute_groups")
        if groups:
            per = result["per_attribute_mA"]
            result["group_mA"] = {g: float(np.mean([per[a] for a in names])) for g, names in groups.items() if names}
        return result

    # -- the whole run ---------------------------------------------------------------------------------
    def run(self, resume: bool = False) -> Dict[str, Any]:
        progress = Progress()
        resuming = resume and self.ckpt_path.exists()
        try:
            self.build()
            self.method.setup(self.train_context())
            if resuming:
                progress = self.load_checkpoint()  # loads the method's state over what setup built
            elif resume:
                log.info("no checkpoint in %s: starting from the beginning", self.run_dir)
        except BaseException as exc:
            if not resuming:  # a new run that cannot start says why; a resume that cannot start writes nothing
                self.write_status("interrupted" if isinstance(exc, KeyboardInterrupt) else "failed", progress, _describe(exc))
            raise
        self.save_data_meta()
        self.write_status("running", progress)
        try:
            return self.loop(progress)
        except RunInterrupted:
            raise
        except BaseException as exc:  # a failed run says why, then the error goes on
            self.write_status("interrupted" if isinstance(exc, KeyboardInterrupt) else "failed", progress, _describe(exc))
            raise

    def loop(self, progress: Progress) -> Dict[str, Any]:
        t = self.cfg.trainer
        with StopRequest() as stop:
            while progress.epoch < int(t.epochs):
                self.divergence.reset()
                if not self.run_epoch(progress, stop):
                    self.check_finite(progress)
                    self.save_checkpoint(progress)
                    self.write_status("interrupted", progress, "stopped by signal; resume to continue")
                    raise RunInterrupted(f"stopped at epoch {progress.epoch + 1}, step {progress.step}; checkpoint saved in {self.ckpt_path}")
                self.check_finite(progress)
                self.finish_epoch(progress)
                self.write_history(progress)
                if progress.epoch % int(t.checkpoint_every) == 0 or progress.epoch == int(t.epochs):
                    self.save_checkpoint(progress)
                if stop.requested:
                    self.write_status("interrupted", progress, "stopped by signal; resume to continue")
                    raise RunInterrupted(f"stopped after epoch {progress.epoch}; checkpoint saved in {self.ckpt_path}")
        return self.finalize(progress)

    def finalize(self, progress: Progress) -> Dict[str, Any]:
        done, scores, targets, final = getattr(self, "last_eval", (None, None, None, None))
        if done != progress.epoch:  # e.g. resumed after the last epoch's checkpoint
            scores, targets = self.predict()
            self.check_predictions(scores, progress.epoch)
            final = self.score(scores, targets)
        atomic_save_npz(self.run_dir / "predictions.npz", scores=scores, targets=targets)
        for name, value in self.method.final_outputs(self.model).items():
            atomic_save_npy(self.run_dir / "curves" / f"{name}.npy", np.asarray(value))
        self.write_status("completed", progress, None, final)
        return final

    def save_data_meta(self) -> None:
        arrays = {k: np.asarray(v) for k, v in self.data.meta.items() if isinstance(v, np.ndarray)}
        if arrays and not (self.run_dir / "data_meta.npz").exists():
            atomic_save_npz(self.run_dir / "data_meta.npz", **arrays)


def _int_or_raw(value: Any) -> Any:
    """An integer config value for metrics.json, or the value as given when it is not one (a refused run
    records what it was given)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return value


def _progress_bar(t: Any, total: int, initial: int, desc: str):
    if not t.progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc, leave=False, dynamic_ncols=True)


def run_experiment(cfg: Any, run_dir: str | Path, choices=None, overrides=None, resume: bool = False) -> Dict[str, Any]:
    """Train ``cfg`` into ``run_dir``; returns the final metrics (see module docstring)."""
    return Trainer(cfg, Path(run_dir), choices, overrides).run(resume=resume)
