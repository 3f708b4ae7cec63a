"""From the table registry to runs: which cells can run, their configs and identities, the smoke
stand-in datasets, and the Hydra multirun sweeps that launch what is missing.

A cell (row x column of ``dcl_runner.tables``) is runnable when its method is registered and its
overrides compose. Checks are ordered cheapest first: the method registry, then the existence of every
``group=option`` YAML, and only then a (cached) Hydra composition.

Two-stage rows (``Row.stage1``: decoupling's cRT / LWS, MiSLAS) plan their stage-1 run as well (its overrides and
identities, ``Cell.stage1_*``); a stage-2 run's identity includes ``trainer.init_from=<stage-1 run folder>``, so
it is known once that run has completed: :func:`resolve_stage2` finds the completed stage-1 run of every seed by
its identity and fills the cell's identities and launch overrides, or says why the seed waits
(``Cell.waiting``). The tables script launches the stage-1 runs first (:func:`stage1_cells`), then the stage-2 runs.
"""
from __future__ import annotations

import functools
import json
import os
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from omegaconf import OmegaConf

from ..config import CONFIG_DIR, GROUPS, VOLATILE_KEYS, cell_key, run_identity
from ..errors import check_value
from ..results import STATUS_DONE
from .model import Column, Row, Table

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
    dropped: Tuple[str, ...] = ()              # extra dataset overrides not applied to the stand-in
    cell_key: Optional[str] = None             # None for a two-stage cell: its runs differ per seed (init_from)
    identities: Dict[int, str] = field(default_factory=dict)  # seed -> run identity
    # a two-stage row's cell: its stage-1 run (overrides as launched, identities per seed) ...
    stage1_run_overrides: Tuple[str, ...] = ()
    stage1_identities: Dict[int, str] = field(default_factory=dict)
    # ... and, once resolve_stage2 has looked, per seed the stage-1 run folder it starts from, or why it waits:
    init_from: Dict[int, str] = field(default_factory=dict)
    waiting: Dict[int, Tuple[str, str]] = field(default_factory=dict)  # seed -> (status of stage 1, its text)

    @property
    def paper(self):
        return self.row.paper.get(self.column.id)

    @property
    def two_stage(self) -> bool:
        return self.row.stage1 is not None

    def launch_overrides(self, seed: int) -> Tuple[str, ...]:
        """What a seed's run is launched with: a stage-2 run also names its stage-1 run folder."""
        if seed in self.init_from:
            return (*self.run_overrides, init_from_override(self.init_from[seed]))
        return self.run_overrides


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


