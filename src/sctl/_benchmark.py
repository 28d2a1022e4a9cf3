"""``sctl benchmark``: run the scripts of ``benchmarks/`` and write one Markdown report.

Each script prints its own tables. This module runs them one after the other as subprocesses of the same Python,
each in its own output folder (its working directory, where any figure it saves lands), captures what it prints
and its wall time, and writes ``report.md``: the machine (CPU, cores, RAM, OS, GPU), the versions of the main
packages, the git commit, the seeds, then per script its command line, run time, exit status and printed tables
verbatim. The report is rewritten after every script, so an interrupted run still leaves the finished ones.

The scripts live in the source checkout (``benchmarks/`` beside ``src/``), not in the installed package: they are
found at ``--benchmarks-dir``, else at ``$SCTL_BENCHMARKS_DIR``, else beside the checkout this module comes from.
"""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from sctl._benchmark_report import git_commit, machine_info, render, versions
from sctl._benchmark_scripts import arguments, discover, find_benchmarks_dir, select, summary_line

#: environment variable given to every script: its output folder (also its working directory)
OUT_ENV = "SCTL_BENCHMARK_OUT"
FIGURE_SUFFIXES = (".png", ".svg", ".pdf", ".jpg")


@dataclass
class Result:
    """What one script did."""

    name: str
    command: list[str]
    setting: str
    seconds: float
    returncode: int | None
    stdout: str
    stderr: str
    figures: list[Path] = field(default_factory=list)
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        """Whether the script exited with status 0."""
        return self.returncode == 0 and not self.timed_out

    @property
    def status(self) -> str:
        """Exit status as written in the report."""
        if self.timed_out:
            return "timed out"
        return "ok (0)" if self.ok else f"failed ({self.returncode})"


# ------------------------------------------------------------------------------------------------ running
def run_script(script: Path, args: list[str], setting: str, out: Path, timeout: float | None = None) -> Result:
    """Run ``script`` with this Python in ``out/<name>/``; its stdout and stderr go to files there too."""
    folder = out / script.stem
    folder.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, str(script.resolve()), *args]
    env = {**os.environ, OUT_ENV: str(folder.resolve()), "PYTHONHASHSEED": "0", "MPLBACKEND": "Agg"}
    before = {p: p.stat().st_mtime for p in _figures(folder)}
    stdout_path, stderr_path = folder / "stdout.txt", folder / "stderr.txt"
    start = time.perf_counter()
    timed_out = False
    with stdout_path.open("w") as stdout, stderr_path.open("w") as stderr:
        try:
            returncode: int | None = subprocess.run(
                command, cwd=folder, env=env, stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL, timeout=timeout
            ).returncode
        except subprocess.TimeoutExpired:
            returncode, timed_out = None, True
    seconds = time.perf_counter() - start
    figures = [p for p in _figures(folder) if before.get(p) != p.stat().st_mtime]
    return Result(
        name=script.stem,
        command=command,
        setting=setting,
        seconds=seconds,
        returncode=returncode,
        stdout=stdout_path.read_text(errors="replace"),
        stderr=stderr_path.read_text(errors="replace"),
        figures=figures,
        timed_out=timed_out,
    )


def _figures(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in FIGURE_SUFFIXES and p.is_file())


def run_benchmarks(
    out: str | Path = "sctl_benchmark",
    *,
    only: str | None = None,
    quick: bool = False,
    benchmarks_dir: str | Path | None = None,
    timeout: float | None = None,
    log: bool = True,
) -> tuple[Path, list[Result]]:
    """Run the selected scripts and write ``out/report.md``; return its path and the results.

    Parameters
    ----------
    out
        Output folder: ``report.md`` and one folder per script (its output, figures and logs).
    only
        Comma-separated script names to run (default: all).
    quick
        Run each script's reduced setting (see :func:`arguments`).
    benchmarks_dir
        Folder of the scripts (default: ``$SCTL_BENCHMARKS_DIR``, else the checkout's ``benchmarks/``).
    timeout
        Seconds allowed per script; one that runs longer is stopped and recorded as timed out.
    log
        Print one line per script as it starts and ends.

    Examples
    --------
    >>> path, results = run_benchmarks("bench", only="transfer_baselines", quick=True)  # doctest: +SKIP
    >>> all(r.ok for r in results)  # doctest: +SKIP
    True
    """
    folder = find_benchmarks_dir(benchmarks_dir)
    scripts = select(discover(folder), only)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    header = {
        "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "mode": "quick" if quick else "full",
        "benchmarks": str(folder.resolve()),
        "commit": git_commit(folder) or "unknown (not a git checkout)",
        "machine": machine_info(),
        "versions": versions(),
    }
    report = out / "report.md"
    results: list[Result] = []
    start = time.perf_counter()
    for i, script in enumerate(scripts, 1):
        args, setting = arguments(script, quick)
        if log:
            print(
                f"[{time.perf_counter() - start:7.1f}s] ({i}/{len(scripts)}) {script.stem} {' '.join(args)}", flush=True
            )
        result = run_script(script, args, setting, out, timeout)
        results.append(result)
        if log:
            print(f"[{time.perf_counter() - start:7.1f}s]   {result.status} in {result.seconds:.1f} s", flush=True)
        report.write_text(render(header, results, scripts, out))
    if not scripts:
        report.write_text(render(header, results, scripts, out))
    return report, results


def list_benchmarks(benchmarks_dir: str | Path | None = None, quick: bool = True) -> list[tuple[str, str, str]]:
    """``(name, quick arguments, description)`` of every script, in run order."""
    folder = find_benchmarks_dir(benchmarks_dir)
    rows = []
    for script in discover(folder):
        args, setting = arguments(script, quick)
        shown = " ".join(args) if args == ["--quick"] else f"{' '.join(args)}  [{setting}]".strip()
        rows.append((script.stem, shown, summary_line(script)))
    return rows
