"""The DCL tables' experiments: Table 3's rows switch DCL's components, Table 4's sweep composes, docs/dcl.md maps
every experiment, a CelebA experiment runs end to end (test_configs composes every experiment plain and smoke)."""
import pytest

from dcl_runner.config import CONFIG_DIR
from helpers import compose, make_celeba
from dcl_runner.train import run_experiment

EXPERIMENTS = sorted(p.stem for p in (CONFIG_DIR / "experiment").glob("dcl_*.yaml"))
DOCS = CONFIG_DIR.parent / "docs" / "dcl.md"


def test_table_3_rows_switch_the_components():
    dcl = compose(["experiment=dcl_celeba"]).method
    assert dcl.sampling_scheduler.name == "convex" and dcl.loss_scheduler.name == "composite"
    ss = compose(["experiment=dcl_celeba_sampling_only"]).method.loss_scheduler
    assert (ss.name, ss.value, ss.p) == ("constant", 0.0, None)
    tl = compose(["experiment=dcl_celeba_sampling_tea"]).method.loss_scheduler
    assert (tl.name, tl.value, tl.p) == ("constant", 1.0, None)


@pytest.mark.parametrize("scheduler", ["convex", "linear", "concave", "composite", "linear_imbalance"])
def test_table_4_sweep_composes(scheduler):
    cfg = compose(["experiment=dcl_celeba_sampling_only", f"scheduler={scheduler}"])
    assert cfg.method.sampling_scheduler.name == scheduler and cfg.method.loss_scheduler.value == 0.0
    assert cfg.method.sampling_scheduler.get("target", "power") == ("linear" if scheduler == "linear_imbalance" else "power")


def test_docs_map_every_experiment():
    text = DOCS.read_text()
    for name in EXPERIMENTS:
        assert f"experiment={name}" in text, name


def test_celeba_experiment_runs_under_the_smoke_budget(tmp_path):
    make_celeba(tmp_path / "data", n=40)
    final = run_experiment(compose(["experiment=dcl_celeba", "budget=smoke", f"dataset.root={tmp_path}/data",
                                    f"cache_root={tmp_path}/cache", "dataset.decode_workers=0", "trainer.device=cpu"]), tmp_path / "run")
    assert len(final["per_attribute_mA"]) == 40


def test_inception_v2_row_needs_its_weights_file_at_paper_budget_only(tmp_path, monkeypatch):
    """dcl.t5 "Inception-v2": ref only with the file's name, URL and folder while bn_inception-52deb4733.pth is not in
    torch hub's checkpoint dir; runnable under its own protocol once it is; at smoke budget from random weights."""
    from dcl_runner import tables as T
    from dcl_runner.tables.runs import Composer, plan_cells

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    composer = Composer()

    def cell(budget):
        return next(c for c in plan_cells(T.select("dcl.t5"), budget, [0], composer=composer)
                    if c.row.label == "Inception-v2")

    absent = cell("paper")
    assert not absent.runnable
    folder = tmp_path / "torch" / "hub" / "checkpoints"
    assert f"are not in {folder}" in absent.reason
    assert "Download http://data.lip6.fr/cadene/pretrainedmodels/bn_inception-52deb4733.pth" in absent.reason
    smoke = cell("smoke")
    assert smoke.runnable and "experiment=dcl_rap_inception_v2" in smoke.run_overrides
    folder.mkdir(parents=True)
    (folder / "bn_inception-52deb4733.pth").write_bytes(b"")  # the plan looks for the file; the run reads it
    present = cell("paper")
    assert present.runnable and present.run_overrides == ("experiment=dcl_rap_inception_v2", "method=ce")


def test_list_prints_why_a_row_is_not_built(capsys):
    """A row whose method cannot be built faithfully says why in --list, not just that the method is missing."""
    from dcl_runner.tables.__main__ import list_tables

    list_tables([])
    out = capsys.readouterr().out
    assert "- JRL " in out and "ref only (not built: JRL's recurrent encoder-decoder reads other persons' images" in out
    assert "ref only (not built: LG-Net's localization guidance needs EdgeBoxes region proposals" in out
    assert "method 'lg_net' not in the runner" not in out
