import numpy as np
import pandas as pd
import pytest
from anndata import AnnData

import sctl


@pytest.fixture(scope="module")
def lines() -> AnnData:
    return sctl.datasets.gdsc()


def _noisy(lines: AnnData, idx: np.ndarray, noise: float, seed: int = 0) -> AnnData:
    """Copies of some lines with heavy noise and an affine platform shift (scale 1.5, a random offset per gene)."""
    rng = np.random.default_rng(seed)
    query = lines[idx].copy()
    x = np.asarray(query.X, dtype=np.float64) + rng.normal(0, noise, size=query.shape)
    query.X = 1.5 * x + rng.normal(0, 2, size=query.n_vars)
    return query


@pytest.mark.parametrize("method", ["pearson", "spearman", "cosine"])
def test_noisy_lines_map_back_to_themselves(lines, method):
    # noise sd 3 is ~4x the typical spread of a gene across lines (0.77); measured self rate 1.0 for every method
    idx = np.random.default_rng(1).choice(lines.n_obs, 60, replace=False)
    query = _noisy(lines, idx, noise=3.0)
    sctl.tl.map_to_reference(query, lines, method=method)
    best = query.obs["sctl_reference"].astype(str).to_numpy()
    assert (best == query.obs_names).mean() >= 0.95
    similarity = query.obsm["sctl_reference_similarity"]
    assert isinstance(similarity, pd.DataFrame)
    assert similarity.shape == (60, lines.n_obs)
    assert list(similarity.columns) == list(lines.obs_names)
    np.testing.assert_allclose(query.obs["sctl_reference_similarity"], similarity.max(axis=1))
    assert similarity.to_numpy().max() <= 1 + 1e-9
    params = query.uns["sctl_reference"]["params"]
    assert params["method"] == method
    assert params["n_genes"] == lines.n_vars


def test_held_out_lines_map_to_their_tissue(lines):
    rng = np.random.default_rng(2)
    held = rng.choice(lines.n_obs, 150, replace=False)
    reference = lines[np.setdiff1d(np.arange(lines.n_obs), held)].copy()
    query = _noisy(lines, held, noise=0.5, seed=3)
    sctl.tl.map_to_reference(query, reference)
    tissue = reference.obs["tissue"].astype(str)
    mapped = tissue.loc[query.obs["sctl_reference"].astype(str)].to_numpy()
    rate = (mapped == query.obs["tissue"].astype(str).to_numpy()).mean()
    chance = query.obs["tissue"].astype(str).map(tissue.value_counts(normalize=True)).fillna(0).mean()
    # measured: 0.74 of held-out lines land on a line of their own tissue; chance (tissue frequencies) is 0.07
    assert rate >= 0.6
    assert chance < 0.15


def test_standardisation_removes_a_domain_signature(lines):
    # every sample carries a strong shared signature that looks like one reference line (e.g. stroma or platform)
    idx = np.random.default_rng(4).choice(lines.n_obs, 40, replace=False)
    query = _noisy(lines, idx, noise=0.5, seed=5)
    x = np.asarray(lines.X, dtype=np.float64)
    decoy = int(np.setdiff1d(np.arange(lines.n_obs), idx)[0])
    query.X = query.X + 6.0 * (x[decoy] - x.mean(axis=0))
    raw = sctl.tl.map_to_reference(query, lines, standardize=False, copy=True)
    assert (raw.obs["sctl_reference"].astype(str) == lines.obs_names[decoy]).mean() > 0.5
    sctl.tl.map_to_reference(query, lines)
    assert (query.obs["sctl_reference"].astype(str).to_numpy() == query.obs_names).mean() >= 0.95


def test_genes_layers_copy_and_key(lines):
    query = lines[:10].copy()
    query.layers["expr"] = query.X.copy()
    query.X = np.zeros(query.shape, dtype=np.float32)
    genes = list(lines.var_names[:200])
    out = sctl.tl.map_to_reference(query, lines, layer="expr", genes=genes, key_added="sctl_line", copy=True)
    assert "sctl_line" not in query.obs
    assert (out.obs["sctl_line"].astype(str).to_numpy() == query.obs_names).all()
    assert out.uns["sctl_line"]["params"]["n_genes"] == 200
    assert out.uns["sctl_line"]["params"]["layer"] == "expr"


def test_partial_overlap_uses_shared_genes(lines):
    query = lines[:12, lines.var_names[:1500]].copy()
    sctl.tl.map_to_reference(query, lines)
    assert query.uns["sctl_reference"]["params"]["n_genes"] == 1500
    assert (query.obs["sctl_reference"].astype(str).to_numpy() == query.obs_names).all()


