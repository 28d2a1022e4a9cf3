import functools

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import spearmanr
from sklearn.exceptions import NotFittedError

import sctl
from sctl.models import MultiDrugTransfer, multidrug_data
from sctl.pp._specific import split_response

torch.set_num_threads(1)
FAST = {"enable_progress_bar": False}
PAIR = ["Dabrafenib", "Docetaxel"]


@functools.cache
def _tumour(kind: str = "specific", seed: int = 0):
    """A drug-pair tumour of one line (300 cells) and the shipped reference without its source lines."""
    cells = sctl.datasets.realistic_tumor(PAIR, mode="drug_pair", subpopulations=kind, n_cells=300, seed=seed)
    bulk = sctl.datasets.gdsc()
    return bulk[~bulk.obs_names.isin(cells.uns["sctl_tumor"]["held_out_lines"])].copy(), cells


def tumour(kind: str = "specific", seed: int = 0):
    bulk, cells = _tumour(kind, seed)
    return bulk.copy(), cells.copy()


@functools.cache
def _trained():
    """One model of every drug, trained for real on the specific tumour (seconds)."""
    bulk, cells = tumour()
    return MultiDrugTransfer.from_reference(bulk, cells, train_kwargs=FAST)


def _small_data(**kwargs):
    bulk, cells = tumour()
    return cells, multidrug_data(
        bulk[:300].copy(), cells, ["Dabrafenib", "Docetaxel", "Afatinib"], min_lines=50, **kwargs
    )


def test_data_holds_both_parts_of_the_response():
    bulk, cells = tumour()
    data = multidrug_data(bulk, cells, max_cells=200)
    record = data.uns["sctl_multidrug"]
    assert len(record["drugs"]) == len(record["panel"]) == 40  # every shipped drug is tested on >= 100 lines
    assert (record["n_lines"], record["n_cells"], record["n_cells_total"]) == (bulk.n_obs, 200, 300)
    is_cell = (data.obs["sctl_domain"] == "cells").to_numpy()
    z = data.obsm["sctl_response_z"]
    assert z.shape == (data.n_obs, 40)
    assert z[is_cell].isna().all().all()
    assert data.obs["sctl_general"][is_cell].isna().all()
    specific, general = split_response(bulk.obsm["ln_ic50"])
    lines = data.obs["sctl_source"][~is_cell]
    np.testing.assert_allclose(data.obs["sctl_general"][~is_cell], general[lines], rtol=1e-6)
    np.testing.assert_allclose(
        (z[~is_cell].sub(data.obs["sctl_general"][~is_cell], axis=0)).to_numpy(),
        specific.loc[lines].to_numpy(),
        rtol=1e-5,
        atol=1e-6,
    )
    labels = data.obsm["sctl_label"]["Dabrafenib"][~is_cell]
    assert labels.value_counts().min() >= 5
    assert labels.isna().any()
    assert record["params"]["standardize_rows"]


def test_data_errors_name_the_problem():
    bulk, cells = tumour()
    with pytest.raises(KeyError, match="Did you mean 'Dabrafenib'"):
        multidrug_data(bulk, cells, ["Dabrafenb"])
    with pytest.raises(ValueError, match="Lower `min_lines`"):
        multidrug_data(bulk[:80].copy(), cells)  # no drug tested on 100 lines
    bulk.obsm["ln_ic50"].loc[bulk.obs_names[90:], "Dabrafenib"] = np.nan
    with pytest.raises(ValueError, match=r"tested on \d+ lines, fewer than `min_lines=100`"):
        multidrug_data(bulk, cells, ["Dabrafenib"])
    assert "Dabrafenib" not in multidrug_data(bulk, cells, max_cells=50).uns["sctl_multidrug"]["panel"]
    cells.X = cells.X.toarray()
    cells.X[3, 5] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        multidrug_data(bulk, cells)


def test_wiring_one_epoch_parts_and_preset():
    cells, data = _small_data(max_cells=100)
    MultiDrugTransfer.setup_anndata(data)
    model = MultiDrugTransfer(data, mmd_weight=1.0, recon_weight=0.0, n_latent=8)
    assert model.module.decoder is None
    with pytest.raises(NotFittedError, match="not trained"):
        model.predict(cells)
    model.train(max_epochs=1, **FAST)
    assert {"train_specific_mse", "train_general_mse", "train_mmd"} <= set(model.history)
    proba = model.predict(cells)
    assert isinstance(proba, pd.DataFrame)
    assert proba.shape == (cells.n_obs, 3)
    assert list(proba.columns) == ["Dabrafenib", "Docetaxel", "Afatinib"]
    again = MultiDrugTransfer(data, mmd_weight=1.0, recon_weight=0.0, n_latent=8)
    again.train(max_epochs=1, **FAST)
    pd.testing.assert_frame_equal(again.predict(cells), proba)  # same seeds, same numbers
    with pytest.raises(ValueError, match="preset='sctl' only"):
        MultiDrugTransfer(data, preset="paper")
    del data.obsm["sctl_label"]
    with pytest.raises(KeyError, match="labels of every drug"):
        MultiDrugTransfer(data).train(max_epochs=1, **FAST)


