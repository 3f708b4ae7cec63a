"""Rebuild the tables and figures of the three seed papers, with the papers' numbers beside ours.

    python -m dcl_runner.tables --list                 # also: python scripts/reproduce_tables.py --list
    python -m dcl_runner.tables --table dcl.t4 --budget paper [--seeds 3] [--dry-run]
    python -m dcl_runner.tables --table dcl.t4 --collect-only
    python -m dcl_runner.tables --table all --budget smoke
    python -m dcl_runner.tables --table th.t1 --launcher joblib      # or submitit (SLURM)
    python -m dcl_runner.tables --table th.t1 --protocol own         # every row under the two-head protocol

Runs are launched through the real CLI (``python -m dcl_runner -m ...``), as few Hydra multiruns as cover
exactly the missing runs; a run whose identity (hash of resolved config and seed) already completed
anywhere under --output-root is skipped, an interrupted one is resumed in its folder, a failed one is
reported (--retry-failed starts it anew). Tables go to <output-root>/tables/ (Markdown, CSV, LaTeX, PNG).
Exit code: 0 when every runnable cell has all its seeds completed, 1 when some are missing, incomplete or
failed (the tables are written all the same), 2 for bad arguments. See docs/tables.md.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, List, Sequence

from .. import tables as registry

# the folder holding the dcl_runner package: the launched CLI processes import this same copy of it
PACKAGE_PARENT = Path(__file__).resolve().parents[2]
from ..results import load_records
from .report import FAILED, TableResult, collect_cell, index_runs, write_table
from .runs import (
    Composer, invocation_dir, launcher_overrides, method_registered, not_runnable, pack_sweeps, plan_cells, plan_launch, resolve_stage2,
    resume_command, search_dirs_of, show, split_extra, stage1_cells, sweep_command,
)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--list", action="store_true", help="every table / figure id, its rows, and which rows can run now")
    p.add_argument("--table", help="a table or figure id (see --list), several separated by commas, or 'all'")
    p.add_argument("--budget", choices=("paper", "smoke"), default="paper", help="budget=paper or budget=smoke runs")
    p.add_argument("--seeds", type=int, default=None,
                   help="seeds 0..N-1 per cell (default: the papers' runs per number, 3, with --budget paper; 1 with smoke)")
    p.add_argument("--retry-failed", action="store_true",
                   help="start failed runs anew (default: report them and leave them as they are)")
    p.add_argument("--dry-run", action="store_true", help="print the commands that would launch the missing runs")
    p.add_argument("--collect-only", action="store_true", help="aggregate whatever runs exist; launch nothing")
    p.add_argument("--launcher", default="basic", help="basic (sequential) | joblib (local parallel) | submitit (SLURM)")
    p.add_argument("--output-root", default="outputs", help="where runs live and are looked for (output_root)")
    p.add_argument("--out", default=None, help="where tables and figures go (default <output-root>/tables)")
    p.add_argument("--protocol", choices=registry.TH_PROTOCOLS, default="paper",
                   help="paper: each baseline row runs the protocol that produced its printed number (default); "
                        "own: every row of a two-head table runs the two-head paper's protocol (tables <id>-own)")
    p.add_argument("-o", "--override", action="append", default=[], metavar="KEY=VALUE",
                   help="an extra Hydra override for every run (repeatable), e.g. -o trainer.device=cuda:1")
    return p.parse_args(argv)


def list_tables(extra, protocol: str = "paper") -> None:
    dirs = search_dirs_of(extra)
    for table in registry.under_protocol(registry.ALL, protocol):
        print(f"{table.id}  [{table.kind}]  {table.title}\n    {table.setting}")
        for row in table.rows:
            states = set()
            for column in table.columns:
                if not method_registered(row.method) and not row.not_built:
                    states.add(f"ref only (method '{row.method}' not in the runner)")
                else:
                    reason = not_runnable(row, column, dirs)  # the row's config files, and its stage 1's
                    states.add(f"ref only ({reason.removeprefix('ref only: ')})" if reason else "runnable")
            if row.stage1 is not None and states == {"runnable"}:
                states = {f"runnable (two stages: after method={row.stage1.method})"}
            paper = ", ".join(f"{k}={v}" for k, v in row.paper.items()) or "plot"
            print(f"    - {row.label:<42} {' / '.join(sorted(states)) or 'no runs'}   paper: {paper}")
        if not table.rows:
            print("    (drawn from code, no runs)")
    print("\n'runnable' checks the method registry and the config files; composition is checked when a table is planned.")


def launch(cells, args, extra, out_dir: Path, composer: Composer) -> List[int]:
    """Launch what is missing, resume what was interrupted; the exit codes of the processes started.

    Two rounds: every single-stage run and every stage-1 run of a two-stage row first; then, with the stage-1 runs
    found by their identities, the stage-2 runs (``trainer.init_from=<stage-1 run folder>``). A stage-2 seed whose
    stage 1 failed or did not finish is not launched (its cell says why)."""
    created: List[Path] = []

    def runs_dir() -> Path:  # this invocation's folder, made when a round first launches something
        if not created:
            created.append(invocation_dir(Path(args.output_root) / "tables" / "runs", create=not args.dry_run))
        return created[0]

    two_stage = [c for c in cells if c.runnable and c.two_stage]
    first = [c for c in cells if not c.two_stage] + stage1_cells(two_stage)
    codes = launch_round(first, args, extra, out_dir, runs_dir, "", "stage-1 and single-stage runs" if two_stage else "")
    if two_stage:
        index = index_runs(load_records(args.output_root))
        resolve_stage2(two_stage, index["identity"], composer, args.budget, extra)
        waiting = len({(c.run_overrides, seed) for c in two_stage for seed in c.waiting})  # runs, not cells
        if waiting:
            print(f"{waiting} stage-2 run(s) wait for their stage-1 run (not completed" +
                  (", or not launched in a dry run)" if args.dry_run else ")"))
        codes += launch_round(two_stage, args, extra, out_dir, runs_dir, "stage2-", "stage-2 runs")
    return codes


def launch_round(cells, args, extra, out_dir: Path, runs_dir: Callable[[], Path], prefix: str, what: str) -> List[int]:
    """One round of ``launch``: plan against the runs that exist now, then start the commands one after another."""
    index = index_runs(load_records(args.output_root))
    plan = plan_launch(cells, index["identity"], args.retry_failed)
    sweeps = pack_sweeps(plan.fresh)
    print((f"{what}: " if what else "") +
          f"{plan.completed} runs already completed (skipped), {len(plan.fresh)} to launch in {len(sweeps)} Hydra "
          f"multirun(s), {len(plan.resume)} interrupted to resume, {len(plan.failed)} failed left as they are")
    for rec in plan.failed:
        print(f"    failed, not relaunched (--retry-failed starts it anew): {rec['run_dir']}: {rec.get('reason')}")
    for rec in plan.restarted:
        print(f"    started anew, {rec.get('status')} without a checkpoint to resume: {rec['run_dir']}")
    if not sweeps and not plan.resume:
        return []
    launcher = launcher_overrides(args.launcher)
    folder = runs_dir()
    log_dir = out_dir / "logs" / folder.name
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(PACKAGE_PARENT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    commands = [(f"{prefix}resume-{k:03d}", resume_command(run_dir, extra)) for k, run_dir in enumerate(plan.resume)]
    commands += [(f"{prefix}sweep-{k:03d}", sweep_command(sweep, args.budget, split_extra(extra)[0], args.output_root,
                                                           str(folder / f"{prefix}sweep-{k:03d}"), launcher))
                 for k, sweep in enumerate(sweeps)]
    codes = []
    for k, (name, command) in enumerate(commands):
        if args.dry_run:
            print(show(command))
            continue
        log_dir.mkdir(parents=True, exist_ok=True)
        log = log_dir / f"{name}.log"
        print(f"[{k + 1}/{len(commands)}] {show(command[3:])}", flush=True)
        started = time.time()
        with open(log, "x") as fh:  # never another invocation's log
            rc = subprocess.run(command, env=env, stdout=fh, stderr=subprocess.STDOUT).returncode
        codes.append(rc)
        status = "done" if rc == 0 else f"exit code {rc}: some runs failed, see {log}"
        print(f"    {time.time() - started:.0f} s, {status}", flush=True)
    return codes


def summary(results: Sequence[TableResult], codes: Sequence[int]) -> int:
    """Print one line on what is missing; the exit code (docs/tables.md): 0 every runnable cell has all its
    seeds completed, 1 a cell has missing, incomplete or failed runs (or a launched process failed)."""
    runnable = [res for tr in results for res in tr.cells if res.cell.runnable]
    failed = [res for res in runnable if res.count(FAILED)]
    unfinished = [res for res in runnable if not res.complete and not res.count(FAILED)]
    bad_codes = [rc for rc in codes if rc != 0]
    if not failed and not unfinished and not bad_codes:
        print(f"all {len(runnable)} runnable cells complete")
        return 0
    print(f"{len(runnable) - len(failed) - len(unfinished)} of {len(runnable)} runnable cells complete; "
          f"{len(failed)} with failed runs, {len(unfinished)} with missing or incomplete runs"
          + (f"; {len(bad_codes)} launched process(es) exited non-zero" if bad_codes else "") + ": exit code 1")
    return 1


def default_seeds(tables, budget: str) -> int:
    """The papers' runs per number (Table.paper_seeds) at paper budget; one run for a smoke check."""
    return max((t.paper_seeds for t in tables), default=1) if budget == "paper" else 1


