"""sctl.tl.drug_smiles: the SMILES a model reads for drug names, its own table before the AnnData's."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from anndata import AnnData

import sctl


@pytest.fixture
def adata():
    adata = AnnData(np.zeros((2, 3), dtype=np.float32))
    adata.uns["sctl_drugs"] = pd.DataFrame({"smiles": ["CCO", "c1ccccc1", None]}, index=["ethanol", "benzene", "x"])
    return adata


def test_model_table_before_the_adata_table(adata):
    model = SimpleNamespace(drug_smiles_={"ethanol": "OCC", "aspirin": "CC(=O)Oc1ccccc1C(=O)O"})
    assert sctl.tl.drug_smiles(adata, model, ["benzene", "ethanol", "aspirin"]) == {
        "benzene": "c1ccccc1",
        "ethanol": "OCC",  # the model's, the one it was trained with
        "aspirin": "CC(=O)Oc1ccccc1C(=O)O",
    }
    assert sctl.tl.drug_smiles(adata, model, "benzene") == {"benzene": "c1ccccc1"}
    assert set(sctl.tl.drug_smiles(adata, model)) == {"ethanol", "benzene", "aspirin"}  # "x" has no SMILES
    assert sctl.tl.drug_smiles(adata, None, ["ethanol"]) == {"ethanol": "CCO"}
    assert sctl.tl.drug_smiles(adata, object(), ["ethanol"]) == {"ethanol": "CCO"}  # a model without a table


def test_a_mapping_is_returned_as_given(adata):
    assert sctl.tl.drug_smiles(adata, None, {"new": "CCN"}) == {"new": "CCN"}
    assert sctl.tl.drug_smiles(adata, None, pd.Series({"new": "CCN"})) == {"new": "CCN"}


def test_bad_drugs(adata):
    with pytest.raises(KeyError, match=r"No SMILES known for 'x'.*mapping drug name -> SMILES"):
        sctl.tl.drug_smiles(adata, None, ["ethanol", "x"])
    with pytest.raises(ValueError, match="twice"):
        sctl.tl.drug_smiles(adata, None, ["ethanol", "ethanol"])
    with pytest.raises(ValueError, match="empty"):
        sctl.tl.drug_smiles(adata, None, [])
    with pytest.raises(ValueError, match="empty"):
        sctl.tl.drug_smiles(adata, None, {})
