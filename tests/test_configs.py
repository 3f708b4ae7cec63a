"""Every YAML in conf/ composes and builds; every experiment composes plain and with budget=smoke; a section's keys
are its builder's arguments, so a misspelt key is one ConfigError, raised before any data is read."""
import logging

import pytest
import torch

import dcl_runner.train as train_module
from dcl_runner import sections
from dcl_runner.config import CONFIG_DIR
from dcl_runner.config_check import check_config
from dcl_runner.data import DATASETS, dataset_class
from dcl_runner.data.base import TASK_KINDS, DatasetKeys
from dcl_runner.errors import ConfigError
from dcl_runner.methods import METHODS
from dcl_runner.models import BACKBONES, build_backbone
from dcl_runner.schedulers import Schedule
from dcl_runner.trackers import TRACKERS
from helpers import compose

GROUPS = ["dataset", "backbone", "method", "scheduler", "budget", "experiment"]


def options(group):
    return sorted(p.stem for p in (CONFIG_DIR / group).glob("*.yaml"))


# an option that only fits a detection run composes with a detection partner (config_check.check_task_fit)
DETECTION_PARTNER = {("dataset", "kitti"): "backbone=ssd_vgg16", ("dataset", "synthetic_boxes"): "backbone=ssd_vgg16",
                     ("backbone", "ssd_vgg16"): "dataset=synthetic_boxes"}


@pytest.mark.parametrize("group,option", [(g, o) for g in GROUPS for o in options(g)])
def test_every_option_composes_and_passes_checks(group, option):
    partner = DETECTION_PARTNER.get((group, option))
    cfg = compose([f"{group}={option}", *([partner] if partner else [])])
    check_config(cfg)  # the trainer's values, and every section's keys against its builder's
    assert cfg.dataset.name and cfg.backbone.name and cfg.method.name


@pytest.mark.parametrize("option", options("dataset"))
def test_every_dataset_option_constructs_from_its_section(option):
    """The dataset object is built from its section (no file is read until ``load``)."""
    section = compose([f"dataset={option}"]).dataset
    cls = dataset_class(section)
    dataset = sections.build(cls, section, "dataset", option, also=(DatasetKeys,), shared=())
    assert isinstance(dataset, cls) and cls.kind in TASK_KINDS


def test_smoke_budget_shrinks_the_run():
    cfg = compose(["budget=smoke"])
    assert cfg.trainer.epochs == 2 and cfg.dataset.max_train_samples == 512 and cfg.backbone.width == 0.25


def test_a_by_budget_value_is_the_papers_unless_the_budget_is_smoke():
    """MentorNet DD's mentor fit, ${by_budget:30000,300}: the authors' 30,000 steps (--max_step_train=3e4) as composed
    and with experiment=, 300 under budget=smoke. The budget's name is not part of a run's identity (the values it
    sets are), and a config without it (an older run folder's) reads the paper value."""
    from omegaconf import OmegaConf

    from dcl_runner.config import canonical

    paper, smoke = compose(["method=mentornet_dd"]), compose(["method=mentornet_dd", "budget=smoke"])
    ren = compose(["experiment=ren_noisy_cifar10_wrn", "method=mentornet_dd", "dataset.clean_holdout.size=1000"])
    assert (paper.method.mentor_steps, ren.method.mentor_steps, smoke.method.mentor_steps) == (30000, 30000, 300)
    assert "budget_name" not in canonical(smoke)
    assert OmegaConf.create({"steps": "${by_budget:30000,300}"}).steps == 30000


@pytest.mark.parametrize("name", options("backbone"))
def test_every_backbone_builds_and_runs(name):
    cfg = compose([f"backbone={name}", "backbone.width=0.25"]).backbone
    size = 32 if name == "inception_v2" else 16  # BN-Inception's Caffe pooling takes multiples of 32 (its own test)
    net = build_backbone(cfg, in_channels=3, image_size=size)
    fmap, feats = net(torch.randn(2, 3, size, size))
    if isinstance(fmap, tuple):  # a detection backbone: its maps, one out_channels each, and no pooled vector
        assert [m.shape[:2] for m in fmap] == [(2, c) for c in net.out_channels] and feats is None
        return
    assert fmap.shape[:2] == (2, net.out_channels)
    assert feats.shape == (2, net.feature_dim)


