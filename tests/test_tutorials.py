"""The tutorials' stored outputs, which the documentation shows, come from this version of sctl and a complete run.

Regenerate them with ``python scripts/execute_tutorials.py`` after changing sctl or its version.
"""

import json
from pathlib import Path

import pytest

import sctl

TUTORIALS = sorted((Path(__file__).resolve().parents[1] / "tutorials").glob("*.ipynb"))
FIX = "re-execute the tutorials: python scripts/execute_tutorials.py"


def code_cells(path: Path) -> list[dict]:
    return [cell for cell in json.loads(path.read_text())["cells"] if cell["cell_type"] == "code"]


def printed_text(cell: dict) -> str:
    return "".join("".join(output.get("text", "")) for output in cell["outputs"] if output["output_type"] == "stream")


def test_the_tutorials_are_found():
    assert len(TUTORIALS) >= 5
    assert TUTORIALS[0].name.startswith("00_")


@pytest.mark.parametrize("path", TUTORIALS, ids=lambda path: path.stem)
def test_stored_outputs_come_from_this_sctl_version(path):
    first = code_cells(path)[0]
    assert "sctl.__version__" in "".join(first["source"]), f"{path.name}: the first code cell must print the version"
    lines = [line for line in printed_text(first).splitlines() if line.startswith("sctl ")]
    assert lines == [f"sctl {sctl.__version__}"], f"{path.name} was executed with {lines or 'no version'}; {FIX}"


@pytest.mark.parametrize("path", TUTORIALS, ids=lambda path: path.stem)
def test_every_code_cell_was_executed_in_order(path):
    counts = [cell["execution_count"] for cell in code_cells(path)]
    assert counts == list(range(1, len(counts) + 1)), f"{path.name}: execution counts {counts}; {FIX}"
    errors = [o for cell in code_cells(path) for o in cell["outputs"] if o["output_type"] == "error"]
    assert not errors, f"{path.name} stores an error output; {FIX}"
