"""Every DCL experiment composes (plain and with budget=smoke) and pins the paper's protocol;
Table 4's sweep composes; docs/dcl.md maps every experiment; a CelebA experiment runs end to end."""
import pytest

from dcl_runner.config import CONFIG_DIR
from dcl_runner.config_check import check_config
from helpers import compose
from dcl_runner.train import run_experiment

EXPERIMENTS = sorted(p.stem for p in (CONFIG_DIR / "experiment").glob("dcl_*.yaml"))
DOCS = CONFIG_DIR.parent / "docs" / "dcl.md"
METHOD_OF = {
    "dcl_celeba": "dcl", "dcl_celeba_ce": "ce", "dcl_celeba_oversample": "oversample",
    "dcl_celeba_undersample": "undersample", "dcl_celeba_cost_sensitive": "cost_sensitive",
    "dcl_celeba_selective_learning": "selective_learning", "dcl_celeba_crl_i": "crl_i",
    "dcl_celeba_sampling_only": "dcl", "dcl_celeba_sampling_tea": "dcl",
    "dcl_rap": "dcl", "dcl_rap_ce": "ce", "dcl_rap_all_attributes": "dcl", "dcl_cifar100": "dcl", "dcl_cifar100_ce": "ce", "dcl_cifar100_crl": "crl_i",
}


def test_the_experiment_list_is_complete():
    assert set(EXPERIMENTS) == set(METHOD_OF)


@pytest.mark.parametrize("budget", ["paper", "smoke"])
@pytest.mark.parametrize("name", EXPERIMENTS)
def test_dcl_experiment_composes(name, budget):
    cfg = compose([f"experiment={name}", f"budget={budget}"])
    check_config(cfg)
    assert cfg.method.name == METHOD_OF[name]
    if budget == "smoke":
        assert cfg.trainer.epochs == 2 and cfg.dataset.max_train_samples == 512
    elif "cifar100" not in name:  # the paper's CelebA / RAP protocol
        t = cfg.trainer
        assert (t.epochs, t.batch_size, t.optimizer.lr, t.optimizer.weight_decay) == (300, 512, 0.003, 5e-4)
        assert cfg.dataset.augment.flip is True
        assert cfg.backbone.name == ("deepid2" if "celeba" in name else "resnet50")
    if cfg.method.name in ("dcl", "selective_learning", "crl_i"):
        assert (cfg.method.triplet.k, cfg.method.triplet.margin) == (25, 0.2)
        if cfg.method.loss_scheduler.name == "composite":
            assert cfg.method.loss_scheduler.p == 0.3


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
    from test_celeba_rap import make_celeba

    make_celeba(tmp_path / "data", n=40)
    final = run_experiment(compose(["experiment=dcl_celeba", "budget=smoke", f"dataset.root={tmp_path}/data",
                                    f"cache_root={tmp_path}/cache", "dataset.decode_workers=0", "trainer.device=cpu"]), tmp_path / "run")
    assert len(final["per_attribute_mA"]) == 40
