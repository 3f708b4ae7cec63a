"""Runs -> tables: aggregate each cell over its completed runs and render Markdown, CSV and LaTeX.

Every table has the columns Paper / Ours (mean ± std over seeds, n runs) / Δ (ours - paper) for each
of its columns, rows in the paper's order. Under each table: every missing or failed run with its
reason, and the rows that are reference numbers only. dcl.t2 also gets a per-attribute table with
each attribute's imbalance level.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from .results import STATUS_DONE, metric_value
from .table_runs import Cell
from .tables import PAPER_ATTRIBUTES, PAPER_LEVELS, Table, celeba_name


@dataclass
class CellResult:
    cell: Cell
    values: List[float] = field(default_factory=list)
    runs: List[Dict[str, Any]] = field(default_factory=list)      # completed runs used
    problems: List[str] = field(default_factory=list)             # "seed 0: failed: ..." lines

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> Optional[float]:
        return float(np.mean(self.values)) if self.values else None

    @property
    def std(self) -> Optional[float]:
        return float(np.std(self.values, ddof=1)) if len(self.values) > 1 else (0.0 if self.values else None)

    @property
    def delta(self) -> Optional[float]:
        paper = self.cell.paper
        if self.mean is None or not isinstance(paper, (int, float)):
            return None
        return self.mean - float(paper)


def index_runs(records: Sequence[Dict[str, Any]]) -> Dict[str, Dict[str, List[Dict[str, Any]]]]:
    """{"identity": {id: [runs newest first]}, "cell": {cell_key: [completed runs]}}."""
    by_id: Dict[str, List[Dict[str, Any]]] = {}
    by_cell: Dict[str, List[Dict[str, Any]]] = {}
    for rec in sorted(records, key=lambda r: r.get("mtime") or 0, reverse=True):
        if rec.get("identity"):
            by_id.setdefault(rec["identity"], []).append(rec)
        if rec.get("cell_key") and rec.get("status") == STATUS_DONE:
            by_cell.setdefault(rec["cell_key"], []).append(rec)
    return {"identity": by_id, "cell": by_cell}


def completed(index, identity: str) -> Optional[Dict[str, Any]]:
    return next((r for r in index["identity"].get(identity, []) if r.get("status") == STATUS_DONE), None)


def collect_cell(cell: Cell, index) -> CellResult:
    result = CellResult(cell)
    if not cell.runnable:
        return result
    seen_seeds = set()
    for rec in index["cell"].get(cell.cell_key, []):
        if rec.get("seed") in seen_seeds:
            continue  # the newest completed run of a seed counts once
        seen_seeds.add(rec.get("seed"))
        value = metric_value(rec, cell.column.metric, cell.column.at_epoch)
        if value is None:
            result.problems.append(f"seed {rec.get('seed')}: completed but has no metric '{cell.column.metric}' ({rec['run_dir']})")
            continue
        result.values.append(value)
        result.runs.append(rec)
    for seed, identity in cell.identities.items():
        if seed in seen_seeds:
            continue
        tried = index["identity"].get(identity, [])
        if tried:
            rec = tried[0]
            result.problems.append(f"seed {seed}: {rec.get('status')}: {rec.get('reason') or 'no reason recorded'} ({rec['run_dir']})")
        else:
            result.problems.append(f"seed {seed}: not run yet")
    return result


# ---------------------------------------------------------------------------------------------
# formatting
# ---------------------------------------------------------------------------------------------
def fmt(value: Optional[float], digits: int = 2) -> str:
    return "—" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def paper_text(result: CellResult, digits: int) -> str:
    paper = result.cell.paper
    if paper is None:
        return "—"
    if isinstance(paper, str):
        return paper
    std = result.cell.row.paper_std.get(result.cell.column.id)
    return f"{paper:.{digits}f}" + (f" ± {std:.2f}" if std is not None else "")


def ours_text(result: CellResult) -> str:
    if not result.cell.runnable:
        return "ref only"
    if not result.values:
        return "not run" if not any("failed" in p for p in result.problems) else "failed"
    mark = " †" if result.cell.substituted else ""
    return f"{result.mean:.2f} ± {result.std:.2f} (n={result.n}){mark}"


def delta_text(result: CellResult) -> str:
    d = result.delta
    return "" if d is None else f"{d:+.2f}"


@dataclass
class TableResult:
    table: Table
    cells: List[CellResult]
    budget: str

    def grid(self) -> List[List[CellResult]]:
        by_row: Dict[str, List[CellResult]] = {}
        for res in self.cells:
            by_row.setdefault(res.cell.row.label, []).append(res)
        return [by_row[r.label] for r in self.table.rows if r.label in by_row]

    @property
    def substituted(self) -> bool:
        return any(r.cell.substituted for r in self.cells)


def header_lines(tr: TableResult) -> List[str]:
    t = tr.table
    lines = [f"## {t.id}: {t.title}", "", f"Setting: {t.setting}. Budget: `{tr.budget}`."]
    if tr.budget == "smoke":
        lines.append("")
        lines.append("> **Smoke budget: a plumbing check, not results.** A few epochs on a few hundred images; "
                     "rows marked † ran on a synthetic stand-in dataset of the same task type and shape "
                     "because the paper's dataset is not on disk.")
    if t.note:
        lines += ["", t.note]
    return lines


def table_columns(t: Table) -> List[str]:
    if len(t.columns) == 1:
        return ["Paper", "Ours (mean ± std, n)", "Δ"]
    return [f"{c.label} {part}" for c in t.columns for part in ("Paper", "Ours", "Δ")]


def table_rows(tr: TableResult) -> List[List[str]]:
    digits = tr.table.paper_precision
    return [[row[0].cell.row.label] + [x for r in row for x in (paper_text(r, digits), ours_text(r), delta_text(r))]
            for row in tr.grid()]


def problem_lines(tr: TableResult) -> List[str]:
    out, refs = [], {}
    for res in tr.cells:
        where = f"{res.cell.row.label} / {res.cell.column.label}"
        if not res.cell.runnable:
            refs.setdefault(res.cell.row.label, res.cell.reason)
        for problem in res.problems:
            out.append(f"- {where}, {problem}")
    lines = []
    if out:
        lines += ["", "Missing or failed runs:", *out]
    if refs:
        lines += ["", "Reference rows (no run):", *(f"- {label}: {reason}" for label, reason in refs.items())]
    return lines


def markdown(tr: TableResult) -> str:
    head = ["Row", *table_columns(tr.table)]
    lines = header_lines(tr) + ["", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in table_rows(tr)]
    lines += problem_lines(tr)
    return "\n".join(lines) + "\n"


def csv_frame(tr: TableResult):
    import pandas as pd

    records = []
    for res in tr.cells:
        c = res.cell
        records.append({
            "table": tr.table.id, "row": c.row.label, "column": c.column.label, "method": c.row.method,
            "metric": c.column.metric, "paper": c.paper, "paper_std": c.row.paper_std.get(c.column.id),
            "ours_mean": res.mean, "ours_std": res.std, "n": res.n, "delta": res.delta,
            "status": "ref only" if not c.runnable else ("ok" if res.values else "missing"),
            "stand_in_dataset": c.substituted, "reason": c.reason or "; ".join(res.problems),
            "overrides": " ".join(c.run_overrides or c.overrides), "budget": tr.budget,
        })
    return pd.DataFrame.from_records(records)


_LATEX_ESCAPES = {"&": r"\&", "%": r"\%", "_": r"\_", "#": r"\#", "~": r"\textasciitilde{}", "±": r"$\pm$",
                  "Δ": r"$\Delta$", "β": r"$\beta$", ">": r"$>$", "<": r"$<$", "—": "--", "†": r"$^\dagger$"}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_ESCAPES.get(ch, ch) for ch in str(text))


def latex(tr: TableResult) -> str:
    head = ["Row", *table_columns(tr.table)]
    lines = [f"% {tr.table.id}: {tr.table.title} (budget {tr.budget})"]
    if tr.budget == "smoke":
        lines.append("% smoke budget: a plumbing check, not results")
    lines += [r"\begin{tabular}{l" + "r" * (len(head) - 1) + "}", r"\toprule",
              " & ".join(latex_escape(h) for h in head) + r" \\", r"\midrule"]
    lines += [" & ".join(latex_escape(x) for x in row) + r" \\" for row in table_rows(tr)]
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# dcl.t2 per attribute
# ---------------------------------------------------------------------------------------------
def per_attribute(tr: TableResult):
    """dcl.t2 by attribute (paper order, with the imbalance level): Paper / Ours / Δ per method."""
    import pandas as pd

    frame = pd.DataFrame({"Attribute": list(PAPER_ATTRIBUTES), "Imbalance level": list(PAPER_LEVELS)})
    for res in tr.cells:
        row = res.cell.row
        if row.per_attribute is None:
            continue
        frame[f"{row.label} Paper"] = list(row.per_attribute)
        if not res.cell.runnable:
            continue
        ours = []
        for name in PAPER_ATTRIBUTES:
            vals = [(r.get("metrics") or {}).get("per_attribute_mA", {}).get(celeba_name(name)) for r in res.runs]
            vals = [v for v in vals if v is not None]
            ours.append(float(np.mean(vals)) if vals else np.nan)
        frame[f"{row.label} Ours"] = ours
        frame[f"{row.label} Δ"] = frame[f"{row.label} Ours"] - frame[f"{row.label} Paper"]
    average = {"Attribute": "Average", "Imbalance level": np.nan}
    for col in frame.columns[2:]:
        average[col] = frame[col].mean()
    return pd.concat([frame, pd.DataFrame([average])], ignore_index=True)


def per_attribute_markdown(tr: TableResult, frame) -> str:
    lines = [f"## {tr.table.id} per attribute: mA (%) and imbalance level (majority rate - 50%)", ""]
    if tr.budget == "smoke":
        lines += ["> **Smoke budget: a plumbing check, not results.**", ""]
    head = list(frame.columns)
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for _, rec in frame.iterrows():
        cells = []
        for col in head:
            v = rec[col]
            if isinstance(v, str):
                cells.append(v)
            elif col == "Imbalance level":
                cells.append("" if np.isnan(v) else str(int(v)))
            elif col.endswith("Δ"):
                cells.append("" if np.isnan(v) else f"{v:+.2f}")
            else:
                cells.append(fmt(float(v)))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_table(tr: TableResult, out_dir: Path) -> str:
    """Write <id>.md / .csv / .tex (and dcl.t2's per-attribute files); return the Markdown."""
    out_dir.mkdir(parents=True, exist_ok=True)
    text = markdown(tr)
    (out_dir / f"{tr.table.id}.md").write_text(text)
    csv_frame(tr).to_csv(out_dir / f"{tr.table.id}.csv", index=False)
    (out_dir / f"{tr.table.id}.tex").write_text(latex(tr))
    if any(r.cell.row.per_attribute is not None for r in tr.cells):
        frame = per_attribute(tr)
        attr_md = per_attribute_markdown(tr, frame)
        (out_dir / f"{tr.table.id}_attributes.md").write_text(attr_md)
        frame.to_csv(out_dir / f"{tr.table.id}_attributes.csv", index=False)
        (out_dir / f"{tr.table.id}_attributes.tex").write_text(
            frame.to_latex(index=False, float_format="%.2f", na_rep="--").replace("Δ", r"$\Delta$"))
        text += "\n" + attr_md
    return text
