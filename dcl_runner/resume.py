"""Finding the run to resume.

``resume=PATH`` continues the run in PATH with the overrides it was started with (read from
PATH/.hydra/overrides.yaml); ``resume=true`` continues the newest unfinished run under
``outputs/`` whose configuration is identical to the one composed now. Either way the run goes on
in the old folder, from ``checkpoints/last.pt``.
"""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import yaml

from .errors import ConfigError
from .io import read_json

TRUE_WORDS = ("true", "True", "yes", "1")
FALSE_WORDS = ("false", "False", "no", "0", "null", "None")


def unfinished_run(search_root: Path, wanted_hash: str) -> Optional[Path]:
    """The newest run folder under ``search_root`` with this config hash, not completed, with a checkpoint."""
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
    return [o for o in overrides if not o.startswith(("resume=", "hydra.run.dir="))]


def rewrite_argv(argv: List[str]) -> List[str]:
    """Turn ``resume=...`` into Hydra overrides that point the run at the folder to continue."""
    if any(a in ("-m", "--multirun") for a in argv):
        return argv  # each multirun job looks for its own run (see __main__)
    values = [a.split("=", 1)[1] for a in argv if a.startswith("resume=")]
    if not values or values[-1] in FALSE_WORDS:
        return argv
    others = [a for a in argv if not a.startswith("resume=")]
    if any(a.startswith("hydra.run.dir=") for a in others):
        return others + ["resume=true"]
    value = values[-1]
    if value in TRUE_WORDS:
        found = find_matching_run([a for a in others if not a.startswith("-")])
        return others + ["resume=true"] + ([f"hydra.run.dir={found}"] if found else [])
    run_dir = Path(value).expanduser()
    if not run_dir.is_dir():
        raise ConfigError(f"resume={value}: no such run folder")
    return saved_overrides(run_dir) + others + ["resume=true", f"hydra.run.dir={run_dir.resolve()}"]


def find_matching_run(overrides: List[str]) -> Optional[Path]:
    from hydra import compose, initialize_config_dir

    from . import CONFIG_DIR
    from .train import config_hash

    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("config", overrides=overrides + ["resume=true"])
    return unfinished_run(Path(cfg.output_root), config_hash(cfg))
