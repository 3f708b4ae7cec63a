"""Runs -> tables: aggregate each cell over its completed runs and render Markdown, CSV and LaTeX.

Every table has the columns Paper / Ours (mean ± std over seeds, n runs) / Δ (ours - paper) for each
of its columns, rows in the paper's order. Only ``completed`` runs are averaged; a seed that failed, is
incomplete or was never run is counted in its cell and listed under the table (failed ones as notes [k]
with their reason). Markers: † smoke stand-in dataset (no Δ), ‡ fewer seeds than the paper. Smoke tables
say "plumbing check, not results" in every file. dcl.t2 also gets a per-attribute table with each
attribute's imbalance level. docs/tables.md shows every cell form.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from ..io import atomic_write_text
from ..results import STATUS_DONE, metric_reading
from .runs import Cell
from .dcl import PAPER_ATTRIBUTES, PAPER_LEVELS, celeba_name
from .model import Table


# what a seed of a cell can be, besides a completed run with its number
FAILED = "failed"          # the run stopped with an error (or its number is unusable): never a number, reason in a note
INCOMPLETE = "incomplete"  # interrupted, still running, killed, unreadable: never a number
MISSING = "not run"        # no run folder with this identity
SMOKE_BANNER = "smoke budget: a plumbing check, not results"


@dataclass
class Problem:
    """A requested seed of a cell that gives no number: its kind (FAILED / INCOMPLETE / MISSING) and why."""

    kind: str
    text: str  # "seed 2: failed: <reason> (<run folder>)"


@dataclass
class CellResult:
    cell: Cell
    values: List[float] = field(default_factory=list)
    runs: List[Dict[str, Any]] = field(default_factory=list)      # completed runs used
    problems: List[Problem] = field(default_factory=list)
    final_epochs: List[Optional[int]] = field(default_factory=list)  # runs read at their final epoch, not at_epoch

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> Optional[float]:
        return float(np.mean(self.values)) if self.values else None

    @property
    def std(self) -> Optional[float]:
        """Sample std over seeds; None for one run (a single run has no spread to show)."""
        return float(np.std(self.values, ddof=1)) if len(self.values) > 1 else None

    @property
    def delta(self) -> Optional[float]:
        """Ours - paper; None on a smoke stand-in dataset (another dataset: no comparison)."""
        paper = self.cell.paper
        if self.mean is None or self.cell.substituted or not isinstance(paper, (int, float)):
            return None
        return self.mean - float(paper)

    @property
    def few_seeds(self) -> bool:
        """Fewer completed seeds than the paper's runs per number (Table.paper_seeds)."""
        return 0 < self.n < self.cell.table.paper_seeds

    def count(self, kind: str) -> int:
        return sum(p.kind == kind for p in self.problems)

    @property
    def complete(self) -> bool:
        """Every requested seed completed with its number (ref-only cells are not runs, so never incomplete)."""
        return not self.cell.runnable or not self.problems

    @property
    def status(self) -> str:
        """ref only | ok | partial (some seeds give no number) | failed | incomplete | not run."""
        if not self.cell.runnable:
            return "ref only"
        if not self.problems:
            return "ok" if self.values else MISSING
        if self.values:
            return "partial"
        return next((k for k in (FAILED, INCOMPLETE) if self.count(k)), MISSING)


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


def collect_cell(cell: Cell, index) -> CellResult:
    """Aggregate the newest completed run of every seed; every requested seed without a number is a Problem."""
    result = CellResult(cell)
    if not cell.runnable:
        return result
    seen_seeds = set()
    if cell.cell_key is None:  # a two-stage cell: each seed's run has its own identity (its stage-1 folder)
        completed = [r for i in cell.identities.values() for r in index["identity"].get(i, []) if r.get("status") == STATUS_DONE]
    else:
        completed = index["cell"].get(cell.cell_key, [])
    for rec in completed:
        seed = rec.get("seed")
        if seed in seen_seeds:
            continue  # the newest completed run of a seed counts once
        seen_seeds.add(seed)
        value, where = metric_reading(rec, cell.column.metric, cell.column.at_epoch)
        if value is None:
            result.problems.append(Problem(FAILED, f"seed {seed}: completed but has no metric '{cell.column.metric}' ({rec['run_dir']})"))
        elif not math.isfinite(value):
            result.problems.append(Problem(FAILED, f"seed {seed}: completed but its '{cell.column.metric}' is {value}: "
                                                   f"the run diverged ({rec['run_dir']})"))
        else:
            result.values.append(value)
            result.runs.append(rec)
            if cell.column.at_epoch is not None and where == "final":
                result.final_epochs.append(rec.get("epochs_completed"))
    for seed, identity in cell.identities.items():
        if seed in seen_seeds:
            continue
        tried = index["identity"].get(identity, [])
        if not tried:
            result.problems.append(Problem(MISSING, f"seed {seed}: not run yet"))
            continue
        rec = tried[0]
        kind = FAILED if rec.get("status") == "failed" else INCOMPLETE
        result.problems.append(Problem(kind, f"seed {seed}: {rec.get('status')}: {rec.get('reason') or 'no reason recorded'} ({rec['run_dir']})"))
    for seed, (status, text) in cell.waiting.items():  # a stage-2 seed whose stage-1 run has not completed
        kind = FAILED if status == "failed" else MISSING if status == "not run" else INCOMPLETE
        result.problems.append(Problem(kind, f"seed {seed}: {text}"))
    return result