def test_every_registered_name_has_a_yaml():
    for group, registry in (("backbone", BACKBONES), ("method", METHODS), ("dataset", DATASETS)):
        configured = {compose([f"{group}={o}"])[group].name for o in options(group)}
        assert set(registry.names()) <= configured, group


def _sections_and_builders():
    """(where, option, section, builder(s)) of every option of the groups built from a section."""
    for option in options("method"):
        section = compose([f"method={option}"]).method
        yield "method", option, section, (METHODS.get(section.name),)
    for option in options("backbone"):
        section = compose([f"backbone={option}"]).backbone
        yield "backbone", option, section, (BACKBONES.get(section.name),)
    for option in options("dataset"):
        section = compose([f"dataset={option}"]).dataset
        yield "dataset", option, section, (DATASETS.get(section.name),)
    for option in options("scheduler"):
        yield "scheduler", option, compose([f"scheduler={option}"]).scheduler, (Schedule,)
    for option in options("logger"):
        for name, section in (compose([f"logger={option}"]).logger or {}).items():
            yield f"logger.{name}", option, section, (TRACKERS[name],)


def test_a_default_in_code_only_where_some_option_leaves_the_key_out():
    """A default lives in one place, the YAML: an argument with a default in code is one that some option built
    by that code does not set (conf/scheduler/constant.yaml has no ``target``; only imagenet.yaml and
    webvision.yaml of the file-based datasets set ``cache_size``)."""
    import inspect

    given = {}  # (the function declaring a defaulted argument, the argument) -> key sets of the sections it builds
    for _, _, section, builders in _sections_and_builders():
        for builder in builders:
            for fn in sections.init_chain(builder):
                for key, param in inspect.signature(fn).parameters.items():
                    if param.kind is param.KEYWORD_ONLY and param.default is not param.empty:
                        given.setdefault((fn, key), []).append(set(section))
    assert given, "no defaulted argument found: the test would prove nothing"
    for (fn, key), present in given.items():
        assert not all(key in keys for keys in present), f"{fn.__qualname__}: {key} has a default in code, yet every YAML sets it"


# -- a misspelt key ------------------------------------------------------------------------------------------
DP_KEYS = ("branch_dim, clamp_sigma, class_lr, class_weight_decay, curriculum, init_class_sigma, init_inst_sigma, "
           "inst_lr, inst_weight_decay, momentum, name, top_fraction, track_instances")
# the keys of conf/_base/dataset.yaml and of conf/dataset/synthetic_classes.yaml, and the optional generate_size
SYNTHETIC_CLASSES_KEYS = (
    "augment, channels, clean_holdout, data_seed, download, generate_size, image_size, imbalance_ratio, lt_seed, "
    "max_eval_samples, max_train_samples, mean, min_strength, name, noise, num_classes, overlap, pattern_seed, "
    "pixel_noise, resident, resident_max_gb, root, std, strength, subset, test_per_class, train_per_class")
MISSPELT = {  # the experiment file's lines -> the one message, written out by hand from the YAML files
    "method": ("method:\n  curiculum: class",
               f"method.curiculum: unknown key for method data_params (did you mean curriculum?); its keys: {DP_KEYS}"),
    "backbone": ("backbone:\n  widht: 0.5",
                 "backbone.widht: unknown key for backbone resnet32 (did you mean width?); its keys: head_init, name, "
                 "pretrained, width"),
    "dataset": ("dataset:\n  train_per_clas: 5",
                "dataset.train_per_clas: unknown key for dataset synthetic_classes (did you mean train_per_class?); "
                f"its keys: {SYNTHETIC_CLASSES_KEYS}"),
    "augment": ("dataset:\n  augment:\n    fliip: true",
                "dataset.augment.fliip: unknown key for the augmentation of dataset synthetic_classes (did you mean "
                "flip?); its keys: color_jitter, crop, flip, geometric, grayscale, padding, photometric, ratio, scale, ssd"),
    "method, among valid keys": ("method:\n  class_lr: 0.2\n  momentm: 0.9",
               f"method.momentm: unknown key for method data_params (did you mean momentum?); its keys: {DP_KEYS}"),
    "trainer": ("trainer:\n  optimizer:\n    weight_decy: 0.1",
                "trainer.optimizer.weight_decy: unknown key for optimizer of the trainer (did you mean weight_decay?); "
                "its keys: betas, lr, momentum, name, nesterov, weight_decay"),
}


