"""The paper-table registry, run identities, collection and the reproduce_tables.py script."""
from __future__ import annotations

import json
import re
import shlex
import sys
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

from dcl_runner import tables as T
from dcl_runner.data.celeba_attributes import ATTRIBUTE_NAMES, IMBALANCE_LEVEL
from dcl_runner.config import run_identity
from dcl_runner.results import load_run, load_runs
from dcl_runner.tables.runs import dedupe, pack_sweeps
from helpers import REPO_ROOT, compose

from dcl_runner.tables import __main__ as reproduce_tables  # noqa: E402 - the script's main

SHARED = REPO_ROOT.parent / "shared"
SEEDS = SHARED / "seeds"


def _seed(prefix: str) -> str:
    found = sorted(SEEDS.glob(f"{prefix}_*.txt")) if SEEDS.exists() else []
    if not found:
        pytest.skip(f"seed paper {prefix} not found under {SEEDS}")
    return found[0].read_text()


# ---------------------------------------------------------------------------------------------
# registry
# ---------------------------------------------------------------------------------------------
def test_registry_covers_every_id_of_tables_md():
    path = SHARED / "TABLES.md"
    if not path.exists():
        pytest.skip("../shared/TABLES.md not found")
    ids = set(re.findall(r"^\| ((?:dcl|dp|th)\.[a-z0-9]+) \|", path.read_text(), flags=re.M))
    assert len(ids) >= 20
    assert ids == set(T.REGISTRY)


def test_docs_name_every_table_and_experiment():
    doc = (REPO_ROOT / "docs" / "tables.md").read_text()
    for table_id in T.REGISTRY:
        assert f"`{table_id}`" in doc
    for name in T.NAMES["experiment"].values():
        assert f"`{name}`" in doc


def test_dcl_t2_per_attribute_values_average_to_the_seed_totals():
    for row in T.get("dcl.t2").rows:
        assert len(row.per_attribute) == 40
        assert abs(np.mean(row.per_attribute) - row.paper["mA"]) < 0.015, row.label  # one unit off = 0.025


def test_dcl_t2_attribute_names_and_levels_match_the_dataset():
    names = [T.celeba_name(a) for a in T.PAPER_ATTRIBUTES]
    assert sorted(names) == sorted(ATTRIBUTE_NAMES)
    assert [IMBALANCE_LEVEL[n] for n in names] == list(T.PAPER_LEVELS)


def test_dcl_t2_matches_the_seed_text():
    lines = _seed("002").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("\tAttractive"))
    values = {}
    for block in (lines[start:start + 11], lines[start + 11:start + 22]):
        width = len([h for h in block[0].split("\t")[1:] if h and h != "Average"])
        for line in block[2:]:
            parts = line.split("\t")
            values.setdefault(parts[0], []).extend(int(re.sub("<[^>]+>", "", x)) for x in parts[1:1 + width])
            if parts[-1].strip():
                values[parts[0] + " avg"] = float(parts[-1])
    for row, (label, vals) in zip(T.get("dcl.t2").rows, [(k, v) for k, v in values.items() if not k.endswith(" avg")]):
        assert tuple(vals) == row.per_attribute, (row.label, label)
        assert values[label + " avg"] == row.paper["mA"]


def test_two_head_tables_match_the_seed_text():
    text = _seed("004")
    for table_id, skip in (("th.t1", 2), ("th.t2", 0), ("th.t3", 0), ("th.t5", 0)):
        table = T.get(table_id)
        for row in table.rows:
            pattern = rf"^(?:Single|Hybrid)?\t{re.escape(row.label)}\t" if table_id == "th.t1" else rf"^{re.escape(row.label)}\t"
            lines = [line for line in text.splitlines() if re.match(pattern, line)]
            numbers = [[float(x) for x in re.findall(r"\d+\.\d+", line)] for line in lines]
            expected = [row.paper[c.id] for c in table.columns]
            assert expected in numbers, (table_id, row.label, numbers)


def test_cross_table_and_text_consistency():
    t2 = {r.label: r.paper["mA"] for r in T.get("dcl.t2").rows}
    t3 = [r.paper["mA"] for r in T.get("dcl.t3").rows]
    t4 = [r.paper["mA"] for r in T.get("dcl.t4").rows]
    assert t3[0] == t4[0] == t2["DeepID2 (CE)"] and t3[3] == t2["DCL"] and t4[1] == t3[1]
    # DCL sec. 4.3.2: DCL beats SL by 3.12, CRL-I by 2.45, LMLE by 5.22, CLMLE by 0.27
    for label, gain in (("Selective-Learning", 3.12), ("CRL-I", 2.45), ("LMLE", 5.22), ("CLMLE", 0.27)):
        assert t2["DCL"] - t2[label] == pytest.approx(gain, abs=1e-6)
    t6 = T.get("dcl.t6")
    gains = [t6.rows[1].paper[c.id] - t6.rows[0].paper[c.id] for c in t6.columns]
    assert gains == pytest.approx([3.8, 15.0, 17.5])  # DCL sec. 4.4.3
    t7 = [r.paper["top1"] for r in T.get("dcl.t7").rows]
    assert t7[1] - t7[0] == pytest.approx(1.2) and t7[2] - t7[0] == pytest.approx(3.4)
    dp2 = T.get("dp.t2")
    gain = {c: dp2.row("Data params (instance)").paper[c] - dp2.row("MentorNet PD").paper[c] for c in ("cifar10", "cifar100")}
    assert gain["cifar10"] == pytest.approx(14.5) and round(gain["cifar100"]) == 14  # DP sec. 3.4
    th1, th2, th4 = T.get("th.t1"), T.get("th.t2"), T.get("th.t4")
    for ablation, source in (("none (CE)", "CE"), ("FBH + CDH", "Ours")):
        row = th4.row(ablation).paper
        for r in (100, 50, 10):
            assert row[f"c100_{r}"] == th1.row(source).paper[f"c100_{r}"]
            assert row[f"tiny_{r}"] == th2.row(source).paper[f"tiny_{r}"]


