"""The data model of a paper table: columns (overrides + the metric read), rows (method + overrides + the
paper's values), a row whose baseline number comes from other work (``SourcedRow``), the first stage of a two-stage
row (``Stage1``), and the table."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Tuple

from .names import experiment

@dataclass(frozen=True)
class Column:
    """One column of a table: its overrides and the metric it reads from a run.

    ``metric`` is a key of metrics.json's ``metrics`` (dots walk into nested dicts, e.g.
    ``group_mA.1~25``); ``at_epoch`` prefers ``metrics_at_epoch[<at_epoch>]`` when the run recorded it.
    """

    id: str
    label: str
    overrides: Tuple[str, ...] = ()
    metric: str = "top1"
    at_epoch: Optional[int] = None


def swap_experiments(overrides: Tuple[str, ...], protocols: Dict[str, str], column: "Column") -> Tuple[str, ...]:
    """``overrides`` with the column's experiment replaced by the one ``protocols`` names for it: a key of
    ``protocols`` is a column id or a column's experiment (NAMES["experiment"] keys), the column id winning."""
    own = next((item for item in column.overrides if item.startswith("experiment=")), None)
    theirs = protocols.get(column.id)
    if theirs is None:
        theirs = next((t for o, t in protocols.items() if experiment(o) == own), None) if own else None
    return tuple(experiment(theirs) if theirs is not None and item == own else item for item in overrides)


@dataclass(frozen=True)
class Stage1:
    """The run a two-stage row (decoupling's cRT / LWS, MiSLAS) starts from: its method, its overrides and, keyed as
    ``SourcedRow.protocols``, the experiment that replaces a column's. The tables script finds that run by its
    identity, or launches it first, and passes its folder to the row's run as ``trainer.init_from``."""

    method: str
    overrides: Tuple[str, ...] = ()
    protocols: Dict[str, str] = field(default_factory=dict)

    def cell_overrides(self, column: "Column") -> Tuple[str, ...]:
        return swap_experiments((*column.overrides, f"method={self.method}", *self.overrides), self.protocols, column)


@dataclass(frozen=True)
class Row:
    """One row: label, method name, overrides added to every column's, and the paper's values.

    ``paper`` maps column id -> value (a number, or text for dcl.t1); ``paper_std`` the paper's std
    over runs where given; ``ref`` names the source of a number copied from other work. ``withheld`` keeps a row
    whose method is in the runner out of the runs, with the reason (a method known not to work as its paper's yet):
    a number printed beside the paper's must be one we trust. ``not_built`` says why a row's method is not in the
    runner at all (what its sources lack for a faithful build); ``--list`` and the table print it.
    """

    label: str
    method: str
    overrides: Tuple[str, ...] = ()
    paper: Dict[str, Any] = field(default_factory=dict)
    paper_std: Dict[str, float] = field(default_factory=dict)
    note: str = ""
    per_attribute: Optional[Tuple[int, ...]] = None  # dcl.t2: values in PAPER_ATTRIBUTES order
    stage1: Optional[Stage1] = None  # a two-stage row: the run its cells start from (trainer.init_from)
    withheld: str = ""  # why a row whose method exists is not run (known not to reproduce it yet): printed as ref only
    not_built: str = ""  # why the row's method is not in the runner (no faithful build possible from its sources)

    def cell_overrides(self, column: Column) -> Tuple[str, ...]:
        return (*column.overrides, f"method={self.method}", *self.overrides)


@dataclass(frozen=True)
class Table:
    id: str
    title: str
    setting: str
    columns: Tuple[Column, ...]
    rows: Tuple[Row, ...]
    kind: str = "table"          # table | figure
    note: str = ""
    paper_precision: int = 2     # decimals the paper prints
    # runs behind each paper number: DP sec. 4 "we report the mean and standard deviation over 3 runs"; the DCL
    # and two-head papers print single numbers without saying how many runs: 3 there too (docs/tables.md)
    paper_seeds: int = 3

    def row(self, label: str) -> Row:
        for row in self.rows:
            if row.label == label:
                return row
        raise KeyError(f"{self.id} has no row {label!r}")


@dataclass(frozen=True)
class SourcedRow(Row):
    """A baseline row with the ``source`` of its printed numbers; ``protocols`` maps a column's experiment
    (a NAMES["experiment"] key), or a column id, to the experiment of the protocol that produced the number there.
    Columns in neither run the column's own (two-head) protocol."""

    source: str = ""
    protocols: Dict[str, str] = field(default_factory=dict)

    def cell_overrides(self, column: Column) -> Tuple[str, ...]:
        return swap_experiments(super().cell_overrides(column), self.protocols, column)
