"""Two-stage rows in the tables script (Row.stage1: decoupling's LWS, MiSLAS): a stage-2 cell finds its stage-1 run
by identity or launches it first, then launches stage 2 with trainer.init_from=<that run's folder>; re-running skips
both; a stage-2 cell whose stage 1 failed says failed, with the stage-1 reason. First with a launcher that fabricates
the runs it is asked for (no training), then with a real tiny chain."""
from __future__ import annotations

import itertools
import json
import re
import shlex
from pathlib import Path

from omegaconf import OmegaConf

from dcl_runner.tables import __main__ as reproduce_tables
from dcl_runner.tables.model import Column, Row, Stage1, Table
from helpers import compose

SMOKE = ["--budget", "smoke", "--seeds", "1"]


def _sweep_jobs(command):
    """The (overrides) of every job of a ``python -m dcl_runner -m ...`` command, as Hydra expands the sweep."""
    args = [a for a in command[3:] if a != "-m" and not a.startswith(("hydra.", "output_root=", "trainer.progress"))]
    options = [[f"{a.split('=', 1)[0]}={v}" for v in _values(a.split("=", 1)[1])] for a in args]
    return [list(job) for job in itertools.product(*options)]


def _values(text):
    """Sweep values: split on commas outside quotes; a quoted value loses its quotes (Hydra's grammar)."""
    parts = re.findall(r"'[^']*'|[^,]+", text)
    return [p for p in parts]


class FabricatingLauncher:
    """Stands in for subprocess.run: every job of a sweep becomes a run folder with the config Hydra would compose
    and metrics.json of ``status`` (``fail_methods``: those methods' runs fail with a reason)."""

    def __init__(self, root: Path, fail_methods=()):
        self.root, self.fail_methods, self.jobs = root, set(fail_methods), []

    def __call__(self, command, env=None, stdout=None, stderr=None):
        import subprocess

        stdout.write("fabricated\n")
        for job in _sweep_jobs(command):
            cfg = compose(job)
            self.jobs.append(job)
            run = self.root / "runs" / f"run{len(self.jobs):03d}"
            (run / ".hydra").mkdir(parents=True)
            OmegaConf.save(cfg, run / ".hydra" / "config.yaml")
            failed = cfg.method.name in self.fail_methods
            record = {"status": "failed" if failed else "completed", "seed": int(cfg.seed),
                      "reason": "RuntimeError: stage-1 boom" if failed else None,
                      "metrics": {} if failed else {k: 50.0 + len(self.jobs) for k in ("top1", "many_shot", "medium_shot", "few_shot")},
                      "metrics_at_epoch": {}}
            (run / "metrics.json").write_text(json.dumps(record))
        return subprocess.CompletedProcess(command, 0)


def _run(args, capsys):
    rc = reproduce_tables.main(args)
    return rc, capsys.readouterr().out


def _cell(md: str, label: str) -> str:
    return next(line for line in md.splitlines() if line.startswith(f"| {label} |"))


def test_stage_two_launches_after_its_stage_one_then_both_are_skipped(tmp_path, capsys, monkeypatch):
    root = tmp_path / "o"
    launcher = FabricatingLauncher(root)
    monkeypatch.setattr(reproduce_tables.subprocess, "run", launcher)
    args = ["--table", "th.t3", *SMOKE, "--output-root", str(root)]
    rc, out = _run(args, capsys)
    stage2 = [j for j in launcher.jobs if any(a.startswith("trainer.init_from=") for a in j)]
    stage1_folders = {Path(r).resolve() for r in root.glob("runs/run*")
                      if OmegaConf.load(r / ".hydra" / "config.yaml").trainer.init_from is None}
    # LWS starts from the CE run (the CE row's own run: one run, shared), MiSLAS from its mixup stage 1
    assert sorted(next(a for a in j if a.startswith("method=")) for j in stage2) == ["method=lws", "method=mislas"]
    for job in stage2:
        folder = Path(next(a for a in job if a.startswith("trainer.init_from=")).split("=", 1)[1].strip("'"))
        assert folder in stage1_folders
        first = OmegaConf.load(folder / ".hydra" / "config.yaml")
        assert first.method.name == {"method=lws": "ce", "method=mislas": "mixup"}[next(a for a in job if a.startswith("method="))]
    mislas_stage1 = next(OmegaConf.load(f / ".hydra" / "config.yaml") for f in stage1_folders
                         if OmegaConf.load(f / ".hydra" / "config.yaml").method.name == "mixup"
                         and OmegaConf.load(f / ".hydra" / "config.yaml").trainer.batch_size == 64
                         and OmegaConf.load(f / ".hydra" / "config.yaml").backbone.name == "resnet50")
    assert mislas_stage1.method.mixup_alpha == 0.2  # MiSLAS's ImageNet stage 1 (imagenet_resnet50_stage1_mixup.yaml)
    assert "stage-2 runs: 0 runs already completed (skipped), 2 to launch" in out
    md = (root / "tables" / "th.t3.md").read_text()
    assert re.search(r"\| LWS \| 60\.2 \| \d+\.\d\d \(n=1\)", _cell(md, "LWS")), _cell(md, "LWS")
    assert "(n=1)" in _cell(md, "MiSLAS")
    assert rc == 0 and "all 44 runnable cells complete" in out
    # again: stage 1 and stage 2 found by identity, nothing launched
    launched = len(launcher.jobs)
    rc, out = _run(args, capsys)
    assert len(launcher.jobs) == launched and rc == 0
    assert "stage-1 and single-stage runs: 10 runs already completed (skipped), 0 to launch" in out
    assert "stage-2 runs: 2 runs already completed (skipped), 0 to launch" in out