def test_every_row_names_a_method_and_every_figure_a_drawer():
    from dcl_runner.tables.figures import DRAWERS

    for table in T.ALL:
        assert all(re.fullmatch(r"[a-z0-9_]+", row.method) for row in table.rows)
        if table.kind == "figure":
            assert table.id in DRAWERS


# ---------------------------------------------------------------------------------------------
# sweeps and identities
# ---------------------------------------------------------------------------------------------
def _expand(sweep):
    import itertools

    keys = [s.partition("=")[0] for s in sweep]
    values = [s.partition("=")[2].split(",") for s in sweep]
    return {tuple(f"{k}={v}" for k, v in zip(keys, combo)) for combo in itertools.product(*values)}


def test_pack_sweeps_covers_exactly_the_jobs():
    jobs = [((f"experiment={e}", f"dataset.imbalance_ratio={r}", f"method={m}"), s)
            for e in ("a", "b") for r in (100, 50, 10) for m in ("ce", "focal") for s in (0, 1)]
    jobs = [j for j in jobs if not (j[0][0] == "experiment=b" and j[1] == 1 and j[0][2] == "method=focal")]
    sweeps = pack_sweeps(jobs)
    covered = [combo for sweep in sweeps for combo in _expand(sweep)]
    assert len(covered) == len(set(covered)) == len(jobs)
    assert set(covered) == {(*o, f"seed={s}") for o, s in jobs}
    assert len(sweeps) <= 3


def test_dedupe_keeps_the_last_value_per_key():
    assert dedupe(["a=1", "b=2", "a=3"]) == ["a=3", "b=2"]


def test_identity_ignores_paths_and_runtime_switches_but_not_the_seed():
    base = compose(["budget=smoke"])
    moved = compose(["budget=smoke", "output_root=/elsewhere", "data_root=/data2", "trainer.device=cpu", "trainer.num_workers=5"])
    assert run_identity(base) == run_identity(moved)
    assert run_identity(base) != run_identity(compose(["budget=smoke", "seed=1"]))
    assert run_identity(base) != run_identity(compose(["budget=smoke", "trainer.optimizer.lr=0.1"]))


# ---------------------------------------------------------------------------------------------
# the script on the real experiments and fabricated run folders
# ---------------------------------------------------------------------------------------------
def _fabricate(root: Path, overrides, seed: int, status: str, metrics=None, reason=None, name=None, checkpoint=False, **fields):
    cfg = compose([*overrides, f"seed={seed}"])
    run = root / "runs" / (name or f"{abs(hash((tuple(overrides), seed, status)))}")
    (run / ".hydra").mkdir(parents=True)
    OmegaConf.save(cfg, run / ".hydra" / "config.yaml")
    if status != "incomplete":
        record = {"status": status, "reason": reason, "seed": seed, "metrics": metrics or {}, "metrics_at_epoch": {}, **fields}
        (run / "metrics.json").write_text(json.dumps(record))
    if checkpoint:
        (run / "checkpoints").mkdir()
        (run / "checkpoints" / "last.pt").write_bytes(b"a checkpoint")
    return run


def _run_script(args, capsys):
    rc = reproduce_tables.main(args)
    return rc, capsys.readouterr().out


def test_list_names_every_table(capsys):
    rc, out = _run_script(["--list"], capsys)
    assert rc == 0
    for table_id in T.REGISTRY:
        assert table_id in out
    two_head = out[out.index("th.t1  [table]"):out.index("th.fig3")]  # issue 13: no ref-only row left in th.t1-th.t5
    assert "ref only" not in two_head and "    - Hybrid-SC                                  runnable" in two_head


