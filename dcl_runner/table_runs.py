"""From the table registry to runs: which cells can run, their configs and identities, the smoke
stand-in datasets, and the Hydra multirun sweeps that launch what is missing.

A cell (row x column of ``dcl_runner.tables``) is runnable when its method is registered and its
overrides compose. Checks are ordered cheapest first: the method registry, then the existence of every
``group=option`` YAML, and only then a (cached) Hydra composition.
"""
from __future__ import annotations

import functools
import os
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from omegaconf import OmegaConf

from . import CONFIG_DIR
from .results import cell_key, run_identity
from .tables import Column, Row, Table

GROUPS = ("dataset", "backbone", "method", "scheduler", "experiment", "budget")
# datasets generated or bundled in code: always "on disk"
EMBEDDED_DATASETS = {"synthetic_attributes", "synthetic_classes", "digits_lt"}
# class counts of multi-class datasets whose config does not say (for the smoke stand-in's shape)
KNOWN_CLASSES = {
    "cifar10": 10, "cifar10_lt": 10, "cifar100": 100, "cifar100_lt": 100, "tiny_imagenet_lt": 200,
    "imagenet_lt": 1000, "imagenet": 1000, "webvision": 1000, "mnist": 10, "fashion_mnist": 10, "svhn": 10,
}
SMOKE_MAX_CLASSES = 100
# smaller still than budget=smoke: a table has many rows (see docs/tables.md)
SMOKE_TABLE_OVERRIDES = ("dataset.max_train_samples=256", "dataset.max_eval_samples=128")
LAUNCHERS = {
    "basic": (None, "hydra/launcher=basic"),
    "joblib": ("hydra_plugins.hydra_joblib_launcher", "hydra/launcher=joblib"),
    "submitit": ("hydra_plugins.hydra_submitit_launcher", "hydra/launcher=submitit_slurm"),
}


@dataclass
class Cell:
    table: Table
    row: Row
    column: Column
    overrides: Tuple[str, ...]                 # the cell's own (registry) overrides
    runnable: bool = False
    reason: str = ""                           # why not runnable ("ref only: ...")
    run_overrides: Tuple[str, ...] = ()        # what is launched (with the smoke stand-in, if any)
    substituted: Optional[str] = None          # the stand-in dataset name in smoke mode
    cell_key: Optional[str] = None
    identities: Dict[int, str] = field(default_factory=dict)  # seed -> run identity

    @property
    def paper(self):
        return self.row.paper.get(self.column.id)


def _option_file(group: str, option: str, search_dirs: Sequence[Path]) -> Optional[Path]:
    for base in (CONFIG_DIR, *search_dirs):
        path = Path(base) / group / f"{option}.yaml"
        if path.exists():
            return path
    return None


def search_dirs_of(extra: Sequence[str]) -> List[Path]:
    """Folders added by a ``hydra.searchpath=[file://...]`` override among ``extra``."""
    dirs = []
    for item in extra:
        if item.startswith("hydra.searchpath="):
            for part in item.split("=", 1)[1].strip("[]").split(","):
                part = part.strip().strip("'\"")
                if part.startswith("file://"):
                    dirs.append(Path(part[len("file://"):]))
    return dirs


def missing_option(overrides: Sequence[str], search_dirs: Sequence[Path]) -> Optional[str]:
    for item in overrides:
        key, _, value = item.partition("=")
        if key in GROUPS and value and _option_file(key, value, search_dirs) is None:
            return f"conf/{key}/{value}.yaml does not exist"
    return None


class Composer:
    """Cached compositions: one Hydra compose per distinct override set (~0.2-0.4 s each)."""

    def __init__(self) -> None:
        self.calls = 0

    @functools.lru_cache(maxsize=None)
    def compose(self, overrides: Tuple[str, ...]):
        from .testing import compose

        self.calls += 1
        return compose(list(overrides))

    def try_compose(self, overrides: Tuple[str, ...]):
        try:
            return self.compose(overrides), None
        except Exception as exc:  # noqa: BLE001 - any composition error makes the row "ref only"
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            return None, f"{type(exc).__name__}: {first}"


def method_registered(name: str) -> bool:
    from .methods import METHODS

    return name in METHODS


def dataset_on_disk(cfg) -> bool:
    name = cfg.dataset.name
    if name in EMBEDDED_DATASETS:
        return True
    try:
        root = Path(os.path.expanduser(str(cfg.dataset.root)))
    except Exception:  # noqa: BLE001 - an unresolvable root is not on disk
        return False
    return root.is_dir() and any(root.iterdir())


def dataset_kind(name: str) -> Optional[str]:
    from .data import DATASETS

    try:
        return DATASETS.get(name).kind
    except KeyError:
        return None


def smoke_stand_in(cfg) -> Tuple[str, Tuple[str, ...]]:
    """A synthetic dataset of the same task type and shape, as overrides (DESIGN.md 'Budgets')."""
    d = cfg.dataset
    if dataset_kind(d.name) == "attributes":
        return "synthetic_attributes", ("dataset=synthetic_attributes", "dataset.num_train=512", "dataset.num_test=256")
    classes = int(d.get("num_classes") or KNOWN_CLASSES.get(d.name, 10))
    classes = max(2, min(classes, SMOKE_MAX_CLASSES))
    ratio = d.get("imbalance_ratio")
    if ratio is None and str(d.name).endswith("_lt"):
        ratio = 256  # ImageNet-LT-like lists: largest/smallest class = 1280/5
    noise = d.get("noise") or {}
    out = [
        "dataset=synthetic_classes", f"dataset.num_classes={classes}",
        f"dataset.train_per_class={max(8, 1200 // classes)}", f"dataset.test_per_class={max(2, 240 // classes)}",
        f"dataset.imbalance_ratio={'null' if ratio is None else ratio}",
        f"dataset.noise.rate={float(noise.get('rate', 0.0) or 0.0)}", f"dataset.noise.mode={noise.get('mode', 'uniform')}",
        f"dataset.subset={d.get('subset', 'all')}",
    ]
    return "synthetic_classes", tuple(out)


