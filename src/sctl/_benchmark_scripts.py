"""The scripts of ``benchmarks/`` that ``sctl benchmark`` knows: where they are, which run, with what arguments."""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass
from pathlib import Path

#: environment variable naming the folder of the benchmark scripts (overrides the source checkout)
BENCHMARKS_ENV = "SCTL_BENCHMARKS_DIR"


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
    Benchmark("drug_screen", "drug-pair tumour simulation: seed 0; methods: seed 0"),
    Benchmark("import_time", "none (no randomness)"),
)
_KNOWN = {b.name: b for b in BENCHMARKS}


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