def test_dry_run_prints_commands_that_compose(tmp_path, capsys):
    rc, out = _run_script(["--table", "th.t1", "--budget", "smoke", "--dry-run", "--output-root", str(tmp_path / "o")], capsys)
    assert rc == 0
    commands = [line for line in out.splitlines() if line.startswith("python -m dcl_runner -m ")]
    # the cifar10-LT and cifar100-LT stand-ins, 3 ratios each, under the two-head protocol, LDAM-DRW's
    # (th_cifar*_lt_ldam_drw: LDAM, LDAM+DRW), Cui et al.'s (th_cifar*_lt_cui: CE, Focal, CB+Focal), BBN's own
    # (th_cifar*_lt_bbn: BBN), Hybrid-SC's (th_cifar*_lt_hybrid_sc) and MiSLAS's stage 1 (th_cifar*_lt_mislas_stage1:
    # mixup); its stage 2 waits for that run (not launched in a dry run)
    assert len(commands) == 12  # 2 datasets x (two-head, LDAM-DRW, Cui, BBN, Hybrid-SC, MiSLAS stage 1)
    runs, every_method = 0, set()
    for line in commands:
        args = shlex.split(line)[4:]
        methods = next(a for a in args if a.startswith("method=")).split("=", 1)[1].split(",")
        every_method |= set(methods)
        combos = sorted(_expand([a for a in args if not a.startswith("hydra.sweep")]))
        cfg = compose(list(combos[-1]))  # composing one per command is enough: they differ in values only
        assert cfg.method.name in methods and cfg.trainer.progress is False
        assert cfg.dataset.name == "synthetic_classes"  # CIFAR is not on disk: the smoke stand-in
        runs += len(combos)
        assert len(combos) == 3 * len(methods)
    assert {"ce", "focal", "ldam_drw", "twohead", "twohead_full", "bbn", "hybrid_sc"} <= every_method
    assert runs >= 6
    assert not (tmp_path / "o" / "tables" / "runs").exists()  # a dry run launches nothing


def test_dataset_overrides_go_to_the_real_dataset_not_to_a_smoke_stand_in(tmp_path):
    """-o dataset.partition=2 (a RAP key) applies to RAP runs; a smoke stand-in (RAP is not on disk) runs
    without it instead of failing to compose, and says so; other overrides go to every command."""
    from dcl_runner.tables.runs import plan_cells

    extra = ["dataset.partition=2", "trainer.device=cpu"]
    smoke = [c for c in plan_cells(T.select("dcl.t5"), "smoke", [0], extra) if c.runnable]
    assert smoke and all(c.substituted == "synthetic_attributes" for c in smoke)
    assert all(c.dropped == ("dataset.partition=2",) for c in smoke)
    assert not any(o.startswith(("dataset.partition", "trainer.device")) for c in smoke for o in c.run_overrides)
    paper = [c for c in plan_cells(T.select("dcl.t5"), "paper", [0], extra) if c.runnable]
    assert paper and all("dataset.partition=2" in c.run_overrides and not c.dropped for c in paper)
    cfg = compose([*paper[0].run_overrides, "budget=paper", "trainer.device=cpu"])
    assert cfg.dataset.partition == 2


def test_the_planner_reads_dataset_facts_off_the_dataset_classes():
    """Embedded sets are always there; a stand-in takes the class count of the config, else of the dataset
    (CIFAR-100: 100, SVHN: 10, ImageNet-LT: 1000 capped at 100), else 10; an attribute set gets attributes."""
    from dcl_runner.tables.runs import SMOKE_MAX_CLASSES, dataset_on_disk, smoke_stand_in

    def facts(name, **over):
        return {"name": name, "root": "/nonexistent", "num_classes": None, "imbalance_ratio": None,
                "noise_rate": 0.0, "noise_mode": "uniform", "subset": "all", **over}

    assert dataset_on_disk(facts("digits_lt")) and dataset_on_disk(facts("synthetic_classes"))
    assert dataset_on_disk(facts("synthetic_attributes")) and not dataset_on_disk(facts("cifar10"))
    assert "dataset.num_classes=100" in smoke_stand_in(facts("cifar100_lt", imbalance_ratio=100))[1]
    assert "dataset.num_classes=10" in smoke_stand_in(facts("svhn"))[1]
    assert f"dataset.num_classes={SMOKE_MAX_CLASSES}" in smoke_stand_in(facts("imagenet_lt"))[1]
    assert "dataset.num_classes=50" in smoke_stand_in(facts("webvision", num_classes=50))[1]
    assert smoke_stand_in(facts("rap"))[0] == "synthetic_attributes"


