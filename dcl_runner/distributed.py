"""One run over N processes with PyTorch DistributedDataParallel (DDP); with one process every call here is a
no-op, so the trainer reads the same either way.

Launch: ``torchrun --nproc_per_node=N -m dcl_runner ...`` (multi-node: torchrun's ``--nnodes`` / ``--rdzv_*``
flags; any launcher that sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT works), or Hydra's
submitit launcher on SLURM (``-m hydra/launcher=slurm_ddp``: one task per GPU; the task's SLURM variables are
turned into those five through ``submitit.helpers.TorchDistributedEnvironment``). Process group: gloo for CPU
tensors, NCCL for CUDA ones; process r trains on ``cuda:LOCAL_RANK``.

What is global and what is per process (docs/distributed.md has the table per method):

- ``trainer.batch_size`` is the global batch: one optimizer step sees that many images over all processes,
  each process ``batch_size / N`` of them (it must divide). The lr, its schedule and every other value are
  those of the global batch, unchanged by N: N processes train the 1-process run, not a bigger one.
- Every process draws the same epoch order (seeded by seed and epoch) and cuts it into the same global
  batches; process r takes rows ``[r B/N, (r+1) B/N)`` of each (:class:`BatchPart`): it loads, decodes and
  augments only those (the augmentation draws are made for the whole global batch and sliced, so a sample
  is augmented as in the 1-process run). A last partial batch is cut to a multiple of N.
- Gradients: DDP averages the model's over processes; the trainer averages the method's own parameters'
  (data parameters) the same way, so every process takes the same step. Losses are per-process means
  over equal shares, so their average is the global batch's mean. Methods needing whole-batch statistics
  use ``BatchPart.gather`` (autograd-aware) and ``BatchPart.local``.
- BatchNorm statistics are per process unless ``trainer.sync_batchnorm=true`` (torch's SyncBatchNorm, CUDA
  only); running statistics follow process 0's (DDP broadcasts them every step; evaluation uses them).
- Evaluation: each process scores a contiguous block of the split; the scores are gathered on every process.
- Process 0 alone writes the run folder (metrics.json, history.csv, checkpoints, trackers); every process
  resumes from the same checkpoint, also with another N (the checkpoint holds the unwrapped model and the
  global epoch order and step).
- Stopping agrees: a Ctrl-C / SIGTERM on any process, or a non-finite loss on any, is shared at the next sync
  point (every ``trainer.log_every`` steps, and at the end of an epoch), and all stop at the same step.
"""
from __future__ import annotations

import datetime
import logging
import os
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple, TypeVar

import torch
import torch.distributed as dist

from .errors import ConfigError, RunnerError

log = logging.getLogger(__name__)
T = TypeVar("T")
ENV_KEYS = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


# ---------------------------------------------------------------------------------------------
# the process group
# ---------------------------------------------------------------------------------------------
def _export_submitit_env() -> None:
    """Inside a SLURM task started by submitit (Hydra's submitit launcher), set the env:// variables."""
    if "RANK" in os.environ or os.environ.get("SUBMITIT_EXECUTOR") != "slurm":
        return
    try:
        from submitit.helpers import TorchDistributedEnvironment
    except ImportError:  # pragma: no cover - a SLURM task of submitit always has it
        return
    TorchDistributedEnvironment().export(set_cuda_visible_devices=False)


def launched_world_size() -> int:
    """How many processes the launcher started for this run (1 without a launcher)."""
    _export_submitit_env()
    return int(os.environ.get("WORLD_SIZE", "1") or 1)


def init_from_env() -> "Processes":
    """The run's process group, joined once per process (idempotent); one process without a launcher."""
    if dist.is_available() and dist.is_initialized():
        return Processes()
    if launched_world_size() <= 1:
        return Processes()
    missing = [k for k in ENV_KEYS if k not in os.environ]
    if missing:
        raise ConfigError(f"WORLD_SIZE={os.environ['WORLD_SIZE']} but {', '.join(missing)} not set: start "
                          "distributed runs with torchrun (or set RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT)")
    backend = "cpu:gloo,cuda:nccl" if torch.cuda.is_available() else "gloo"
    dist.init_process_group(backend=backend, timeout=datetime.timedelta(minutes=30))
    procs = Processes()
    log.info("process %d of %d (local rank %d), backend %s", procs.rank, procs.world, procs.local_rank, backend)
    return procs