def conf_fingerprint(search_dirs: Sequence[Path] = ()) -> str:
    """A hash of every YAML under conf/ (and extra search paths): a composition cache is valid while it holds."""
    import hashlib

    digest = hashlib.sha1()
    for base in (CONFIG_DIR, *search_dirs):
        for path in sorted(Path(base).rglob("*.yaml")):
            digest.update(str(path.relative_to(base)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


class Composer:
    """Compositions reduced to what planning needs, cached in memory and (optionally) on disk.

    A Hydra compose costs 0.2-0.5 s; a table has dozens of cells. Each distinct override set is composed
    once; with ``cache_path`` the results (composability, identities per seed, dataset facts) are kept
    in a JSON file keyed by a fingerprint of conf/, so re-running or collecting a table composes nothing.
    """

    def __init__(self, cache_path: Optional[Path] = None, search_dirs: Sequence[Path] = ()) -> None:
        self.calls = 0
        self.cache_path = Path(cache_path) if cache_path else None
        self.fingerprint = conf_fingerprint(search_dirs)
        self.entries: Dict[str, Dict] = {}
        if self.cache_path and self.cache_path.exists():
            try:
                data = json.loads(self.cache_path.read_text())
                if data.get("fingerprint") == self.fingerprint:
                    self.entries = data.get("entries", {})
            except (OSError, ValueError):
                pass

    def save(self) -> None:
        if self.cache_path:
            from ..io import atomic_write_json

            atomic_write_json(self.cache_path, {"fingerprint": self.fingerprint, "entries": self.entries})

    def _compose(self, overrides: Tuple[str, ...]):
        """Hydra composes the group selections (once per distinct set); plain ``key=value`` overrides
        are then applied to a copy, parsed by Hydra's override grammar, in command-line order. Anything
        else (``+key``, ``~key``, ``hydra.*``, ``group/sub=``) goes through Hydra as is."""
        import copy

        from omegaconf import open_dict

        groups, values = [], []
        for item in overrides:
            key = _key(item)
            plain = key and key not in GROUPS and not key.startswith(("hydra", "+", "~")) and "/" not in key
            (values if plain else groups).append(item)
        base = self._compose_groups(tuple(groups))
        if base is None or not values:
            return base if base is not None else self._compose_groups(tuple(overrides))
        cfg = copy.deepcopy(base)
        for parsed in _parse_overrides(values):
            key = parsed.key_or_group
            parent_key, _, leaf = key.rpartition(".")
            parent = OmegaConf.select(cfg, parent_key) if parent_key else cfg
            if not OmegaConf.is_dict(parent) or leaf not in parent:
                raise KeyError(f"Could not override '{key}': the key is not in the composed config")
            with open_dict(cfg):
                OmegaConf.update(cfg, key, parsed.value(), merge=False)
        return cfg

    @functools.lru_cache(maxsize=None)
    def _compose_groups(self, overrides: Tuple[str, ...]):
        from ..config import compose

        self.calls += 1
        return compose(list(overrides))

    def resolve(self, overrides: Tuple[str, ...], seeds: Sequence[int]) -> Dict:
        """{"error": str|None, "cell_key", "identities": {seed: id}, "dataset": {...facts}, "backbone": {name, pretrained}}."""
        key = json.dumps(list(overrides))
        entry = self.entries.get(key)
        if entry is not None and (entry["error"] or all(str(s) in entry["identities"] for s in seeds)):
            return entry
        entry = {"error": None, "cell_key": None, "identities": {}, "dataset": {}}
        try:
            cfg = self._compose(overrides)
            d = cfg.dataset
            noise = d.get("noise") or {}
            entry["dataset"] = {
                "name": str(d.name), "root": str(d.get("root")), "num_classes": d.get("num_classes"),
                "imbalance_ratio": d.get("imbalance_ratio"), "noise_rate": float(noise.get("rate", 0.0) or 0.0),
                "noise_mode": str(noise.get("mode", "uniform")), "subset": str(d.get("subset", "all")),
            }
            entry["backbone"] = {"name": str(cfg.backbone.name), "pretrained": cfg.backbone.get("pretrained")}
            entry["cell_key"] = cell_key(cfg)
            for seed in seeds:
                seeded = OmegaConf.create(OmegaConf.to_container(cfg, resolve=False))
                seeded.seed = int(seed)
                entry["identities"][str(seed)] = run_identity(seeded)
        except Exception as exc:  # noqa: BLE001 - any composition error makes the row "ref only"
            text = str(exc).strip()
            entry["error"] = f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"
        self.entries[key] = entry
        return entry


def _parse_overrides(items: Sequence[str]):
    from hydra.core.override_parser.overrides_parser import OverridesParser

    return OverridesParser.create().parse_overrides(list(items))


def method_registered(name: str) -> bool:
    from ..methods import METHODS

    return name in METHODS


def registered_dataset(name: str) -> Optional[type]:
    """The registered class of a dataset name (its facts are class attributes: kind, num_classes, embedded)."""
    from ..data import DATASETS

    return DATASETS.get(name) if name in DATASETS else None


def dataset_on_disk(facts: Dict) -> bool:
    cls = registered_dataset(facts["name"])
    if cls is not None and cls.embedded:  # generated or bundled in code
        return True
    root = Path(os.path.expanduser(facts["root"] or ""))
    return bool(facts["root"]) and root.is_dir() and any(root.iterdir())


def dataset_kind(name: str) -> Optional[str]:
    cls = registered_dataset(name)
    return None if cls is None else cls.kind


def smoke_stand_in(facts: Dict, shot_groups: bool = False) -> Tuple[str, Tuple[str, ...]]:
    """A synthetic dataset of the same task type and shape, as overrides (DESIGN.md 'Budgets').

    ``shot_groups``: the table reads many / medium / few-shot accuracy, so the stand-in keeps classes with
    > 100, 20-100 and < 20 training images (20 classes, 150 down to 1, up to 1,000 images).
    """
    name = facts["name"]
    if dataset_kind(name) == "attributes":
        return "synthetic_attributes", ("dataset=synthetic_attributes", "dataset.num_train=512", "dataset.num_test=256")
    if dataset_kind(name) == "detection":  # KITTI-shaped boxes, KITTI's classes and AP interpolation kept
        return "synthetic_boxes", ("dataset=synthetic_boxes",)
    # the config's class count (synthetic_classes, mini WebVision), else the dataset's, else 10
    classes = int(facts.get("num_classes") or getattr(registered_dataset(name), "num_classes", None) or 10)
    classes = max(2, min(classes, SMOKE_MAX_CLASSES))
    ratio = facts.get("imbalance_ratio")
    per_class, test_per_class, cap = max(8, 1200 // classes), max(2, 240 // classes), []
    if ratio is None and name.endswith("_lt"):
        ratio = 256  # a long tail defined by file lists (ImageNet-LT): largest/smallest class = 1280/5
    if shot_groups:
        classes, per_class, test_per_class, ratio = 20, 150, 6, 150
        cap = ["dataset.max_train_samples=1000"]
    out = [
        "dataset=synthetic_classes", f"dataset.num_classes={classes}",
        f"dataset.train_per_class={per_class}", f"dataset.test_per_class={test_per_class}",
        f"dataset.imbalance_ratio={'null' if ratio is None else ratio}",
        f"dataset.noise.rate={facts['noise_rate']}", f"dataset.noise.mode={facts['noise_mode']}",
        f"dataset.subset={facts['subset']}", *cap,
    ]
    return "synthetic_classes", tuple(out)


def _dataset_signature(overrides: Sequence[str]) -> Tuple[str, ...]:
    """The overrides that decide the dataset: experiment, dataset and dataset.* (cells sharing them share it)."""
    return tuple(o for o in overrides if _key(o) == "experiment" or targets_dataset(o))


def targets_dataset(item: str) -> bool:
    """``dataset=...`` / ``dataset.key=...`` (also with Hydra's + / ~ prefixes)."""
    key = _key(item).lstrip("+~")
    return key == "dataset" or key.startswith("dataset.")


def split_extra(extra: Sequence[str]) -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
    """The user's extra overrides as (for every run, for the real dataset only). A smoke stand-in
    replaces a dataset that is not on disk; overrides of the real dataset (its root, partition,
    image size ...) do not apply to it and could not compose with it."""
    return tuple(e for e in extra if not targets_dataset(e)), tuple(e for e in extra if targets_dataset(e))


def plan_cells(tables: Iterable[Table], budget: str, seeds: Sequence[int], extra: Sequence[str] = (),
               composer: Optional[Composer] = None) -> List[Cell]:
    """Every cell of ``tables`` with its runnability, launch overrides and per-seed identities.

    Paper budget: one composition per cell. Smoke budget: one per distinct dataset (to see whether it is
    on disk) plus one per cell with its stand-in, if any. Both cached (see :class:`Composer`).
    ``extra``: the user's overrides; those of the dataset go into each cell's launch overrides, except
    for a cell whose dataset a stand-in replaces (``Cell.dropped``); the rest into every command.
    """
    from ..models.pretrained import missing_file  # lazy: --list imports no model code
    dirs = search_dirs_of(extra)
    composer = composer or Composer(search_dirs=dirs)
    for_every_run, for_the_dataset = split_extra(extra)
    base = (f"budget={budget}", *for_every_run)  # as sweep_command orders them
    cells = []
    for table in tables:
        for row in table.rows:
            for column in table.columns:
                cell = Cell(table, row, column, row.cell_overrides(column))
                cells.append(cell)
                cell.reason = not_runnable(row, column, dirs)
                if cell.reason:
                    continue
                stand_in: Optional[Tuple[str, ...]] = None
                if budget == "smoke":
                    probe = composer.resolve((*_dataset_signature(cell.overrides), *for_the_dataset, *base), ())
                    if probe["error"]:
                        cell.reason = f"ref only: overrides do not compose ({probe['error']})"
                        continue
                    if not dataset_on_disk(probe["dataset"]):
                        shots = any(c.metric.endswith("_shot") for c in table.columns)
                        cell.substituted, stand_in = smoke_stand_in(probe["dataset"], shots)
                        cell.dropped = for_the_dataset
                run = launched(cell.overrides, budget, for_the_dataset, stand_in)
                entry = composer.resolve((*run, *base), seeds)
                if entry["error"]:
                    what = "the smoke stand-in does not compose" if cell.substituted else "overrides do not compose"
                    cell.reason = f"ref only: {what} ({entry['error']})"
                    continue
                weights = missing_file(entry.get("backbone") or {})  # a weights file not on disk; checked on every plan
                if weights:
                    cell.reason = f"ref only: {weights}"
                    continue
                if row.stage1 is not None:
                    first = launched(row.stage1.cell_overrides(column), budget, for_the_dataset, stand_in)
                    stage1 = composer.resolve((*first, *base), seeds)
                    if stage1["error"]:
                        cell.reason = f"ref only: its stage-1 run does not compose ({stage1['error']})"
                        continue
                    cell.stage1_run_overrides = first
                    cell.stage1_identities = {int(s): stage1["identities"][str(s)] for s in seeds}
                cell.runnable, cell.run_overrides = True, run
                if row.stage1 is None:  # a stage-2 run's identity needs its stage-1 folder: resolve_stage2
                    cell.cell_key = entry["cell_key"]
                    cell.identities = {int(s): entry["identities"][str(s)] for s in seeds}
    composer.save()
    return cells


def not_runnable(row: Row, column: Column, search_dirs: Sequence[Path]) -> str:
    """Why a cell cannot run without composing anything ("ref only: ..."), or "" (its stage 1 checked too)."""
    if row.withheld:
        return f"ref only: {row.withheld}"
    if row.not_built and not method_registered(row.method):
        return f"ref only: not built: {row.not_built}"
    stages = [("", row.method, row.cell_overrides(column))]
    if row.stage1 is not None:
        stages.append(("its stage 1: ", row.stage1.method, row.stage1.cell_overrides(column)))
    for what, method, overrides in stages:
        if not method_registered(method):
            return f"ref only: {what}method '{method}' is not in the runner"
        missing = missing_option(overrides, search_dirs)
        if missing:
            return f"ref only: {what}{missing}"
    return ""


def launched(overrides: Sequence[str], budget: str, for_the_dataset: Sequence[str],
             stand_in: Optional[Tuple[str, ...]]) -> Tuple[str, ...]:
    """A cell's overrides as launched: the smoke table's caps, the smoke stand-in replacing the dataset (and the
    user's dataset overrides meant for the real one), or else those dataset overrides."""
    if budget != "smoke":
        return (*overrides, *for_the_dataset)
    if stand_in is None:
        return (*overrides, *SMOKE_TABLE_OVERRIDES, *for_the_dataset)
    return tuple(dedupe((*overrides, *SMOKE_TABLE_OVERRIDES, *stand_in)))


# ---------------------------------------------------------------------------------------------
# two-stage rows: the stage-1 runs, then the stage-2 runs that start from them
# ---------------------------------------------------------------------------------------------
INIT_FROM_KEY = "trainer.init_from"


def init_from_override(run_dir: str) -> str:
    """``trainer.init_from='<absolute folder>'`` (quoted for Hydra's grammar): part of the stage-2 run's identity."""
    return f"{INIT_FROM_KEY}='{run_dir}'"


def stage1_cells(cells: Iterable[Cell]) -> List[Cell]:
    """The stage-1 runs of the runnable two-stage cells, as cells ``plan_launch`` launches like any other."""
    return [Cell(c.table, c.row, c.column, c.row.stage1.cell_overrides(c.column), runnable=True,
                 run_overrides=c.stage1_run_overrides, substituted=c.substituted, identities=dict(c.stage1_identities))
            for c in cells if c.runnable and c.two_stage]


def resolve_stage2(cells: Iterable[Cell], runs_by_identity: Dict[str, List[Dict[str, Any]]], composer: Composer,
                   budget: str, extra: Sequence[str] = ()) -> None:
    """For every seed of every runnable two-stage cell: the completed stage-1 run it starts from (``init_from``)
    and the stage-2 run's identity, or why it waits (``waiting``: stage 1 failed, unfinished or not run).

    Of several completed stage-1 runs with the identity, the one a completed stage-2 run already started from is
    kept (re-running skips both); else the newest."""
    base = (f"budget={budget}", *split_extra(extra)[0])
    for cell in cells:
        if not (cell.runnable and cell.two_stage):
            continue
        cell.identities, cell.init_from, cell.waiting = {}, {}, {}
        for seed, first in cell.stage1_identities.items():
            tried = runs_by_identity.get(first, [])
            done = [str(Path(r["run_dir"]).resolve()) for r in tried if r.get("status") == STATUS_DONE]
            if not done:
                cell.waiting[seed] = stage1_wait(tried)
                continue
            candidates = {}
            for folder in done:
                entry = composer.resolve((*cell.run_overrides, init_from_override(folder), *base), [seed])
                if entry["error"]:
                    cell.waiting[seed] = ("failed", f"stage 2 does not compose with its stage-1 run {folder}: {entry['error']}")
                    break
                candidates[folder] = entry["identities"][str(seed)]
            else:
                finished = [f for f, i in candidates.items()
                            if any(r.get("status") == STATUS_DONE for r in runs_by_identity.get(i, []))]
                folder = (finished or done)[0]
                cell.init_from[seed], cell.identities[seed] = folder, candidates[folder]
    composer.save()


def stage1_wait(tried: Sequence[Dict[str, Any]]) -> Tuple[str, str]:
    """(status, text) of a stage-1 run that has not completed: its newest run, or 'not run'."""
    if not tried:
        return "not run", "stage 1 not run yet"
    rec = tried[0]
    return str(rec.get("status")), (f"stage 1 {rec.get('status')}: {rec.get('reason') or 'no reason recorded'} "
                                     f"({rec['run_dir']})")


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


# ---------------------------------------------------------------------------------------------
# what an invocation launches: skip completed runs, resume interrupted ones, leave failed ones alone
# ---------------------------------------------------------------------------------------------
@dataclass
class LaunchPlan:
    """Per distinct run identity of the planned cells, judged by the newest run folder that has it."""

    completed: int = 0
    fresh: List[Tuple[Tuple[str, ...], int]] = field(default_factory=list)  # (overrides, seed) to start anew
    resume: List[Path] = field(default_factory=list)       # interrupted with checkpoints/last.pt: continued in place
    failed: List[Dict[str, Any]] = field(default_factory=list)     # failed runs reported, not relaunched
    restarted: List[Dict[str, Any]] = field(default_factory=list)  # folders that exist but are started anew


def resumable(record: Dict[str, Any]) -> bool:
    return record.get("status") == "interrupted" and (Path(record["run_dir"]) / "checkpoints" / "last.pt").is_file()


def plan_launch(cells: Iterable[Cell], runs_by_identity: Dict[str, List[Dict[str, Any]]],
                retry_failed: bool = False) -> LaunchPlan:
    """Completed anywhere: skipped. Newest run ``interrupted`` with a checkpoint: resumed in its own folder.
    Newest run ``failed``: reported, started anew only with ``retry_failed``. Anything else (no folder, no
    metrics.json, ``running``: perhaps killed, perhaps alive elsewhere, so never resumed): started anew."""
    plan, seen = LaunchPlan(), set()
    for cell in cells:
        if not cell.runnable:
            continue
        for seed, identity in cell.identities.items():
            if identity in seen:
                continue
            seen.add(identity)
            tried = runs_by_identity.get(identity, [])
            if any(r.get("status") == STATUS_DONE for r in tried):
                plan.completed += 1
                continue
            newest = tried[0] if tried else None
            if newest and resumable(newest):
                plan.resume.append(Path(newest["run_dir"]))
            elif newest and newest.get("status") == "failed" and not retry_failed:
                plan.failed.append(newest)
            else:
                plan.fresh.append((cell.launch_overrides(seed), seed))
                if newest:
                    plan.restarted.append(newest)
    return plan


def runtime_switch(item: str) -> bool:
    """An override that run identity ignores (device, workers, data paths, ...) or a config search path:
    what a resume may be given beside the run's own saved overrides."""
    key = _key(item).lstrip("+~")
    return key.startswith("hydra.searchpath") or (key in VOLATILE_KEYS and key not in ("resume", "hydra", "output_root"))


def resume_command(run_dir: Path, extra: Sequence[str]) -> List[str]:
    """``python -m dcl_runner resume=<run folder>``: the CLI continues the run in that folder with its saved
    overrides; of the user's ``extra`` only run-time switches go along."""
    return [sys.executable, "-m", "dcl_runner", f"resume={run_dir}", *(e for e in extra if runtime_switch(e)),
            "trainer.progress=false"]


def invocation_dir(parent: Path, create: bool = True) -> Path:
    """``<parent>/<time>-<pid>-<random>``: one folder per invocation of the tables script, created with
    exist_ok=False (another name on a clash), so two invocations never share a run folder or a log."""
    import secrets
    import time

    for _ in range(100):
        path = Path(parent) / f"{time.strftime('%Y-%m-%d_%H-%M-%S')}-{os.getpid()}-{secrets.token_hex(3)}"
        if not create:
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            path.mkdir(exist_ok=False)
            return path
        except FileExistsError:
            continue
    raise RuntimeError(f"could not create a new folder under {parent}: every name tried exists")


def launcher_overrides(name: str) -> List[str]:
    """``hydra/launcher=...`` for basic / joblib / submitit; a clear error when the plugin is missing."""
    check_value("--launcher", name, LAUNCHERS, error=SystemExit)
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
    return [
        sys.executable, "-m", "dcl_runner", "-m", *sweep, f"budget={budget}", *extra,
        "trainer.progress=false", f"output_root={output_root}", f"hydra.sweep.dir={sweep_dir}", *launcher,
    ]


def show(command: Sequence[str]) -> str:
    shown = ["python" if i == 0 else part for i, part in enumerate(command)]
    return " ".join(shlex.quote(p) for p in shown)
