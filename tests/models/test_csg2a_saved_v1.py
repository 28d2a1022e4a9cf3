"""CSG2A models saved by sctl 0.2's single-class CSG2A still load and predict the numbers they predicted then.

The directories and expected predictions under ``data/saved_v1/CSG2A`` were written by
``scripts/write_csg2a_fixtures.py`` with that code (both stages in one class, the fine-tuned head in the same file).
"""

import json
import shutil
import warnings
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from sctl.models import CSG2A, CSG2AIC50

SAVED = Path(__file__).parent / "data" / "saved_v1" / "CSG2A"
ASPIRIN = "CC(=O)OC1=CC=CC=C1C(=O)O"
ATOL = 1e-6  # the expected values are stored with 9 significant digits

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _expected(name: str) -> pd.DataFrame:
    return pd.read_csv(SAVED / f"expected_{name}.csv", index_col=0)


@pytest.fixture(scope="module")
def profiles() -> ad.AnnData:
    """The basal profiles of 10 L1000 wells with their drug, dose and time."""
    table = pd.read_csv(SAVED / "profiles.csv", index_col=0)
    basal = table.drop(columns=["drug", "dose", "time"])
    adata = ad.AnnData(basal.to_numpy(np.float32), obs=table[["drug", "dose", "time"]])
    adata.var_names = basal.columns
    adata.layers["sctl_basal"] = adata.X.copy()
    return adata


@pytest.fixture(scope="module")
def bulk() -> ad.AnnData:
    """Expression of 10 GDSC lines."""
    table = pd.read_csv(SAVED / "bulk.csv", index_col=0)
    adata = ad.AnnData(table.to_numpy(np.float32))
    adata.obs_names, adata.var_names = table.index, table.columns
    return adata


def _drugs(model: CSG2AIC50) -> dict[str, str]:
    trained = model.fitted_["drugs"]
    return {"Trametinib": trained["Trametinib"], "Dasatinib": trained["Dasatinib"], "aspirin": ASPIRIN}


def test_pretrained_save_loads_and_predicts_the_same(profiles, bulk):
    model = CSG2A.load(SAVED / "pretrained")
    assert model.is_trained_
    assert model.init_params_["preset"] == "sctl"
    expected = _expected("predict")
    np.testing.assert_allclose(model.predict(profiles).to_numpy(), expected.to_numpy(), atol=ATOL)
    smiles = model.get_setup_arg("smiles")  # the plate's drugs, under their L1000 names
    drugs = {name: smiles[name.lower()] for name in ("Trametinib", "Dasatinib", "Erlotinib")}
    distance = model.perturbation_distance(bulk, drugs, dose=10.0, time=72.0)
    np.testing.assert_allclose(distance.to_numpy(), _expected("distance").to_numpy(), atol=ATOL)
    with pytest.raises(ValueError, match=r"without a fine-tuned ln IC50 stage.*CSG2AIC50\.from_pretrained"):
        CSG2AIC50.load(SAVED / "pretrained")


def test_fine_tuned_save_loads_as_the_fine_tuned_model(bulk, profiles, tmp_path):
    model = CSG2AIC50.load(SAVED / "finetuned")
    assert model.init_params_["offset"] == "neighbours"  # the sctl recipe it was trained with
    assert model.fitted_["feature_range"] is not None
    assert len(model.history_["train_loss"]) == 2
    expected = _expected("ic50")
    np.testing.assert_allclose(model.predict(bulk, _drugs(model)).to_numpy(), expected.to_numpy(), atol=ATOL)
    attention = model.get_attention(bulk[:3], drug="Trametinib", stage="finetuned")
    np.testing.assert_allclose(attention.to_numpy(), _expected("attention_finetuned").to_numpy(), atol=ATOL)
    # saved again, in the current layout, it predicts the same
    model.save(tmp_path / "ic50")
    assert json.loads((tmp_path / "ic50" / "model.json").read_text())["class"] == "CSG2AIC50"
    again = CSG2AIC50.load(tmp_path / "ic50")
    np.testing.assert_array_equal(again.predict(bulk, _drugs(model)).to_numpy(), model.predict(bulk, _drugs(model)))
    # CSG2A reads the network of the same directory and says where the fine-tuned stage went
    with pytest.warns(UserWarning, match=r"CSG2AIC50\.load"):
        network = CSG2A.load(SAVED / "finetuned")
    np.testing.assert_allclose(network.predict(profiles).to_numpy(), _expected("predict").to_numpy(), atol=ATOL)


def _edited(tmp_path: Path, edit) -> Path:
    """A copy of the fine-tuned save whose ``model.json`` is passed through ``edit``."""
    path = tmp_path / "edited"
    shutil.copytree(SAVED / "finetuned", path)
    meta = json.loads((path / "model.json").read_text())
    edit(meta)
    (path / "model.json").write_text(json.dumps(meta))
    return path


def test_saves_before_drug_offsets_load_as_the_paper_recipe(bulk, tmp_path):
    """Fine-tuning settings saved before ``offset`` / ``clip_features`` existed: no offset, no clipping."""

    def drop(meta):
        for key in ("offset", "drug_means", "n_neighbours", "shrinkage", "feature_range"):
            del meta["finetune"][key]

    old = CSG2AIC50.load(_edited(tmp_path, drop))
    assert old.init_params_["offset"] == "none"
    assert old.fitted_["feature_range"] is None
    reference = CSG2AIC50.load(SAVED / "finetuned")
    reference.init_params_["offset"], reference.fitted_["feature_range"] = "none", None
    np.testing.assert_array_equal(old.predict(bulk, _drugs(old)).to_numpy(), reference.predict(bulk, _drugs(old)))


def test_saves_before_presets_load_with_their_old_settings(bulk, profiles, tmp_path):
    """No preset, ppi_weights, residual or scaling in old settings: raw stored prior, residual, per-gene scaling."""

    def drop(meta):
        for key in ("preset", "ppi_weights", "residual"):
            del meta["init_params"][key]
        for key in ("scaling", "freeze", "lr_schedule", "lr_final", "lr_epochs", "drug_features"):
            del meta["finetune"][key]
        del meta["train_params"]

    path = _edited(tmp_path, drop)
    old = CSG2AIC50.load(path)
    assert old.pretrained_params_["init_params"]["preset"] == "sctl"
    assert old.pretrained_params_["init_params"]["ppi_weights"] == "raw"
    assert old.module.network.residual is True
    assert old.module.head.mu.shape == (40,)
    expected = _expected("ic50").to_numpy()
    np.testing.assert_allclose(old.predict(bulk, _drugs(old)).to_numpy(), expected, atol=ATOL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the file holds a fine-tuned head
        network = CSG2A.load(path)
    assert network.init_params_["preset"] == "sctl"
    np.testing.assert_allclose(network.predict(profiles).to_numpy(), _expected("predict").to_numpy(), atol=ATOL)
