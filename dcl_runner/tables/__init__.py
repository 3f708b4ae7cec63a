"""The papers' tables and figures: what to run for each cell, how to launch it, how to read it back.

One module per job:

- ``model``     Column / Row / SourcedRow / Table: a cell (row x column) is one run per seed of
                ``python -m dcl_runner <column overrides> method=<method> <row overrides>``;
- ``names``     the one place where experiment files and method options are spelled (NAMES);
- ``dcl``, ``dp``, ``th``   each paper's tables and figures with the paper's numbers, copied from the seed text
                (``002_*`` DCL, ``003_*`` data parameters, ``004_*`` two-head), and where each baseline number
                comes from (``th``: SourcedRow, ``under_protocol``);
- ``registry``  every table by id (ALL, REGISTRY, get, select);
- ``runs``      which cells can run, their configs and identities, smoke stand-ins, the sweeps that launch them;
- ``report``    aggregation over seeds and the Markdown / CSV / LaTeX outputs;
- ``figures``   the papers' figures drawn from runs;
- ``__main__``  ``python -m dcl_runner.tables`` (also scripts/reproduce_tables.py).

A row is *runnable* when its method is registered (``dcl_runner.methods.METHODS``) and its overrides compose;
otherwise it is printed as "ref only" with the paper's number. Run folders are read by ``dcl_runner.results``.
"""
from .dcl import PAPER_ATTRIBUTES, PAPER_LEVELS, celeba_name
from .dp import DP_FIG1_ROWS
from .model import Column, Row, SourcedRow, Table
from .names import NAMES, experiment
from .registry import ALL, REGISTRY, get, select
from .th import TH_PROTOCOLS, TH_TABLES, under_protocol

__all__ = [
    "ALL", "REGISTRY", "get", "select", "Column", "Row", "SourcedRow", "Table", "NAMES", "experiment",
    "PAPER_ATTRIBUTES", "PAPER_LEVELS", "celeba_name", "DP_FIG1_ROWS", "TH_PROTOCOLS", "TH_TABLES", "under_protocol",
]
