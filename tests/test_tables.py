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
from dcl_runner.results import load_run, load_runs, run_identity
from dcl_runner.table_runs import dedupe, pack_sweeps
from dcl_runner.testing import REPO_ROOT, compose

sys.path.insert(0, str(REPO_ROOT / "scripts"))
import reproduce_tables  # noqa: E402

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
    gain = {c: dp2.row("Data params (class + instance)").paper[c] - dp2.row("MentorNet PD").paper[c] for c in ("cifar10", "cifar100")}
    assert gain["cifar10"] == pytest.approx(14.5) and round(gain["cifar100"]) == 14  # DP sec. 3.4
    th1, th2, th4 = T.get("th.t1"), T.get("th.t2"), T.get("th.t4")
    for ablation, source in (("none (CE)", "CE"), ("FBH + CDH", "Ours")):
        row = th4.row(ablation).paper
        for r in (100, 50, 10):
            assert row[f"c100_{r}"] == th1.row(source).paper[f"c100_{r}"]
            assert row[f"tiny_{r}"] == th2.row(source).paper[f"tiny_{r}"]


def test_every_row_names_a_method_and_every_figure_a_drawer():
    from dcl_runner.table_figures import DRAWERS

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
def _fabricate(root: Path, overrides, seed: int, status: str, metrics=None, reason=None, name=None):
    cfg = compose([*overrides, f"seed={seed}"])
    run = root / "runs" / (name or f"{abs(hash((tuple(overrides), seed, status)))}")
    (run / ".hydra").mkdir(parents=True)
    OmegaConf.save(cfg, run / ".hydra" / "config.yaml")
    if status != "incomplete":
        record = {"status": status, "reason": reason, "seed": seed, "metrics": metrics or {}, "metrics_at_epoch": {}}
        (run / "metrics.json").write_text(json.dumps(record))
    return run


def _run_script(args, capsys):
    rc = reproduce_tables.main(args)
    return rc, capsys.readouterr().out


def test_list_names_every_table(capsys):
    rc, out = _run_script(["--list"], capsys)
    assert rc == 0
    for table_id in T.REGISTRY:
        assert table_id in out
    assert "ref only (method 'bbn' not in the runner)" in out


def test_dry_run_prints_commands_that_compose(tmp_path, capsys):
    rc, out = _run_script(["--table", "th.t1", "--budget", "smoke", "--dry-run", "--output-root", str(tmp_path / "o")], capsys)
    assert rc == 0
    commands = [line for line in out.splitlines() if line.startswith("python -m dcl_runner -m ")]
    # the cifar10-LT and cifar100-LT stand-ins, 3 ratios each, once under the two-head protocol and once under
    # the LDAM-DRW / Cui et al. protocol of the rows copied from them (th_cifar*_lt_ldam_drw)
    assert len(commands) == 4
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
    assert {"ce", "focal", "ldam_drw", "twohead", "twohead_full"} <= every_method
    assert runs >= 6
    assert not (tmp_path / "o" / "tables" / "runs").exists()  # a dry run launches nothing


def test_dataset_overrides_go_to_the_real_dataset_not_to_a_smoke_stand_in(tmp_path):
    """-o dataset.partition=2 (a RAP key) applies to RAP runs; a smoke stand-in (RAP is not on disk) runs
    without it instead of failing to compose, and says so; other overrides go to every command."""
    from dcl_runner.table_runs import plan_cells

    extra = ["dataset.partition=2", "trainer.device=cpu"]
    smoke = [c for c in plan_cells(T.select("dcl.t5"), "smoke", [0], extra) if c.runnable]
    assert smoke and all(c.substituted == "synthetic_attributes" for c in smoke)
    assert all(c.dropped == ("dataset.partition=2",) for c in smoke)
    assert not any(o.startswith(("dataset.partition", "trainer.device")) for c in smoke for o in c.run_overrides)
    paper = [c for c in plan_cells(T.select("dcl.t5"), "paper", [0], extra) if c.runnable]
    assert paper and all("dataset.partition=2" in c.run_overrides and not c.dropped for c in paper)
    cfg = compose([*paper[0].run_overrides, "budget=paper", "trainer.device=cpu"])
    assert cfg.dataset.partition == 2


