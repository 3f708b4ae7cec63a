"""``python -m dcl_runner.results [ROOT ...]`` (also ``dcl-runner results ...``): the runs under one or more
folders as a table, filtered on any config key, grouped with mean ± std over seeds, plotted, or written as CSV.

    python -m dcl_runner.results outputs
    python -m dcl_runner.results outputs --where method=dcl dataset=celeba trainer.optimizer.lr=0.003
    python -m dcl_runner.results outputs --group-by method dataset           # mean ± std of the headline metric
    python -m dcl_runner.results outputs --where method=ce,dcl --plot mA --out mA.png
    python -m dcl_runner.results outputs --csv runs.csv

Built on ``dcl_runner.results`` (one record per run folder, never raising on a partial run). Only completed
runs carry a metric; the others show their status and reason and never enter a mean.
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import yaml

from .config import GROUPS
from .results import STATUS_DONE, load_history, load_records

COLUMNS = ("status", "method", "dataset", "backbone", "seed", "metric", "value", "epochs", "wall_time_s", "run_dir")


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m dcl_runner.results", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("roots", nargs="*", default=["outputs"], help="folders holding run folders (default: outputs)")
    p.add_argument("--where", nargs="+", default=[], metavar="KEY=VALUE",
                   help="keep runs whose config has KEY=VALUE (a group name matches its choice or .name; "
                        "VALUE may list alternatives a,b; status=... and seed=... work too)")
    p.add_argument("--metric", default=None, help="the metric to show (default: each run's headline, mA or top1)")
    p.add_argument("--group-by", nargs="+", default=None, metavar="KEY",
                   help="mean ± std (and n) of the metric over the completed runs of each group")
    p.add_argument("--plot", default=None, metavar="COLUMN", help="draw a history.csv column over epochs, one line per run")
    p.add_argument("--out", default=None, help="where --plot writes its PNG (default results_<COLUMN>.png)")
    p.add_argument("--csv", default=None, help="also write the table as CSV here")
    return p.parse_args(argv)


def config_value(record: Dict[str, Any], key: str) -> Any:
    """A run's value for KEY: status / seed, a group's choice (or its .name), or a dotted config key."""
    if key in ("status", "seed", "run_dir"):
        return record.get(key)
    config = record.get("config") or {}
    if key in GROUPS:
        choice = record.get(f"choice.{key}")
        return choice if choice is not None else (config.get(key) or {}).get("name")
    node: Any = config
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def matches(record: Dict[str, Any], condition: str) -> bool:
    key, sep, wanted = condition.partition("=")
    if not sep:
        raise SystemExit(f"--where {condition}: expected KEY=VALUE")
    got = config_value(record, key)
    if key in GROUPS:  # a group matches its option name or the config's .name
        names = {str(got), str(((record.get("config") or {}).get(key) or {}).get("name"))}
        return bool(names & set(wanted.split(",")))
    return any(_same(got, yaml.safe_load(alt)) for alt in wanted.split(","))


def _same(got: Any, wanted: Any) -> bool:
    if isinstance(got, (int, float)) and isinstance(wanted, (int, float)) and not isinstance(got, bool):
        return math.isclose(float(got), float(wanted), rel_tol=1e-9)
    return got == wanted or str(got) == str(wanted)


def metric_of(record: Dict[str, Any], metric: Optional[str]) -> tuple:
    """(name, value) of the run's metric; value None unless the run completed with a finite number."""
    name = metric or record.get("headline") or "top1"
    value = (record.get("metrics") or {}).get(name)
    ok = record.get("status") == STATUS_DONE and isinstance(value, (int, float)) and value == value
    return name, float(value) if ok else None


def table(records: List[Dict[str, Any]], metric: Optional[str]):
    import pandas as pd

    rows = []
    for r in records:
        name, value = metric_of(r, metric)
        rows.append({
            "status": r.get("status"), "method": config_value(r, "method"), "dataset": config_value(r, "dataset"),
            "backbone": config_value(r, "backbone"), "seed": r.get("seed"), "metric": name, "value": value,
            "epochs": f"{r.get('epochs_completed', '')}/{r.get('epochs', '')}", "wall_time_s": r.get("wall_time_s"),
            "run_dir": r["run_dir"], "reason": r.get("reason") if r.get("status") != STATUS_DONE else None,
        })
    return pd.DataFrame(rows, columns=[*COLUMNS, "reason"])


def grouped(records: List[Dict[str, Any]], keys: Sequence[str], metric: Optional[str]):
    """Mean ± std (sample std, n-1) and n of the metric over the completed runs of each group."""
    import pandas as pd

    rows = []
    for r in records:
        name, value = metric_of(r, metric)
        rows.append({**{k: str(config_value(r, k)) for k in keys}, "metric": name, "value": value, "status": r.get("status")})
    frame = pd.DataFrame(rows)
    out = []
    for group, part in frame.groupby([*keys, "metric"], dropna=False, sort=True):
        values = part["value"].dropna()
        out.append({**dict(zip([*keys, "metric"], group)), "mean": values.mean() if len(values) else None,
                    "std": values.std(ddof=1) if len(values) > 1 else None, "n": len(values),
                    "not_completed": int((part["status"] != STATUS_DONE).sum())})
    return pd.DataFrame(out)


def plot(records: List[Dict[str, Any]], column: str, out: Path) -> int:
    """One line per run of ``column`` over epochs; returns how many runs had it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    drawn = 0
    for r in records:
        history = load_history(r["run_dir"])
        if column in history.columns:
            label = f"{config_value(r, 'method')} / {config_value(r, 'dataset')} seed {r.get('seed')} ({Path(r['run_dir']).name})"
            ax.plot(history["epoch"], history[column], marker="o", markersize=3, label=label)
            drawn += 1
    ax.set_xlabel("epoch")
    ax.set_ylabel(column)
    if drawn:
        ax.legend(fontsize=6)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return drawn


def main(argv: Optional[Sequence[str]] = None) -> int:
    import pandas as pd

    args = parse_args(argv)
    missing = [r for r in args.roots if not Path(r).is_dir()]
    if missing:
        print(f"error: no such folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    records = [r for r in load_records(args.roots) if all(matches(r, c) for c in args.where)]
    if not records:
        print(f"no runs under {', '.join(args.roots)}" + (f" with {' '.join(args.where)}" if args.where else ""))
        return 0
    frame = grouped(records, args.group_by, args.metric) if args.group_by else table(records, args.metric)
    with pd.option_context("display.max_rows", None, "display.max_columns", None, "display.width", 200,
                           "display.max_colwidth", 80, "display.float_format", "{:.2f}".format):
        print(frame.to_string(index=False))
    if args.csv:
        frame.to_csv(args.csv, index=False)
        print(f"wrote {args.csv}")
    if args.plot:
        out = Path(args.out or f"results_{args.plot}.png")
        drawn = plot(records, args.plot, out)
        print(f"wrote {out} ({drawn} runs with a '{args.plot}' column)")
    return 0
