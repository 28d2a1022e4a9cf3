"""Write ``docs/methods/state_markers.md``: every marker gene of ``sctl.datasets.state_markers()`` and its reference.

The page is generated from the shipped table so that the two cannot drift apart; ``tests/test_docs_state_markers.py``
fails when they do. Run after editing ``src/sctl/datasets/_data/state_markers.csv``:

    python scripts/write_state_markers_page.py
"""

from pathlib import Path

import sctl

PAGE = Path(__file__).resolve().parents[1] / "docs" / "methods" / "state_markers.md"

HEADER = """# Post-treatment state markers

The marker genes that {func}`sctl.tl.score_states` scores by default, as returned by
{func}`sctl.datasets.state_markers`, each with the publication that ties it to its state. GRIP-Lung
{cite:p}`xie2026griplung` defines six post-treatment states, three of an *effective* treatment (programmed cell
death, senescence, cell-cycle arrest) and three of an *ineffective* one (drug resistance, immune escape, malignant
progression); its own gene sets (Supplementary Table S5) are not redistributable, so sctl ships these hand-curated
sets and splits programmed cell death into apoptosis, autophagy and ferroptosis (column `parent_state`). The
resistance index weighs the six states as the paper defines them: the z-scores of the three cell-death sets are
averaged into one programmed-cell-death state before the effective score, the mean of the effective states, is
taken (section 4.10). Pass your own sets to `score_states(genesets=...)` (a DataFrame with `state` and `gene`
columns and optionally `category` and `parent_state`, a decoupler network, or a mapping from state to genes) to
replace them.

This page is generated from the shipped table by `scripts/write_state_markers_page.py`.
"""


def render() -> str:
    """The Markdown page."""
    markers = sctl.datasets.state_markers()
    lines = [HEADER]
    for (category, parent, state), rows in markers.groupby(["category", "parent_state", "state"], sort=False):
        part_of = f", part of {parent.replace('_', ' ')}" if parent != state else ""
        lines += [
            f"## {state.replace('_', ' ').capitalize()} ({category}{part_of}, {len(rows)} genes)",
            "",
            "| gene | reference |",
            "|---|---|",
            *(f"| {row.gene} | {row.reference} |" for row in rows.itertuples()),
            "",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    PAGE.write_text(render())
    print(f"wrote {PAGE}")
