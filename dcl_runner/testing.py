"""Helpers for tests and scripts: compose a config in-process, run the real CLI in a subprocess."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import Sequence

from omegaconf import DictConfig

from . import CONFIG_DIR

REPO_ROOT = CONFIG_DIR.parent

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


def compose(overrides: Sequence[str] = (), return_hydra_config: bool = False) -> DictConfig:
    """The config ``python -m dcl_runner <overrides>`` would run (without Hydra's run-time keys)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return hydra_compose("config", overrides=list(overrides), return_hydra_config=return_hydra_config)


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
