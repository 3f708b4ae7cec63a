"""Every registered method (``dcl_runner.methods.METHODS``) on both task types. Where the method trains the task
type (its ``task_kinds``), a training step at the first and at the last epoch gives a finite scalar loss whose
gradients reach every trainable parameter (the model's ``param_groups`` and the method's own optimizers'), and
``predict`` gives one finite score per class or attribute (detection: a fixed number of finite detections per
image, each a box, a score and a class); where it does not, building it is one ConfigError
saying so. A new method is covered the moment it is registered (with its conf/method/<name>.yaml)."""
import numpy as np
import pytest
import torch

from dcl_runner.data import boxes as B
from dcl_runner.data.base import ATTRIBUTES, DETECTION, MULTICLASS, TASK_KINDS, TaskInfo
from dcl_runner.errors import ConfigError
from dcl_runner.methods import METHODS, Batch, TrainContext, build_method
from dcl_runner.models import build_backbone
from helpers import compose

EPOCHS, BATCH, SIZE = 5, 24, 16
CLASS_COUNTS = [30, 15, 8, 4, 3]          # a long-tailed 5-class training set, 60 images
ATTRIBUTE_RATES = [0.5, 0.3, 0.15, 0.08]  # 4 attributes, the last one rare


def training_set(kind):
    """(task, images [N, 3, S, S], targets) of a small training set of the task type."""
    gen = torch.Generator().manual_seed(0)
    if kind == MULTICLASS:
        y = torch.repeat_interleave(torch.arange(len(CLASS_COUNTS)), torch.tensor(CLASS_COUNTS))
        y = y[torch.randperm(len(y), generator=gen)]
        names, counts = [f"class_{c}" for c in range(len(CLASS_COUNTS))], np.asarray(CLASS_COUNTS)
    elif kind == DETECTION:
        y = torch.from_numpy(detection_targets(60, gen))
        names, counts = ["Car", "Pedestrian"], B.boxes_per_class(y.numpy(), 2)
    else:
        y = (torch.rand(60, len(ATTRIBUTE_RATES), generator=gen) < torch.tensor(ATTRIBUTE_RATES)).float()
        y[:2], y[2:4] = 1.0, 0.0  # every attribute has positives and negatives
        names, counts = [f"attribute_{a}" for a in range(len(ATTRIBUTE_RATES))], y.sum(0).long().numpy()
    x = torch.randn(len(y), 3, SIZE, SIZE, generator=gen)
    return TaskInfo(kind, names, counts, len(y), (3, SIZE, SIZE)), x, y


def detection_targets(n, gen):
    """Box rows of ``n`` images of a 100 x 100 frame: 0-2 boxes of class 0 or 1 (image 0: none), numbered."""
    images = []
    for i in range(n):
        count = 0 if i == 0 else int(torch.randint(1, 3, (), generator=gen))
        rows = np.zeros((count, len(B.COLUMNS)), dtype=np.float32)
        for k in range(count):
            x, y = torch.randint(0, 50, (2,), generator=gen).tolist()
            rows[k, [B.TYPE, B.LABEL, B.X1, B.Y1, B.X2, B.Y2]] = (0, (i + k) % 2, x, y, x + 40, y + 45)
        images.append(rows)
    return B.number_boxes(B.with_image_size(B.box_table(images), np.full((n, 2), 100.0)))


def model_for(method, kind, name):
    """The method's model (``build_model``) on a small backbone of the task type (detection: SSD's VGG at 1/16
    width; otherwise the small DeepID2, or the ResNet a method needs: ``BACKBONES``)."""
    backbone = ["backbone=ssd_vgg16", "backbone.width=0.0625"] if kind == DETECTION else [
        f"backbone={BACKBONES.get(name, 'deepid2')}", "backbone.width=0.25"]
    return method.build_model(build_backbone(compose(backbone).backbone, 3, SIZE))


