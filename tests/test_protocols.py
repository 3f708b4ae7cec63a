"""Every runnable cell of every table composes to its paper's protocol (issue 11, "Proof").

For each table, every cell that can run is composed as ``reproduce_tables.py --budget paper`` would
launch it, and each key of :data:`protocols.REQUIRED` (plus its schedule's and its method's keys) is
compared with the value that the per-paper protocol module (``protocol_dcl`` / ``protocol_dp`` /
``protocol_th``) writes down from the paper or the authors' code, with its source. A runnable cell
without an expectation for a required key fails too: nothing runs under an unstated protocol.
"""
from __future__ import annotations

import pytest

import protocols
from dcl_runner.tables import ALL
from protocols import PROTOCOLS, table_mismatches

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
