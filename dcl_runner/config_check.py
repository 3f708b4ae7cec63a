"""Fail fast on invalid values, before any data is read, with a message naming the key.

``check_config`` checks the trainer's values, then every section built from the config against what builds it
(``check_sections``: the keys of ``method``, ``backbone``, ``dataset`` with its ``augment``, the ``scheduler``
and the trackers are their builders' keyword arguments, the ``trainer``'s are ``train.TrainerKeys``' fields; see
``dcl_runner/sections.py``), so a misspelt key in an experiment file stops the run here, naming the key and the
valid ones.
"""
from __future__ import annotations

from typing import Any, Sequence

from . import sections
from .data.encoded import DECODE_MODES
from .errors import ConfigError, check_value
from .optim import GRANULARITIES, LR_SCHEDULES, OPTIMIZERS
from .trackers import check_trackers
from .models.pretrained import check as check_pretrained, check_input


RESIDENT = {"auto": "on the device when it fits dataset.resident_max_gb", True: "", False: "through a DataLoader"}
PRECISIONS = {"auto": "bf16 on GPU, fp32 on CPU", "fp32": "", "bf16": "GPU only", "fp16": "GPU only"}


def _positive_int(value: Any, key: str, minimum: int = 1) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ConfigError(f"{key}={value!r}: expected an integer >= {minimum}")


def _non_negative(value: Any, key: str) -> None:
    if not _is_number(value) or value < 0:
        raise ConfigError(f"{key}={value!r}: expected a number >= 0")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value


def _number_in(value: Any, key: str, low: float, high: float, low_open: bool = False, high_open: bool = False) -> None:
    """``value`` is a number in the interval (brackets as the flags say); else one message naming the key."""
    ok = _is_number(value) and (value > low if low_open else value >= low) and (value < high if high_open else value <= high)
    if not ok:
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise ConfigError(f"{key}={value!r}: expected a number in {interval}")


def check_config(cfg: Any) -> None:
    from .train import TrainerKeys

    sections.check(TrainerKeys, cfg.trainer, "trainer", "the trainer", shared=())
    check_sections(cfg)  # every key first: the values below are read from sections known to be whole
    t = cfg.trainer
    _positive_int(t.epochs, "trainer.epochs")
    _positive_int(t.batch_size, "trainer.batch_size")
    _positive_int(t.eval_batch_size, "trainer.eval_batch_size")
    _positive_int(t.eval_every, "trainer.eval_every")
    _positive_int(t.checkpoint_every, "trainer.checkpoint_every")
    _positive_int(t.log_every, "trainer.log_every")
    _positive_int(t.num_workers, "trainer.num_workers", minimum=0)
    if t.num_threads is not None:
        _positive_int(t.num_threads, "trainer.num_threads")
    if not isinstance(t.eval_epochs, Sequence) or isinstance(t.eval_epochs, str):
        raise ConfigError(f"trainer.eval_epochs={t.eval_epochs!r}: expected a list of epochs, e.g. [84]")
    for e in t.eval_epochs:
        if not isinstance(e, int) or not 1 <= e <= t.epochs:
            raise ConfigError(f"trainer.eval_epochs: {e!r} is not an epoch in 1..trainer.epochs={t.epochs}")

    opt = t.optimizer
    check_value("trainer.optimizer.name", opt.name, OPTIMIZERS)
    if not _is_number(opt.lr) or opt.lr <= 0:
        raise ConfigError(f"trainer.optimizer.lr={opt.lr!r}: expected a number > 0")
    _non_negative(opt.weight_decay, "trainer.optimizer.weight_decay")
    _number_in(opt.momentum, "trainer.optimizer.momentum", 0, 1, high_open=True)

    sched = t.lr_schedule
    check_value("trainer.lr_schedule.name", sched.name, LR_SCHEDULES)
    if sched.name == "multistep":
        milestones = list(sched.milestones)
        for m in milestones:
            if not isinstance(m, int) or not 0 < m < t.epochs:
                raise ConfigError(
                    f"trainer.lr_schedule.milestones: {m!r} is not inside the run (1..{t.epochs - 1}); "
                    f"a milestone at or past trainer.epochs={t.epochs} would never apply"
                )
        if milestones != sorted(milestones):
            raise ConfigError(f"trainer.lr_schedule.milestones={milestones}: must be increasing")
    if sched.name == "step":
        _positive_int(sched.step_size, "trainer.lr_schedule.step_size")
    _number_in(sched.gamma, "trainer.lr_schedule.gamma", 0, 1, low_open=True)
    _number_in(sched.min_lr_factor, "trainer.lr_schedule.min_lr_factor", 0, 1)
    _non_negative(sched.warmup_epochs, "trainer.lr_schedule.warmup_epochs")
    _number_in(sched.warmup_start_factor, "trainer.lr_schedule.warmup_start_factor", 0, 1)
    check_value("trainer.lr_schedule.granularity", sched.granularity, GRANULARITIES)
    if sched.warmup_epochs >= t.epochs:
        raise ConfigError(f"trainer.lr_schedule.warmup_epochs={sched.warmup_epochs} must be < trainer.epochs={t.epochs}")

    check_value("trainer.precision", t.precision, PRECISIONS)
    check_value("trainer.channels_last", t.channels_last, ("auto", True, False))
    check_value("trainer.eval_split", t.eval_split, ("test", "val"))

    d = cfg.dataset
    _positive_int(d.image_size, "dataset.image_size", minimum=8)
    for key in ("max_train_samples", "max_eval_samples"):
        if d[key] is not None:
            _positive_int(d[key], f"dataset.{key}")
    ratio = d.imbalance_ratio
    if ratio is not None and not (_is_number(ratio) and ratio >= 1):
        raise ConfigError(f"dataset.imbalance_ratio={ratio!r}: expected a number >= 1 (n_max / n_min), or null for none")
    _number_in(d.noise.rate, "dataset.noise.rate", 0, 1)
    _check_clean_holdout(cfg)
    check_value("dataset.resident", d.resident, RESIDENT)
    if "decode" in d:  # the ImageNet family's datasets (data/image_files.py)
        check_value("dataset.decode", d.decode, DECODE_MODES)
    if not isinstance(cfg.seed, int) or isinstance(cfg.seed, bool):
        raise ConfigError(f"seed={cfg.seed!r}: expected an integer")
    width = cfg.backbone.get("width")  # every backbone of conf/ has a width; one without has nothing to check
    if width is not None and (not _is_number(width) or width <= 0):
        raise ConfigError(f"backbone.width={width!r}: expected a number > 0")
    check_pretrained(cfg.backbone)
    check_input(cfg.backbone, cfg.dataset)
    check_task_fit(cfg)