def test_collect_reports_complete_failed_missing_and_skips_completed(tmp_path, capsys):
    root = tmp_path / "o"
    base = ["experiment=dcl_celeba", "method=ce", "budget=paper"]
    _fabricate(root, base, 0, "completed", {"mA": 70.0, "per_attribute_mA": {n: 70.0 for n in ATTRIBUTE_NAMES}})
    _fabricate(root, base, 1, "completed", {"mA": 72.0, "per_attribute_mA": {n: 72.0 for n in ATTRIBUTE_NAMES}})
    _fabricate(root, base, 2, "failed", reason="RuntimeError: boom")
    _fabricate(root, base, 3, "incomplete")
    rc, out = _run_script(["--table", "dcl.t2", "--seeds", "4", "--collect-only", "--output-root", str(root)], capsys)
    assert rc == 1  # cells with missing, incomplete and failed runs
    assert "0 of 9 runnable cells complete; 1 with failed runs, 8 with missing or incomplete runs: exit code 1" in out
    md = (root / "tables" / "dcl.t2.md").read_text()
    # only the two completed seeds are averaged; the failed and the incomplete one are counted beside them
    assert "| DeepID2 (CE) | 81.17 | 71.00 ± 1.41 (n=2) ‡; 1 failed [1], 1 incomplete | -10.17 |" in md
    assert "| Over-Sampling | 81.48 | not run |  |" in md and "| LMLE | 83.83 | not run |  |" in md
    assert "- Over-Sampling / mA, seed 3: not run yet" in md
    assert "- [1] DeepID2 (CE) / mA, seed 2: failed: RuntimeError: boom" in md
    assert "DeepID2 (CE) / mA, seed 3: incomplete: no metrics.json" in md
    assert "- CLMLE / mA, seed 0: not run yet" in md and "Reference rows" not in md  # every dcl.t2 row runs
    assert "‡ fewer completed seeds than the paper's 3 runs per number" in md
    assert "plumbing check" not in md
    attributes = (root / "tables" / "dcl.t2_attributes.md").read_text()
    assert "| Bald | 48 | 93.00 | 71.00 | -22.00 |" in attributes
    csv = (root / "tables" / "dcl.t2.csv").read_text()
    assert "DeepID2 (CE),mA,ce,mA,81.17" in csv
    tex = (root / "tables" / "dcl.t2.tex").read_text()
    assert r"71.00 $\pm$ 1.41 (n=2) $^\ddagger$; 1 failed [1], 1 incomplete" in tex
    assert r"\multicolumn{4}{l}{\footnotesize [1] DeepID2 (CE) / mA, seed 2: failed: RuntimeError: boom" in tex
    # re-running launches only what is missing: seeds 3 (incomplete) and the other rows; the failed seed 2 is reported
    rc, out = _run_script(["--table", "dcl.t2", "--seeds", "4", "--dry-run", "--output-root", str(root)], capsys)
    assert "2 runs already completed (skipped), 33 to launch in" in out and "1 failed left as they are" in out
    sweeps = [shlex.split(line)[4:] for line in out.splitlines() if line.startswith("python -m dcl_runner -m ")]
    ce_seeds = [s for sweep in sweeps if "ce" in _value(sweep, "method").split(",") for s in _value(sweep, "seed").split(",")]
    assert ce_seeds == ["3"]


def _value(args, key):
    return next(a.split("=", 1)[1] for a in args if a.startswith(f"{key}="))


def test_dcl_t2_average_row_prints_the_papers_averages(tmp_path, capsys):
    """DCL Table 2's printed averages are means of unrounded values: 81.48 and 85.93, where the rounded
    per-attribute values average to 81.475 and 85.925 (printed 81.47 / 85.92)."""
    from dcl_runner.tables.report import fmt

    t2 = T.get("dcl.t2")
    assert fmt(np.mean(t2.row("Over-Sampling").per_attribute)) == "81.47"
    assert fmt(np.mean(t2.row("Selective-Learning").per_attribute)) == "85.92"
    root = tmp_path / "o"
    per_attribute = {n: 70.0 + k % 2 for k, n in enumerate(ATTRIBUTE_NAMES)}  # averages to 70.5
    _fabricate(root, ["experiment=dcl_celeba", "method=oversample", "budget=paper"], 0, "completed",
               {"mA": 70.5, "per_attribute_mA": per_attribute})
    _run_script(["--table", "dcl.t2", "--seeds", "1", "--collect-only", "--output-root", str(root)], capsys)
    average = next(line for line in (root / "tables" / "dcl.t2_attributes.md").read_text().splitlines()
                   if line.startswith("| Average |"))
    cells = [c.strip() for c in average.strip("|").split("|")]
    head = [c.strip() for c in (root / "tables" / "dcl.t2_attributes.md").read_text().splitlines()[4].strip("|").split("|")]
    row = dict(zip(head, cells))
    assert row["Over-Sampling Paper"] == "81.48" and row["Selective-Learning Paper"] == "85.93"
    assert row["DeepID2 (CE) Paper"] == "81.17" and row["DCL Paper"] == "89.05"
    assert row["Over-Sampling Ours"] == "70.50" and row["Over-Sampling Δ"] == "-10.98"  # 70.50 - 81.48
    assert row["Imbalance level"] == ""
    frame = __import__("pandas").read_csv(root / "tables" / "dcl.t2_attributes.csv")
    assert frame.iloc[-1]["Over-Sampling Paper"] == 81.48