# ---------------------------------------------------------------------------------------------
# formatting
# ---------------------------------------------------------------------------------------------
STAND_IN_MARK, FEW_SEEDS_MARK = "†", "‡"


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


def epoch_text(result: CellResult) -> str:
    """', read at final epoch E, not 84' when runs had no record at the column's epoch (e.g. shorter runs)."""
    at, finals = result.cell.column.at_epoch, result.final_epochs
    if not finals:
        return ""
    if len(finals) < result.n:
        return f", {len(finals)} read at final epoch, not {at}"
    same = len(set(finals)) == 1 and finals[0] is not None
    return f", read at final epoch{f' {finals[0]}' if same else ''}, not {at}"


def ours_text(result: CellResult, note: Optional[int] = None) -> str:
    """'71.00 ± 1.41 (n=2) ‡' / '71.00 (n=1)' / 'failed [1]' / 'incomplete' / 'not run' / 'ref only'.

    Only completed runs give numbers; seeds that failed or are incomplete are counted beside them."""
    if not result.cell.runnable:
        return "ref only"
    tag = f" [{note}]" if note is not None else ""
    if not result.values:
        return result.status + (tag if result.count(FAILED) else "")
    spread = f" ± {result.std:.2f}" if result.std is not None else ""
    text = f"{result.mean:.2f}{spread} (n={result.n}{epoch_text(result)})"
    marks = (STAND_IN_MARK if result.cell.substituted else "") + (FEW_SEEDS_MARK if result.few_seeds else "")
    text += f" {marks}" if marks else ""
    others = [f"{result.count(kind)} {kind}" + (tag if kind == FAILED else "") for kind in (FAILED, INCOMPLETE) if result.count(kind)]
    return text + ("; " + ", ".join(others) if others else "")


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

    def notes(self) -> Dict[int, int]:
        """Footnote numbers of the cells with failed seeds, in reading order: {id(cell result): k}."""
        failed = [res for row in self.grid() for res in row if res.count(FAILED)]
        return {id(res): k for k, res in enumerate(failed, start=1)}


def where(res: CellResult) -> str:
    return f"{res.cell.row.label} / {res.cell.column.label}"


def header_lines(tr: TableResult) -> List[str]:
    t = tr.table
    lines = [f"## {t.id}: {t.title}", "", f"Setting: {t.setting}. Budget: `{tr.budget}`."]
    if tr.budget == "smoke":
        lines.append("")
        lines.append(f"> **{SMOKE_BANNER.capitalize()}.** A few epochs on a few hundred images; "
                     f"rows marked {STAND_IN_MARK} ran on a synthetic stand-in dataset of the same task type and shape "
                     "because the paper's dataset is not on disk.")
    if t.note:
        lines += ["", t.note]
    return lines


def legend_lines(tr: TableResult) -> List[str]:
    """One line per marker or state the table shows."""
    lines = []
    if tr.substituted:
        lines.append(f"{STAND_IN_MARK} ran on a synthetic stand-in dataset (the paper's is not on disk): no Δ to the paper.")
    if any(res.few_seeds for res in tr.cells):
        lines.append(f"{FEW_SEEDS_MARK} fewer completed seeds than the paper's {tr.table.paper_seeds} runs per number "
                     "(n = completed runs; ± = sample std, shown from n = 2).")
    if any(res.count(FAILED) for res in tr.cells):
        lines.append("failed [k]: a run stopped with an error or gave no usable number; its reason is note [k]. "
                     "Failed runs are never averaged.")
    if any(res.count(INCOMPLETE) for res in tr.cells):
        lines.append("incomplete: a run was interrupted or is still running (the script resumes interrupted runs); "
                     "never averaged.")
    if any(res.status == MISSING or res.count(MISSING) for res in tr.cells):
        lines.append("not run: no run of this cell (or seed) exists yet.")
    return lines


