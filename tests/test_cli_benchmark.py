"""``sctl benchmark`` on a tiny fake benchmarks folder (the real scripts take minutes to hours and never run here)."""

import textwrap
from pathlib import Path

import pytest

import sctl
from sctl import _benchmark, _benchmark_scripts
from sctl.cli import main

GOOD = '''
"""A good benchmark: prints a table."""
import argparse
import os
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--quick", action="store_true")
args = parser.parse_args()
print("method   auroc")
print(f"logreg   {0.812 if args.quick else 0.9:.3f}")
print("cwd is out:", Path.cwd() == Path(os.environ["SCTL_BENCHMARK_OUT"]))
Path("curve.png").write_bytes(b"not really a png")
'''

BAD = '''
"""A benchmark that crashes."""
import sys

print("partial table")
print("Traceback (most recent call last):\\nValueError: boom at step 3", file=sys.stderr)
sys.exit(3)
'''

SLOW = '''
"""Sleeps."""
import time

time.sleep(30)
'''


@pytest.fixture
def bench_dir(tmp_path, monkeypatch):
    folder = tmp_path / "benchmarks"
    folder.mkdir()
    (folder / "good.py").write_text(textwrap.dedent(GOOD))
    (folder / "bad.py").write_text(textwrap.dedent(BAD))
    (folder / "_helpers.py").write_text("X = 1\n")  # imported by scripts, not a script
    monkeypatch.setenv(_benchmark_scripts.BENCHMARKS_ENV, str(folder))
    return folder


def test_list_names_the_real_scripts_with_their_quick_setting(capsys, monkeypatch):
    monkeypatch.delenv(_benchmark_scripts.BENCHMARKS_ENV, raising=False)
    assert main(["benchmark", "--list"]) == 0
    out = capsys.readouterr().out
    for name in ("transfer_baselines", "transfer_models", "perturbation_speed", "csg2a_ic50", "million_cells"):
        assert name in out
    assert "--drugs Dabrafenib --seeds 1" in out  # transfer_models has no --quick: its own options are passed
    # the real folder is the checkout's, found from the package's location
    assert _benchmark_scripts.find_benchmarks_dir() == Path(__file__).resolve().parents[1] / "benchmarks"


def test_list_fake_folder_skips_helpers(bench_dir, capsys):
    assert main(["benchmark", "--list"]) == 0
    out = capsys.readouterr().out
    assert "good" in out
    assert "A good benchmark: prints a table." in out
    assert "bad" in out
    assert "_helpers" not in out
    assert "--quick runs: --quick" in out  # good.py has a --quick flag


def test_quick_run_writes_report_with_machine_versions_and_output(bench_dir, tmp_path, capsys):
    out = tmp_path / "report_dir"
    assert main(["benchmark", "--quick", "--only", "good", "--out", str(out)]) == 0
    assert "1 script(s) ok" in capsys.readouterr().out
    report = (out / "report.md").read_text()
    for heading in ("## Machine", "## Versions", "## Source and seeds", "## Summary", "## good"):
        assert heading in report
    for key in ("**CPU**", "**cores**", "**RAM**", "**OS**", "git commit", "PYTHONHASHSEED=0"):
        assert key in report
    for package in (
        "| python |",
        f"| sctl | {sctl.__version__} |",
        "| torch |",
        "| scvi-tools |",
        "| scanpy |",
        "| anndata |",
    ):
        assert package in report
    assert "logreg   0.812" in report  # the quick setting ran, its table verbatim
    assert "cwd is out: True" in report
    assert "good.py --quick`" in report
    assert "ok (0)" in report
    assert "![curve](good/curve.png)" in report
    assert "## bad" not in report  # --only
    assert (out / "good" / "stdout.txt").read_text().startswith("method   auroc")


def test_failing_script_is_recorded_and_the_others_still_run(bench_dir, tmp_path, capsys):
    out = tmp_path / "full"
    assert main(["benchmark", "--out", str(out)]) == 1
    assert "failed: bad" in capsys.readouterr().out
    report = (out / "report.md").read_text()
    assert report.index("## bad") < report.index("## good")  # bad ran first, good still ran after it
    assert "failed (3)" in report
    assert "ValueError: boom at step 3" in report  # stderr tail
    assert "partial table" in report
    assert "logreg   0.900" in report  # full setting of good
    assert "2 of 2 script(s) run, 1 failed" in report


def test_timeout_is_recorded(bench_dir, tmp_path):
    (bench_dir / "slow.py").write_text(textwrap.dedent(SLOW))
    report, results = _benchmark.run_benchmarks(tmp_path / "o", only="slow", timeout=0.5, log=False)
    assert [r.status for r in results] == ["timed out"]
    assert results[0].seconds < 10
    assert "timed out" in report.read_text()


def test_errors_unknown_name_and_missing_folder(bench_dir, tmp_path, capsys, monkeypatch):
    assert main(["benchmark", "--only", "good,nope", "--out", str(tmp_path / "x")]) == 2
    assert "Unknown benchmark(s) 'nope'" in capsys.readouterr().err
    monkeypatch.setenv(_benchmark_scripts.BENCHMARKS_ENV, str(tmp_path / "absent"))
    assert main(["benchmark", "--list"]) == 2
    assert "run `sctl benchmark` from a clone" in capsys.readouterr().err
    # an installed wheel has no benchmarks/ beside the package
    monkeypatch.delenv(_benchmark_scripts.BENCHMARKS_ENV)
    monkeypatch.setattr(_benchmark_scripts, "default_benchmarks_dir", lambda: tmp_path / "site-packages" / "benchmarks")
    with pytest.raises(FileNotFoundError, match="not of the installed package"):
        _benchmark_scripts.find_benchmarks_dir()