def test_failed_interrupted_running_and_nan_runs_are_never_numbers(tmp_path, capsys):
    """One seed per row: a diverged run (the trainer's reason), an interrupted one, one still 'running', a
    'completed' one whose metric is NaN, and one good run. Only the good one is a number; exit code 1."""
    root = tmp_path / "o"
    cell = lambda method: ["experiment=dcl_celeba", f"method={method}", "budget=paper"]  # noqa: E731
    diverged = "diverged at epoch 3, step 12: non-finite loss"
    _fabricate(root, cell("ce"), 0, "failed", {"mA": 50.0}, reason=diverged, epochs_completed=2)
    _fabricate(root, cell("oversample"), 0, "interrupted", {"mA": 60.0}, reason="stopped by signal; resume to continue")
    _fabricate(root, cell("undersample"), 0, "running", {"mA": 61.0})
    _fabricate(root, cell("cost_sensitive"), 0, "completed", {"mA": float("nan")})
    _fabricate(root, cell("dcl"), 0, "completed", {"mA": 88.0})
    rc, out = _run_script(["--table", "dcl.t2", "--seeds", "1", "--collect-only", "--output-root", str(root)], capsys)
    assert rc == 1
    md = (root / "tables" / "dcl.t2.md").read_text()
    assert "| DeepID2 (CE) | 81.17 | failed [1] |  |" in md
    assert f"- [1] DeepID2 (CE) / mA, seed 0: failed: {diverged}" in md
    assert "| Over-Sampling | 81.48 | incomplete |  |" in md and "| Down-Sampling | 77.45 | incomplete |  |" in md
    assert "| Cost-Sensitive | 81.60 | failed [2] |  |" in md
    assert "- [2] Cost-Sensitive / mA, seed 0: completed but its 'mA' is nan: the run diverged" in md
    assert "| DCL | 89.05 | 88.00 (n=1) ‡ | -1.05 |" in md  # one run: no '± 0.00'
    for number in ("50.00", "60.00", "61.00", "nan"):
        assert number not in md.split("Failed runs")[0].lower()
    frame = __import__("pandas").read_csv(root / "tables" / "dcl.t2.csv").set_index("row")
    assert frame.loc["DeepID2 (CE)", "status"] == "failed" and np.isnan(frame.loc["DeepID2 (CE)", "ours_mean"])
    assert diverged in frame.loc["DeepID2 (CE)", "reason"]
    assert frame.loc["Over-Sampling", "status"] == "incomplete" and frame.loc["DCL", "status"] == "ok"
    assert np.isnan(frame.loc["DCL", "ours_std"]) and frame.loc["DCL", "n"] == 1
    assert "fewer seeds than the paper's 3" in frame.loc["DCL", "caveats"]
    tex = (root / "tables" / "dcl.t2.tex").read_text()
    assert r"\footnotesize [1] DeepID2 (CE) / mA, seed 0: failed: diverged at epoch 3, step 12: non-finite loss" in tex


def test_paper_budget_plans_the_papers_three_seeds_smoke_one(tmp_path, capsys):
    root = tmp_path / "o"
    _, out = _run_script(["--table", "dcl.t7", "--dry-run", "--output-root", str(root)], capsys)
    assert "3 seed(s) each" in out and "seed=0,1,2" in out
    _, out = _run_script(["--table", "dcl.t7", "--budget", "smoke", "--dry-run", "--output-root", str(root)], capsys)
    assert "1 seed(s) each" in out and "seed=0 " in out
    assert all(t.paper_seeds == 3 for t in T.ALL)  # DP sec. 4: "mean and standard deviation over 3 runs"


def test_smoke_marker_is_in_every_output_and_stand_ins_have_no_delta(tmp_path, capsys):
    from dcl_runner.tables.runs import plan_cells

    root = tmp_path / "o"
    ce = next(c for c in plan_cells(T.select("dcl.t2"), "smoke", [0]) if c.row.method == "ce")
    assert ce.substituted == "synthetic_attributes"
    _fabricate(root, [*ce.run_overrides, "budget=smoke"], 0, "completed",
               {"mA": 70.0, "per_attribute_mA": {n: 70.0 for n in ATTRIBUTE_NAMES}})
    rc, out = _run_script(["--table", "dcl.t2", "--budget", "smoke", "--collect-only", "--output-root", str(root)], capsys)
    tables = root / "tables"
    marker = "plumbing check, not results"
    assert "| DeepID2 (CE) | 81.17 | 70.00 (n=1) †‡ |  |" in (tables / "dcl.t2.md").read_text()  # no Δ
    for name in ("dcl.t2.md", "dcl.t2_attributes.md"):
        assert marker in (tables / name).read_text(), name
    for name in ("dcl.t2.tex", "dcl.t2_attributes.tex"):  # a printed line, not a % comment
        printed = [line for line in (tables / name).read_text().splitlines() if not line.startswith("%")]
        assert any(marker in line and line.startswith(r"\multicolumn") for line in printed), name
    import pandas as pd

    frame = pd.read_csv(tables / "dcl.t2.csv")
    assert frame["caveats"].str.contains(marker).all()
    assert frame.set_index("row").loc["DeepID2 (CE)", "ours_mean"] == 70.0
    assert np.isnan(frame.set_index("row").loc["DeepID2 (CE)", "delta"])
    attributes = pd.read_csv(tables / "dcl.t2_attributes.csv")
    assert attributes["caveats"].str.contains(marker).all()
    assert "DeepID2 (CE) Ours" in attributes and "DeepID2 (CE) Δ" not in attributes


