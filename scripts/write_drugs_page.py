"""Write ``docs/api/drugs.md``: every drug of the shipped GDSC reference, ``sctl.datasets.gdsc().uns["sctl_drugs"]``.

The page is generated from the shipped data so that the two cannot drift apart; ``tests/test_docs_drugs.py`` fails
when they do. Run after rebuilding the embedded data (``scripts/build_demo_data.py``):

    python scripts/write_drugs_page.py
"""

from pathlib import Path

import pandas as pd

import sctl

PAGE = Path(__file__).resolve().parents[1] / "docs" / "api" / "drugs.md"

HEADER = """# Drugs of the shipped reference

{{func}}`sctl.datasets.gdsc` ships {n_lines} real GDSC cell lines with the ln IC50 and AUC of {n_drugs} drugs
(screen {screens}); these are the drugs whose response {{func}}`sctl.tl.predict_response` can learn from it
(`drug=` takes the names of the first column) and that `sctl demo --drug` accepts. {n_smiles} of them have a SMILES
string, which {{func}}`sctl.pp.featurize_drugs`, {{class}}`sctl.models.CSG2A` and the `nearest_drugs` baseline read;
{n_lincs} are also on the LINCS L1000 plate of {{func}}`sctl.datasets.lincs`, under the name in the last column.
Targets and pathways are those of the GDSC compound list, or of sctl's curation where the list has none (column
`annotation_source` of `uns["sctl_drugs"]`). Provenance and licences: `src/sctl/datasets/_data/README.md`.

List them in Python:

```python
import sctl

bulk = sctl.datasets.gdsc()
drugs = bulk.uns["sctl_drugs"]  # DataFrame, one row per drug: smiles, targets, pathway, pubchem_cid, synonyms, ...
drugs[["targets", "pathway"]]
bulk.obsm["ln_ic50"].notna().sum()  # cell lines with a measured ln IC50, per drug
```

This page is generated from the shipped data by `scripts/write_drugs_page.py`.

| drug | targets | pathway | lines with ln IC50 | SMILES | name on the L1000 plate |
|---|---|---|---|---|---|
"""


def _cell(value: object) -> str:
    return "" if pd.isna(value) else str(value).replace("|", "\\|")


def render() -> str:
    """The Markdown page."""
    bulk = sctl.datasets.gdsc()
    drugs = bulk.uns["sctl_drugs"]
    measured = bulk.obsm["ln_ic50"].notna().sum()
    header = HEADER.format(
        n_lines=f"{bulk.n_obs:,}",
        n_drugs=len(drugs),
        screens=", ".join(sorted(drugs["screen"].dropna().unique())),
        n_smiles=int(drugs["smiles"].notna().sum()),
        n_lincs=int(drugs["lincs_name"].notna().sum()),
    )
    rows = [
        f"| {_cell(name)} | {_cell(drug.targets)} | {_cell(drug.pathway)} | {measured.get(name, 0)} | "
        f"{'yes' if pd.notna(drug.smiles) else 'no'} | {_cell(drug.lincs_name)} |"
        for name, drug in drugs.iterrows()
    ]
    return header + "\n".join(rows) + "\n"


if __name__ == "__main__":
    PAGE.write_text(render())
    print(f"wrote {PAGE}")
