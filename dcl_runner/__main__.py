"""``python -m dcl_runner [group=option ...] [key=value ...]`` (also the ``dcl-runner`` command).

Exit codes (dcl_runner/errors.py): 0 completed, 1 failed during training, 2 refused before training,
130 interrupted; a sweep: 0 when every job completed, 1 when any did not (one summary line names them),
130 when interrupted (the sweep stops there).
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from .config import CONFIG_DIR, GROUPS
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

    hc = HydraConfig.get()
    multirun = hc.mode == RunMode.MULTIRUN
    run_dir = Path(hc.runtime.output_dir)
    resume = str(cfg.resume) in TRUE_WORDS
    if resume and multirun and not (run_dir / "checkpoints" / "last.pt").exists():
        found = unfinished_run(Path(cfg.output_root), run_identity(cfg))
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
        sys.argv = [sys.argv[0], *rewrite_argv(sys.argv[1:])]
    except ResumeComplete as done:
        print(done)
        sys.exit(0)
    except RunnerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    sweep.FAILED_JOBS.clear()
    try:
        hydra_main()
    except SweepInterrupted as exc:
        print(f"sweep stopped: {exc}", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
    if sweep.FAILED_JOBS:
        sys.exit(EXIT_FAILED)


if __name__ == "__main__":
    main()