def test_predictions_shapes_ranks_and_protocol():
    _bulk, cells = tumour()
    model = _trained()
    proba = model.predict_all(cells)
    assert proba.shape == (cells.n_obs, 40)
    assert proba.index.equals(cells.obs_names)
    assert ((proba > 0) & (proba < 1)).all().all()
    one = model.predict(cells, "Docetaxel")
    assert one.shape == (cells.n_obs,)
    np.testing.assert_allclose(one, proba["Docetaxel"], rtol=1e-6)
    general = model.get_general_sensitivity(cells)
    specific = model.get_specific_response(cells)
    assert general.shape == (cells.n_obs,)
    assert specific.shape == (cells.n_obs, 40)
    # the probability is a decreasing map of g + s_d: the cells keep their order
    assert spearmanr(one, -(general + specific["Docetaxel"])).statistic > 0.9999
    # a drug bound to the model makes it a ResponseModel of one drug
    assert isinstance(model, sctl.tl.ResponseModel)
    model.drug = "Dabrafenib"
    try:
        sctl.tl.predict_response(cells, model=model)
        np.testing.assert_allclose(cells.obs["sctl_response_proba"], proba["Dabrafenib"], rtol=1e-6)
    finally:
        model.drug = None
    with pytest.raises(KeyError, match="not one of the 40 drugs"):
        model.predict(cells, "Aspirin")
    with pytest.raises(KeyError, match="Did you mean 'Docetaxel'"):
        model.drug = "Docetaxl"


def test_nan_in_expression_and_missing_genes_are_refused():
    _, cells = tumour()
    model = _trained()
    cells.X = cells.X.toarray()
    cells.X[7, 2] = np.inf
    with pytest.raises(ValueError, match="1 infinite values"):
        model.predict_all(cells)
    with pytest.raises(ValueError, match="lacks"):
        model.predict_all(cells[:, 10:].copy())


def test_save_load_round_trip_and_backed_input(tmp_path):
    _, cells = tumour()
    model = _trained()
    model.drug = "Docetaxel"
    try:
        model.save(tmp_path / "model")
    finally:
        model.drug = None
    loaded = MultiDrugTransfer.load(tmp_path / "model", adata=cells)
    assert loaded.drug == "Docetaxel"
    assert loaded.drugs.equals(model.drugs)
    np.testing.assert_array_equal(loaded.predict(cells), model.predict(cells, "Docetaxel"))
    pd.testing.assert_frame_equal(loaded.get_specific_response(cells), model.get_specific_response(cells))
    assert not any(p.suffix == ".pkl" for p in (tmp_path / "model").iterdir())
    cells.write_h5ad(tmp_path / "cells.h5ad")
    backed = ad.read_h5ad(tmp_path / "cells.h5ad", backed="r")
    np.testing.assert_allclose(loaded.predict_all(backed, chunk_size=64), model.predict_all(cells), rtol=1e-5)
    with pytest.raises(TypeError, match="MultiDrugTransfer"):
        sctl.models.ATSDPNet.load(tmp_path / "model")


def _specificity(truth, scores):
    return sctl.metrics.drug_specificity(truth[PAIR], scores[PAIR])


def test_tells_the_drugs_apart_where_raw_labels_cannot():
    """On opposite sub-populations the raw-label signature score is close to drug-blind; the model is not."""
    bulk, cells = tumour()
    truth = cells.obsm["response"]
    model = _trained()
    ours = _specificity(truth, model.predict_all(cells))
    specific_part = _specificity(truth, -model.get_specific_response(cells))
    signature = {}
    for drug in PAIR:
        sctl.tl.predict_response(cells, reference=bulk, drug=drug, method="signature")
        signature[drug] = cells.obs["sctl_response_proba"].fillna(0.5).to_numpy()
    baseline = _specificity(truth, pd.DataFrame(signature, index=cells.obs_names))
    print(f"drug specificity: multidrug {ours:.3f}, its specific part {specific_part:.3f}, signature {baseline:.3f}")
    assert ours > 0.6
    assert ours > baseline + 0.05
    assert specific_part > 0.75


def test_general_head_ranks_cells_resistant_to_everything():
    bulk, cells = tumour("general")
    model = MultiDrugTransfer.from_reference(bulk, cells, [*PAIR, "Afatinib", "Olaparib"], train_kwargs=FAST)
    truth = cells.obsm["response"]
    assert _specificity(truth, model.predict_all(cells)) > 0.8
    general = model.get_general_sensitivity(cells)
    assert sctl.metrics.auroc(truth["Dabrafenib"], -general) > 0.85