@pytest.mark.parametrize("section", list(MISSPELT))
def test_a_misspelt_key_in_an_experiment_file_stops_the_run_before_any_data_is_read(section, tmp_path, monkeypatch):
    lines, message = MISSPELT[section]
    (tmp_path / "experiment").mkdir()
    (tmp_path / "experiment" / "typo.yaml").write_text(
        "# @package _global_\ndefaults:\n  - override /dataset: synthetic_classes\n  - override /backbone: resnet32\n"
        f"  - override /method: data_params\n{lines}\n")
    cfg = compose([f"hydra.searchpath=[file://{tmp_path}]", "experiment=typo", "trainer.device=cpu"])

    def no_data(*args, **kwargs):
        raise AssertionError("the data was read before the config was checked")

    monkeypatch.setattr(train_module, "build_data", no_data)
    with pytest.raises(ConfigError) as raised:
        train_module.Trainer(cfg, tmp_path / "run")
    assert str(raised.value) == message


def test_a_nested_key_and_a_missing_key_are_one_message_each():
    with pytest.raises(ConfigError) as raised:
        check_config(compose(["method=dcl", "+method.triplet.margn=0.3"]))
    assert str(raised.value) == ("method.triplet.margn: unknown key for triplet of method dcl (did you mean margin?); "
                                 "its keys: anchors, k, margin, normalize")
    with pytest.raises(ConfigError) as raised:
        check_config(compose(["method=twohead", "~method.alpha"]))
    assert str(raised.value).startswith("method.alpha: missing; method twohead has no default for it (defaults live "
                                        "in the YAML); its keys: alpha, cdh, classifier, ")


def test_a_key_of_another_option_is_ignored_and_logged(caplog):
    """dp.t1's baseline row runs the data-parameters experiment with method=ce: the experiment's method keys
    (curriculum, inst_lr ...) are data_params' and ce ignores them, saying so once."""
    from dcl_runner.data.base import TaskInfo
    from dcl_runner.methods import build_method

    cfg = compose(["experiment=dp_cifar100_wrn", "method=ce"])
    check_config(cfg)
    task = TaskInfo("multiclass", ["a", "b"], torch.tensor([3, 1]).numpy(), 4, (3, 8, 8))
    with caplog.at_level(logging.INFO, logger="dcl_runner.sections"):
        method = build_method(cfg.method, task)
    assert type(method).__name__ == "CrossEntropy"  # method=ce: the base class's defaults
    assert "method ce ignores method.curriculum, method.class_lr" in caplog.text


def test_an_unknown_value_names_the_key_and_the_valid_values():
    """errors.unknown_value writes every such message the same way (and where given, what each value means)."""
    with pytest.raises(ConfigError) as raised:
        check_config(compose(["trainer.optimizer.name=adagrad"]))
    assert str(raised.value) == "unknown value 'adagrad' for trainer.optimizer.name; valid values are sgd, adam, adamw"
    with pytest.raises(ConfigError) as raised:
        check_config(compose(["dataset.resident=maybe"]))  # was read as auto before it was checked
    assert str(raised.value) == ("unknown value 'maybe' for dataset.resident; valid values are auto (on the device "
                                 "when it fits dataset.resident_max_gb), true, false (through a DataLoader)")


