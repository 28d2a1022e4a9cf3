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

import ast
import datetime
import os
import platform
import shlex
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

#: environment variable naming the folder of the benchmark scripts (overrides the source checkout)
BENCHMARKS_ENV = "SCTL_BENCHMARKS_DIR"
#: environment variable given to every script: its output folder (also its working directory)
OUT_ENV = "SCTL_BENCHMARK_OUT"
#: packages whose versions head the report
VERSION_PACKAGES = ("torch", "scvi-tools", "lightning", "scanpy", "anndata", "numpy", "scipy", "scikit-learn")
FIGURE_SUFFIXES = (".png", ".svg", ".pdf", ".jpg")
STDERR_TAIL = 40


@dataclass(frozen=True)
class Benchmark:
    """A known script of ``benchmarks/`` and how to run its reduced setting.

    Attributes
    ----------
    name
        File name without ``.py``.
    seeds
        The seeds it uses, for the report.
    quick
        Arguments of the reduced setting when the script has no ``--quick`` flag (its own options, passed through);
        ``None``: it has neither, and ``--quick`` runs its full setting.
    quick_note
        What those arguments mean, for the report.
    """

    name: str
    seeds: str
    quick: tuple[str, ...] | None = None
    quick_note: str = ""


#: the scripts in the order they run (any other script of the folder runs after them, alphabetically)
BENCHMARKS = (
    Benchmark("realistic_shift", "tumour simulation, classifiers and models: seeds 0-4 (quick: 0)"),
    Benchmark("drug_specificity", "drug-pair tumour simulation, classifiers and models: seeds 0-4 (quick: 0)"),
    Benchmark("transfer_baselines", "tumour sampling and classifiers: seeds 0-4 (quick: 0-1)"),
    Benchmark(
        "transfer_models",
        "tumour sampling and models: seeds 0-4 (quick: 0)",
        ("--drugs", "Dabrafenib", "--seeds", "1", "--n-cells", "300", "--epochs", "3"),
        "1 drug, 1 seed, 300 cells, at most 3 epochs",
    ),
    Benchmark("transfer_speed", "synthetic data: numpy seed 0; models: seed 0"),
    Benchmark("transfer_memory", "synthetic cells and bulk: numpy seed 0; model: seed 0"),
    Benchmark("perturbation_models", "folds and models: seeds 0-4 (quick: seed 0, the first fold of each scheme)"),
    Benchmark(
        "perturbation_speed",
        "models: seed 0; synthetic profiles and PPI: numpy seed 0",
        ("2", "2000"),
        "2 epochs, 2,000 profiles predicted (positional: epochs, n_predict); the gene-count part runs in full",
    ),
    Benchmark(
        "csg2a_ic50",
        "splits and models: seeds 0-4 (quick: 0)",
        ("0", "5", "3", "100"),
        "seed 0, 5 pretraining and 3 fine-tuning epochs, 100 cell lines (positional arguments)",
    ),
    Benchmark("score_states_throughput", "semi-synthetic tumour: seed 0"),
    Benchmark("resistance_index_agreement", "random gene-set control: seed 0"),
    Benchmark("million_cells", "synthetic cells: numpy seed 0; bulk labels and models: seed 0"),
    Benchmark("import_time", "none (no randomness)"),
)
_KNOWN = {b.name: b for b in BENCHMARKS}


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


# ------------------------------------------------------------------------------------------------ locating
def default_benchmarks_dir() -> Path:
    """``benchmarks/`` of the source checkout this package was imported from (src layout)."""
    return Path(__file__).resolve().parents[2] / "benchmarks"


def find_benchmarks_dir(path: str | Path | None = None) -> Path:
    """Folder of the benchmark scripts: ``path``, else ``$SCTL_BENCHMARKS_DIR``, else the checkout's ``benchmarks/``.

    Raises
    ------
    FileNotFoundError
        When the folder does not exist, e.g. for an installed wheel, which ships no benchmarks.
    """
    if path is None:
        path = os.environ.get(BENCHMARKS_ENV) or default_benchmarks_dir()
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(
            f"No benchmarks folder at {folder}. The benchmark scripts are part of the source repository, not of the "
            "installed package: run `sctl benchmark` from a clone installed in editable mode (`git clone ...; "
            f"pip install -e .`), or point `--benchmarks-dir` (or ${BENCHMARKS_ENV}) at its `benchmarks/` folder."
        )
    return folder


def discover(folder: Path) -> list[Path]:
    """The scripts of ``folder``: the known ones in :data:`BENCHMARKS` order, then any other ``*.py`` alphabetically.

    Files starting with ``_`` are helpers, not scripts.
    """
    scripts = {p.stem: p for p in sorted(folder.glob("*.py")) if not p.name.startswith("_")}
    known = [scripts.pop(b.name) for b in BENCHMARKS if b.name in scripts]
    return known + list(scripts.values())


def select(scripts: list[Path], only: str | None) -> list[Path]:
    """The scripts named in the comma-separated ``only`` (with or without ``.py``), in run order; all if ``None``."""
    if not only:
        return scripts
    names = [n.strip().removesuffix(".py") for n in only.split(",") if n.strip()]
    by_name = {p.stem: p for p in scripts}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise ValueError(
            f"Unknown benchmark(s) {', '.join(map(repr, unknown))}; available: {', '.join(by_name)}. "
            "See `sctl benchmark --list`."
        )
    return [p for p in scripts if p.stem in names]


def summary_line(script: Path) -> str:
    """First line of the script's docstring, read without running it."""
    try:
        doc = ast.get_docstring(ast.parse(script.read_text(encoding="utf-8")))
    except (SyntaxError, UnicodeDecodeError):
        doc = None
    return doc.strip().splitlines()[0] if doc else ""


