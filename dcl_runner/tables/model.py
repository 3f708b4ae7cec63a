"""The data model of a paper table: columns (overrides + the metric read), rows (method + overrides + the
paper's values), a row whose baseline number comes from other work (``SourcedRow``), and the table."""
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


@dataclass(frozen=True)
class Row:
    """One row: label, method name, overrides added to every column's, and the paper's values.

    ``paper`` maps column id -> value (a number, or text for dcl.t1); ``paper_std`` the paper's std
    over runs where given; ``ref`` names the source of a number copied from other work.
    """

    label: str
    method: str
    overrides: Tuple[str, ...] = ()
    paper: Dict[str, Any] = field(default_factory=dict)
    paper_std: Dict[str, float] = field(default_factory=dict)
    note: str = ""
    per_attribute: Optional[Tuple[int, ...]] = None  # dcl.t2: values in PAPER_ATTRIBUTES order

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
    (a NAMES["experiment"] key) to the experiment of the protocol that produced the number there. Columns whose
    experiment is not in it run the column's own (two-head) protocol."""

    source: str = ""
    protocols: Dict[str, str] = field(default_factory=dict)

    def cell_overrides(self, column: Column) -> Tuple[str, ...]:
        swap = {experiment(own): experiment(theirs) for own, theirs in self.protocols.items()}
        return tuple(swap.get(item, item) for item in super().cell_overrides(column))
