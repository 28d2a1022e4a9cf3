"""The report of ``sctl benchmark``: the machine, package versions and commit it ran on, and the Markdown."""

from __future__ import annotations

import os
import platform
import shlex
import subprocess
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from sctl._benchmark_scripts import _KNOWN

if TYPE_CHECKING:
    from sctl._benchmark import Result

#: packages whose versions head the report
VERSION_PACKAGES = ("torch", "scvi-tools", "lightning", "scanpy", "anndata", "numpy", "scipy", "scikit-learn")
STDERR_TAIL = 40


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