def test_a_column_read_at_epoch_84_says_when_it_fell_back_to_the_final_epoch():
    from dcl_runner.tables.report import collect_cell, index_runs, ours_text
    from dcl_runner.tables.runs import plan_cells

    cell = next(c for c in plan_cells(T.select("dp.t2"), "paper", [0, 1]) if c.runnable and c.column.id == "cifar10")
    assert cell.column.at_epoch == 84

    def run(seed, at_84, final, epochs):
        return {"identity": cell.identities[seed], "cell_key": cell.cell_key, "seed": seed, "status": "completed",
                "metrics": {"top1": final}, "metrics_at_epoch": {"84": {"top1": at_84}} if at_84 else {},
                "epochs_completed": epochs, "run_dir": f"run{seed}", "mtime": seed}

    both = collect_cell(cell, index_runs([run(0, 60.0, 50.0, 120), run(1, 62.0, 52.0, 120)]))
    assert ours_text(both) == "61.00 ± 1.41 (n=2) ‡"  # the epoch-84 values, no fallback
    short = collect_cell(cell, index_runs([run(0, None, 50.0, 2), run(1, None, 52.0, 2)]))
    assert ours_text(short) == "51.00 ± 1.41 (n=2, read at final epoch 2, not 84) ‡"
    mixed = collect_cell(cell, index_runs([run(0, 60.0, 50.0, 120), run(1, None, 52.0, 2)]))
    assert ours_text(mixed) == "56.00 ± 5.66 (n=2, 1 read at final epoch, not 84) ‡"


def test_load_runs_is_tolerant(tmp_path):
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "metrics.json").write_text("{not json")
    done = _fabricate(tmp_path, ["budget=smoke"], 3, "completed", {"mA": 61.5}, name="done")
    _fabricate(tmp_path, ["budget=smoke"], 4, "incomplete", name="partial")
    frame = load_runs(tmp_path).set_index("run_dir")
    assert frame.loc[str(tmp_path / "broken"), "status"] == "unreadable"
    assert frame.loc[str(tmp_path / "runs" / "partial"), "status"] == "incomplete"
    row = frame.loc[str(done)]
    assert row["status"] == "completed" and row["m.mA"] == 61.5 and row["seed"] == 3
    assert row["identity"] == run_identity(compose(["budget=smoke", "seed=3"]))
    assert load_runs(tmp_path / "nothing").empty
    assert load_run(tmp_path / "broken")["identity"] is None
    from dcl_runner.results import load_history

    (done / "history.csv").write_text("epoch,loss,mA\n1,2.5,55.0\n2,2.0,61.5\n")
    assert load_history(done)["mA"].tolist() == [55.0, 61.5]
    (tmp_path / "broken" / "history.csv").write_text("")  # a run killed before its first epoch ended
    assert load_history(tmp_path / "broken").empty and load_history(tmp_path / "nothing").empty


def test_smoke_table_end_to_end_then_skips(tmp_path, capsys):
    # dcl.t5 (RAP): three runnable rows (DCL; Deep-Mar and Inception-v2 under their own protocols, Inception-v2 from
    # random weights: budget=smoke sets pretrained null); RAP is not on disk, so smoke runs them on the synthetic stand-in
    root = tmp_path / "o"
    args = ["--table", "dcl.t5", "--budget", "smoke", "--output-root", str(root), "-o", "trainer.device=cpu",
            "-o", "trainer.epochs=1", "-o", "trainer.eval_batch_size=128"]
    rc, out = _run_script(args, capsys)
    assert rc == 0, out
    assert "0 runs already completed (skipped), 3 to launch in 3 Hydra multirun(s)" in out
    md = (root / "tables" / "dcl.t5.md").read_text()
    assert "plumbing check, not results" in md
    assert re.search(r"\| DCL \| 83\.7 \| \d+\.\d\d \(n=1\) †‡ \|  \|", md), md  # one run: no ± 0.00; stand-in: no Δ
    assert re.search(r"\| Deep-Mar \| 73\.8 \| \d+\.\d\d \(n=1\) †‡ \|  \|", md), md
    assert re.search(r"\| Inception-v2 \| 75\.4 \| \d+\.\d\d \(n=1\) †‡ \|  \|", md), md
    assert "all 3 runnable cells complete" in out
    assert "| HP-net | 76.1 | ref only |  |" in md
    # why a row is not run is printed under the table (the rows' notes, in the table's note)
    assert "LG-Net: ref: the number its paper publishes on RAP's 51 attributes; not built: LG-Net's localization" in md
    rc, out = _run_script([*args, "--dry-run"], capsys)
    assert "3 runs already completed (skipped), 0 to launch in 0 Hydra multirun(s)" in out


class RecordingLauncher:
    """Stands in for subprocess.run in the script: records each command and its log, starts nothing."""

    def __init__(self, returncode=0):
        self.commands, self.logs, self.returncode = [], [], returncode

    def __call__(self, command, env=None, stdout=None, stderr=None):
        import subprocess

        self.commands.append(list(command))
        self.logs.append(stdout.name)
        stdout.write("recorded\n")
        return subprocess.CompletedProcess(command, self.returncode)


