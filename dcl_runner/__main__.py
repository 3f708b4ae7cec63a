"""``python -m dcl_runner [group=option ...] [key=value ...]`` (also the ``dcl-runner`` command).

Exit codes (dcl_runner/errors.py): 0 completed, 1 failed during training, 2 refused before training,
130 interrupted; a sweep: 0 when every job completed, 1 when any did not (one summary line names them),
130 when interrupted (the sweep stops there).

Distributed (``torchrun --nproc_per_node=N -m dcl_runner ...``): the processes join their group before Hydra
starts, process 0 resolves ``resume=`` and the run folder's time stamp for all, and only process 0 writes the
folder's ``.hydra/`` (the others log to ``dcl_runner.rank<r>.log`` beside it). Under Hydra's submitit launcher
each SLURM task is a job process of the same folder and joins the group in ``_run``.
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from .config import AGREED_STAMP, CONFIG_DIR, GROUPS, new_stamp
from .distributed import Processes, init_from_env, is_main_process, shutdown
from .errors import EXIT_FAILED, EXIT_INTERRUPTED, RunnerError
from .resume import TRUE_WORDS, ResumeComplete, unfinished_run

log = logging.getLogger("dcl_runner")


class SweepInterrupted(BaseException):
    """Ctrl-C / SIGTERM during a sweep's job: a BaseException, so that Hydra's launcher does not go on to
    the next job (it catches Exception only) and the whole sweep stops."""


def _run(cfg: DictConfig) -> float | None:
    from .report import summary
    from .sweep import mark_resumed
    from .config import run_identity
    from .train import RunInterrupted, build_trainer

    procs = init_from_env()  # a SLURM task of the submitit launcher joins its group here (torchrun: in main)
    if not procs.is_main:
        logging.getLogger("dcl_runner").setLevel(logging.WARNING)
    hc = HydraConfig.get()
    multirun = hc.mode == RunMode.MULTIRUN
    run_dir = Path(hc.runtime.output_dir)
    resume = str(cfg.resume) in TRUE_WORDS
    if resume and multirun and not (run_dir / "checkpoints" / "last.pt").exists():
        found = procs.from_main(lambda: unfinished_run(Path(cfg.output_root), run_identity(cfg)))
        if found:
            log.info("resuming the unfinished run %s (this job's folder only points there)", found)
            mark_resumed(run_dir, found)
            run_dir = found
    choices = {g: hc.runtime.choices.get(g) for g in GROUPS}
    try:
        trainer = build_trainer(cfg, run_dir, choices, list(hc.overrides.task), resume=resume)
        final = trainer.run(resume=resume)
    except RunInterrupted as exc:
        log.warning("%s\nresume with: python -m dcl_runner resume=%s", exc, run_dir)
        if multirun:
            raise SweepInterrupted(f"{exc}; resume the sweep with the same command and resume=true") from None
        sys.exit(EXIT_INTERRUPTED)
    except RunnerError as exc:
        log.error("%s", exc)
        if multirun:
            return None  # metrics.json says why; the sweep's summary names this job
        sys.exit(exc.exit_code)
    if procs.is_main:
        print(summary(final, trainer.task, str(run_dir)))
    return final.get("mA", final.get("top1"))


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="config")
def hydra_main(cfg: DictConfig) -> float | None:
    return _run(cfg)


def main() -> None:
    from . import sweep
    from .resume import rewrite_argv

    if sys.argv[1:2] == ["results"]:  # dcl-runner results [ROOT ...] [--where ...]: see results_cli.py
        from .results_cli import main as results_main

        sys.exit(results_main(sys.argv[2:]))

    try:
        procs = init_from_env()  # torchrun's processes join their group before Hydra, to share one run folder
        args = procs.from_main(lambda: rewrite_argv(sys.argv[1:]))
    except ResumeComplete as done:
        if is_main_process():
            print(done)
        sys.exit(0)
    except RunnerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    sys.argv = [sys.argv[0], *args, *process_overrides(procs, args)]
    sweep.FAILED_JOBS.clear()
    try:
        hydra_main()
    except SweepInterrupted as exc:
        print(f"sweep stopped: {exc}", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
    finally:
        shutdown()
    if sweep.FAILED_JOBS:
        sys.exit(EXIT_FAILED)


def process_overrides(procs: Processes, args: list) -> list:
    """Hydra overrides of a distributed run's processes: process 0's folder stamp for all; the others write
    no ``.hydra/`` and log to their own file."""
    if not procs.distributed:
        return []
    AGREED_STAMP["stamp"] = procs.from_main(new_stamp)
    if procs.is_main:
        return []
    extra = [f"hydra.job_logging.handlers.file.filename=${{hydra.runtime.output_dir}}/${{hydra.job.name}}.rank{procs.rank}.log"]
    if "hydra.output_subdir=null" not in args:
        extra.append("hydra.output_subdir=null")
    return extra


if __name__ == "__main__":
    main()
