"""Where and how a run computes: device, mixed precision, seeding, per-step generators, RNG state for
checkpoints, and the Ctrl-C / SIGTERM handler. Nothing here knows about methods, data or run folders."""
from __future__ import annotations

import contextlib
import logging
import random
import signal
import threading
from typing import Any, Dict, Optional

import numpy as np
import torch

from .errors import ConfigError

log = logging.getLogger(__name__)


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


class Runtime:
    """``trainer.device / precision / channels_last / num_threads / deterministic`` resolved once, and the
    run seeded (every generator) from ``seed``."""

    def __init__(self, t: Any, seed: int, device: Optional[torch.device] = None) -> None:
        if t.num_threads:
            torch.set_num_threads(int(t.num_threads))
        self.device = device or resolve_device(t.device)  # device: a distributed process's own (distributed.py)
        self.amp_dtype = resolve_precision(t.precision, self.device)
        self.channels_last = (self.device.type == "cuda") if t.channels_last == "auto" else bool(t.channels_last)
        seed_everything(seed, bool(t.deterministic), self.device)

    def autocast(self):
        """Mixed precision for a forward pass (trainer.precision); nothing on an fp32 run."""
        return torch.autocast(self.device.type, dtype=self.amp_dtype) if self.amp_dtype else contextlib.nullcontext()


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