def test_invocation_folders_are_unique_within_a_second(tmp_path, monkeypatch):
    import os
    import secrets
    import time

    from dcl_runner.tables.runs import invocation_dir

    monkeypatch.setattr(time, "strftime", lambda fmt, *a: "2024-05-01_12-00-00")
    first, second = invocation_dir(tmp_path), invocation_dir(tmp_path)
    assert first != second and first.is_dir() and second.is_dir()
    assert first.name.startswith(f"2024-05-01_12-00-00-{os.getpid()}-") and "," not in first.name
    suffixes = iter(["abc123", "abc123", "def456"])  # the same random suffix twice: the second takes another name
    monkeypatch.setattr(secrets, "token_hex", lambda n: next(suffixes))
    assert invocation_dir(tmp_path / "x").name.endswith("-abc123")
    assert invocation_dir(tmp_path / "x").name.endswith("-def456")


def test_two_invocations_in_the_same_second_launch_into_their_own_folders_and_exit_1_without_runs(tmp_path, capsys, monkeypatch):
    """The fault of issue 12 item 3: two invocations started in the same second (same pid even), whose launches
    finish "done" but leave no runs. Each gets its own sweep folder and log, and says the cell is missing."""
    import time

    monkeypatch.setattr(time, "strftime", lambda fmt, *a: "2024-05-01_12-00-00")
    launcher = RecordingLauncher()
    monkeypatch.setattr(reproduce_tables.subprocess, "run", launcher)
    root = tmp_path / "o"
    args = ["--table", "dcl.t5", "--budget", "smoke", "--output-root", str(root)]
    codes = [_run_script(args, capsys) for _ in range(2)]
    sweep_dirs = [_value(c, "hydra.sweep.dir") for c in launcher.commands]  # DCL's, Deep-Mar's, Inception-v2's, per invocation
    assert len(sweep_dirs) == 6 and len(set(sweep_dirs)) == 6
    assert len(set(launcher.logs)) == 6 and all(Path(log).read_text() == "recorded\n" for log in launcher.logs)
    # the runs are missing after the launch: each invocation says so and exits non-zero
    for rc, out in codes:
        assert rc == 1 and "0 of 3 runnable cells complete" in out and "| DCL | 83.7 | not run |  |" in out
        assert "| Deep-Mar | 73.8 | not run |  |" in out


def test_interrupted_runs_are_resumed_failed_ones_reported_or_retried(tmp_path, capsys, monkeypatch):
    root = tmp_path / "o"
    base = ["experiment=dcl_celeba", "method=ce", "budget=paper", "trainer.epochs=3"]
    resumable = _fabricate(root, base, 0, "interrupted", reason="stopped by signal; resume to continue", checkpoint=True)
    _fabricate(root, base, 1, "failed", reason="diverged at epoch 2, step 7: non-finite loss")
    _fabricate(root, base, 2, "running")
    no_checkpoint = _fabricate(root, base, 3, "interrupted", reason="KeyboardInterrupt")
    launcher = RecordingLauncher()
    monkeypatch.setattr(reproduce_tables.subprocess, "run", launcher)
    args = ["--table", "dcl.t2", "--seeds", "4", "--output-root", str(root), "-o", "trainer.epochs=3",
            "-o", "trainer.device=cpu"]
    rc, out = _run_script(args, capsys)
    assert rc == 1
    assert "1 interrupted to resume, 1 failed left as they are" in out
    assert "failed, not relaunched (--retry-failed starts it anew)" in out
    assert f"started anew, interrupted without a checkpoint to resume: {no_checkpoint}" in out
    resumes = [c for c in launcher.commands if "-m" not in c[3:]]
    assert [c[1:] for c in resumes] == [["-m", "dcl_runner", f"resume={resumable}", "trainer.device=cpu", "trainer.progress=false"]]
    sweeps = [c for c in launcher.commands if c not in resumes]
    ce_seeds = {s for c in sweeps if "ce" in _value(c, "method").split(",") for s in _value(c, "seed").split(",")}
    assert ce_seeds == {"2", "3"}  # running (maybe alive elsewhere: never resumed) and the one without a checkpoint
    md = (root / "tables" / "dcl.t2.md").read_text()
    assert "| DeepID2 (CE) | 81.17 | failed [1]; 1 incomplete |" not in md  # no number from any of them ...
    assert "- [1] DeepID2 (CE) / mA, seed 1: failed: diverged at epoch 2, step 7: non-finite loss" in md

    launcher.commands.clear()
    rc, out = _run_script([*args, "--retry-failed"], capsys)
    ce_seeds = {s for c in launcher.commands if "-m" in c[3:] and "ce" in _value(c, "method").split(",")
                for s in _value(c, "seed").split(",")}
    assert ce_seeds == {"1", "2", "3"} and "0 failed left as they are" in out


