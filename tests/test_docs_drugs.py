"""The docs page of the reference's drugs lists exactly the drugs of ``sctl.datasets.gdsc()`` and their data."""

import importlib.util
from pathlib import Path

import sctl

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "api" / "drugs.md"


def test_drugs_page_matches_the_shipped_reference():
    spec = importlib.util.spec_from_file_location("write_drugs_page", ROOT / "scripts" / "write_drugs_page.py")
    writer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(writer)
    text = PAGE.read_text()
    assert text == writer.render(), "Regenerate the page: python scripts/write_drugs_page.py"

    bulk = sctl.datasets.gdsc()
    drugs = bulk.uns["sctl_drugs"]
    rows = {
        cells[0]: cells
        for line in text.splitlines()
        if line.startswith("| ") and not line.startswith("| drug |")
        for cells in [[cell.strip() for cell in line.strip("|").split(" | ")]]
    }
    assert sorted(rows) == sorted(drugs.index)
    n_measured = bulk.obsm["ln_ic50"].notna().sum()
    for name, drug in drugs.iterrows():
        _, targets, pathway, n_lines, smiles, lincs_name = rows[name]
        assert (targets, pathway) == (drug["targets"], drug["pathway"])
        assert int(n_lines) == n_measured[name] > 0
        assert smiles == ("yes" if isinstance(drug["smiles"], str) and drug["smiles"] else "no")
        assert lincs_name == (drug["lincs_name"] if isinstance(drug["lincs_name"], str) else "")
    assert f"of {len(drugs)} drugs" in text


def test_drugs_page_is_in_the_api_reference():
    assert "\ndrugs\n" in (ROOT / "docs" / "api" / "index.md").read_text()