def main(argv=None) -> int:
    args = parse_args(argv)
    extra = list(args.override)
    if args.list:
        list_tables(extra, args.protocol)
        return 0
    if not args.table:
        print("error: give --table ID (or --list to see the ids)", file=sys.stderr)
        return 2
    try:
        tables = registry.under_protocol(registry.select(args.table), args.protocol)
    except KeyError as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 2
    out_dir = Path(args.out or Path(args.output_root) / "tables")
    seeds = list(range(max(1, args.seeds if args.seeds is not None else default_seeds(tables, args.budget))))
    started = time.time()
    composer = Composer(out_dir / ".plan_cache.json", search_dirs_of(extra))
    cells = plan_cells(tables, args.budget, seeds, extra, composer)
    runnable = sum(c.runnable for c in cells)
    print(f"planned {len(cells)} cells of {len(tables)} table(s), {len(seeds)} seed(s) each: {runnable} runnable, "
          f"{len(cells) - runnable} ref only ({composer.calls} compositions, {time.time() - started:.1f} s)")
    stood_in = [c for c in cells if c.runnable and c.dropped]
    if stood_in:
        print(f"{len(stood_in)} cell(s) run on a smoke stand-in, without the dataset overrides meant for the real "
              f"dataset: {' '.join(stood_in[0].dropped)}")
    codes: List[int] = []
    if not args.collect_only:
        try:
            codes = launch(cells, args, extra, out_dir, composer)
        except SystemExit as exc:  # a launcher plugin that is not installed: its message, as a usage error
            if isinstance(exc.code, str):
                print(f"error: {exc.code}", file=sys.stderr)
                return 2
            raise
        if args.dry_run:
            return 0
    index = index_runs(load_records(args.output_root))
    resolve_stage2(cells, index["identity"], composer, args.budget, extra)  # two-stage cells: their runs by identity
    from . import figures as table_figures

    results = []
    for table in tables:
        mine = [c for c in cells if c.table.id == table.id]
        result = TableResult(table, [collect_cell(c, index) for c in mine], args.budget)
        results.append(result)
        if table.kind == "figure":
            path, reason = table_figures.draw(result, out_dir)
            print(f"## {table.id}: {table.title}\n" + (f"figure: {path}" if path else f"figure skipped: {reason}") + "\n")
        else:
            print(write_table(result, out_dir))
    print(f"tables and figures in {out_dir}/")
    return summary(results, codes)


if __name__ == "__main__":
    sys.exit(main())