def test_the_script_resumes_a_real_interrupted_run_in_its_own_folder(tmp_path, capsys, monkeypatch):
    """A tiny real run (dcl.t5's DCL smoke cell, DeepID2 for speed: 2 steps) stopped by Ctrl-C at its first step,
    then the script: it continues that folder through ``python -m dcl_runner resume=<folder>`` and launches no new
    run (the table's other runnable cells, Deep-Mar and Inception-v2, are completed by hand first)."""
    from dcl_runner.tables.runs import plan_cells
    from dcl_runner.train import RunInterrupted, run_experiment

    from helpers import interrupt_at_step

    root = tmp_path / "o"
    extra = ["trainer.device=cpu", "trainer.epochs=1", "trainer.batch_size=128", "trainer.eval_batch_size=128", "backbone=deepid2"]
    cells = {c.row.label: c for c in plan_cells(T.select("dcl.t5"), "smoke", [0], extra) if c.runnable}
    assert set(cells) == {"DCL", "Deep-Mar", "Inception-v2"}

    def by_hand(cell, name):
        overrides = [*cell.run_overrides, "budget=smoke", *extra, "seed=0", "trainer.progress=false"]
        cfg, run_dir = compose(overrides), root / "runs" / name
        (run_dir / ".hydra").mkdir(parents=True)
        OmegaConf.save(cfg, run_dir / ".hydra" / "config.yaml")
        (run_dir / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
        return cfg, run_dir, overrides

    for label in ("Deep-Mar", "Inception-v2"):
        cfg, done_dir, overrides = by_hand(cells[label], f"{label}_done")
        run_experiment(cfg, done_dir, overrides=overrides)
    cfg, run_dir, overrides = by_hand(cells["DCL"], "by_hand")
    interrupt_at_step(monkeypatch, 1)
    with pytest.raises(RunInterrupted):
        run_experiment(cfg, run_dir, overrides=overrides)
    assert load_run(run_dir)["status"] == "interrupted" and load_run(run_dir)["identity"] == cells["DCL"].identities[0]

    args = ["--table", "dcl.t5", "--budget", "smoke", "--output-root", str(root), *(x for e in extra for x in ("-o", e))]
    rc, out = _run_script(args, capsys)
    assert rc == 0, out
    assert "2 runs already completed (skipped), 0 to launch in 0 Hydra multirun(s), 1 interrupted to resume" in out
    assert load_run(run_dir)["status"] == "completed"
    assert [d for d in (root / "tables" / "runs").rglob("metrics.json")] == []  # no fresh run anywhere
    mA = load_run(run_dir)["metrics"]["mA"]
    assert f"| DCL | 83.7 | {mA:.2f} (n=1) †‡ |  |" in (root / "tables" / "dcl.t5.md").read_text()


def test_figures_draw_or_say_why(tmp_path, capsys):
    rc, out = _run_script(["--table", "dcl.fig1,dcl.fig4,th.fig3", "--collect-only", "--output-root", str(tmp_path)], capsys)
    assert (tmp_path / "tables" / "dcl.fig1.png").stat().st_size > 1000
    assert (tmp_path / "tables" / "dcl.fig4.png").stat().st_size > 1000
    assert "figure skipped: no completed CE or two-head run" in out


def test_missing_launcher_plugin_says_how_to_install(monkeypatch):
    import importlib.util

    from dcl_runner.tables.runs import launcher_overrides

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(SystemExit, match="pip install hydra-joblib-launcher"):
        launcher_overrides("joblib")
    assert launcher_overrides("basic") == []


def test_synthetic_classes_is_long_tailed_with_a_balanced_test_set():
    from dcl_runner.data import build_data

    cfg = compose(["dataset=synthetic_classes", "dataset.num_classes=5", "dataset.train_per_class=40",
                   "dataset.test_per_class=6", "dataset.imbalance_ratio=10"])
    bundle = build_data(cfg.dataset)
    counts = np.bincount(bundle.train.targets, minlength=5)
    assert counts[0] == 40 and counts[-1] == 4 and np.all(np.diff(counts) <= 0)
    assert np.all(np.bincount(bundle.test.targets) == 6)
    assert bundle.train.images.dtype == np.uint8 and bundle.train.images.shape[1:] == (3, 32, 32)
    again = build_data(cfg.dataset)
    assert np.array_equal(again.train.images, bundle.train.images)
    # classes differ on average: the class-mean images are not all alike
    means = np.stack([bundle.test.images[bundle.test.targets == c].astype(float).mean(0) for c in range(5)])
    assert np.abs(means[0] - means[1]).mean() > 2.0


def test_planning_composition_equals_hydras():
    from dcl_runner.tables.runs import Composer

    composer = Composer()
    for overrides in (
        ("budget=smoke", "dataset.max_train_samples=256", "trainer.device=cpu", "scheduler=concave", "scheduler.lam=0.9"),
        ("dataset=synthetic_classes", "dataset.imbalance_ratio=null", "dataset.noise.rate=0.2", "budget=smoke", "seed=2"),
    ):
        assert OmegaConf.to_yaml(composer._compose(overrides)) == OmegaConf.to_yaml(compose(list(overrides)))
    assert composer.calls == 2  # one Hydra composition per distinct set of group selections
    entry = composer.resolve(("method=ce", "method.no_such_option=1"), (0,))
    assert "no_such_option" in entry["error"] and not entry["identities"]
