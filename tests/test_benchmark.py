"""scripts/benchmark_methods.py takes the trainer's own step for every method and prints ratios to CE."""
import re

import pytest
import sys

from helpers import REPO_ROOT, TINY

sys.path.insert(0, str(REPO_ROOT / "scripts"))
import benchmark_methods  # noqa: E402


def _rows(text: str, width: int):
    return {line.split()[0]: line.split() for line in text.splitlines() if line[:1].isalpha() and len(line.split()) == width}


def test_benchmark_times_each_method_against_ce(capsys):
    tiny = [o for o in TINY if not o.startswith("trainer.batch_size")]
    benchmark_methods.main(["--methods", "dcl", "data_params", "--batch-size", "32", "--steps", "2", "--warmup", "1",
                            "--control", "--flops", "-o", *tiny, "dataset.num_train=256", "dataset.num_test=64"])
    out = capsys.readouterr().out
    times = _rows(out, 9)  # method, wall ms, ratio, [q1, q3], cpu ms, ratio, [q1, q3]
    assert times["ce"][2] == "1.000"
    assert {"ce-control", "dcl", "data_params"} <= set(times) and float(times["dcl"][1]) > 0
    sizes = _rows(out, 5)  # method, params, vs CE, GFLOPs, vs CE
    assert sizes["ce-control"][2] == "+0.00%" and sizes["ce"][4] == "+0.00%"
    assert float(sizes["dcl"][3]) > float(sizes["ce"][3]) > 0  # the backbone, plus DCL's triplet distances (a bmm)
    # joint curriculum: a sigma per (attribute, label) and one per training sample (TINY keeps 128)
    assert int(sizes["data_params"][1]) == int(sizes["ce"][1]) + 2 * 40 + 128


def test_the_pipeline_benchmark_times_every_mode(capsys):
    import benchmark_pipeline

    benchmark_pipeline.main(["--images", "8", "--batch-size", "4", "--workers", "0"])
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ") and not line.startswith("| mode")]
    assert len(rows) == 6 and all(float(row.split("|")[2]) > 0 for row in rows)


def test_bare_control_times_a_plain_loop_on_the_same_model(capsys):
    """--bare: the trainer's step and predict() against a plain PyTorch loop on a copy of CE's model; both must
    train / score the same model: the bare step changes the copy's weights, evaluation covers the eval split."""
    tiny = [o for o in TINY if not o.startswith("trainer.batch_size")]
    benchmark_methods.main(["--methods", "ce", "--batch-size", "32", "--steps", "2", "--warmup", "1", "--bare",
                            "--eval-rounds", "1", "-o", *tiny, "dataset=digits_lt", "backbone=resnet32"])
    out = capsys.readouterr().out
    times = _rows(out, 9)
    assert {"ce", "bare"} <= set(times) and float(times["bare"][1]) > 0
    line = next(line for line in out.splitlines() if line.startswith("evaluation of"))
    assert re.fullmatch(r"evaluation of \d+ images at batch 128: runner predict [\d.]+ s, bare loop [\d.]+ s, "
                        r"ratio [\d.]+ \(median of 1 interleaved rounds\)", line), line


def test_benchmark_covers_the_two_branch_methods(capsys):
    """BBN's step takes two batches (the reversed sampler's through TrainContext.fetch) and both branches: about
    twice CE's forward FLOPs; OLTR's memory / attention / classifier add parameters, little compute; Hybrid-SC's step
    takes three batches through the whole net (two views of the batch, the class-balanced CE batch): about three
    times CE's, plus the projection MLP's parameters."""
    tiny = [o for o in TINY if not o.startswith("trainer.batch_size")]
    benchmark_methods.main(["--methods", "bbn", "oltr", "hybrid_sc", "--dataset", "digits_lt", "--backbone", "resnet32",
                            "--batch-size", "16", "--steps", "1", "--warmup", "0", "--flops", "-o", *tiny])
    out = capsys.readouterr().out
    times, sizes = _rows(out, 9), _rows(out, 5)
    assert {"bbn", "oltr"} <= set(times) and float(times["bbn"][1]) > 0 and float(times["oltr"][1]) > 0
    assert 1.8 < float(sizes["bbn"][3]) / float(sizes["ce"][3]) < 2.2  # two batches through (nearly) the whole net
    assert int(sizes["oltr"][1]) > int(sizes["ce"][1])
    assert float(times["hybrid_sc"][1]) > 0 and 2.8 < float(sizes["hybrid_sc"][3]) / float(sizes["ce"][3]) < 3.3
    assert int(sizes["hybrid_sc"][1]) > int(sizes["ce"][1])