# -- every experiment, plain and smoke -----------------------------------------------------------------------
# the method each experiment file runs (its header names the paper row), written out by hand
METHOD_OF = {
    "dcl_celeba": "dcl", "dcl_celeba_ce": "ce", "dcl_celeba_oversample": "oversample",
    "dcl_celeba_undersample": "undersample", "dcl_celeba_cost_sensitive": "cost_sensitive",
    "dcl_celeba_selective_learning": "selective_learning", "dcl_celeba_crl_i": "crl_i",
    "dcl_celeba_lmle": "lmle", "dcl_celeba_clmle": "clmle", "dcl_rap_deep_mar": "deep_mar",
    "dcl_rap_inception_v2": "ce",
    "dcl_celeba_sampling_only": "dcl", "dcl_celeba_sampling_tea": "dcl", "dcl_rap": "dcl", "dcl_rap_ce": "ce",
    "dcl_rap_all_attributes": "dcl", "dcl_cifar100": "dcl", "dcl_cifar100_ce": "ce", "dcl_cifar100_crl": "crl_i",
    **{name: "data_params" for name in ("dp_cifar100_wrn", "dp_imagenet_resnet18", "dp_noisy_cifar100_wrn",
                                        "dp_noisy_cifar10_wrn", "dp_random_labels_vgg16", "dp_webvision_resnet18",
                                        "dp_kitti_ssd",
                                        # Ren et al.'s protocol over dp_noisy_*: its rows name their method
                                        "ren_noisy_cifar10_wrn", "ren_noisy_cifar100_wrn")},
    **{name: "twohead" for name in ("th_cifar100_lt", "th_cifar100_lt_cui", "th_cifar100_lt_ldam_drw", "th_cifar10_lt",
                                    "th_cifar10_lt_cui", "th_cifar10_lt_ldam_drw", "th_imagenet_lt", "th_tiny_imagenet_lt")},
    "th_cifar10_lt_bbn": "bbn", "th_cifar100_lt_bbn": "bbn",  # BBN's own CIFAR configs (th.t1's BBN row)
    # Hybrid-SC sec. 4.1 as restated by a reproduction report (th.t1's Hybrid-SC row)
    "th_cifar10_lt_hybrid_sc": "hybrid_sc", "th_cifar100_lt_hybrid_sc": "hybrid_sc",
    "oltr_imagenet_lt": "oltr",  # OLTR's own ImageNet-LT protocol, stage 2
    # two-stage rows (docs/two_stage.md): MiSLAS's stage 1 (mixup) and stage 2, decoupling's LWS stage 2
    **{f"th_{d}_lt_mislas_stage1": "mixup" for d in ("cifar10", "cifar100", "imagenet")},
    **{f"th_{d}_lt_mislas_r{r}": "mislas" for d in ("cifar10", "cifar100", "tiny_imagenet") for r in (100, 50, 10)},
    "th_imagenet_lt_mislas": "mislas", "th_imagenet_lt_lws": "lws",
}


def test_the_experiment_list_is_complete():
    assert set(options("experiment")) == set(METHOD_OF)