def test_collect_reports_complete_failed_missing_and_skips_completed(tmp_path, capsys):
    root = tmp_path / "o"
    base = ["experiment=dcl_celeba", "method=ce", "budget=paper"]
    _fabricate(root, base, 0, "completed", {"mA": 70.0, "per_attribute_mA": {n: 70.0 for n in ATTRIBUTE_NAMES}})
    _fabricate(root, base, 1, "completed", {"mA": 72.0, "per_attribute_mA": {n: 72.0 for n in ATTRIBUTE_NAMES}})
    _fabricate(root, base, 2, "failed", reason="RuntimeError: boom")
    _fabricate(root, base, 3, "incomplete")
    rc, out = _run_script(["--table", "dcl.t2", "--seeds", "4", "--collect-only", "--output-root", str(root)], capsys)
    assert rc == 0
    md = (root / "tables" / "dcl.t2.md").read_text()
    assert "| DeepID2 (CE) | 81.17 | 71.00 ± 1.41 (n=2) | -10.17 |" in md
    assert "| Over-Sampling | 81.48 | not run |  |" in md and "| LMLE | 83.83 | ref only |  |" in md
    assert "- Over-Sampling / mA, seed 3: not run yet" in md
    assert "DeepID2 (CE) / mA, seed 2: failed: RuntimeError: boom" in md
    assert "DeepID2 (CE) / mA, seed 3: incomplete: no metrics.json" in md
    assert "- LMLE: ref only: method 'lmle' is not in the runner" in md
    assert "plumbing check" not in md
    attributes = (root / "tables" / "dcl.t2_attributes.md").read_text()
    assert "| Bald | 48 | 93.00 | 71.00 | -22.00 |" in attributes
    csv = (root / "tables" / "dcl.t2.csv").read_text()
    assert "DeepID2 (CE),mA,ce,mA,81.17" in csv
    tex = (root / "tables" / "dcl.t2.tex").read_text()
    assert r"71.00 $\pm$ 1.41 (n=2)" in tex
    # re-running launches only what is missing: seeds 2 and 3
    rc, out = _run_script(["--table", "dcl.t2", "--seeds", "4", "--dry-run", "--output-root", str(root)], capsys)
    assert "2 runs already completed (skipped), 26 to launch" in out  # CE seeds 2, 3 + 6 rows x 4 seeds
    ce_sweeps = [line for line in out.splitlines() if "method=ce " in line + " "]
    assert len(ce_sweeps) == 1 and "seed=2,3" in ce_sweeps[0]


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
    # dcl.t5 (RAP): one runnable row (DCL); RAP is not on disk, so smoke runs it on the synthetic stand-in
    root = tmp_path / "o"
    args = ["--table", "dcl.t5", "--budget", "smoke", "--output-root", str(root), "-o", "trainer.device=cpu",
            "-o", "trainer.epochs=1", "-o", "trainer.eval_batch_size=128"]
    rc, out = _run_script(args, capsys)
    assert rc == 0, out
    assert "0 runs already completed (skipped), 1 to launch in 1 Hydra multirun(s)" in out
    md = (root / "tables" / "dcl.t5.md").read_text()
    assert "plumbing check, not results" in md
    assert re.search(r"\| DCL \| 83\.7 \| \d+\.\d\d ± 0\.00 \(n=1\) † \| -?\d+\.\d\d \|", md), md
    assert "| HP-net | 76.1 | ref only |  |" in md
    rc, out = _run_script([*args, "--dry-run"], capsys)
    assert "1 runs already completed (skipped), 0 to launch in 0 Hydra multirun(s)" in out


def test_figures_draw_or_say_why(tmp_path, capsys):
    rc, out = _run_script(["--table", "dcl.fig1,dcl.fig4,th.fig3", "--collect-only", "--output-root", str(tmp_path)], capsys)
    assert (tmp_path / "tables" / "dcl.fig1.png").stat().st_size > 1000
    assert (tmp_path / "tables" / "dcl.fig4.png").stat().st_size > 1000
    assert "figure skipped: no completed CE or two-head run" in out


def test_missing_launcher_plugin_says_how_to_install(monkeypatch):
    import importlib.util

    from dcl_runner.table_runs import launcher_overrides

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
    from dcl_runner.table_runs import Composer

    composer = Composer()
    for overrides in (
        ("budget=smoke", "dataset.max_train_samples=256", "trainer.device=cpu", "scheduler=concave", "scheduler.lam=0.9"),
        ("dataset=synthetic_classes", "dataset.imbalance_ratio=null", "dataset.noise.rate=0.2", "budget=smoke", "seed=2"),
    ):
        assert OmegaConf.to_yaml(composer._compose(overrides)) == OmegaConf.to_yaml(compose(list(overrides)))
    assert composer.calls == 2  # one Hydra composition per distinct set of group selections
    entry = composer.resolve(("method=ce", "method.no_such_option=1"), (0,))
    assert "no_such_option" in entry["error"] and not entry["identities"]
