"""Test helpers: tiny settings, the config a CLI call composes, the real CLI in a subprocess, a Ctrl-C at step N."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Sequence

from dcl_runner.config import compose, compose_many  # noqa: F401 (the tests' one way to compose)

REPO_ROOT = Path(__file__).resolve().parents[1]

# settings that make any config run in seconds on a CPU, for tests
TINY = [
    "trainer.epochs=1",
    "trainer.batch_size=32",
    "trainer.eval_batch_size=128",
    "trainer.progress=false",
    "trainer.num_workers=0",
    "trainer.device=cpu",
    "dataset.max_train_samples=128",
    "dataset.max_eval_samples=64",
    "backbone.width=0.25",
]


def run_cli(args: Sequence[str], cwd: str | os.PathLike | None = None, timeout: float = 300, env=None) -> subprocess.CompletedProcess:
    """Run ``python -m dcl_runner <args>`` with this checkout's package first on the path."""
    full_env = dict(os.environ if env is None else env)
    full_env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), full_env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    full_env.setdefault("OMP_NUM_THREADS", "2")
    return subprocess.run(
        [sys.executable, "-m", "dcl_runner", *args],
        cwd=str(cwd or REPO_ROOT),
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def interrupt_at_step(monkeypatch, step: int) -> None:
    """Make runs built after this call send themselves SIGINT at their ``step``-th training step (counted over
    every run of the test, whatever the method), as a user's Ctrl-C would; later steps run normally, so the
    resumed run is not interrupted again."""
    import dcl_runner.train as train_module

    build = train_module.build_method
    steps_taken = [0]

    def build_interrupting(cfg, task):
        method = build(cfg, task)
        training_step = method.training_step

        def counted_step(model, batch, epoch):
            steps_taken[0] += 1
            if steps_taken[0] == step:
                os.kill(os.getpid(), signal.SIGINT)
            return training_step(model, batch, epoch)

        method.training_step = counted_step
        return method

    monkeypatch.setattr(train_module, "build_method", build_interrupting)
