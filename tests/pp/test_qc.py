import numpy as np
import pytest

import sctl


def test_qc_removes_poor_cells_and_rare_genes(cells):
    n_cells, n_genes = cells.shape
    raw = cells.layers["counts"].toarray()
    sctl.pp.qc(cells, min_genes=10, min_cells=3, max_pct_mito=10.0, layer="counts")
    # the ten cells with only mitochondrial counts go; GENE5 (no cell) and GENE6 (two cells) go
    assert cells.n_obs == n_cells - 10
    assert "cell0" not in cells.obs_names
    assert "cell10" in cells.obs_names
    assert "GENE5" not in cells.var_names
    assert "GENE6" not in cells.var_names
    assert cells.n_vars == n_genes - 2
    info = cells.uns["sctl_qc"]
    assert info["n_cells_removed"] == 10
    assert info["n_genes_removed"] == 2
    assert info["n_cells_kept"] == n_cells - 10
    assert info["n_genes_kept"] == n_genes - 2
    assert info["params"] == {
        "min_genes": 10,
        "min_cells": 3,
        "max_pct_mito": 10.0,
        "mito_prefix": "MT-",
        "layer": "counts",
    }
    assert (cells.obs["sctl_pct_mito"] <= 10).all()
    assert cells.var["sctl_mito"].sum() == 2
    # metrics are those of all genes before filtering
    np.testing.assert_array_equal(cells.obs["sctl_n_genes"], (raw[10:] > 0).sum(axis=1))
    np.testing.assert_allclose(cells.obs["sctl_total_counts"], raw[10:].sum(axis=1), rtol=1e-5)
    np.testing.assert_allclose(
        cells.obs["sctl_pct_mito"], 100 * raw[10:, -2:].sum(axis=1) / raw[10:].sum(axis=1), rtol=1e-5
    )


def test_qc_each_rule_counts_its_cells(cells):
    out = sctl.pp.qc(cells, min_genes=0, min_cells=0, max_pct_mito=10.0, layer="counts", copy=True)
    assert out.uns["sctl_qc"]["n_cells_removed_max_pct_mito"] == 10
    assert out.uns["sctl_qc"]["n_cells_removed_min_genes"] == 0
    assert out.uns["sctl_qc"]["n_genes_removed"] == 0
    out = sctl.pp.qc(cells, min_genes=10, min_cells=0, max_pct_mito=None, layer="counts", copy=True)
    assert out.uns["sctl_qc"]["n_cells_removed_min_genes"] == 10
    assert out.n_obs == cells.n_obs - 10


def test_qc_copy_leaves_input_untouched(cells, unchanged):
    before = cells.copy()
    out = sctl.pp.qc(cells, min_genes=10, layer="counts", copy=True)
    unchanged(before, cells)
    assert out is not cells
    assert out.n_obs < cells.n_obs
    assert "sctl_qc" not in cells.uns


def test_qc_wraps_scanpy_thresholds(cells):
    import scanpy as sc

    expected = cells.copy()
    expected.X = expected.layers["counts"].copy()
    sc.pp.filter_cells(expected, min_genes=10)
    sc.pp.filter_genes(expected, min_cells=3)
    out = sctl.pp.qc(cells, min_genes=10, min_cells=3, max_pct_mito=None, layer="counts", copy=True)
    assert list(out.obs_names) == list(expected.obs_names)
    assert list(out.var_names) == list(expected.var_names)


def test_qc_warns_on_non_counts_and_missing_mito(cells):
    with pytest.warns(UserWarning, match="raw counts"):
        sctl.pp.qc(cells, min_genes=1, copy=True)  # X is log-normalised
    renamed = cells.copy()
    renamed.var_names = [f"ENSG{i:011d}" for i in range(renamed.n_vars)]
    with pytest.warns(UserWarning, match="mito_prefix"):
        sctl.pp.qc(renamed, min_genes=1, layer="counts", copy=True)


def test_qc_errors(cells):
    with pytest.raises(ValueError, match="No cell passes"):
        sctl.pp.qc(cells, min_genes=10_000, layer="counts")
    with pytest.raises(ValueError, match="min_cells"):
        sctl.pp.qc(cells, min_genes=1, min_cells=10_000, layer="counts")
    with pytest.raises(KeyError, match="raw"):
        sctl.pp.qc(cells, layer="raw")
    with pytest.raises(ValueError, match="percentage"):
        sctl.pp.qc(cells, max_pct_mito=0.5 * 300, layer="counts")
    with pytest.raises(ValueError, match="min_genes"):
        sctl.pp.qc(cells, min_genes=-1, layer="counts")
    scaled = cells.copy()
    scaled.X = scaled.X.toarray() - 1.0
    with pytest.raises(ValueError, match="negative"):
        sctl.pp.qc(scaled)
    with pytest.raises(TypeError, match="AnnData"):
        sctl.pp.qc(cells.X)
    assert cells.n_obs == 120
    assert "sctl_qc" not in cells.uns
