"""One run over N processes (DistributedDataParallel, gloo on the CPU): dcl_runner/distributed.py.

The processes are forks of the test process joined as a gloo group through torchrun's variables
(helpers.run_in_processes), so a 2-process run costs seconds; the CLI is driven the same way (its ``main`` in each
process, as torchrun's workers run it), and a slow test (-m slow) starts the real ``torchrun -m dcl_runner``.

What "2 processes reproduce 1 process" means here, and its tolerance: the same global batch of 32 is
split 16 + 16; the backbone has no BatchNorm (DeepID2 with ``backbone.batch_norm=false``: per-process
BatchNorm statistics would make a different model, and torch's SyncBatchNorm needs CUDA), so both runs
compute the same function. They are not bit-identical: a convolution over 16 images does not sum in the
same order as over 32, and DDP adds two half-batch gradients where one process sums 32 terms. These
float32 rounding differences (~1e-7 relative per step) stay below 1e-5 in the losses and 1e-4 in the
weights over the 12 to 16 steps of a test, and the predictions (hence every metric) are identical.
DCL's hard-sample mining picks the top-k scores of the batch: a rounding difference flips a pick when two
scores are within ~1e-7 (measured: from the 4th step of the default DCL run), after which two runs part as
two seeds would. DCL is therefore checked step by step: the same weights give the same loss and gradient.
"""
import json
import os
import signal
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from dcl_runner.distributed import BatchPart, Processes
from helpers import REPO_ROOT, compose, run_in_processes, signal_at_step

CLASSES = ["dataset=synthetic_classes", "dataset.train_per_class=40", "dataset.imbalance_ratio=4", "dataset.test_per_class=8"]
ATTRIBUTES = ["dataset.num_train=256", "dataset.num_test=64"]
TRAINER = ["trainer.epochs=2", "trainer.batch_size=32", "trainer.eval_batch_size=64", "trainer.progress=false",
           "trainer.num_workers=0", "trainer.device=cpu", "trainer.log_every=2"]
BASE = ["backbone=deepid2", "backbone.width=0.25", "backbone.batch_norm=false", *TRAINER, "dataset.max_eval_samples=64"]
# methods whose state or statistics span the batch or the dataset (docs/distributed.md)
METHODS = {
    "data_params": [*CLASSES, "method=data_params", "method.curriculum=joint"],     # per-sample and per-class parameters
    # class-balanced re-sampling from epoch 2, class re-weighting (a weighted mean: the global normaliser) from epoch 1
    "drs": [*CLASSES, "method=drs", "method.resample.start_epoch=1", "method.reweight.type=cb", "method.reweight.start_epoch=0"],
    "twohead": [*CLASSES, "method=twohead", "method.clustering=kmeans"],            # clusters assigned in setup
    "undersample": ["method=undersample", *ATTRIBUTES],                            # per-epoch sample weights (attributes)
}
# detection (docs/detection.md): SSD's N = the global batch's positives, a sigma per box (the background anchors' = the
# mean over the global batch's boxes), SSD's augmentation drawn for the global batch; tiny SSD (VGG at 1/16 width, no
# BatchNorm) at 32 px, the KITTI protocol's optimizer (lr 0.002) without its warm-up, 3 steps per epoch
DETECTION = {"detection_dp": ["experiment=dp_kitti_ssd", "dataset=synthetic_boxes", "dataset.image_size=32",
                              "dataset.num_train=48", "dataset.num_test=16", "backbone.pretrained=null", "backbone.width=0.0625",
                              "trainer.batch_size=16", "trainer.lr_schedule.warmup_epochs=0", "trainer.lr_schedule.milestones=[1]"]}


def train(rank, names, root):
    """Each named config trained into root/<name>; returns every history and the final weights (rank 0)."""
    from dcl_runner.train import run_experiment

    out = {}
    for name in names:
        run_dir = Path(root) / name
        overrides = [*BASE, *METHODS[name]] if name in METHODS else [*TRAINER, *DETECTION[name]]
        final = run_experiment(compose(overrides), run_dir)
        if rank:  # process 0 alone writes the run folder
            continue
        state = torch.load(run_dir / "checkpoints" / "last.pt", weights_only=False)
        out[name] = {"final": final, "history": (run_dir / "history.csv").read_text(),
                     "model": {k: v.numpy() for k, v in state["model"].items()},
                     "method": {k: v.numpy() for k, v in state["method"].items() if torch.is_tensor(v)},
                     "predictions": dict(np.load(run_dir / "predictions.npz"))}
    return out if rank == 0 else None