def plan_cells(tables: Iterable[Table], budget: str, seeds: Sequence[int], extra: Sequence[str] = (),
               composer: Optional[Composer] = None) -> List[Cell]:
    """Every cell of ``tables`` with its runnability, launch overrides and per-seed identities."""
    composer = composer or Composer()
    dirs = search_dirs_of(extra)
    base = (f"budget={budget}", *(SMOKE_TABLE_OVERRIDES if budget == "smoke" else ()), *extra)  # as sweep_command orders them
    cells = []
    for table in tables:
        for row in table.rows:
            for column in table.columns:
                cell = Cell(table, row, column, row.cell_overrides(column))
                cells.append(cell)
                if not method_registered(row.method):
                    cell.reason = f"ref only: method '{row.method}' is not in the runner"
                    continue
                missing = missing_option(cell.overrides, dirs)
                if missing:
                    cell.reason = f"ref only: {missing}"
                    continue
                cfg, error = composer.try_compose((*cell.overrides, *base))
                if cfg is None:
                    cell.reason = f"ref only: overrides do not compose ({error})"
                    continue
                run = cell.overrides
                if budget == "smoke" and not dataset_on_disk(cfg):
                    cell.substituted, stand_in = smoke_stand_in(cfg)
                    run = tuple(dedupe((*cell.overrides, *stand_in)))
                    cfg, error = composer.try_compose((*run, *base))
                    if cfg is None:
                        cell.reason = f"ref only: the smoke stand-in does not compose ({error})"
                        continue
                try:
                    cell.cell_key = cell_key(cfg)
                    for seed in seeds:
                        seeded = OmegaConf.create(OmegaConf.to_container(cfg, resolve=False))
                        seeded.seed = int(seed)
                        cell.identities[int(seed)] = run_identity(seeded)
                except Exception as exc:  # noqa: BLE001 - e.g. an interpolation only Hydra's app can resolve
                    cell.reason = f"ref only: the config does not resolve ({type(exc).__name__}: {exc})"
                    continue
                cell.runnable, cell.run_overrides = True, run
    return cells


# ---------------------------------------------------------------------------------------------
# sweeps: the fewest Hydra multiruns covering exactly the missing (overrides, seed) jobs
# ---------------------------------------------------------------------------------------------
def _key(item: str) -> str:
    return item.partition("=")[0]


def dedupe(overrides: Sequence[str]) -> List[str]:
    """One override per key, the last one winning (as Hydra applies them), in first-seen key order."""
    last = {_key(i): i for i in overrides}
    return [last[k] for k in dict.fromkeys(_key(i) for i in overrides)]


def pack_sweeps(jobs: Sequence[Tuple[Tuple[str, ...], int]]) -> List[List[str]]:
    """Merge jobs into cartesian-product sweeps (``key=a,b``) that cover exactly those jobs.

    Two sweeps merge when they have the same keys and differ in the values of exactly one key; this is
    repeated until nothing merges. Seeds are a key like any other.
    """
    sweeps: List[Tuple[Tuple[str, ...], Dict[str, Tuple[str, ...]]]] = []
    for overrides, seed in jobs:
        values = {_key(i): (i.partition("=")[2],) for i in dedupe([*overrides, f"seed={seed}"])}
        sweeps.append((tuple(values), values))
    merged = True
    while merged:
        merged = False
        for i in range(len(sweeps)):
            for j in range(i + 1, len(sweeps)):
                (ki, vi), (kj, vj) = sweeps[i], sweeps[j]
                if set(ki) != set(kj):
                    continue
                differ = [k for k in ki if set(vi[k]) != set(vj[k])]
                if len(differ) == 1:
                    k = differ[0]
                    vi[k] = tuple(dict.fromkeys((*vi[k], *vj[k])))
                    del sweeps[j]
                    merged = True
                    break
            if merged:
                break
    return [[f"{k}={','.join(v[k])}" for k in keys] for keys, v in sweeps]


def launcher_overrides(name: str) -> List[str]:
    """``hydra/launcher=...`` for basic / joblib / submitit; a clear error when the plugin is missing."""
    if name not in LAUNCHERS:
        raise SystemExit(f"--launcher {name}: choose one of {', '.join(LAUNCHERS)}")
    module, override = LAUNCHERS[name]
    if module:
        import importlib.util

        if importlib.util.find_spec(module) is None:
            package = "hydra-joblib-launcher" if name == "joblib" else "hydra-submitit-launcher"
            raise SystemExit(
                f"--launcher {name} needs the Hydra plugin '{package}', which is not installed.\n"
                f"Install it with: pip install {package}   (or: pip install -e '.[sweeps]')"
            )
    return [] if name == "basic" else [override]


def sweep_command(sweep: Sequence[str], budget: str, extra: Sequence[str], output_root: str, sweep_dir: str,
                  launcher: Sequence[str]) -> List[str]:
    smoke = list(SMOKE_TABLE_OVERRIDES) if budget == "smoke" else []
    return [
        sys.executable, "-m", "dcl_runner", "-m", *sweep, f"budget={budget}", *smoke, *extra,
        "trainer.progress=false", f"output_root={output_root}", f"hydra.sweep.dir={sweep_dir}", *launcher,
    ]


def show(command: Sequence[str]) -> str:
    shown = ["python" if i == 0 else part for i, part in enumerate(command)]
    return " ".join(shlex.quote(p) for p in shown)
