"""Every table and figure of the three papers, by id (the order of ../shared/TABLES.md: tables, then figures)."""
from __future__ import annotations

from typing import Dict, List, Tuple

from . import dcl, dp, th
from .model import Table

ALL: Tuple[Table, ...] = (*dcl.TABLES, *dp.TABLES, *th.TABLES, *dcl.FIGURES, *dp.FIGURES, *th.FIGURES)
REGISTRY: Dict[str, Table] = {t.id: t for t in ALL}


def get(table_id: str) -> Table:
    if table_id not in REGISTRY:
        raise KeyError(f"unknown table id {table_id!r}; known: {', '.join(REGISTRY)}")
    return REGISTRY[table_id]


def select(spec: str) -> List[Table]:
    """``all``, one id, or a comma-separated list of ids."""
    if spec == "all":
        return list(ALL)
    return [get(part.strip()) for part in spec.split(",") if part.strip()]
