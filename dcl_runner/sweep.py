"""Hydra callbacks of the CLI (``conf/config.yaml`` -> ``hydra.callbacks``): the output folder is checked
before Hydra writes into it, and a sweep ends with one line naming the jobs that did not complete.

The sweep summary reads the job folders' ``metrics.json`` (a job that resumed another run's folder leaves a
``resumed.json`` pointing there), so it holds for every launcher: jobs run in this process (basic), in
worker processes (joblib) or on a cluster (submitit), as long as the sweep folder is visible here.
"""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any, List, Tuple

from hydra.experimental.callback import Callback

from .distributed import is_main_process
from .errors import EXIT_REFUSED
from .io import atomic_write_json

#: the jobs of the last sweep of this process that did not complete: (job number, overrides, status, reason)
FAILED_JOBS: List[Tuple[str, str, str, str]] = []
RESUMED_MARKER = "resumed.json"


def mark_resumed(job_dir: Path, run_dir: Path) -> None:
    """A sweep job that continues another folder's run says where, for the sweep summary."""
    atomic_write_json(Path(job_dir) / RESUMED_MARKER, {"run_dir": str(run_dir)})


def ensure_writable(folder: Path, what: str) -> None:
    """Create ``folder`` and write a probe file in it; on failure, one message and exit 2 (before Hydra's traceback)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-probe-"):
            pass
    except OSError as exc:
        print(
            f"error: cannot create or write the {what} {folder} ({exc.strerror or exc}). "
            "Set output_root=<a writable folder> (or hydra.run.dir / hydra.sweep.dir).",
            file=sys.stderr,
        )
        sys.exit(EXIT_REFUSED)


def job_outcomes(sweep_dir: Path) -> List[Tuple[str, str, str, str]]:
    """(job number, overrides, status, reason) of every job folder of a sweep, in job order."""
    out = []
    jobs = [d for d in Path(sweep_dir).iterdir() if (d / ".hydra").is_dir()] if Path(sweep_dir).is_dir() else []
    for job in sorted(jobs, key=lambda d: (len(d.name), d.name)):
        overrides = _overrides(job)
        run_dir = job
        marker = job / RESUMED_MARKER
        if marker.exists():
            run_dir = Path(_read(marker).get("run_dir", job))
        record = _read(run_dir / "metrics.json")
        status = record.get("status") or "no metrics.json"
        reason = record.get("reason") or ("the job stopped before its run started" if not record else "")
        out.append((job.name, overrides, status, reason))
    return out


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _overrides(job: Path) -> str:
    import yaml

    try:
        items = yaml.safe_load((job / ".hydra" / "overrides.yaml").read_text()) or []
    except (OSError, ValueError, yaml.YAMLError):
        items = []
    return " ".join(str(i) for i in items)


class RunnerCallbacks(Callback):
    def on_run_start(self, config: Any, **kwargs: Any) -> None:
        ensure_writable(Path(str(config.hydra.run.dir)), "run folder")

    def on_multirun_start(self, config: Any, **kwargs: Any) -> None:
        FAILED_JOBS.clear()
        ensure_writable(Path(str(config.hydra.sweep.dir)), "sweep folder")

    def on_multirun_end(self, config: Any, **kwargs: Any) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir))
        outcomes = job_outcomes(sweep_dir)
        failed = [o for o in outcomes if o[2] != "completed"]
        FAILED_JOBS[:] = failed
        if not is_main_process():  # a distributed sweep: every process knows the outcome, process 0 says it
            return
        if not failed:
            print(f"sweep: all {len(outcomes)} jobs completed ({sweep_dir})")
            return
        names = "; ".join(f"#{num} [{over}] {status}" + (f": {reason}" if reason else "") for num, over, status, reason in failed)
        print(f"sweep: {len(failed)} of {len(outcomes)} jobs did not complete ({sweep_dir}): {names}", file=sys.stderr)