def note_lines(tr: TableResult) -> List[str]:
    """'[k] Row / Column, seed s: failed: <reason> (<folder>)' for every failed seed."""
    notes = tr.notes()
    return [f"[{notes[id(res)]}] {where(res)}, {p.text}" for row in tr.grid() for res in row
            for p in res.problems if p.kind == FAILED]


def table_columns(t: Table) -> List[str]:
    if len(t.columns) == 1:
        return ["Paper", "Ours (mean ± std, n)", "Δ"]
    return [f"{c.label} {part}" for c in t.columns for part in ("Paper", "Ours", "Δ")]


def table_rows(tr: TableResult) -> List[List[str]]:
    digits, notes = tr.table.paper_precision, tr.notes()
    return [[row[0].cell.row.label] + [x for r in row for x in (paper_text(r, digits), ours_text(r, notes.get(id(r))), delta_text(r))]
            for row in tr.grid()]


def problem_lines(tr: TableResult) -> List[str]:
    unfinished, refs = [], {}
    for res in tr.cells:
        if not res.cell.runnable:
            refs.setdefault(res.cell.row.label, res.cell.reason)
        unfinished += [f"- {where(res)}, {p.text}" for p in res.problems if p.kind != FAILED]
    lines = []
    failed = note_lines(tr)
    if failed:
        lines += ["", "Failed runs (never averaged):", *(f"- {line}" for line in failed)]
    if unfinished:
        lines += ["", "Missing or incomplete runs:", *unfinished]
    if refs:
        lines += ["", "Reference rows (no run):", *(f"- {label}: {reason}" for label, reason in refs.items())]
    return lines


def markdown(tr: TableResult) -> str:
    head = ["Row", *table_columns(tr.table)]
    lines = header_lines(tr) + ["", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in table_rows(tr)]
    legend = legend_lines(tr)
    if legend:
        lines += ["", *legend]
    lines += problem_lines(tr)
    return "\n".join(lines) + "\n"


def caveats(res: CellResult, budget: str) -> str:
    """What a reader of the CSV must know about this cell's number, '; '-separated."""
    out = [SMOKE_BANNER] if budget == "smoke" else []
    if res.cell.substituted:
        out.append(f"ran on the stand-in dataset {res.cell.substituted}, not the paper's: no delta")
    if res.few_seeds:
        out.append(f"fewer seeds than the paper's {res.cell.table.paper_seeds}")
    if res.final_epochs:
        out.append(f"{len(res.final_epochs)} of {res.n} runs read at their final epoch, not epoch {res.cell.column.at_epoch}")
    return "; ".join(out)


def csv_frame(tr: TableResult):
    import pandas as pd

    records = []
    for res in tr.cells:
        c = res.cell
        records.append({
            "table": tr.table.id, "row": c.row.label, "column": c.column.label, "method": c.row.method,
            "metric": c.column.metric, "paper": c.paper, "paper_std": c.row.paper_std.get(c.column.id),
            "ours_mean": res.mean, "ours_std": res.std, "n": res.n, "delta": res.delta,
            "status": res.status, "failed": res.count(FAILED), "incomplete": res.count(INCOMPLETE),
            "not_run": res.count(MISSING), "caveats": caveats(res, tr.budget),
            "stand_in_dataset": c.substituted, "reason": c.reason or "; ".join(p.text for p in res.problems),
            "overrides": " ".join(c.run_overrides or c.overrides), "budget": tr.budget,
        })
    return pd.DataFrame.from_records(records)


_LATEX_ESCAPES = {"&": r"\&", "%": r"\%", "_": r"\_", "#": r"\#", "~": r"\textasciitilde{}", "±": r"$\pm$",
                  "Δ": r"$\Delta$", "β": r"$\beta$", ">": r"$>$", "<": r"$<$", "—": "--", "†": r"$^\dagger$",
                  "‡": r"$^\ddagger$", "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$",
                  "^": r"\textasciicircum{}"}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_ESCAPES.get(ch, ch) for ch in str(text))


def latex_line(text: str, width: int, bold: bool = False) -> str:
    """A full-width line inside the tabular (printed when compiled, unlike a % comment)."""
    body = (r"\textbf{%s}" if bold else r"\footnotesize %s") % latex_escape(text)
    return r"\multicolumn{%d}{l}{%s} \\" % (width, body)