def arguments(script: Path, quick: bool) -> tuple[list[str], str]:
    """Command-line arguments of ``script`` and a description of the setting they select.

    The full setting is the script's defaults. The quick one is its ``--quick`` flag when it has one, else the
    reduced options listed in :data:`BENCHMARKS`, else (a script with neither) the full setting.
    """
    if not quick:
        return [], "full (the script's defaults)"
    if '"--quick"' in script.read_text(encoding="utf-8"):
        return ["--quick"], "quick (--quick)"
    known = _KNOWN.get(script.stem)
    if known is not None and known.quick is not None:
        return list(known.quick), f"quick: {known.quick_note} (the script has no --quick flag)"
    return [], "full (the script has no reduced setting)"


# ------------------------------------------------------------------------------------------------ machine
def machine_info() -> dict[str, str]:
    """CPU model, cores, RAM, OS and GPUs of this machine."""
    info = {
        "CPU": _cpu_model(),
        "cores": _cores(),
        "RAM": _ram(),
        "OS": platform.platform(),
        "GPU": _gpus(),
        "load average at start": _load(),
        "hostname": platform.node(),
    }
    return {k: v for k, v in info.items() if v}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cores() -> str:
    logical = os.cpu_count() or 0
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = logical
    return f"{logical} logical" + (f" ({usable} usable by this process)" if usable != logical else "")


def _ram() -> str:
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return ""
    return f"{total / 2**30:.1f} GiB"


def _load() -> str:
    try:
        return ", ".join(f"{v:.1f}" for v in os.getloadavg()) + " (1, 5, 15 min)"
    except OSError:
        return ""


def _gpus() -> str:
    try:
        import torch
    except ImportError:
        return ""
    if not torch.cuda.is_available():
        return "none (CUDA not available)"
    names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return f"{len(names)}: " + ", ".join(names)


def versions() -> dict[str, str]:
    """Versions of Python, sctl and :data:`VERSION_PACKAGES` (``"not installed"`` when missing)."""
    import sctl

    out = {"python": platform.python_version(), "sctl": sctl.__version__}
    for name in VERSION_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def git_commit(folder: Path) -> str:
    """Commit of the repository holding ``folder`` (``+ uncommitted changes`` when dirty), or ``""``."""
    try:
        sha = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(folder), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""
    return sha + (" + uncommitted changes" if dirty else "")


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


# ------------------------------------------------------------------------------------------------ report
def render(header: dict, results: list[Result], scripts: Sequence[Path], out: Path) -> str:
    """The Markdown report."""
    total = sum(r.seconds for r in results)
    lines = [
        "# sctl benchmark report",
        "",
        f"Started {header['started']}; {header['mode']} setting; {len(results)} of {len(scripts)} script(s) run, "
        f"{sum(not r.ok for r in results)} failed; total {_duration(total)}.",
        "",
        "## Machine",
        "",
        *(f"- **{k}**: {v}" for k, v in header["machine"].items()),
        "",
        "## Versions",
        "",
        "| package | version |",
        "| --- | --- |",
        *(f"| {k} | {v} |" for k, v in header["versions"].items()),
        "",
        "## Source and seeds",
        "",
        f"- **git commit**: {header['commit']}",
        f"- **benchmarks**: `{header['benchmarks']}`",
        "- **seeds**: every script is seeded (below, per script); `PYTHONHASHSEED=0` for each.",
        "- **reproduce**: `sctl benchmark" + (" --quick" if header["mode"] == "quick" else "") + "` from the clone "
        "at this commit (or run a script's command line below).",
        "",
        "## Summary",
        "",
        "| script | setting | status | wall time |",
        "| --- | --- | --- | --- |",
        *(f"| [{r.name}](#{r.name}) | {r.setting} | {r.status} | {_duration(r.seconds)} |" for r in results),
        "",
    ]
    for r in results:
        known = _KNOWN.get(r.name)
        lines += [
            f"## {r.name}",
            "",
            f"- **command**: `{' '.join(shlex.quote(c) for c in r.command)}`",
            f"- **setting**: {r.setting}",
            f"- **seeds**: {known.seeds if known else 'see the script'}",
            f"- **wall time**: {_duration(r.seconds)}",
            f"- **exit status**: {r.status}",
            f"- **logs**: `{r.name}/stdout.txt`, `{r.name}/stderr.txt`",
            "",
            "```text",
            r.stdout.rstrip("\n") or "(no output)",
            "```",
            "",
        ]
        if not r.ok:
            tail = r.stderr.rstrip("\n").splitlines()[-STDERR_TAIL:]
            lines += [f"stderr (last {STDERR_TAIL} lines):", "", "```text", *(tail or ["(empty)"]), "```", ""]
        for figure in r.figures:
            rel = figure.relative_to(out).as_posix()
            lines += [f"![{figure.stem}]({rel})" if figure.suffix.lower() != ".pdf" else f"[{figure.name}]({rel})", ""]
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(seconds, 60)
    if minutes < 60:
        return f"{int(minutes)} min {rest:.0f} s"
    hours, minutes = divmod(minutes, 60)
    return f"{int(hours)} h {int(minutes)} min"


def list_benchmarks(benchmarks_dir: str | Path | None = None, quick: bool = True) -> list[tuple[str, str, str]]:
    """``(name, quick arguments, description)`` of every script, in run order."""
    folder = find_benchmarks_dir(benchmarks_dir)
    rows = []
    for script in discover(folder):
        args, setting = arguments(script, quick)
        shown = " ".join(args) if args == ["--quick"] else f"{' '.join(args)}  [{setting}]".strip()
        rows.append((script.stem, shown, summary_line(script)))
    return rows
