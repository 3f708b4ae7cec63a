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
