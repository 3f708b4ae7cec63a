"""Reading run folders into pandas.

A run folder (DESIGN.md) holds ``.hydra/config.yaml`` (the resolved-able config), ``.hydra/overrides.yaml``,
``metrics.json`` (status, choices, seed, final metrics) and ``history.csv``. :func:`load_runs` reads every
run folder under a root into one DataFrame, one row per folder, and never raises on a partial or failed
run: a folder without ``metrics.json`` is ``incomplete``, an unreadable one ``unreadable``, each with a reason.
Each record carries the run's identity and cell key (``dcl_runner.config``), so ``python -m dcl_runner.tables``
can tell which runs of a table already exist.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple

import numpy as np
from omegaconf import OmegaConf

from .config import cell_key, run_identity

STATUS_DONE = "completed"


# ---------------------------------------------------------------------------------------------
# reading run folders
# ---------------------------------------------------------------------------------------------
def find_run_dirs(root: str | Path) -> List[Path]:
    """Every folder under ``root`` that is a run: it has ``.hydra/config.yaml`` or ``metrics.json``."""
    root = Path(root)
    if not root.exists():
        return []
    found = {p.parent.parent for p in root.rglob(".hydra/config.yaml")}
    found |= {p.parent for p in root.rglob("metrics.json")}
    # a run folder never holds another run: copies inside it (a tracker's files/, e.g. W&B's) are not runs
    return sorted(d for d in found if not any(parent in found for parent in d.parents))


def _read_json(path: Path) -> Optional[Dict[str, Any]]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _hydra_choices(run_dir: Path) -> Dict[str, Any]:
    """The group choices of ``.hydra/hydra.yaml`` (runtime.choices), when Hydra wrote it."""
    path = run_dir / ".hydra" / "hydra.yaml"
    if not path.exists():
        return {}
    try:
        choices = OmegaConf.load(path).hydra.runtime.choices
        return {k: v for k, v in OmegaConf.to_container(choices).items() if not k.startswith("hydra")}
    except Exception:  # noqa: BLE001 - an odd hydra.yaml only loses the choices
        return {}


def _plain_or_raw(cfg: Any) -> Dict[str, Any]:
    """The config as plain dicts, resolved where it can be (an interpolation that fails stays as written)."""
    try:
        return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]
    except Exception:  # noqa: BLE001
        return OmegaConf.to_container(cfg, resolve=False)  # type: ignore[return-value]


def load_run(run_dir: str | Path) -> Dict[str, Any]:
    """One run folder as a flat record (never raises)."""
    run_dir = Path(run_dir)
    record: Dict[str, Any] = {"run_dir": str(run_dir), "status": None, "reason": None, "identity": None, "cell_key": None,
                              "seed": None, "metrics": {}, "metrics_at_epoch": {}, "overrides": []}
    cfg_path = run_dir / ".hydra" / "config.yaml"
    if cfg_path.exists():
        try:
            cfg = OmegaConf.load(cfg_path)
            record["config"] = _plain_or_raw(cfg)
            record["identity"], record["cell_key"] = run_identity(cfg), cell_key(cfg)
            record["seed"] = int(cfg.get("seed", 0))
            for group in ("dataset", "backbone", "method"):
                node = cfg.get(group)
                record[group] = node.get("name") if node is not None else None
        except Exception as exc:  # noqa: BLE001
            record["reason"] = f"unreadable .hydra/config.yaml: {exc}"
    over_path = run_dir / ".hydra" / "overrides.yaml"
    if over_path.exists():
        try:
            record["overrides"] = list(OmegaConf.to_container(OmegaConf.load(over_path)))
        except Exception:  # noqa: BLE001
            pass
    for group, choice in _hydra_choices(run_dir).items():
        record[f"choice.{group}"] = choice

    metrics_path = run_dir / "metrics.json"
    if not metrics_path.exists():
        record["status"] = "incomplete"
        record["reason"] = record["reason"] or "no metrics.json: the run never started training or was killed before it"
    else:
        data = _read_json(metrics_path)
        if data is None:
            record["status"], record["reason"] = "unreadable", "metrics.json is not valid JSON"
        else:
            record["status"] = data.get("status") or "unknown"
            record["reason"] = data.get("reason")
            if record["status"] == "running":
                record["reason"] = "metrics.json says running: still going, or killed without a chance to say so"
            record["metrics"] = data.get("metrics") or {}
            record["metrics_at_epoch"] = data.get("metrics_at_epoch") or {}
            for key in ("task", "epochs", "epochs_completed", "wall_time_s", "headline", "device"):
                record[key] = data.get(key)
            if record["seed"] is None and isinstance(data.get("seed"), int):
                record["seed"] = data["seed"]
            for group, choice in (data.get("choices") or {}).items():
                record.setdefault(f"choice.{group}", choice)
            if not record["overrides"]:
                record["overrides"] = list(data.get("overrides") or [])
    for name, value in (record["metrics"] or {}).items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            record[f"m.{name}"] = float(value)
    record["mtime"] = metrics_path.stat().st_mtime if metrics_path.exists() else run_dir.stat().st_mtime
    return record


def load_records(root: str | Path | Iterable[str | Path]) -> List[Dict[str, Any]]:
    """Every run folder under ``root`` (or under each of several roots) as a plain record."""
    roots = [root] if isinstance(root, (str, Path)) else list(root)
    return [load_run(d) for d in sorted({d for r in roots for d in find_run_dirs(r)})]


def load_runs(root: str | Path | Iterable[str | Path]) -> "pd.DataFrame":  # noqa: F821
    """Every run folder under ``root`` (or under each of several roots) as a DataFrame, one row per folder."""
    import pandas as pd

    records = load_records(root)
    columns = ["run_dir", "status", "reason", "identity", "cell_key", "seed", "metrics", "metrics_at_epoch", "overrides"]
    return pd.DataFrame.from_records(records, columns=None if records else columns)


def load_history(run_dir: str | Path) -> "pd.DataFrame":  # noqa: F821
    """history.csv of a run (an empty frame when there is none yet)."""
    import pandas as pd

    path = Path(run_dir) / "history.csv"
    if not path.exists() or path.stat().st_size == 0:
        return pd.DataFrame()
    try:
        return pd.read_csv(path)
    except (ValueError, OSError):
        return pd.DataFrame()


# ---------------------------------------------------------------------------------------------
# reading one number out of a run
# ---------------------------------------------------------------------------------------------
RAP_GROUPS = (("1~25", 1.0, 25.0), ("25~50", 25.0, 50.0), (">50", 50.0, float("inf")))


def attribute_ratio_groups(run_dir: str | Path, per_attribute: Dict[str, float]) -> Dict[str, float]:
    """Mean per-attribute mA by imbalance-ratio group (DCL Table 6), from the evaluated targets.

    Used when a dataset provides no ``attribute_groups`` of its own (e.g. the synthetic stand-in of a
    smoke run): the ratio 1:x of an attribute is majority / minority count in ``predictions.npz``.
    """
    path = Path(run_dir) / "predictions.npz"
    if not path.exists() or not per_attribute:
        return {}
    targets = np.load(path)["targets"]
    if targets.ndim != 2 or targets.shape[1] != len(per_attribute):
        return {}
    pos = targets.sum(0).astype(float)
    neg = len(targets) - pos
    ratio = np.maximum(pos, neg) / np.maximum(1.0, np.minimum(pos, neg))
    values = np.array(list(per_attribute.values()), dtype=float)
    out = {}
    for name, low, high in RAP_GROUPS:
        sel = (ratio > low if low > 1 else ratio >= low) & (ratio <= high)
        if sel.any():
            out[name] = float(values[sel].mean())
    return out


def metric_value(record: Dict[str, Any], metric: str, at_epoch: Optional[int] = None) -> Optional[float]:
    """A metric of a run record: ``metrics_at_epoch[at_epoch]`` first when given, dotted paths walk dicts."""
    return metric_reading(record, metric, at_epoch)[0]


def metric_reading(record: Dict[str, Any], metric: str, at_epoch: Optional[int] = None) -> Tuple[Optional[float], Optional[str]]:
    """(value, where it was read): ``"epoch <at_epoch>"`` from ``metrics_at_epoch``, else ``"final"`` (the run's
    last evaluation, also when it recorded no ``at_epoch``, e.g. a run shorter than that), ``None`` if absent."""
    sources = []
    if at_epoch is not None:
        sources.append((f"epoch {at_epoch}", (record.get("metrics_at_epoch") or {}).get(str(at_epoch)) or {}))
    sources.append(("final", record.get("metrics") or {}))
    for where, source in sources:
        node: Any = source
        for part in _split_metric(metric):
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, (int, float)) and not isinstance(node, bool):
            return float(node), where
    if metric.startswith("group_mA."):
        groups = attribute_ratio_groups(record["run_dir"], (record.get("metrics") or {}).get("per_attribute_mA") or {})
        value = groups.get(metric.split(".", 1)[1])
        return value, ("final" if value is not None else None)
    return None, None


def _split_metric(metric: str) -> List[str]:
    head, _, rest = metric.partition(".")
    return [head, rest] if rest else [head]


if __name__ == "__main__":  # python -m dcl_runner.results: the runs under a folder as a table (results_cli.py)
    from dcl_runner.results_cli import main

    raise SystemExit(main())
