"""The docs page of the state markers lists exactly the shipped genes and references."""

import importlib.util
from pathlib import Path

import sctl

ROOT = Path(__file__).resolve().parents[1]


def test_state_marker_page_matches_the_shipped_table():
    spec = importlib.util.spec_from_file_location("page", ROOT / "scripts" / "write_state_markers_page.py")
    page = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(page)
    text = (ROOT / "docs" / "methods" / "state_markers.md").read_text()
    assert text == page.render(), "Regenerate the page: python scripts/write_state_markers_page.py"
    markers = sctl.datasets.state_markers()
    rows = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| gene")]
    assert len(rows) == len(markers)
    assert all(f"| {gene} | {ref} |" in text for gene, ref in zip(markers["gene"], markers["reference"], strict=True))