def trainable(method, model):
    """Every parameter an optimizer steps: the model optimizer's param groups and the method's own optimizers'."""
    groups = list(method.param_groups(model))
    params = [p for g in groups for p in (g["params"] if isinstance(g, dict) else [g])]
    params += [p for opt in method.optimizers() for g in opt.param_groups for p in g["params"]]
    return [p for p in params if p.requires_grad]


# the small DeepID2 unless the method needs a backbone whose pooled features are the mean of its last map: BBN splits
# off the last residual block, OLTR's attention reads the map (DeepID2's own 160-d layer would get no gradient)
BACKBONES = {"bbn": "resnet32", "oltr": "resnet32"}
CASES = [(name, kind) for name in sorted(METHODS.names()) for kind in TASK_KINDS]
# keys that only make a method slow here: MentorNet DD fits its mentor for the authors' 30,000 Adam steps
FAST = {"mentornet_dd": ["method.mentor_steps=20"]}


@pytest.mark.parametrize("name,kind", CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_every_registered_method_trains_the_task_types_it_declares(name, kind):
    section = compose([f"method={name}", f"trainer.epochs={EPOCHS}", *FAST.get(name, [])]).method
    task, x, y = training_set(kind)
    if kind not in METHODS.get(name).task_kinds:
        with pytest.raises(ConfigError, match=f"method={name} trains .* tasks only, and this dataset's task is {kind}"):
            build_method(section, task)
        return
    torch.manual_seed(0)
    method = build_method(section, task)
    model = model_for(method, kind, name)
    index = torch.arange(len(y))
    # a method that learns from a clean hold-out (l2rw) gets one: every 6th image
    meta = {"clean_holdout_mask": (index % 6 == 0).numpy()} if METHODS.get(name).uses_clean_holdout else {}
    method.setup(TrainContext(
        task=task, train_targets=y, device=torch.device("cpu"), epochs=EPOCHS, steps_per_epoch=len(y) // BATCH,
        seed=0, meta=meta, model=model,
        iterate_train=lambda size: ((x[i:i + size], y[i:i + size], index[i:i + size]) for i in range(0, len(y), size)),
        fetch=lambda at, generator=None, augment=True: (x[at], y[at], at)))
    params = trainable(method, model)
    assert params, "nothing to train"
    for epoch in (0, EPOCHS - 1):  # the last epoch: deferred re-weighting / re-sampling and eq. 11's eps are on
        method.on_epoch_start(epoch)
        gen = torch.Generator().manual_seed(epoch)
        order = method.epoch_order(epoch, gen)
        order = torch.randperm(len(y), generator=gen) if order is None else order
        assert order.dtype == torch.long and 0 <= int(order.min()) and int(order.max()) < len(y)
        at = order[:BATCH]
        model.train()
        method.train_mode(model)
        result = method.training_step(model, Batch(x=x[at], y=y[at], index=at, generator=gen), epoch)
        assert result.loss.dim() == 0 and torch.isfinite(result.loss), f"epoch {epoch}: loss {result.loss}"
        for p in params:
            p.grad = None
        result.loss.backward()
        missing = [tuple(p.shape) for p in params if p.grad is None or not torch.isfinite(p.grad).all()]
        assert not missing, f"epoch {epoch}: no finite gradient reaches parameters of shapes {missing}"
        assert sum(float(p.grad.abs().sum()) for p in model.head.parameters() if p.requires_grad) > 0
    model.eval()
    with torch.no_grad():
        scores = method.predict(model(x[:7]))
    if kind == DETECTION:  # [7, D, 6]: normalised box, score, class (-1 pads)
        assert scores.shape[0] == 7 and scores.shape[2] == 6 and torch.isfinite(scores).all()
        assert set(scores[:, :, 5].unique().tolist()) <= {-1.0, 0.0, 1.0}
    else:
        assert scores.shape == (7, task.num_outputs) and torch.isfinite(scores).all()
