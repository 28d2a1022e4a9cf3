import numpy as np
import pandas as pd
import pytest

import sctl.datasets as ds
from sctl._constants import DRUGS_KEY, RESPONSE_KEYS

KEY_DRUGS = [
    "Cisplatin",
    "Docetaxel",
    "Paclitaxel",
    "Gefitinib",
    "Erlotinib",
    "Lapatinib",
    "Dabrafenib",
    "Trametinib",
    "Selumetinib",
    "Nutlin-3a (-)",
    "Olaparib",
    "Afatinib",
    "Crizotinib",
    "Sorafenib",
    "Vorinostat",
    "5-Fluorouracil",
    "Gemcitabine",
    "Bortezomib",
    "PLX-4720",
]


@pytest.fixture(scope="module")
def bulk():
    return ds.gdsc()


def test_gdsc_shape_and_fields(bulk):
    assert bulk.shape == (919, 2000)
    assert bulk.X.dtype == np.float32
    assert np.isfinite(bulk.X).all()
    np.testing.assert_array_equal(bulk.X[:50], np.round(bulk.X[:50], 3))
    assert bulk.obs_names.is_unique
    assert bulk.var_names.is_unique
    assert {"tissue", "tissue_subtype", "cosmic_id", "tcga_type", "expression_id"} <= set(bulk.obs.columns)
    assert bulk.var["landmark"].sum() == 485  # every L1000 landmark gene present in the GDSC expression
    for key in RESPONSE_KEYS:
        table = bulk.obsm[key]
        assert isinstance(table, pd.DataFrame)
        assert table.index.equals(bulk.obs_names)
        assert table.shape[1] == 40
        assert set(KEY_DRUGS) <= set(table.columns)
        assert (table.notna().sum() > 690).all()  # Mitoxantrone: 697 lines
    assert bulk.obsm["auc"].stack().between(0, 1).all()
    drugs = bulk.uns[DRUGS_KEY]
    assert list(drugs.index) == list(bulk.obsm["ln_ic50"].columns)
    assert drugs[["smiles", "targets", "pathway"]].notna().all().all()
    assert drugs.loc["Dabrafenib", "targets"] == "BRAF"
    assert drugs.loc["Dactolisib", "lincs_name"] == "NVP-BEZ235"
    meta = bulk.uns["sctl_dataset"]
    assert meta["screen"] == "GDSC2"
    assert "freely available" in meta["licence"]
    assert meta["build"]["n_genes"] == 2000


def test_gdsc_biology_is_real(bulk):
    # BRAF inhibitors hit melanoma lines; MLANA marks them
    melanoma = (bulk.obs["tissue_subtype"] == "melanoma").to_numpy()
    ic50 = bulk.obsm["ln_ic50"]["Dabrafenib"]
    assert ic50[melanoma].median() < ic50[~melanoma].median() - 1
    assert bulk[melanoma, "MLANA"].X.mean() > bulk[~melanoma, "MLANA"].X.mean() + 1.5


def test_gdsc_returns_fresh_objects(bulk):
    first = ds.gdsc()
    first.X[:] = 0
    first.obsm["ln_ic50"].iloc[:, :] = 0
    first.uns[DRUGS_KEY].loc["Dabrafenib", "n_lines_tested"] = -1
    second = ds.gdsc()
    np.testing.assert_array_equal(second.X, bulk.X)
    pd.testing.assert_frame_equal(second.obsm["ln_ic50"], bulk.obsm["ln_ic50"])
    assert second.uns[DRUGS_KEY].loc["Dabrafenib", "n_lines_tested"] > 0


def test_lincs():
    plate = ds.lincs()
    assert plate.shape == (377, 978)
    assert plate.X.dtype == np.float32
    assert plate.var_names[0] == "PSME1"
    assert plate.var["probe_id"].iloc[0] == "200814_at"
    obs = plate.obs
    for column in (
        "drug",
        "dose",
        "dose_unit",
        "time",
        "pert_type",
        "is_control",
        "plate",
        "well",
        "det_plate",
    ):
        assert column in obs.columns
    assert obs["dose"].dtype == np.float64
    assert obs["time"].dtype == np.float64
    assert obs["is_control"].dtype == bool
    assert obs["is_control"].sum() == 26
    assert (obs.loc[obs["is_control"], "drug"] == "DMSO").all()
    assert (obs.loc[obs["is_control"], "dose"] == 0).all()
    treated = obs.loc[~obs["is_control"], "dose"]
    assert treated.min() == pytest.approx(0.04)
    assert treated.max() == 10
    assert (obs["time"] == 24).all()
    assert obs["drug"].nunique() == 60  # 59 compounds + DMSO
    assert "pert_iname" in obs.columns
    assert "pert_idose" in obs.columns
    assert 2 < float(plate.X.min())
    assert float(plate.X.max()) < 16
    plate.X[:] = 0
    assert ds.lincs().X.max() > 0


def test_genesets_and_networks():
    go = ds.genesets()
    assert list(go.columns) == ["source", "target"]
    assert go["source"].nunique() == 5407
    reactome = ds.genesets("reactome", min_size=10, max_size=200)
    sizes = reactome.groupby("source").size()
    assert sizes.between(10, 200).all()
    with pytest.raises(ValueError, match=r"Unknown gene-set collection 'kegg'.*'go_bp', 'reactome'"):
        ds.genesets("kegg")
    progeny = ds.progeny()
    assert progeny.shape[0] == 7000
    assert progeny["source"].nunique() == 14
    assert {"source", "target", "weight"} <= set(progeny.columns)
    assert (ds.progeny(top=50).groupby("source").size() == 50).all()
    with pytest.raises(ValueError, match="between 1 and 500"):
        ds.progeny(top=1000)
    ppi = ds.ppi()
    assert list(ppi.columns) == ["source", "target", "weight"]
    assert len(ppi) == 8297
    assert (ds.ppi(min_weight=0.5)["weight"] >= 0.5).all()