def check_task_fit(cfg: Any) -> None:
    """A detection dataset needs a detection backbone (one returning its maps, e.g. ssd_vgg16) and no pixel-only crop
    or flip (the boxes follow only ``geometric: ssd``'s); a classification dataset the others, and no box-moving
    augmentation."""
    from .data import dataset_class
    from .models.base import backbone_builder

    detection = dataset_class(cfg.dataset).kind == "detection"
    detector = bool(getattr(backbone_builder(cfg.backbone), "detection", False))
    if detection != detector:
        raise ConfigError(f"backbone={cfg.backbone.name} with dataset={cfg.dataset.name}: a detection dataset needs a "
                          "detection backbone (backbone=ssd_vgg16) and a classification dataset a classification one")
    augment = cfg.dataset.augment
    if detection and (augment.crop != "none" or augment.flip):
        raise ConfigError(f"dataset.augment crop={augment.crop} flip={augment.flip}: these move pixels only and the "
                          "boxes of a detection dataset would not follow; set crop: none, flip: false (geometric: ssd "
                          "crops and flips with the boxes)")
    if not detection and augment.get("geometric", "none") != "none":
        raise ConfigError(f"dataset.augment.geometric={augment.geometric}: it moves boxes with the pixels, and "
                          f"dataset={cfg.dataset.name} has no boxes; set dataset.augment.geometric: none (crop / flip "
                          "augment classification images)")
    from .data.augment import section_augment

    section_augment(cfg.dataset)  # its values (crop, geometric, photometric, the ssd recipe): one message each


def _check_clean_holdout(cfg: Any) -> None:
    """A clean hold-out (``dataset.clean_holdout.size``) goes with a method that learns from it: any other method
    would train on the held-out images as ordinary ones (``data/holdout.py``). A method that learns from one and gets
    none says so when it is set up, before the first step (``methods/clean_holdout.py``)."""
    from .methods.base import method_class

    size = cfg.dataset.clean_holdout.size
    _positive_int(size, "dataset.clean_holdout.size", minimum=0)
    if size and not method_class(cfg.method).uses_clean_holdout:
        raise ConfigError(f"dataset.clean_holdout.size={size}: method={cfg.method.name} does not learn from a clean "
                          "hold-out and would train on it as ordinary data; set dataset.clean_holdout.size=0, or use a "
                          "method that takes one (l2rw, mentornet_dd)")


def check_sections(cfg: Any) -> None:
    """Every section's keys against what builds it (see the module docstring)."""
    from .data import check_dataset
    from .methods.base import check_method
    from .models.base import check_backbone
    from .schedulers import check_schedule

    check_dataset(cfg.dataset)
    check_backbone(cfg.backbone)
    check_method(cfg.method)
    check_schedule(cfg.scheduler)
    check_trackers(cfg.logger)
