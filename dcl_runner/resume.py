"""Finding the run to resume, and deciding whether it can be resumed, before Hydra touches its folder.

``resume=PATH`` continues the run in PATH with the overrides it was started with (read from
PATH/.hydra/overrides.yaml); ``resume=true`` continues the newest unfinished run under ``outputs/`` whose
identity (its config without run-time switches) equals the one composed now. Either way the run goes on
in the old folder, from ``checkpoints/last.pt``, and Hydra does not rewrite the folder's ``.hydra/``.

What a resume accepts and refuses (checked here, before anything is written):
- a completed run: nothing to do; it says so and changes nothing (exit 0);
- an unreadable (truncated, corrupt) ``checkpoints/last.pt``: refused;
- a run with finished epochs but no checkpoint: refused (it could only start over);
- an override that changes the run's identity (lr, epochs, dataset, ...): refused, naming every key that
  differs; run-time switches (``results.VOLATILE_KEYS``: device, workers, threads, progress bars, checkpoint
  cadence, compile, channels-last, data and output paths) may change.
A refused resume leaves the run folder byte-identical.
"""
from __future__ import annotations

import zipfile
from pathlib import Path
from typing import List, Optional

import yaml

from .errors import ConfigError
from .io import read_json

TRUE_WORDS = ("true", "True", "yes", "1")
FALSE_WORDS = ("false", "False", "no", "0", "null", "None")


class ResumeComplete(Exception):
    """``resume=<run>`` of a run that has completed: nothing to do (the message says what it holds)."""


def unfinished_run(search_root: Path, wanted_hash: str) -> Optional[Path]:
    """The newest run folder under ``search_root`` with this identity, not completed, with a checkpoint."""
    candidates = []
    for metrics_file in Path(search_root).rglob("metrics.json"):
        run_dir = metrics_file.parent
        try:
            record = read_json(metrics_file)
        except (OSError, ValueError):
            continue
        if record.get("config_hash") == wanted_hash and record.get("status") != "completed":
            if (run_dir / "checkpoints" / "last.pt").exists():
                candidates.append((metrics_file.stat().st_mtime, run_dir))
    return max(candidates)[1] if candidates else None


def saved_overrides(run_dir: Path) -> List[str]:
    path = run_dir / ".hydra" / "overrides.yaml"
    if not path.is_file():
        raise ConfigError(f"resume={run_dir}: no .hydra/overrides.yaml there; is it a dcl_runner run folder?")
    overrides = yaml.safe_load(path.read_text()) or []
    return [o for o in overrides if not o.startswith(("resume=", "hydra.run.dir=", "hydra.output_subdir="))]


def quote(value: str) -> str:
    """A value as a quoted string of Hydra's override grammar (a path with a comma, '=' or spaces stays one value)."""
    if "'" not in value and not value.endswith("\\"):
        return f"'{value}'"
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def into_folder(run_dir: Path) -> List[str]:
    """Hydra overrides that continue a run in its own folder without rewriting its ``.hydra/``."""
    return [f"hydra.run.dir={quote(str(run_dir.resolve()))}", "hydra.output_subdir=null"]


def rewrite_argv(argv: List[str]) -> List[str]:
    """Turn ``resume=...`` into Hydra overrides that point the run at the folder to continue.

    Raises ConfigError for a refused resume and ResumeComplete for a run that is already complete."""
    values = [a.split("=", 1)[1] for a in argv if a.startswith("resume=")]
    if any(a in ("-m", "--multirun") for a in argv):
        if values and values[-1] not in TRUE_WORDS + FALSE_WORDS:
            raise ConfigError(
                f"resume={values[-1]} continues one run folder and cannot be swept; with -m use resume=true "
                "(each job continues its own unfinished run with the same config)"
            )
        return argv  # each multirun job looks for its own run (see __main__)
    if not values or values[-1] in FALSE_WORDS:
        return argv
    others = [a for a in argv if not a.startswith("resume=")]
    if any(a.startswith("hydra.run.dir=") for a in others):
        return others + ["resume=true"]
    value = values[-1]
    if value in TRUE_WORDS:
        found = find_matching_run([a for a in others if not a.startswith("-")])
        if found is None:
            return others + ["resume=true"]
        check_resumable(found, None)
        return others + ["resume=true", *into_folder(found)]
    run_dir = Path(value).expanduser()
    if not run_dir.is_dir():
        raise ConfigError(f"resume={value}: no such run folder")
    overrides = saved_overrides(run_dir) + others
    check_resumable(run_dir, [a for a in overrides if not a.startswith("-")])
    return overrides + ["resume=true", *into_folder(run_dir)]


def check_resumable(run_dir: Path, overrides: Optional[List[str]]) -> None:
    """Refuse (ConfigError) or finish early (ResumeComplete) as the module docstring lists; ``overrides``:
    what the resumed run would compose with (None: the identity already matched)."""
    record = _read_record(run_dir)
    if record.get("status") == "completed":
        metrics = record.get("metrics") or {}
        headline = record.get("headline")
        value = metrics.get(headline) if headline else None
        score = f", {headline} {value:.2f}" if isinstance(value, (int, float)) else ""
        raise ResumeComplete(
            f"{run_dir} is complete ({record.get('epochs_completed')}/{record.get('epochs')} epochs{score}): "
            "nothing to resume; the folder was left as it was"
        )
    ckpt = run_dir / "checkpoints" / "last.pt"
    if not ckpt.exists():
        if int(record.get("epochs_completed") or 0) > 0:
            raise ConfigError(
                f"resume={run_dir}: the run has {record['epochs_completed']} finished epoch(s) but no "
                "checkpoints/last.pt, so it cannot continue where it stopped. Start a new run."
            )
        return  # stopped before its first checkpoint: it starts from the beginning in its own folder
    problem = checkpoint_problem(ckpt)
    if problem:
        raise ConfigError(f"resume={run_dir}: {ckpt} is unreadable ({problem}); it is truncated or corrupt. Start a new run.")
    if overrides is not None:
        changed = changed_keys(run_dir, overrides)
        if changed:
            raise ConfigError(
                f"resume={run_dir}: refused, these options differ from the run's: {'; '.join(changed)}. "
                "Resume without changing them, or start a new run. Run-time switches (trainer.device, "
                "trainer.num_workers, trainer.progress, ...) may change on resume."
            )


def _read_record(run_dir: Path) -> dict:
    path = run_dir / "metrics.json"
    if not path.exists():
        return {}
    try:
        return read_json(path)
    except (OSError, ValueError):
        return {}


def checkpoint_problem(path: Path) -> Optional[str]:
    """Why ``path`` is not a whole torch checkpoint (a zip archive whose every member's CRC checks), or None."""
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return f"member {bad} fails its CRC" if bad else None


def changed_keys(run_dir: Path, overrides: List[str]) -> List[str]:
    """What differs between the run's saved config and the one these overrides compose, run-time switches ignored."""
    from omegaconf import OmegaConf

    from .config import identity_differences

    saved_path = run_dir / ".hydra" / "config.yaml"
    if not saved_path.is_file():
        return []  # a folder made by hand: the trainer compares with the checkpoint's own config
    return identity_differences(OmegaConf.load(saved_path), _compose(overrides))


def _compose(overrides: List[str]):
    from .config import compose

    return compose([*overrides, "resume=true"])


def find_matching_run(overrides: List[str]) -> Optional[Path]:
    from .config import run_identity

    cfg = _compose(overrides)
    return unfinished_run(Path(cfg.output_root), run_identity(cfg))
