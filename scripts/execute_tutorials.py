"""Re-execute the tutorials in place, so that their stored outputs come from this checkout's sctl.

The documentation renders the stored outputs (``nb_execution_mode = "off"``) and ``tests/test_tutorials.py`` fails
when a notebook's outputs were made by another sctl version than the package's, or when a code cell was not run.
After changing sctl (or bumping ``__version__``), run from the repository root:

    python scripts/execute_tutorials.py                      # every tutorials/*.ipynb, in order
    python scripts/execute_tutorials.py 00 03                # only the notebooks whose names start so

The kernel imports sctl from this checkout's ``src`` (prepended to ``PYTHONPATH``). Each notebook runs from the
``tutorials`` directory; the time it took is printed. A failing cell stops that notebook, leaves its file unchanged
and makes the script exit with status 1 after the others have run.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]
TUTORIALS = ROOT / "tutorials"
TIMEOUT_PER_CELL = 1800  # seconds; generous for a shared CPU


def select(prefixes: list[str]) -> list[Path]:
    """The tutorials whose file names start with one of ``prefixes`` (all of them when empty), sorted."""
    notebooks = sorted(TUTORIALS.glob("*.ipynb"))
    if prefixes:
        notebooks = [nb for nb in notebooks if any(nb.name.startswith(prefix) for prefix in prefixes)]
    if not notebooks:
        raise SystemExit(f"No notebook of {TUTORIALS} matches {prefixes}.")
    return notebooks


def execute(path: Path) -> float:
    """Run every cell of ``path`` in a fresh kernel and write the outputs back; return the seconds taken."""
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook, timeout=TIMEOUT_PER_CELL, kernel_name="python3", resources={"metadata": {"path": str(TUTORIALS)}}
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    nbformat.write(notebook, path)
    return seconds


def main(prefixes: list[str]) -> int:
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))
    failed = []
    for path in select(prefixes):
        try:
            seconds = execute(path)
        except CellExecutionError as error:
            failed.append(path.name)
            print(f"{path.name}: FAILED, file left unchanged\n{error}", flush=True)
            continue
        print(f"{path.name}: {seconds:.0f} s", flush=True)
    if failed:
        print(f"Failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
