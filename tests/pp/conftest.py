"""Small synthetic AnnData objects shared by the tests of ``sctl.pp``."""

import numpy as np
import pandas as pd
import pytest
from anndata import AnnData
from scipy import sparse

ASPIRIN = "CC(=O)OC1=CC=CC=C1C(=O)O"
CAFFEINE = "CN1C=NC2=C1C(=O)N(C(=O)N2C)C"
IBUPROFEN = "CC(C)CC1=CC=C(C=C1)C(C)C(=O)O"


def make_bulk(n_lines: int = 40, n_genes: int = 30, seed: int = 0) -> AnnData:
    """Cell lines x genes with an LN_IC50 / AUC table of four drugs (some untested) and four tissues."""
    rng = np.random.default_rng(seed)
    lines = [f"line{i}" for i in range(n_lines)]
    drugs = ["DrugA", "DrugB", "DrugC", "DrugD"]
    ln_ic50 = pd.DataFrame(rng.normal(size=(n_lines, len(drugs))), index=lines, columns=drugs)
    ln_ic50.iloc[::7, 1] = np.nan  # DrugB untested in some lines
    ln_ic50.iloc[:5, 3] = np.nan
    auc = pd.DataFrame(rng.uniform(size=(n_lines, len(drugs))), index=lines, columns=drugs)
    obs = pd.DataFrame(
        {"tissue": pd.Categorical(np.array(["lung", "skin", "breast", "blood"])[np.arange(n_lines) % 4])},
        index=lines,
    )
    adata = AnnData(
        rng.normal(5.0, 2.0, size=(n_lines, n_genes)).astype(np.float32),
        obs=obs,
        var=pd.DataFrame(index=[f"G{i}" for i in range(n_genes)]),
    )
    adata.obsm["ln_ic50"] = ln_ic50
    adata.obsm["auc"] = auc
    adata.uns["sctl_drugs"] = pd.DataFrame({"smiles": [ASPIRIN, CAFFEINE, IBUPROFEN, ASPIRIN]}, index=drugs)
    return adata


def make_cells(n_cells: int = 120, n_genes: int = 50, seed: int = 0) -> AnnData:
    """Cells x genes: raw counts in ``layers["counts"]`` (sparse), log-normalised ``X``; two mito genes."""
    rng = np.random.default_rng(seed)
    counts = rng.poisson(2.0, size=(n_cells, n_genes)).astype(np.float32)
    counts[:, -2:] = rng.integers(0, 2, size=(n_cells, 2))  # healthy cells: few mitochondrial counts
    names = [f"GENE{i}" for i in range(n_genes - 2)] + ["MT-CO1", "MT-ND1"]
    counts[:10, : n_genes - 2] = 0  # ten empty-ish cells: only mitochondrial counts
    counts[:10, -2:] = 50
    counts[:, 5] = 0  # a gene expressed nowhere
    counts[10:12, 6] = 1  # a gene expressed in two cells only
    counts[12:, 6] = 0
    adata = AnnData(
        sparse.csr_matrix(np.log1p(counts)),
        obs=pd.DataFrame(index=[f"cell{i}" for i in range(n_cells)]),
        var=pd.DataFrame(index=names),
    )
    adata.layers["counts"] = sparse.csr_matrix(counts)
    return adata


@pytest.fixture
def bulk() -> AnnData:
    return make_bulk()


@pytest.fixture
def cells() -> AnnData:
    return make_cells()


def assert_same(a: AnnData, b: AnnData) -> None:
    """Assert that two AnnData objects hold the same data (used to check inputs are not modified)."""
    assert a.shape == b.shape
    assert list(a.obs_names) == list(b.obs_names)
    assert list(a.var_names) == list(b.var_names)
    xa = a.X.toarray() if sparse.issparse(a.X) else a.X
    xb = b.X.toarray() if sparse.issparse(b.X) else b.X
    np.testing.assert_array_equal(xa, xb)
    pd.testing.assert_frame_equal(a.obs, b.obs)
    pd.testing.assert_frame_equal(a.var, b.var)
    assert set(a.uns) == set(b.uns)
    assert set(a.obsm) == set(b.obsm)
    assert set(a.layers) == set(b.layers)
    for key in a.layers:
        la, lb = a.layers[key], b.layers[key]
        np.testing.assert_array_equal(
            la.toarray() if sparse.issparse(la) else la, lb.toarray() if sparse.issparse(lb) else lb
        )
    for key in a.obsm:
        pd.testing.assert_frame_equal(a.obsm[key], b.obsm[key]) if isinstance(
            a.obsm[key], pd.DataFrame
        ) else np.testing.assert_array_equal(a.obsm[key], b.obsm[key])


@pytest.fixture
def unchanged():
    """``unchanged(before, after)`` asserts that ``after`` holds the same data as ``before``."""
    return assert_same


@pytest.fixture
def bulk_factory():
    return make_bulk


@pytest.fixture
def cells_factory():
    return make_cells