def test_benchmark_per_epoch_counts_the_clustering_of_lmle_and_clmle(capsys):
    tiny = [o for o in TINY if not o.startswith("trainer.batch_size")]
    benchmark_methods.main(["--methods", "lmle", "clmle", "--batch-size", "32", "--steps", "1", "--warmup", "0",
                            "--per-epoch", "1", "-o", *tiny, "dataset.num_train=128", "dataset.num_test=32"])
    epochs = _rows(capsys.readouterr().out, 5)  # method, steps, hook ms, epoch s, ratio
    assert epochs["ce"][4] == "1.000" and int(epochs["lmle"][1]) == int(epochs["ce"][1]) == 128 // 32
    # CE does nothing between epochs; LMLE / CLMLE embed the training set and re-cluster it
    assert float(epochs["lmle"][2]) > float(epochs["ce"][2]) and float(epochs["clmle"][2]) > float(epochs["ce"][2])


def test_benchmark_covers_the_noisy_label_baselines(capsys):
    """dp.t2's baselines, the clean-hold-out ones (l2rw, mentornet_dd) with a hold-out and CE without one."""
    tiny = [o for o in TINY if not o.startswith("trainer.batch_size")]
    benchmark_methods.main(["--methods", "reed_hard", "s_model", "l2rw", "mentornet_pd", "mentornet_dd", "--dataset",
                            "synthetic_classes", "--backbone", "resnet32", "--batch-size", "16", "--steps", "1",
                            "--warmup", "0", "--clean-holdout", "20", "-o", *tiny, "backbone.width=0.25",
                            "dataset.noise.rate=0.4"])
    times = _rows(capsys.readouterr().out, 9)  # method, wall ms, ratio, [q1, q3], cpu ms, ratio, [q1, q3]
    methods = ("reed_hard", "s_model", "l2rw", "mentornet_pd", "mentornet_dd")
    assert times["ce"][2] == "1.000" and all(float(times[m][1]) > 0 for m in methods)


def test_gpu_benchmark_epoch_time_projection_and_doc_section(tmp_path):
    """scripts/benchmark_gpu.py: an epoch is the median gap between epoch ends after the first (which pays
    compilation); CelebA's epoch scales the measured one by 162,770 / images; the doc section replaces the old one
    between its markers and leaves the rest of the page alone."""
    import benchmark_gpu as bg

    assert bg.epoch_seconds([10.0, 12.0, 15.0, 17.0]) == 2.0          # gaps 2, 3, 2 -> median 2
    assert bg.epoch_seconds([4.0]) == 4.0
    # 3 s for 16,277 images (a tenth of CelebA's 162,770) -> 30 s per epoch -> 300 epochs = 9,000 s = 2.5 h
    assert bg.celeba_projection(3.0, 16277) == pytest.approx((30.0, 2.5))
    doc = tmp_path / "performance.md"
    doc.write_text(f"# Performance\n\nbefore\n\n## GPU speed\n\n{bg.BEGIN}\nold table\n{bg.END}\n\nafter\n")
    bg.write_doc(doc, f"{bg.BEGIN}\nnew table\n{bg.END}")
    assert doc.read_text() == f"# Performance\n\nbefore\n\n## GPU speed\n\n{bg.BEGIN}\nnew table\n{bg.END}\n\nafter\n"
    fresh = tmp_path / "new.md"
    fresh.write_text("# Performance\n")
    bg.write_doc(fresh, f"{bg.BEGIN}\nx\n{bg.END}")
    assert fresh.read_text() == f"# Performance\n\n## GPU speed\n\n{bg.BEGIN}\nx\n{bg.END}\n"


def test_gpu_benchmark_refuses_cuda_without_a_gpu(capsys):
    import benchmark_gpu as bg
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is visible")
    with pytest.raises(SystemExit):
        bg.main(["--device", "cuda", "--parts", "pipeline"])
    assert "no GPU is visible" in capsys.readouterr().err


@pytest.mark.slow
def test_gpu_benchmark_dry_run_on_the_cpu(tmp_path):
    """The whole prepared script at --scale tiny on the CPU (about a minute): every part runs and the section lands."""
    import benchmark_gpu as bg

    results = bg.main(["--device", "cpu", "--scale", "tiny", "--doc", str(tmp_path / "p.md"),
                       "--json", str(tmp_path / "g.json")])
    assert results["twohead"]["epochs"] == 2 and results["celeba"]["projected_300_h"] > 0
    assert {row["method"] for row in results["ratios"]["cifar"]["rows"]} == {"ce", "ce-control", "data_params", "twohead"}
    assert "| two-head CIFAR-100-LT protocol" in (tmp_path / "p.md").read_text()
