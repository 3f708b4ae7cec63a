"""scripts/benchmark_methods.py takes the trainer's own step for every method and prints ratios to CE."""
import sys

from dcl_runner.testing import REPO_ROOT, TINY

sys.path.insert(0, str(REPO_ROOT / "scripts"))
import benchmark_methods  # noqa: E402


def test_benchmark_times_each_method_against_ce(capsys):
    tiny = [o for o in TINY if not o.startswith("trainer.batch_size")]
    benchmark_methods.main(["--methods", "dcl", "data_params", "--batch-size", "32", "--steps", "2", "--warmup", "1",
                            "-o", *tiny, "dataset.num_train=256", "dataset.num_test=64"])
    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines() if line[:1].isalpha()}
    assert rows["ce"][2] == "1.000"
    assert float(rows["dcl"][1]) > 0 and float(rows["data_params"][1]) > 0