def read_history(text):
    lines = text.strip().splitlines()
    keys = lines[0].split(",")
    return [dict(zip(keys, (float(v) if v else None for v in line.split(",")))) for line in lines[1:]]


@pytest.fixture(scope="module")
def one_and_two(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp")
    import torchvision.models.detection  # noqa: F401 - SSD's parts: imported once here (~3 s), not in every fork
    names = [*METHODS, *DETECTION]
    one = ok(run_in_processes(1, train, names, str(root / "one")))
    two = ok(run_in_processes(2, train, names, str(root / "two")))
    return one, two, root


def ok(results):
    """Process 0's value, once every process has returned."""
    assert all(status == "ok" for status, _ in results), results
    return results[0][1]


@pytest.mark.parametrize("name", list(METHODS))
def test_two_processes_reproduce_the_one_process_run(one_and_two, name):
    one, two, root = one_and_two
    a, b = one[name], two[name]
    for row_a, row_b in zip(read_history(a["history"]), read_history(b["history"])):
        for key in ("loss", "lr", "train_acc"):
            assert row_b[key] == pytest.approx(row_a[key], rel=1e-5, abs=1e-6), (name, key)
    headline = "top1" if "top1" in a["final"] else "mA"
    assert b["final"][headline] == a["final"][headline]  # the same predictions
    for key, value in a["model"].items():
        np.testing.assert_allclose(b["model"][key], value, atol=1e-4, rtol=1e-4, err_msg=key)
    for key, value in a["method"].items():  # data parameters, cluster maps: global, the same on every process
        np.testing.assert_allclose(b["method"][key], value, atol=1e-5, rtol=1e-5, err_msg=key)
    record = json.loads((root / "two" / name / "metrics.json").read_text())
    assert record["processes"] == 2 and record["status"] == "completed"


def test_two_processes_reproduce_the_one_process_detection_run(one_and_two):
    """SSD + instance data parameters (one sigma per box): the losses, weights and box sigmas of one process within
    the tolerances above, the same detections (process 0 gathers every block), the same AP."""
    one, two, root = one_and_two
    a, b = one["detection_dp"], two["detection_dp"]
    rows_a, rows_b = read_history(a["history"]), read_history(b["history"])
    assert len(rows_a) == len(rows_b) == 2
    for row_a, row_b in zip(rows_a, rows_b):
        for key in ("loss", "loss_conf", "loss_loc", "positives_per_image", "dp_inst_sigma_mean", "dp_inst_sigma_std"):
            assert row_b[key] == pytest.approx(row_a[key], rel=1e-5, abs=1e-6), key
    for key, value in a["model"].items():
        np.testing.assert_allclose(b["model"][key], value, atol=1e-4, rtol=1e-4, err_msg=key)
    sigma_a, sigma_b = np.exp(a["method"]["inst_log_sigma"]), np.exp(b["method"]["inst_log_sigma"])
    assert (sigma_a != 1).mean() > 0.8  # every image is in a batch of each epoch; a box cropped out in both is not
    np.testing.assert_allclose(sigma_b, sigma_a, atol=1e-5, rtol=1e-5)
    scores_a, scores_b = a["predictions"]["scores"], b["predictions"]["scores"]
    assert scores_a.shape == scores_b.shape == (16, 200, 6) and (scores_a[:, :, 5] >= 0).sum() > 100
    np.testing.assert_array_equal(scores_b[:, :, 5], scores_a[:, :, 5])  # the same detections, in the same rows
    np.testing.assert_allclose(scores_b, scores_a, atol=1e-4)
    np.testing.assert_array_equal(b["predictions"]["targets"], a["predictions"]["targets"])
    assert b["final"] == a["final"]  # AP per regime (0 after 6 steps from random weights: the detections above are the check)
    record = json.loads((root / "two" / "detection_dp" / "metrics.json").read_text())
    assert record["processes"] == 2 and record["status"] == "completed"


DCL_VARIANTS = {"attributes-batch": ATTRIBUTES, "attributes-train": [*ATTRIBUTES, "method.current=train"],
                "multiclass-crl": [*CLASSES, "method.triplet.anchors=all"]}


def dcl_steps(rank, root):
    """One training step of DCL at epoch 1 (g < 1 and f > 0: both DSL and the triplet loss) per variant: the global
    DSL loss, the triplet loss and the model's gradient, as process 0 sees them."""
    from dcl_runner.methods.base import Batch
    from dcl_runner.runtime import make_generator, step_seed
    from dcl_runner.train import Trainer

    out = {}
    for name, overrides in DCL_VARIANTS.items():
        trainer = Trainer(compose([*BASE, "method=dcl", *overrides]), Path(root) / name)
        trainer.method.setup(trainer.train_context())
        trainer.method.on_epoch_start(1)
        [part, *_] = trainer.procs.parts(trainer.epoch_order(1), 32, True)
        [(images, y, index)] = list(trainer.train_loader.load([part.index]))
        generator = make_generator(trainer.device, step_seed(0, 1, 0))
        batch = Batch(x=trainer.augment.train(images, generator, part), y=y, index=index, generator=generator, part=part)
        result = trainer.method.training_step(trainer.forward_model, batch, 1)
        result.loss.backward()
        grad = torch.cat([p.grad.flatten() for p in trainer.model.parameters()]).numpy()
        dsl = trainer.procs.mean(result.parts["loss_dsl"]).item()  # per-process means of equal shares: the global one
        out[name] = (dsl, result.parts["loss_triplet"].item(), grad)
    return out


def test_dcl_steps_are_the_one_process_step(tmp_path):
    """DSL weights from the global batch's class counts (the same random picks), the triplets mined over the
    global batch's features: the same loss and gradient as one process taking the whole batch."""
    one = ok(run_in_processes(1, dcl_steps, str(tmp_path / "one")))
    two = ok(run_in_processes(2, dcl_steps, str(tmp_path / "two")))
    for name, (dsl, triplet, grad) in one.items():
        assert triplet > 0 and two[name][1] == pytest.approx(triplet, rel=1e-5), name
        assert two[name][0] == pytest.approx(dsl, rel=1e-5), name
        np.testing.assert_allclose(two[name][2], grad, atol=1e-5 * np.abs(grad).max(), err_msg=name)


def interrupted_then_resumed(rank, root, stop_rank, stop_step):
    """A 2-process run whose process ``stop_rank`` gets SIGTERM during its ``stop_step``-th step; process 0 copies
    the interrupted folder to root/copy, then both resume it."""
    import dcl_runner.train as train_module
    from dcl_runner.train import RunInterrupted, run_experiment

    build = train_module.build_method
    if rank == stop_rank:  # a forked process: the patch ends with it
        signal_at_step(stop_step, signal.SIGTERM)
    cfg = compose([*BASE, *METHODS["data_params"]])
    run_dir = Path(root) / "run"
    try:
        run_experiment(cfg, run_dir)
        raise AssertionError("the signal did not stop the run")
    except RunInterrupted as exc:
        stopped = str(exc)
    record = json.loads((run_dir / "metrics.json").read_text())  # written before any process stops
    progress = torch.load(run_dir / "checkpoints" / "last.pt", weights_only=False)["progress"]
    if rank == 0:
        shutil.copytree(run_dir, Path(root) / "copy")
    train_module.build_method = build  # the resume as a user's: not stopped again
    run_experiment(cfg, run_dir, resume=True)
    return stopped, record["status"], progress["epoch"], progress["step"]


def test_an_interrupted_two_process_run_stops_together_and_resumes_on_two_or_one(one_and_two, tmp_path):
    one, two, _ = one_and_two
    # 6 steps per epoch, sync points every 2: a SIGTERM on process 1 during its 3rd step stops both after step 4
    results = run_in_processes(2, interrupted_then_resumed, str(tmp_path), 1, 3)
    assert [status for status, _ in results] == ["ok", "ok"], results
    for stopped, status, epoch, step in (value for _, value in results):
        assert "stopped at epoch 1, step 4" in stopped and status == "interrupted" and (epoch, step) == (0, 4)
    resumed = torch.load(tmp_path / "run" / "checkpoints" / "last.pt", weights_only=False)["model"]
    for key, value in two["data_params"]["model"].items():  # resumed on 2 = the uninterrupted 2-process run
        np.testing.assert_array_equal(resumed[key].numpy(), value, err_msg=key)

    def resume_copy(rank):
        from dcl_runner.train import run_experiment

        return run_experiment(compose([*BASE, *METHODS["data_params"]]), tmp_path / "copy", resume=True)

    final = ok(run_in_processes(1, resume_copy))  # the same run resumed on 1 process
    assert final["top1"] == one["data_params"]["final"]["top1"]
    on_one = torch.load(tmp_path / "copy" / "checkpoints" / "last.pt", weights_only=False)["model"]
    for key, value in one["data_params"]["model"].items():
        np.testing.assert_allclose(on_one[key].numpy(), value, atol=1e-4, rtol=1e-4, err_msg=key)
    assert json.loads((tmp_path / "copy" / "metrics.json").read_text())["processes"] == 1


def fake(rank, world):
    procs = Processes.__new__(Processes)
    procs.distributed, procs.world, procs.rank, procs.local_rank, procs.is_main = world > 1, world, rank, rank, rank == 0
    return procs


def test_global_batches_are_cut_into_equal_shares():
    order = torch.arange(10)
    halves = [fake(r, 2).parts(order, 4, drop_last=False) for r in range(2)]
    assert [p.index.tolist() for p in halves[0]] == [[0, 1], [4, 5], [8]]
    assert [p.index.tolist() for p in halves[1]] == [[2, 3], [6, 7], [9]]
    thirds = [fake(r, 3).parts(order, 6, drop_last=False) for r in range(3)]
    assert [[p.index.tolist() for p in parts] for parts in thirds] == [[[0, 1], [6]], [[2, 3], [7]], [[4, 5], [8]]]  # 9 cut
    assert [len(fake(0, 2).parts(order, 4, drop_last=True))] == [2]
    assert [fake(r, 3).block(7) for r in range(3)] == [(0, 3), (3, 6), (6, 7)]


def test_each_process_augments_its_rows_as_the_whole_batch_would():
    from dcl_runner.data.augment import Augment

    augment = Augment(8, [0.5] * 3, [0.25] * 3, crop="resized", padding=0, scale=[0.08, 1.0], ratio=[0.75, 4 / 3], flip=True)
    images = torch.randint(0, 256, (6, 3, 10, 10), dtype=torch.uint8)
    whole = augment.train(images, torch.Generator().manual_seed(3))
    parts = [BatchPart.of(torch.arange(6), fake(r, 2)) for r in range(2)]
    halves = [augment.train(images[p.start:p.stop], torch.Generator().manual_seed(3), p) for p in parts]
    torch.testing.assert_close(torch.cat(halves), whole)


def test_what_two_processes_cannot_run_is_refused_before_training(tmp_path):
    def build(rank, root):
        from dcl_runner.errors import ConfigError
        from dcl_runner.train import build_trainer

        messages = []
        for name, override in (("batch", "trainer.batch_size=33"), ("syncbn", "trainer.distributed.sync_batchnorm=true")):
            try:
                build_trainer(compose([*BASE, override]), Path(root) / name)
            except ConfigError as exc:
                messages.append(str(exc))
        return messages

    for _, (batch, syncbn) in run_in_processes(2, build, str(tmp_path)):
        assert "trainer.batch_size=33 is the global batch" in batch and "e.g. 32" in batch
        assert "sync_batchnorm=true needs CUDA" in syncbn
    assert json.loads((tmp_path / "batch" / "metrics.json").read_text())["status"] == "failed"


def diverging_on_one_process(rank, root, bad_rank, bad_step):
    """A 2-process run whose process ``bad_rank`` alone computes a NaN loss from its ``bad_step``-th step on."""
    from dcl_runner.errors import RunFailed
    from dcl_runner.methods.base import Method
    from dcl_runner.train import run_experiment

    steps, step = [0], Method.training_step

    def poisoned(self, model, batch, epoch):
        result = step(self, model, batch, epoch)
        steps[0] += 1
        if rank == bad_rank and steps[0] >= bad_step:
            result.loss = result.loss * float("nan")
        return result

    Method.training_step = poisoned
    try:
        run_experiment(compose([*BASE, *ATTRIBUTES, "method=ce"]), Path(root) / "run")
    except RunFailed as exc:
        return str(exc)


def test_a_nan_on_one_process_fails_every_process_with_the_same_reason(tmp_path):
    # 8 steps per epoch: process 1's loss is NaN from its step 3 on; the processes agree at step 4 on the first bad one
    results = run_in_processes(2, diverging_on_one_process, str(tmp_path), 1, 3)
    assert [value for _, value in results] == ["diverged at epoch 1, step 3: the training loss is not finite (NaN or inf)"] * 2
    record = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert record["status"] == "failed" and "step 3" in record["reason"]


def cli_main(rank, argv):
    """``python -m dcl_runner <argv>`` in this process (a torchrun worker's entry point): (exit code, stdout)."""
    import contextlib
    import io
    import sys

    from dcl_runner.__main__ import main

    sys.argv, out, code = ["dcl_runner", *argv], io.StringIO(), 0
    with contextlib.redirect_stdout(out):
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    return code, out.getvalue()


def test_the_cli_on_two_processes_writes_one_folder_from_process_zero(tmp_path):
    """What ``torchrun --nproc_per_node=2 -m dcl_runner`` runs in each process: one run folder (process 0's stamp),
    .hydra/ and the summary from process 0, a log file per other process; resume=<folder> of the completed run
    is answered once, by process 0."""
    args = [*BASE, "dataset.max_train_samples=128", "trainer.epochs=1", f"output_root={tmp_path}"]
    results = run_in_processes(2, cli_main, args)
    assert [value[0] for _, value in results] == [0, 0], results
    [run_dir] = [p.parent for p in tmp_path.rglob("metrics.json")]
    assert (run_dir / ".hydra" / "config.yaml").is_file() and (run_dir / "dcl_runner.rank1.log").is_file()
    record = json.loads((run_dir / "metrics.json").read_text())
    assert record["status"] == "completed" and record["processes"] == 2
    assert [sum(line.startswith("mA ") for line in value[1].splitlines()) for _, value in results] == [1, 0]
    again = run_in_processes(2, cli_main, [f"resume={run_dir}"])
    assert [value[0] for _, value in again] == [0, 0] and "is complete" in again[0][1][1] and not again[1][1][1]


@pytest.mark.slow
def test_torchrun_runs_one_folder_that_process_zero_writes(tmp_path):
    """The real launcher (new interpreters, torchrun's environment): slow, so deselected by default."""
    import subprocess
    import sys

    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), OMP_NUM_THREADS="1")
    args = [*BASE, "dataset.max_train_samples=128", "trainer.epochs=1", f"output_root={tmp_path}"]
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "dcl_runner", *args]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    [run_dir] = [p.parent for p in tmp_path.rglob("metrics.json")]
    assert (run_dir / ".hydra" / "config.yaml").is_file() and (run_dir / "dcl_runner.rank1.log").is_file()
    record = json.loads((run_dir / "metrics.json").read_text())
    assert record["status"] == "completed" and record["processes"] == 2
    assert sum(line.startswith("mA ") for line in done.stdout.splitlines()) == 1  # process 0 prints the summary


