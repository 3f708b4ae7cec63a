"""Every runnable cell of every table composes to its paper's protocol (issue 11, "Proof").

For each table, every cell that can run is composed as ``reproduce_tables.py --budget paper`` would
launch it, and each key of :data:`protocols.REQUIRED` (plus its schedule's and its method's keys) is
compared with the value that the per-paper protocol module (``protocol_dcl`` / ``protocol_dp`` /
``protocol_th``) writes down from the paper or the authors' code, with its source. A runnable cell
without an expectation for a required key fails too: nothing runs under an unstated protocol.
"""
from __future__ import annotations

import functools

import pytest
from omegaconf import OmegaConf

import protocols
from dcl_runner.tables.runs import Composer, plan_cells
from dcl_runner.tables import ALL

PROTOCOLS, METHOD_KEYS = protocols.load()


@functools.lru_cache(maxsize=1)
def composer() -> Composer:
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
    spec = PROTOCOLS.get(table.id)
    cells = [c for c in plan_cells([table], "paper", [0], composer=composer()) if c.runnable]
    out = []
    for cell in cells:
        cfg = composer()._compose((*cell.run_overrides, "budget=paper"))
        expected = spec.expected(cell.row.label, cell.column.id) if spec else {}
        schedule = cfg.trainer.lr_schedule
        keys = protocols.required_keys(str(cfg.method.name), str(schedule.name), METHOD_KEYS, float(schedule.warmup_epochs))
        for key in dict.fromkeys([*keys, *expected]):
            got = plain(OmegaConf.select(cfg, key, default=None))
            if key not in expected:
                out.append((cell.row.label, cell.column.id, key, got, "<no protocol value>", ""))
            elif not same(got, expected[key].value):
                out.append((cell.row.label, cell.column.id, key, got, expected[key].value, expected[key].source))
    return cells, out


RUNNABLE_TABLES = [t.id for t in ALL if t.columns]


@pytest.mark.parametrize("table_id", RUNNABLE_TABLES)
def test_every_runnable_cell_runs_its_papers_protocol(table_id):
    table = next(t for t in ALL if t.id == table_id)
    cells, mismatches = table_mismatches(table)
    lines = [f"{r} | {c} | {k}: composes {g!r}, protocol {e!r} ({s})" for r, c, k, g, e, s in mismatches]
    assert not mismatches, f"{table_id}: {len(mismatches)} differences from the paper's protocol:\n" + "\n".join(lines[:60])


def test_every_cited_value_names_its_source():
    for table_id, spec in PROTOCOLS.items():
        layers = [spec.every_cell, *spec.columns.values(), *spec.rows.values(), *spec.cells.values()]
        for keys in layers:
            for key, cite in keys.items():
                assert isinstance(cite, protocols.Cite), (table_id, key)
                assert cite.source.strip(), f"{table_id}: {key} has no source"
