import warnings

import numpy as np
import pandas as pd
import pytest

import sctl

ASPIRIN = "CC(=O)OC1=CC=CC=C1C(=O)O"
CAFFEINE = "CN1C=NC2=C1C(=O)N(C(=O)N2C)C"


def test_descriptors_of_aspirin():
    features = sctl.pp.featurize_drugs({"aspirin": ASPIRIN, "caffeine": CAFFEINE}, kind="descriptors")
    assert list(features.index) == ["aspirin", "caffeine"]
    assert features.index.name == "drug"
    aspirin = features.loc["aspirin"]
    assert aspirin["MolWt"] == pytest.approx(180.16, abs=0.01)
    assert aspirin["TPSA"] == pytest.approx(63.6, abs=0.01)
    assert (aspirin["HBD"], aspirin["HBA"], aspirin["Rings"], aspirin["HeavyAtoms"]) == (1, 3, 1, 13)
    assert features.loc["caffeine", "MolWt"] == pytest.approx(194.19, abs=0.01)
    assert (features.dtypes == np.float32).all()


def test_morgan_bits_and_both():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the modern generator API raises no deprecation warning
        bits = sctl.pp.featurize_drugs(pd.Series({"aspirin": ASPIRIN, "caffeine": CAFFEINE}), n_bits=512)
    assert bits.shape == (2, 512)
    assert list(bits.columns[:2]) == ["morgan_0", "morgan_1"]
    assert set(np.unique(bits.to_numpy())) <= {0.0, 1.0}
    assert 0 < bits.loc["aspirin"].sum() < 512
    assert not bits.loc["aspirin"].equals(bits.loc["caffeine"])
    same = sctl.pp.featurize_drugs({"a": ASPIRIN, "b": "O=C(O)c1ccccc1OC(C)=O"}, n_bits=512)  # one molecule, two SMILES
    assert same.loc["a"].equals(same.loc["b"])
    wider = sctl.pp.featurize_drugs({"aspirin": ASPIRIN}, radius=3, n_bits=2048)
    assert wider.shape == (1, 2048)
    both = sctl.pp.featurize_drugs({"aspirin": ASPIRIN}, kind="both", n_bits=64)
    assert both.shape == (1, 13 + 64)
    assert both.columns[0] == "MolWt"


def test_featurize_reads_bulk_anndata(bulk):
    features = sctl.pp.featurize_drugs(bulk, kind="descriptors")
    assert list(features.index) == ["DrugA", "DrugB", "DrugC", "DrugD"]
    assert features.loc["DrugA", "MolWt"] == features.loc["DrugD", "MolWt"]  # both aspirin


def test_invalid_smiles_are_named(capfd):
    drugs = {"aspirin": ASPIRIN, "broken": "C1CC(", "empty": "", "missing": None}
    with pytest.raises(ValueError, match=r"3 of 4 drugs.*'broken': 'C1CC\('.*'empty': ''.*'missing': None"):
        sctl.pp.featurize_drugs(drugs)
    assert "SMILES Parse Error" not in capfd.readouterr().err  # RDKit's own noise is silenced
    with pytest.warns(UserWarning, match="Dropped 3 drugs.*broken"):
        features = sctl.pp.featurize_drugs(drugs, errors="drop")
    assert list(features.index) == ["aspirin"]


def test_featurize_errors(bulk):
    with pytest.raises(ValueError, match="morgan"):
        sctl.pp.featurize_drugs({"aspirin": ASPIRIN}, kind="maccs")
    with pytest.raises(ValueError, match="n_bits"):
        sctl.pp.featurize_drugs({"aspirin": ASPIRIN}, n_bits=0)
    with pytest.raises(ValueError, match="errors"):
        sctl.pp.featurize_drugs({"aspirin": ASPIRIN}, errors="ignore")
    with pytest.raises(TypeError, match="mapping"):
        sctl.pp.featurize_drugs([ASPIRIN])
    with pytest.raises(ValueError, match="unique"):
        sctl.pp.featurize_drugs(pd.Series([ASPIRIN, CAFFEINE], index=["x", "x"]))
    del bulk.uns["sctl_drugs"]
    with pytest.raises(KeyError, match="sctl_drugs"):
        sctl.pp.featurize_drugs(bulk)