def latex(tr: TableResult) -> str:
    head = ["Row", *table_columns(tr.table)]
    width = len(head)
    lines = [f"% {tr.table.id}: {tr.table.title} (budget {tr.budget})", r"\begin{tabular}{l" + "r" * (width - 1) + "}",
             r"\toprule"]
    if tr.budget == "smoke":
        lines += [latex_line(SMOKE_BANNER.capitalize(), width, bold=True), r"\midrule"]
    lines += [" & ".join(latex_escape(h) for h in head) + r" \\", r"\midrule"]
    lines += [" & ".join(latex_escape(x) for x in row) + r" \\" for row in table_rows(tr)]
    lines.append(r"\bottomrule")
    lines += [latex_line(text, width) for text in (*legend_lines(tr), *note_lines(tr))]
    lines.append(r"\end{tabular}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# dcl.t2 per attribute
# ---------------------------------------------------------------------------------------------
def per_attribute(tr: TableResult):
    """dcl.t2 by attribute (paper order, with the imbalance level): Paper / Ours / Δ per method.

    The "Average" row is the paper's printed average (``row.paper["mA"]``, e.g. 81.48: the mean of the unrounded
    values) and ours the cell's mean mA, not means of the rounded per-attribute values. No Δ on a stand-in."""
    import pandas as pd

    frame = pd.DataFrame({"Attribute": list(PAPER_ATTRIBUTES), "Imbalance level": list(PAPER_LEVELS)})
    average: Dict[str, Any] = {"Attribute": "Average", "Imbalance level": np.nan}
    for res in tr.cells:
        row = res.cell.row
        if row.per_attribute is None:
            continue
        frame[f"{row.label} Paper"] = list(row.per_attribute)
        average[f"{row.label} Paper"] = float(row.paper[res.cell.column.id])
        if not res.cell.runnable:
            continue
        ours = []
        for name in PAPER_ATTRIBUTES:
            vals = [(r.get("metrics") or {}).get("per_attribute_mA", {}).get(celeba_name(name)) for r in res.runs]
            vals = [v for v in vals if v is not None]
            ours.append(float(np.mean(vals)) if vals else np.nan)
        frame[f"{row.label} Ours"] = ours
        average[f"{row.label} Ours"] = np.nan if res.mean is None else res.mean
        if not res.cell.substituted:
            frame[f"{row.label} Δ"] = frame[f"{row.label} Ours"] - frame[f"{row.label} Paper"]
            average[f"{row.label} Δ"] = average[f"{row.label} Ours"] - average[f"{row.label} Paper"]
    return pd.concat([frame, pd.DataFrame([average])], ignore_index=True)


def per_attribute_markdown(tr: TableResult, frame) -> str:
    lines = [f"## {tr.table.id} per attribute: mA (%) and imbalance level (majority rate - 50%)", ""]
    if tr.budget == "smoke":
        lines += [f"> **{SMOKE_BANNER.capitalize()}.** Methods on a synthetic stand-in ({STAND_IN_MARK}) have no Δ.", ""]
    lines.append("Average: the paper's printed average (of its unrounded values) and our mean mA over seeds.")
    lines.append("")
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


def per_attribute_latex(tr: TableResult, frame) -> str:
    tex = frame.to_latex(index=False, float_format="%.2f", na_rep="--").replace("Δ", r"$\Delta$")
    if tr.budget != "smoke":
        return tex
    first, _, rest = tex.partition("\n")  # \begin{tabular}{...}, then \toprule
    banner = latex_line(SMOKE_BANNER.capitalize(), len(frame.columns), bold=True)
    return "\n".join([first, r"\toprule", banner, r"\midrule", rest.replace("\\toprule\n", "", 1)])


def write_table(tr: TableResult, out_dir: Path) -> str:
    """Write <id>.md / .csv / .tex (and dcl.t2's per-attribute files); return the Markdown.

    Each file is written whole (temporary file, then rename): two invocations never leave a mixed file."""
    out_dir.mkdir(parents=True, exist_ok=True)
    text = markdown(tr)
    atomic_write_text(out_dir / f"{tr.table.id}.md", text)
    atomic_write_text(out_dir / f"{tr.table.id}.csv", csv_frame(tr).to_csv(index=False))
    atomic_write_text(out_dir / f"{tr.table.id}.tex", latex(tr))
    if any(r.cell.row.per_attribute is not None for r in tr.cells):
        frame = per_attribute(tr)
        attr_md = per_attribute_markdown(tr, frame)
        atomic_write_text(out_dir / f"{tr.table.id}_attributes.md", attr_md)
        csv = frame.assign(caveats=SMOKE_BANNER) if tr.budget == "smoke" else frame
        atomic_write_text(out_dir / f"{tr.table.id}_attributes.csv", csv.to_csv(index=False))
        atomic_write_text(out_dir / f"{tr.table.id}_attributes.tex", per_attribute_latex(tr, frame))
        text += "\n" + attr_md
    return text