def test_a_failed_stage_one_fails_its_stage_two_cell_with_the_reason(tmp_path, capsys, monkeypatch):
    root = tmp_path / "o"
    launcher = FabricatingLauncher(root, fail_methods={"mixup"})
    monkeypatch.setattr(reproduce_tables.subprocess, "run", launcher)
    rc, out = _run(["--table", "th.t3", *SMOKE, "--output-root", str(root)], capsys)
    assert rc == 1
    assert not any("method=mislas" in j for j in launcher.jobs)  # never launched without its stage 1
    md = (root / "tables" / "th.t3.md").read_text()
    assert "failed [" in _cell(md, "MiSLAS") and "(n=1)" in _cell(md, "LWS")
    assert re.search(r"MiSLAS / [^,]+, seed 0: stage 1 failed: RuntimeError: stage-1 boom \(", md), md
    # the Mixup row's own run failed too (same method, its own protocol): reported, not relaunched
    rc, out = _run(["--table", "th.t3", *SMOKE, "--output-root", str(root), "--dry-run"], capsys)
    assert "failed left as they are" in out and "method=mislas" not in out


def test_stage_one_is_planned_from_the_rows_declaration():
    """A generic two-stage row: its stage 1 swaps the column's experiment as declared and keeps the column's other
    overrides; the stage-2 cell has no identity until its stage-1 folder is known."""
    from dcl_runner.tables.runs import Composer, plan_cells, resolve_stage2

    column = Column("c", "c", ("experiment=th_cifar10_lt", "dataset.imbalance_ratio=50"))
    row = Row("two", "crt", stage1=Stage1("ce", ("trainer.epochs=3",), {"th_cifar10_lt": "th_cifar10_lt_cui"}))
    table = Table("x.t", "x", "x", (column,), (row,))
    composer = Composer()
    [cell] = plan_cells([table], "paper", [0, 1], composer=composer)
    assert cell.runnable and cell.identities == {} and cell.cell_key is None
    assert cell.stage1_run_overrides == ("experiment=th_cifar10_lt_cui", "dataset.imbalance_ratio=50", "method=ce",
                                         "trainer.epochs=3")
    resolve_stage2([cell], {}, composer, "paper")
    assert cell.waiting == {0: ("not run", "stage 1 not run yet"), 1: ("not run", "stage 1 not run yet")}
    # a completed stage 1 for seed 1 only: seed 1 gets its folder and an identity, seed 0 still waits
    done = {"run_dir": "/somewhere/run1", "status": "completed"}
    resolve_stage2([cell], {cell.stage1_identities[1]: [done]}, composer, "paper")
    assert cell.init_from == {1: "/somewhere/run1"} and list(cell.identities) == [1] and list(cell.waiting) == [0]
    assert cell.launch_overrides(1)[-1] == "trainer.init_from='/somewhere/run1'"
    cfg = compose([*cell.launch_overrides(1), "seed=1"])
    assert cfg.trainer.init_from == "/somewhere/run1" and cfg.method.name == "crt"


def test_real_tiny_chain_on_digits(tmp_path, capsys):
    """Real runs (1 epoch, tiny ResNet-32 on digits_lt): cRT's stage 1 (CE) then stage 2 from its folder; a second
    invocation launches nothing."""
    from dcl_runner.tables import registry

    column = Column("top1", "top-1", ("dataset=digits_lt", "backbone=resnet32", "trainer.epochs=1",
                                      "dataset.max_train_samples=200", "dataset.max_eval_samples=60", "dataset.image_size=16",
                                      "trainer.device=cpu"))
    table = Table("tiny.chain", "a tiny two-stage chain", "digits_lt", (column,),
                  (Row("cRT", "crt", stage1=Stage1("ce")),))
    root = tmp_path / "o"
    registry.REGISTRY[table.id] = table
    try:
        args = ["--table", table.id, *SMOKE, "--output-root", str(root)]
        rc, out = _run(args, capsys)
        assert rc == 0, out
        first = list(root.rglob("metrics.json"))
        records = {json.loads(p.read_text())["status"] for p in first}
        assert records == {"completed"} and len(first) == 2
        stage2 = next(p.parent for p in first if OmegaConf.load(p.parent / ".hydra" / "config.yaml").method.name == "crt")
        init_from = OmegaConf.load(stage2 / ".hydra" / "config.yaml").trainer.init_from
        assert OmegaConf.load(Path(init_from) / ".hydra" / "config.yaml").method.name == "ce"
        assert "(n=1)" in (root / "tables" / "tiny.chain.md").read_text()
        rc, out = _run(args, capsys)
        assert rc == 0 and "1 runs already completed (skipped), 0 to launch" in out
        assert "stage-2 runs: 1 runs already completed (skipped), 0 to launch" in out
    finally:
        del registry.REGISTRY[table.id]
