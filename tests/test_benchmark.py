"""scripts/benchmark_methods.py takes the trainer's own step for every method and prints ratios to CE."""
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


def test_benchmark_per_epoch_counts_the_clustering_of_lmle_and_clmle(capsys):
    tiny = [o for o in TINY if not o.startswith("trainer.batch_size")]
    benchmark_methods.main(["--methods", "lmle", "clmle", "--batch-size", "32", "--steps", "1", "--warmup", "0",
                            "--per-epoch", "1", "-o", *tiny, "dataset.num_train=128", "dataset.num_test=32"])
    epochs = _rows(capsys.readouterr().out, 5)  # method, steps, hook ms, epoch s, ratio
    assert epochs["ce"][4] == "1.000" and int(epochs["lmle"][1]) == int(epochs["ce"][1]) == 128 // 32
    # CE does nothing between epochs; LMLE / CLMLE embed the training set and re-cluster it
    assert float(epochs["lmle"][2]) > float(epochs["ce"][2]) and float(epochs["clmle"][2]) > float(epochs["ce"][2])
