"""``python -m dcl_runner [group=option ...] [key=value ...]`` (also the ``dcl-runner`` command)."""
from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from . import CONFIG_DIR
from .errors import RunnerError
from .resume import TRUE_WORDS, unfinished_run

log = logging.getLogger("dcl_runner")
CHOICE_GROUPS = ("dataset", "backbone", "method", "scheduler", "experiment", "budget")


def _run(cfg: DictConfig) -> float | None:
    from .report import summary
    from .train import RunInterrupted, Trainer, config_hash

    hc = HydraConfig.get()
    multirun = hc.mode == RunMode.MULTIRUN
    run_dir = Path(hc.runtime.output_dir)
    resume = str(cfg.resume) in TRUE_WORDS
    if resume and multirun and not (run_dir / "checkpoints" / "last.pt").exists():
        found = unfinished_run(Path(cfg.output_root), config_hash(cfg))
        if found:
            log.info("resuming the unfinished run %s (this job's folder stays empty)", found)
            run_dir = found
    choices = {g: hc.runtime.choices.get(g) for g in CHOICE_GROUPS}
    trainer = Trainer(cfg, run_dir, choices, list(hc.overrides.task))
    try:
        final = trainer.run(resume=resume)
    except RunInterrupted as exc:
        log.warning("%s\nresume with: python -m dcl_runner resume=%s", exc, run_dir)
        if multirun:
            raise
        sys.exit(130)
    except RunnerError as exc:
        log.error("%s", exc)
        if multirun:
            return None
        sys.exit(2)
    print(summary(final, trainer.task, str(run_dir)))
    return final.get("mA", final.get("top1"))


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="config")
def hydra_main(cfg: DictConfig) -> float | None:
    return _run(cfg)


def main() -> None:
    from .resume import rewrite_argv

    try:
        sys.argv = [sys.argv[0], *rewrite_argv(sys.argv[1:])]
    except RunnerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    hydra_main()


if __name__ == "__main__":
    main()
