"""The papers' protocols, written from the papers and the authors' code, for the protocol test.

Each paper has a module ``protocol_<paper>.py`` beside this one (``protocol_dcl``, ``protocol_dp``,
``protocol_th``) that defines ``PROTOCOLS: Dict[table_id, TableProtocol]`` and, optionally,
``METHOD_KEYS: Dict[method_name, Tuple[key, ...]]`` (method-specific keys every cell of that method must
pin, e.g. data parameters' curriculum and learning rates).

Every expected value is a :class:`Cite`: the value and where it comes from ("DP sec. 3.4",
"apple/ml-data-parameters: main_cifar.py", "LDAM-DRW paper sec. 4.1 / kaidic/LDAM-DRW cifar_train.py").
These values are written by hand from those sources, never read back from ``conf/``: the test compares
what a cell composes with what the paper says.
"""
from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass, field
from unittest import mock
from typing import Any, Dict, Iterable, List, Tuple

from omegaconf import OmegaConf


@dataclass(frozen=True)
class Cite:
    value: Any
    source: str


Keys = Dict[str, Cite]


@dataclass(frozen=True)
class TableProtocol:
    """What every cell of a table must compose to. Later layers win: ``every_cell`` < ``columns[col]``
    < ``rows[row]`` < ``cells[(row, col)]``."""

    every_cell: Keys = field(default_factory=dict)
    columns: Dict[str, Keys] = field(default_factory=dict)
    rows: Dict[str, Keys] = field(default_factory=dict)
    cells: Dict[Tuple[str, str], Keys] = field(default_factory=dict)
    # two-stage rows (Row.stage1): what their stage-1 run composes to, over every_cell < columns[col]
    stage1: Dict[str, Keys] = field(default_factory=dict)

    def expected_stage1(self, row: str, column: str) -> Keys:
        return {**self.every_cell, **self.columns.get(column, {}), **self.stage1.get(row, {})}

    def expected(self, row: str, column: str) -> Keys:
        out: Keys = dict(self.every_cell)
        out.update(self.columns.get(column, {}))
        out.update(self.rows.get(row, {}))
        out.update(self.cells.get((row, column), {}))
        return out


# Keys every runnable cell must pin, whatever its method.
REQUIRED: Tuple[str, ...] = (
    "method.name", "backbone.name", "backbone.pretrained", "dataset.name", "dataset.imbalance_ratio",
    "dataset.noise.rate", "trainer.epochs", "trainer.batch_size", "trainer.optimizer.name", "trainer.optimizer.lr",
    "trainer.optimizer.momentum", "trainer.optimizer.weight_decay", "trainer.lr_schedule.name",
    "trainer.lr_schedule.warmup_epochs",
)
# ... and those its lr schedule reads.
SCHEDULE_KEYS: Dict[str, Tuple[str, ...]] = {
    "multistep": ("trainer.lr_schedule.milestones", "trainer.lr_schedule.gamma"),
    "step": ("trainer.lr_schedule.step_size", "trainer.lr_schedule.gamma"),
    "cosine": ("trainer.lr_schedule.min_lr_factor",),
    "constant": (),
}
PAPERS = ("protocol_dcl", "protocol_dp", "protocol_th")


def load() -> Tuple[Dict[str, TableProtocol], Dict[str, Tuple[str, ...]]]:
    """Every paper module's PROTOCOLS and METHOD_KEYS, merged."""
    protocols: Dict[str, TableProtocol] = {}
    method_keys: Dict[str, Tuple[str, ...]] = {}
    for name in PAPERS:
        module = importlib.import_module(name)
        protocols.update(module.PROTOCOLS)
        for method, keys in getattr(module, "METHOD_KEYS", {}).items():
            method_keys[method] = tuple(dict.fromkeys((*method_keys.get(method, ()), *keys)))
    return protocols, method_keys


# ... the warm-up's form when there is one, and when the lr moves (per step or per epoch) where that changes it.
WARMUP_KEYS: Tuple[str, ...] = ("trainer.lr_schedule.warmup_start_factor", "trainer.lr_schedule.granularity")


def required_keys(method: str, schedule: str, method_keys: Dict[str, Iterable[str]], warmup: float = 0) -> List[str]:
    keys = [*REQUIRED, *SCHEDULE_KEYS.get(schedule, ()), *method_keys.get(method, ())]
    if warmup:
        keys += WARMUP_KEYS
    if schedule == "cosine":  # a per-step cosine differs from a per-epoch one (whole-epoch step decays do not)
        keys.append("trainer.lr_schedule.granularity")
    return list(dict.fromkeys(keys))


PROTOCOLS, METHOD_KEYS = load()


# ---------------------------------------------------------------------------------------------
# comparing what a table's cells compose with what their protocol says
# ---------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def composer():
    from dcl_runner.tables.runs import Composer

    return Composer()


def plain(value):
    return OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value


def same(a, b) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) and not isinstance(b, bool):
        return abs(float(a) - float(b)) <= 1e-12 * max(1.0, abs(float(b)))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def table_mismatches(table):
    """(row, column, key, composed, expected, source) for every key of every runnable cell that differs."""
    from dcl_runner.tables.runs import plan_cells

    spec = PROTOCOLS.get(table.id)
    # a row whose weights file is not on disk (BN-Inception's) is held to its protocol all the same
    with mock.patch("dcl_runner.models.pretrained.missing_file", lambda backbone: ""):
        cells = [c for c in plan_cells([table], "paper", [0], composer=composer()) if c.runnable]
    out = []
    for cell in cells:
        runs = [(cell.row.label, cell.run_overrides, spec.expected(cell.row.label, cell.column.id) if spec else {})]
        if cell.stage1_run_overrides:  # a two-stage row: its stage-1 run is held to its protocol too
            runs.append((f"{cell.row.label} (stage 1)", cell.stage1_run_overrides,
                         spec.expected_stage1(cell.row.label, cell.column.id) if spec else {}))
        for label, overrides, expected in runs:
            cfg = composer()._compose((*overrides, "budget=paper"))
            schedule = cfg.trainer.lr_schedule
            keys = required_keys(str(cfg.method.name), str(schedule.name), METHOD_KEYS, float(schedule.warmup_epochs))
            for key in dict.fromkeys([*keys, *expected]):
                got = plain(OmegaConf.select(cfg, key, default=None))
                if key not in expected:
                    out.append((label, cell.column.id, key, got, "<no protocol value>", ""))
                elif not same(got, expected[key].value):
                    out.append((label, cell.column.id, key, got, expected[key].value, expected[key].source))
    return cells, out