def paper_protocol(name, cfg):
    """What the paper budget keeps, per paper (test_protocols checks every table cell key by key)."""
    t = cfg.trainer
    if name == "dcl_rap_deep_mar":  # DeepMAR's authors' code (train_deepmar_resnet50.py): 150 epochs, batch 32, lr 0.001
        assert (t.epochs, t.batch_size, t.optimizer.lr, t.optimizer.weight_decay) == (150, 32, 0.001, 5e-4)
        assert cfg.backbone.name == "resnet50" and cfg.backbone.pretrained == "imagenet"
    elif name == "dcl_rap_inception_v2":  # main_net.prototxt's batch 150; DeepMAR's fine-tuning solver (a choice)
        assert (t.epochs, t.batch_size, t.optimizer.lr, t.optimizer.weight_decay) == (150, 150, 0.001, 5e-4)
        assert cfg.backbone.name == "inception_v2" and cfg.backbone.pretrained == "imagenet"
    elif name.startswith("dcl_") and "cifar100" not in name:  # DCL sec. 4.3.1 / 4.4.1: CelebA and RAP
        assert (t.epochs, t.batch_size, t.optimizer.lr, t.optimizer.weight_decay) == (300, 512, 0.003, 5e-4)
        assert cfg.dataset.augment.flip is True
        assert cfg.backbone.name == ("deepid2" if "celeba" in name else "resnet50")
    if cfg.method.name in ("dcl", "selective_learning", "crl_i"):  # DCL sec. 4.3.1: k 25, margin 0.2, p 0.3
        assert (cfg.method.triplet.k, cfg.method.triplet.margin) == (25, 0.2)
        if cfg.method.loss_scheduler.name == "composite":
            assert cfg.method.loss_scheduler.p == 0.3
    if name.startswith("th_") and cfg.method.name in ("mislas", "lws"):  # stage 2: MiSLAS 10 epochs, Kang et al.'s LWS 5
        assert t.optimizer.momentum == 0.9 and t.epochs == (10 if cfg.method.name == "mislas" else 5)
    elif name.startswith("th_") and name.endswith("_mislas_stage1"):  # MiSLAS stage 1: 200 (CIFAR) / 180 (ImageNet-LT)
        assert t.optimizer.momentum == 0.9 and t.epochs in (200, 180) and t.batch_size in (128, 256)
    elif name.startswith("th_"):  # two-head sec. 3.1: SGD momentum 0.9, 200 (CIFAR) or 90 (ImageNet-LT) epochs
        assert t.optimizer.momentum == 0.9 and t.epochs in (200, 90) and t.batch_size in (128, 512)
    if cfg.method.name == "hybrid_sc":  # restated sec. 4.1: batch 512, lr 0.5, wd 1e-4, grayscale 0.2, SC tau 0.1
        assert (t.batch_size, t.optimizer.lr, t.optimizer.weight_decay, cfg.dataset.augment.grayscale) == (512, 0.5, 1e-4, 0.2)
        assert (cfg.method.loss, cfg.method.sc_temperature) == ("sc", 0.1)
    if name.startswith("oltr_"):  # OLTR stage_2_meta_embedding.py: 60 epochs, batch 128, features 0.01, classifier 0.1
        assert (t.epochs, t.batch_size, t.optimizer.lr, cfg.method.classifier_lr) == (60, 128, 0.01, 0.1)
    if name == "dp_kitti_ssd":  # DP sec. 3.3 method values; the detector's protocol: torchvision's SSD300 recipe
        assert (cfg.method.curriculum, cfg.method.inst_lr, cfg.method.momentum, cfg.method.inst_weight_decay) == (
            "instance", 0.1, 0.0, 0.0)
        assert (t.epochs, t.batch_size, t.optimizer.lr, list(t.lr_schedule.milestones)) == (120, 32, 0.002, [80, 110])
        assert (cfg.dataset.name, list(cfg.dataset.classes), cfg.dataset.image_size) == ("kitti", ["Car"], 300)
    assert t.epochs > 2


@pytest.mark.parametrize("budget", ["paper", "smoke"])
@pytest.mark.parametrize("name", options("experiment"))
def test_every_experiment_composes_plain_and_smoke(name, budget):
    cfg = compose([f"experiment={name}", f"budget={budget}"])
    check_config(cfg)
    assert cfg.method.name == METHOD_OF[name]
    if budget == "paper":
        paper_protocol(name, cfg)
        return
    t, d = cfg.trainer, cfg.dataset  # conf/budget/smoke.yaml, whatever the experiment pinned
    assert (t.epochs, t.batch_size, t.num_workers, d.max_train_samples, d.max_eval_samples, d.image_size) == (2, 64, 0, 512, 256, 32)
    assert (cfg.backbone.width, cfg.backbone.pretrained) == (0.25, None)
    assert list(t.lr_schedule.milestones) == [] and t.lr_schedule.warmup_epochs == 0 and list(t.eval_epochs) == []
