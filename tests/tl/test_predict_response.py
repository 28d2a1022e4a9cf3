import numpy as np
import pandas as pd
import pytest
from anndata import AnnData

import sctl
from sctl.metrics import auroc


def _bulk_and_cells(seed: int = 0, n_lines: int = 160, n_cells: int = 400, n_genes: int = 60):
    """Bulk lines and cells of one hidden biology: sensitivity is driven by genes g0..g4 in both domains."""
    rng = np.random.default_rng(seed)
    genes = [f"g{i}" for i in range(n_genes)]
    weights = np.zeros(n_genes)
    weights[:5] = 1.0
    bulk_x = rng.normal(size=(n_lines, n_genes))
    ln_ic50 = -(bulk_x @ weights) + rng.normal(scale=0.5, size=n_lines)
    response = pd.DataFrame(
        {"DrugA": ln_ic50, "DrugB": rng.normal(size=n_lines)}, index=[f"line{i}" for i in range(n_lines)]
    )
    bulk = AnnData(bulk_x.astype(np.float32), obs=pd.DataFrame(index=response.index), var=pd.DataFrame(index=genes))
    bulk.obsm["ln_ic50"] = response
    # cells live on another scale (log-normalised counts-like, shifted and stretched per gene)
    cell_z = rng.normal(size=(n_cells, n_genes))
    truth = np.where(cell_z @ weights > 0, "sensitive", "resistant")
    cells_x = np.log1p(np.exp(1.0 + 0.4 * cell_z + rng.normal(scale=0.2, size=(1, n_genes))))
    cells = AnnData(
        cells_x.astype(np.float32),
        obs=pd.DataFrame({"truth": pd.Categorical(truth)}, index=[f"cell{i}" for i in range(n_cells)]),
        var=pd.DataFrame(index=genes),
    )
    return bulk, cells


@pytest.mark.parametrize("method", ["logreg", "signature", "decomposed_ridge"])
def test_predict_response_learns_from_reference(method):
    bulk, cells = _bulk_and_cells()
    sctl.tl.predict_response(cells, reference=bulk, drug="DrugA", method=method)
    proba = cells.obs["sctl_response_proba"].to_numpy()
    assert proba.shape == (cells.n_obs,)
    assert (proba >= 0).all()
    assert (proba <= 1).all()
    assert auroc(cells.obs["truth"] == "sensitive", proba) > 0.85
    calls = cells.obs["sctl_response"]
    assert list(calls.cat.categories) == ["resistant", "sensitive"]
    assert ((proba >= 0.5) == (calls == "sensitive")).all()
    params = cells.uns["sctl_response"]["params"]
    assert params["drug"] == "DrugA"
    assert params["method"] == method
    assert params["n_genes_shared"] == 60
    assert params["n_reference_sensitive"] == params["n_reference_resistant"] == 48  # 30 % of 160 each


def test_default_is_the_decomposed_ridge():
    bulk, cells = _bulk_and_cells()
    out = sctl.tl.predict_response(cells, reference=bulk, drug="DrugA", copy=True)
    assert out.uns["sctl_response"]["params"]["method"] == "decomposed_ridge"
    with pytest.raises(ValueError, match="does not accept: 'C'"):
        sctl.tl.predict_response(cells, reference=bulk, drug="DrugA", model_kwargs={"C": 1.0})


def test_ensemble_is_the_mean_of_its_members():
    """The ensemble averages the probabilities of the signature score, the forest and ATSDPNet, each learnt as on
    its own; it beats a constant and records its members."""
    bulk, cells = _bulk_and_cells()
    fast = {"max_epochs": 3, "enable_progress_bar": False}
    out = sctl.tl.predict_response(
        cells, reference=bulk, drug="DrugA", method="ensemble", seed=2, train_kwargs=fast, copy=True
    )
    params = out.uns["sctl_response"]["params"]
    assert params["method"] == "ensemble"
    assert params["members"] == ["signature", "rf", "atsdp"]
    assert params["standardization"].startswith("per-profile z-score")
    members = [
        sctl.tl.predict_response(cells, reference=bulk, drug="DrugA", method=m, seed=2, train_kwargs=fast, copy=True)
        for m in params["members"]
    ]
    expected = np.mean([m.obs["sctl_response_proba"].to_numpy() for m in members], axis=0)
    np.testing.assert_allclose(out.obs["sctl_response_proba"].to_numpy(), expected, atol=1e-6)
    assert auroc(cells.obs["truth"] == "sensitive", expected) > 0.8
    two = sctl.tl.predict_response(
        cells,
        reference=bulk,
        drug="DrugA",
        method="ensemble",
        model_kwargs={"members": ["signature", "logreg"]},
        copy=True,
    )
    assert two.uns["sctl_response"]["params"]["members"] == ["signature", "logreg"]
    for members in (["signature"], ["signature", "ridge"], ["signature", "forest"]):
        with pytest.raises(ValueError, match="at least two classifiers"):
            sctl.tl.predict_response(
                cells, reference=bulk, drug="DrugA", method="ensemble", model_kwargs={"members": members}
            )


