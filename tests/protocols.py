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

import importlib
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Tuple


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
