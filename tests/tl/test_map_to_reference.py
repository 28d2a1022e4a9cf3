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