def test_a_method_not_made_global_is_refused_on_several_processes():
    """``multi_process`` is each class's own word, not inherited: a new method is refused on N > 1 processes until
    it says so (and a test shows it), on one process any method runs."""
    from dcl_runner.errors import ConfigError
    from dcl_runner.methods.base import METHODS, Method

    class Unchecked(Method):
        pass

    assert Method.multi_process and not Unchecked.multi_process
    with pytest.raises(ConfigError, match=r"^method=unchecked has not been made to compute on 2 processes"):
        fake(0, 2).check_method("unchecked", Unchecked, "multiclass")
    fake(0, 1).check_method("unchecked", Unchecked, "multiclass")
    with pytest.raises(ConfigError, match=r"^a detection dataset trains on one process only for method=unchecked"):
        fake(0, 2).check_method("unchecked", Unchecked, "detection")
    fake(0, 1).check_method("unchecked", Unchecked, "detection")
    for name in ("ce", "data_params"):  # SSD's loss and the box sigmas made global (test above)
        fake(1, 2).check_method(name, METHODS.lookup(name, "method.name"), "detection")
    for name in ("ce", "dcl", "selective_learning", "crl_i", "data_params", "twohead", "twohead_full", "drs", "ldam_drw",
                 "oversample", "undersample", "cost_sensitive"):
        fake(1, 2).check_method(name, METHODS.lookup(name, "method.name"), "attributes")
