"""Every table and figure of the three papers, by id (the order of ../shared/TABLES.md: tables, then figures)."""
from __future__ import annotations

from typing import Dict, List, Tuple

from ..errors import check_value
from . import dcl, dp, th
from .model import Table

ALL: Tuple[Table, ...] = (*dcl.TABLES, *dp.TABLES, *th.TABLES, *dcl.FIGURES, *dp.FIGURES, *th.FIGURES)
REGISTRY: Dict[str, Table] = {t.id: t for t in ALL}


def get(table_id: str) -> Table:
    check_value("--table", table_id, list(REGISTRY), error=KeyError)
    return REGISTRY[table_id]


def select(spec: str) -> List[Table]:
    """``all``, one id, or a comma-separated list of ids."""
    if spec == "all":
        return list(ALL)
    return [get(part.strip()) for part in spec.split(",") if part.strip()]