def test_errors(lines):
    query = lines[:5].copy()
    other = query.copy()
    other.var_names = [f"X{i}" for i in range(other.n_vars)]
    with pytest.raises(ValueError, match="No gene is shared"):
        sctl.tl.map_to_reference(other, lines)
    nan = query.copy()
    nan.X = np.asarray(nan.X, dtype=np.float64)
    nan.X[0, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        sctl.tl.map_to_reference(nan, lines)
    with pytest.raises(ValueError, match="Unknown method"):
        sctl.tl.map_to_reference(query, lines, method="euclid")
    with pytest.raises(ValueError, match="at least two samples"):
        sctl.tl.map_to_reference(query[:1].copy(), lines)
    sctl.tl.map_to_reference(query[:1].copy(), lines, standardize=False)
    with pytest.raises(ValueError, match="not in `adata`"):
        sctl.tl.map_to_reference(query, lines, genes=["NOT_A_GENE"])
    with pytest.raises(KeyError, match="Layer 'counts' not found"):
        sctl.tl.map_to_reference(query, lines, layer="counts")


def _three_line_grip():
    """A GRIP trained on three cell lines with distinct basal profiles (and its basal profile per line)."""
    import torch

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    n_genes, lines = 40, ["L0", "L1", "L2"]
    profiles = rng.normal(5, 2, size=(3, n_genes))
    obs = pd.DataFrame(
        {"cell_line": np.repeat(lines, 12), "drug": np.tile(["a", "b", "c"], 12)},
        index=[f"p{i}" for i in range(36)],
    )
    basal = profiles[np.repeat(np.arange(3), 12)] + rng.normal(0, 0.1, size=(36, n_genes))
    adata = AnnData(
        (basal + rng.normal(0, 0.3, size=basal.shape)).astype(np.float32),
        obs=obs,
        var=pd.DataFrame(index=[f"G{i}" for i in range(n_genes)]),
    )
    adata.layers["sctl_basal"] = basal.astype(np.float32)
    sctl.models.GRIP.setup_anndata(adata)
    model = sctl.models.GRIP(adata, n_hidden=16, n_embed=4, n_disc_hidden=16)
    model.train(max_epochs=1, enable_progress_bar=False)
    reference = AnnData(profiles, var=adata.var.copy(), obs=pd.DataFrame(index=lines))
    return model, reference


def test_one_patient_maps_with_the_model_scaling_onto_the_model_lines():
    """GRIP-Lung section 4.9: one patient, the training lines, the training normalisation."""
    model, reference = _three_line_grip()
    rng = np.random.default_rng(1)
    patient = AnnData(reference.X[[1]] + rng.normal(0, 0.3, size=(1, reference.n_vars)), var=reference.var.copy())
    patient.obs_names = ["patient"]
    extra = AnnData(patient.X.copy(), var=reference.var.copy(), obs=pd.DataFrame(index=["not_in_model"]))
    from anndata import concat

    with_extra = concat([reference, extra])  # a line identical to the patient, unknown to the model
    sctl.tl.map_to_reference(patient, with_extra, model=model, method="pearson")
    assert patient.obs["sctl_reference"].astype(str).tolist() == ["L1"]
    assert list(patient.obsm["sctl_reference_similarity"].columns) == ["L0", "L1", "L2"]
    params = patient.uns["sctl_reference"]["params"]
    assert params["scaling"] == "model"
    assert params["model"] == "GRIP"
    assert params["n_reference"] == 3
    mean, std = model.input_scaling
    z = (patient.X[0] - mean) / std
    z_ref = (reference.X - mean) / std
    expected = np.corrcoef(np.vstack([z, z_ref]))[0, 1:]
    np.testing.assert_allclose(patient.obsm["sctl_reference_similarity"].to_numpy()[0], expected, atol=1e-8)


def test_model_mapping_errors():
    model, reference = _three_line_grip()
    patient = reference[:1].copy()
    with pytest.raises(ValueError, match="leave `standardize` unset"):
        sctl.tl.map_to_reference(patient, reference, model=model, standardize=True)
    strangers = reference.copy()
    strangers.obs_names = ["X0", "X1", "X2"]
    with pytest.raises(ValueError, match="cell line of the model"):
        sctl.tl.map_to_reference(patient, strangers, model=model)
    with pytest.raises(TypeError, match="input scaling"):
        sctl.tl.map_to_reference(patient, reference, model=object())