def test_standardize_rows_removes_each_cells_level():
    """Scaling whole cells (library size, detection) changes nothing once profiles are z-scored; without it the
    forest's calls move."""
    bulk, cells = _bulk_and_cells()
    scaled = cells.copy()
    scaled.X = scaled.X * np.linspace(0.5, 2.0, cells.n_obs, dtype=np.float32)[:, None] + 1.0
    kwargs = {"reference": bulk, "drug": "DrugA", "method": "rf", "copy": True}
    np.testing.assert_allclose(
        sctl.tl.predict_response(cells, **kwargs).obs["sctl_response_proba"],
        sctl.tl.predict_response(scaled, **kwargs).obs["sctl_response_proba"],
        atol=1e-6,
    )
    plain = sctl.tl.predict_response(cells, standardize_rows=False, **kwargs).obs["sctl_response_proba"]
    moved = sctl.tl.predict_response(scaled, standardize_rows=False, **kwargs).obs["sctl_response_proba"]
    assert np.abs(plain.to_numpy() - moved.to_numpy()).max() > 0.05


def test_predict_response_leaves_inputs_untouched_and_copy_returns():
    bulk, cells = _bulk_and_cells()
    bulk_x, cells_x, obs_cols = bulk.X.copy(), cells.X.copy(), list(cells.obs.columns)
    out = sctl.tl.predict_response(cells, reference=bulk, drug="DrugA", copy=True)
    assert out is not cells
    assert "sctl_response_proba" in out.obs
    assert list(cells.obs.columns) == obs_cols
    np.testing.assert_array_equal(bulk.X, bulk_x)
    np.testing.assert_array_equal(cells.X, cells_x)
    assert "sctl_label" not in bulk.obs


def test_predict_response_is_deterministic():
    bulk, cells = _bulk_and_cells()
    a = sctl.tl.predict_response(cells, reference=bulk, drug="DrugA", method="rf", seed=3, copy=True)
    b = sctl.tl.predict_response(cells, reference=bulk, drug="DrugA", method="rf", seed=3, copy=True)
    np.testing.assert_array_equal(a.obs["sctl_response_proba"], b.obs["sctl_response_proba"])


def test_predict_response_accepts_a_trained_model_and_threshold():
    _, cells = _bulk_and_cells()

    class Fixed:
        def predict(self, adata):
            return np.linspace(0, 1, adata.n_obs)

    sctl.tl.predict_response(cells, model=Fixed(), threshold=0.8, key_added="sctl_custom")
    assert (cells.obs["sctl_custom"] == "sensitive").sum() == (np.linspace(0, 1, cells.n_obs) >= 0.8).sum()
    assert cells.uns["sctl_custom"]["params"]["model"] == "Fixed"


def test_predict_response_with_a_fitted_baseline_model():
    bulk, _ = _bulk_and_cells()
    sctl.pp.binarize_response(bulk, "DrugA")
    train, test = bulk[:100].copy(), bulk[100:].copy()
    model = sctl.models.baselines.LogisticBaseline().fit(train, label_key="sctl_label")
    sctl.tl.predict_response(test, model=model)
    labelled = test.obs["sctl_label"].notna()
    truth = test.obs.loc[labelled, "sctl_label"] == "sensitive"
    assert auroc(truth, test.obs.loc[labelled, "sctl_response_proba"]) > 0.85
    assert test.uns["sctl_response"]["params"]["model"] == "LogisticBaseline"


def test_predict_response_rejects_a_model_that_returns_no_probabilities():
    _, cells = _bulk_and_cells()

    class Logits:
        def predict(self, adata):
            return np.linspace(-3, 3, adata.n_obs)

    with pytest.raises(ValueError, match="outside"):
        sctl.tl.predict_response(cells, model=Logits())
    assert "sctl_response" not in cells.obs


def test_predict_response_errors():
    bulk, cells = _bulk_and_cells()
    with pytest.raises(KeyError, match="DrugZ"):
        sctl.tl.predict_response(cells, reference=bulk, drug="DrugZ")
    with pytest.raises(ValueError, match="reference="):
        sctl.tl.predict_response(cells)
    with pytest.raises(ValueError, match="drug="):
        sctl.tl.predict_response(cells, reference=bulk)
    with pytest.raises(ValueError, match="not both"):
        sctl.tl.predict_response(cells, reference=bulk, drug="DrugA", model=object())
    with pytest.raises(TypeError, match="predict"):
        sctl.tl.predict_response(cells, model=object())
    with pytest.raises(TypeError, match="AnnData"):
        sctl.tl.predict_response(cells.X, reference=bulk, drug="DrugA")
    with pytest.raises(ValueError, match="threshold"):
        sctl.tl.predict_response(cells, reference=bulk, drug="DrugA", threshold=1.5)
    other = cells[:, :].copy()
    other.var_names = [f"x{i}" for i in range(other.n_vars)]
    with pytest.raises(ValueError, match="gene"):
        sctl.tl.predict_response(other, reference=bulk, drug="DrugA")
    broken = cells.copy()
    broken.X[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        sctl.tl.predict_response(broken, reference=bulk, drug="DrugA")
    with pytest.raises(KeyError, match="counts"):
        sctl.tl.predict_response(cells, reference=bulk, drug="DrugA", layer="counts")