def is_main_process() -> bool:
    """Process 0 of a distributed run, or a single process (also before the process group is joined)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank() == 0
    return int(os.environ.get("RANK", "0") or 0) == 0


def shutdown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


class Processes:
    """The processes of this run as the trainer sees them (world 1 when not distributed)."""

    def __init__(self) -> None:
        self.distributed = dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1
        self.world = dist.get_world_size() if self.distributed else 1
        self.rank = dist.get_rank() if self.distributed else 0
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0")) if self.distributed else 0
        self.is_main = self.rank == 0

    # -- setup ---------------------------------------------------------------------------------------
    def device(self, name: str) -> Optional[torch.device]:
        """The device this process trains on for ``trainer.device=name``; None: as a single process would."""
        if not self.distributed:
            return None
        wants_cuda = name == "cuda" or (name == "auto" and torch.cuda.is_available())
        if name not in ("auto", "cuda", "cpu"):
            raise ConfigError(f"trainer.device={name!r} names one device, but this run has {self.world} processes: "
                              "use auto, cuda (process r takes cuda:LOCAL_RANK) or cpu")
        if not wants_cuda:
            return torch.device("cpu")
        if self.local_rank >= torch.cuda.device_count():
            raise ConfigError(f"local rank {self.local_rank} but only {torch.cuda.device_count()} CUDA device(s) here: "
                              "start at most one process per GPU (torchrun --nproc_per_node)")
        torch.cuda.set_device(self.local_rank)
        return torch.device("cuda", self.local_rank)

    def check(self, t: Any) -> None:
        """``trainer`` values a distributed run cannot take, refused before any data is read."""
        if not self.distributed:
            return
        batch = int(t.batch_size)
        if batch % self.world:
            raise ConfigError(f"trainer.batch_size={batch} is the global batch (all processes together) and must be a "
                              f"multiple of the {self.world} processes, e.g. {max(1, batch // self.world) * self.world}")
        if t.distributed.sync_batchnorm and not (t.device in ("auto", "cuda") and torch.cuda.is_available()):
            raise ConfigError("trainer.distributed.sync_batchnorm=true needs CUDA devices (torch's SyncBatchNorm runs on "
                              "GPUs only); on CPU processes leave it false (BatchNorm statistics are then per process)")

    def check_method(self, name: str, method_class: type, task_kind: str) -> None:
        """A run of N > 1 processes takes only a method that computes on N what it computes on one
        (``Method.multi_process``; on a detection task also ``Method.multi_process_detection``: SSD's loss normalised
        by the global batch's positives); refused before any data is read."""
        if self.distributed and task_kind == "detection" and not getattr(method_class, "multi_process_detection", False):
            raise ConfigError(f"a detection dataset trains on one process only for method={name} (it has not been made to "
                              f"compute on {self.world} processes what it computes on one; ce and data_params have): run "
                              "it without torchrun")
        if self.distributed and not method_class.multi_process:
            raise ConfigError(f"method={name} has not been made to compute on {self.world} processes what it computes on "
                              "one (what spans its batch is not gathered across processes; docs/distributed.md lists the "
                              "methods that are): run it on one process (python -m dcl_runner ..., not torchrun)")

    def main_first(self, compute: Callable[[], T]) -> T:
        """``compute()`` on process 0, then on the others (e.g. a decode cache built once, then reopened); an
        error on process 0 is raised on every process."""
        if not self.distributed:
            return compute()
        first: List[Any] = []
        self.from_main(lambda: first.append(compute()))
        return first[0] if self.is_main else compute()

    def wrap(self, model: torch.nn.Module, sync_batchnorm: bool, find_unused_parameters: bool) -> torch.nn.Module:
        """The model DDP trains (the model itself with one process)."""
        if not self.distributed:
            return model
        if sync_batchnorm:
            model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        device_ids = [model_device(model).index] if model_device(model).type == "cuda" else None
        return torch.nn.parallel.DistributedDataParallel(model, device_ids=device_ids,
                                                         find_unused_parameters=find_unused_parameters)

    # -- batches -------------------------------------------------------------------------------------
    def parts(self, order: torch.Tensor, batch_size: int, drop_last: bool) -> List["BatchPart"]:
        """The epoch's global batches (chunks of ``order``), each as this process's part of it."""
        chunks = list(torch.split(order, batch_size))
        if drop_last and len(order) >= batch_size and len(chunks[-1]) < batch_size:
            chunks = chunks[:-1]
        if self.world > 1 and chunks and len(chunks[-1]) % self.world:  # equal shares: cut the last partial batch
            whole = len(chunks[-1]) - len(chunks[-1]) % self.world
            chunks = chunks[:-1] + ([chunks[-1][:whole]] if whole else [])
        return [BatchPart.of(chunk, self) for chunk in chunks]

    def block(self, n: int) -> Tuple[int, int]:
        """This process's contiguous block [start, stop) of n items (evaluation)."""
        size = -(-n // self.world)
        return min(n, self.rank * size), min(n, (self.rank + 1) * size)

    # -- collectives ----------------------------------------------------------------------------------
    def gather(self, t: torch.Tensor) -> torch.Tensor:
        """Equal-sized ``t`` of every process, concatenated in rank order along dim 0; gradients flow back
        to each process's own rows (summed over the processes that used them)."""
        return _Gather.apply(t) if self.distributed else t

    def gather_rows(self, t: torch.Tensor, total: int) -> torch.Tensor:
        """Blocks of :meth:`block` (possibly unequal, no gradient) concatenated into the ``total`` rows."""
        if not self.distributed:
            return t
        size = -(-total // self.world)
        padded = t.new_zeros((size, *t.shape[1:]))
        padded[: len(t)] = t
        out = [torch.empty_like(padded) for _ in range(self.world)]
        dist.all_gather(out, padded.contiguous())
        return torch.cat(out)[:total]

    def mean(self, t: torch.Tensor) -> torch.Tensor:
        """The mean over processes of a tensor (no gradient)."""
        if not self.distributed:
            return t
        out = t.detach().clone()
        dist.all_reduce(out)
        return out / self.world

    def mean_values(self, values: Dict[str, Any]) -> Dict[str, float]:
        """Each value's mean over processes, as floats (the epoch's running sums: per-process means of equal
        shares, so their mean is the global batches')."""
        if not self.distributed or not values:
            return {k: float(v) for k, v in values.items()}
        keys = sorted(values)
        device = next((v.device for v in values.values() if torch.is_tensor(v)), torch.device("cpu"))
        stacked = torch.stack([torch.as_tensor(values[k], dtype=torch.float64, device=device).reshape(()) for k in keys])
        return dict(zip(keys, self.mean(stacked).cpu().tolist()))

    def average_gradients(self, params: Iterable[torch.nn.Parameter], skip: Iterable[torch.nn.Parameter] = ()) -> None:
        """Average over processes the gradients of parameters DDP does not own (a method's data parameters;
        ``skip``: the model's, which DDP has averaged)."""
        if not self.distributed:
            return
        owned_by_ddp = {id(p) for p in skip}
        for p in params:
            if p.grad is not None and id(p) not in owned_by_ddp:
                dist.all_reduce(p.grad)
                p.grad.div_(self.world)

    def broadcast_state(self, module: torch.nn.Module, buffers_only: bool = False) -> None:
        """Process 0's parameters and buffers into every process's ``module`` (a method's clusters; a model's
        BatchNorm statistics before evaluation)."""
        if not self.distributed:
            return
        tensors = [*([] if buffers_only else module.parameters()), *module.buffers()]
        with torch.no_grad():
            for t in tensors:
                if t.dtype == torch.bool:  # sent as bytes
                    data = t.data.to(torch.uint8)
                    dist.broadcast(data, 0)
                    t.data.copy_(data.bool())
                else:
                    dist.broadcast(t.data, 0)

    def stop_agreed(self, requested: bool, sync_point: bool, device: torch.device) -> bool:
        """Whether to stop after this step: one process as soon as asked; N processes at a sync point (every
        ``trainer.log_every`` steps and an epoch's last), when any of them was asked."""
        if not self.distributed:
            return requested
        return sync_point and self.any(requested, device)

    def any(self, flag: bool, device: torch.device) -> bool:
        """True on every process when ``flag`` is true on any."""
        if not self.distributed:
            return flag
        t = torch.tensor(int(flag), device=device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item())

    def first_step(self, step: torch.Tensor) -> torch.Tensor:
        """The smallest non-negative ``step`` over processes (-1 when none is): the first bad step of any."""
        if not self.distributed:
            return step
        never = torch.iinfo(torch.long).max
        t = torch.where(step >= 0, step, never).clone()
        dist.all_reduce(t, op=dist.ReduceOp.MIN)
        return torch.where(t == never, -1, t)

    def from_main(self, compute: Callable[[], T]) -> T:
        """``compute()`` on process 0, its value on every process; its error is raised on every process (as
        it is, or as a RuntimeError naming it where it cannot be sent)."""
        if not self.distributed:
            return compute()
        box: List[Any] = [None]
        error: Optional[BaseException] = None
        if self.is_main:
            try:
                box[0] = ("value", compute())
            except (Exception, SystemExit) as exc:  # noqa: BLE001 - shared, then raised here as it is
                error = exc
                shared = exc if _picklable(exc) else RuntimeError(f"process 0: {type(exc).__name__}: {exc}")
                box[0] = ("error", shared)
        dist.broadcast_object_list(box, 0)
        if error is not None:
            raise error
        kind, value = box[0]
        if kind == "error":
            raise value
        return value

    def together(self, check: Callable[[], None]) -> None:
        """Run ``check`` on every process; if it raised a RunnerError on any, every process raises the first."""
        if not self.distributed:
            return check()
        error: Optional[RunnerError] = None
        try:
            check()
        except RunnerError as exc:
            error = exc
        errors: List[Any] = [None] * self.world
        dist.all_gather_object(errors, error)
        first = next((e for e in errors if e is not None), None)
        if first is not None:
            raise first

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()


def _picklable(value: Any) -> bool:
    import pickle

    try:
        pickle.dumps(value)
        return True
    except Exception:  # noqa: BLE001
        return False


def model_device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


class _Gather(torch.autograd.Function):
    """all_gather along dim 0 with a backward: each process's rows get the sum over processes of their gradient."""

    @staticmethod
    def forward(ctx, t: torch.Tensor) -> torch.Tensor:
        ctx.rows, ctx.rank = t.shape[0], dist.get_rank()
        out = [torch.empty_like(t) for _ in range(dist.get_world_size())]
        dist.all_gather(out, t.contiguous())
        return torch.cat(out)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous().clone()
        dist.all_reduce(grad)
        return grad[ctx.rank * ctx.rows : (ctx.rank + 1) * ctx.rows]


# ---------------------------------------------------------------------------------------------
# this process's part of a global batch
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BatchPart:
    """Rows ``[start, stop)`` of a global batch of ``total`` samples (``global_index``) are this process's.

    A method that needs statistics of the whole batch computes them over ``gather(t)`` (or draws random
    numbers for ``total`` samples) and keeps its own rows with ``local(t)``; a per-sample loss averaged over
    the local rows is already right (DDP averages the processes' equal shares). With one process the part
    is the whole batch and both are the identity.
    """

    global_index: torch.Tensor
    start: int
    stop: int
    procs: Processes

    @staticmethod
    def of(chunk: torch.Tensor, procs: Processes) -> "BatchPart":
        share = len(chunk) // procs.world
        return BatchPart(chunk, procs.rank * share, (procs.rank + 1) * share, procs)

    @staticmethod
    def whole(index: torch.Tensor) -> "BatchPart":
        return BatchPart(index, 0, len(index), SINGLE)

    @property
    def total(self) -> int:
        return len(self.global_index)

    @property
    def index(self) -> torch.Tensor:
        """This process's training indices."""
        return self.global_index[self.start : self.stop]

    def local(self, t: torch.Tensor) -> torch.Tensor:
        """This process's rows of a tensor over the global batch."""
        return t if (self.start, self.stop) == (0, self.total) else t[self.start : self.stop]

    def gather(self, t: torch.Tensor) -> torch.Tensor:
        """A per-sample tensor of this process's rows -> the global batch's (autograd-aware)."""
        return self.procs.gather(t)

    def mean(self, t: torch.Tensor) -> torch.Tensor:
        """Mean over processes (no gradient), e.g. of a per-process normaliser."""
        return self.procs.mean(t)


SINGLE = Processes.__new__(Processes)
SINGLE.distributed, SINGLE.world, SINGLE.rank, SINGLE.local_rank, SINGLE.is_main = False, 1, 0, 0, True


def draw_for(part: Optional[BatchPart], n: int) -> Tuple[int, Optional[slice]]:
    """How many per-sample random draws to make for a local batch of ``n`` (the global batch's), and the slice
    of them that is this process's (None: all of them)."""
    if part is None or part.total == n:
        return n, None
    return part.total, slice(part.start, part.stop)


def per_sample(draw: Callable[[int], torch.Tensor], n: int, part: Optional[BatchPart]) -> torch.Tensor:
    """``draw(k)`` gives k per-sample random values; the n of a local batch, drawn for its global batch."""
    total, rows = draw_for(part, n)
    values = draw(total)
    return values if rows is None else values[rows]
