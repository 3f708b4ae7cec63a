"""The two-head tables' protocol switch (issue 11 item 7): by default every baseline row runs the protocol that
produced its printed number and names its source; ``--protocol own`` runs every row under the two-head paper's own
protocol, checked cell by cell against protocol_th's ``th.t*-own`` expectations (written by hand, not from conf/)."""
import pytest

from dcl_runner import tables as T
from protocols import table_mismatches

TH_TABLES = [t for t in T.TH_TABLES]


@pytest.mark.parametrize("table", T.under_protocol(TH_TABLES, "own"), ids=lambda t: t.id)
def test_every_cell_under_protocol_own_composes_to_the_two_head_protocol(table):
    cells, mismatches = table_mismatches(table)
    assert cells, f"{table.id}: no runnable cell"
    assert not mismatches, "\n".join(f"{r} | {c} | {k}: composes {g!r}, protocol {e!r}" for r, c, k, g, e, _ in mismatches[:30])
    assert not any("ldam_drw" in o for cell in cells for o in cell.run_overrides if o.startswith("experiment="))


def test_the_switch_renames_only_the_tables_it_changes():
    own = {t.id for t in T.under_protocol(TH_TABLES, "own")}
    assert own == {"th.t1-own", "th.t2", "th.t3", "th.t4-own", "th.t5"}  # t2, t3, t5 already run the two-head protocol
    assert [t.id for t in T.under_protocol(TH_TABLES, "paper")] == [t.id for t in TH_TABLES]
    with pytest.raises(KeyError, match="protocol"):
        T.under_protocol(TH_TABLES, "theirs")


def test_every_baseline_row_names_its_source_and_what_it_runs():
    for table in TH_TABLES:
        for row in table.rows:
            assert row.note, f"{table.id} / {row.label}: no source"
            if row.method in ("twohead", "twohead_full"):
                continue
            assert isinstance(row, T.SourcedRow) and row.source, f"{table.id} / {row.label}"
            assert row.note.startswith("source: ") and row.label in table.note
    ce = T.get("th.t1").row("CE")
    assert "Cui et al." in ce.source and ce.protocols == {"th_cifar10_lt": "th_cifar10_lt_cui",
                                                           "th_cifar100_lt": "th_cifar100_lt_cui"}
    assert T.get("th.t1").row("LDAM+DRW").protocols == {"th_cifar10_lt": "th_cifar10_lt_ldam_drw",
                                                        "th_cifar100_lt": "th_cifar100_lt_ldam_drw"}
    assert T.get("th.t1").row("CB").protocols == {} and "not traced" in T.get("th.t1").row("CB").note
    # th.t4's CE row: the CIFAR-100 columns are Cui et al.'s numbers (their protocol), the Tiny ones untraced
    t4 = T.get("th.t4")
    overrides = {c.id: t4.row("none (CE)").cell_overrides(c)[0] for c in t4.columns}
    assert overrides["c100_100"] == "experiment=th_cifar100_lt_cui" and overrides["tiny_100"] == "experiment=th_tiny_imagenet_lt"


def test_reproduce_tables_protocol_own_launches_no_source_protocol(tmp_path, capsys):
    import sys

    from helpers import REPO_ROOT

    from dcl_runner.tables import __main__ as reproduce_tables

    args = ["--table", "th.t1", "--budget", "smoke", "--dry-run", "--output-root", str(tmp_path)]
    assert reproduce_tables.main([*args, "--protocol", "own"]) == 0
    own = capsys.readouterr().out
    assert reproduce_tables.main(args) == 0
    paper = capsys.readouterr().out
    assert "th_cifar10_lt_ldam_drw" in paper and "ldam_drw" not in "".join(
        part for line in own.splitlines() for part in line.split() if part.startswith("experiment="))


def test_fig4_draws_one_series_per_prediction(tmp_path):
    """th.fig4's rows come twice (arg-max and "(sum prediction)"): the drawer parses both label forms."""
    from dcl_runner.tables import figures as table_figures
    from dcl_runner.tables.report import CellResult, TableResult
    from dcl_runner.tables.runs import Cell

    fig = T.get("th.fig4")
    cells = [CellResult(Cell(fig, row, fig.columns[0], row.cell_overrides(fig.columns[0]), runnable=True), values=[40.0 + i])
             for i, row in enumerate(fig.rows)]
    path, reason = table_figures.draw(TableResult(fig, cells, "paper"), tmp_path)
    assert reason is None and path.stat().st_size > 1000
    assert sum(r.label.endswith("(sum prediction)") for r in fig.rows) == len(fig.rows) // 2 == 8
