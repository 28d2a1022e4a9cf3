import numpy as np
import pandas as pd
import pytest
from anndata import AnnData
from scipy import sparse

import sctl


def _hand_example() -> AnnData:
    # columns: an outlier gene, a gene with most values equal (MAD 0), a constant gene
    values = np.array([[1, 0, 7], [2, 0, 7], [3, 0, 7], [4, 1, 7], [100, 5, 7]], dtype=np.float32)
    return AnnData(values, var=pd.DataFrame(index=["outlier", "sparse", "constant"]))


def test_zscore_gives_mean_zero_sd_one(bulk, unchanged):
    before = bulk.copy()
    out = sctl.pp.standardize(bulk, copy=True)
    unchanged(before, bulk)
    assert out.X.dtype == np.float32
    assert isinstance(out.X, np.ndarray)
    np.testing.assert_allclose(out.X.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(out.X.std(axis=0), 1, atol=1e-5)
    np.testing.assert_allclose(out.var["sctl_center"], bulk.X.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(out.var["sctl_scale"], bulk.X.std(axis=0), rtol=1e-5)
    params = out.uns["sctl_standardize"]["params"]
    assert params["method"] == "zscore"
    assert params["reference"] is False
    assert params["clip"] is None


def test_robust_uses_median_and_mad_on_a_hand_example():
    adata = _hand_example()
    sctl.pp.standardize(adata, method="robust")
    center, scale = adata.var["sctl_center"].to_numpy(), adata.var["sctl_scale"].to_numpy()
    # outlier gene: median 3, |x - 3| = 2, 1, 0, 1, 97 -> MAD 1
    assert center[0] == 3
    assert scale[0] == pytest.approx(1.4826)
    np.testing.assert_allclose(adata.X[:, 0], (np.array([1, 2, 3, 4, 100]) - 3) / 1.4826, rtol=1e-6)
    # sparse gene: median 0 and MAD 0 -> 1.2533 * mean absolute deviation (6 / 5)
    assert center[1] == 0
    assert scale[1] == pytest.approx(1.2533 * 1.2)
    # constant gene: scale 1, values 0, never NaN
    assert center[2] == 7
    assert scale[2] == 1
    np.testing.assert_array_equal(adata.X[:, 2], 0)
    params = adata.uns["sctl_standardize"]["params"]
    assert params["n_constant"] == 1
    assert params["n_mad_fallback"] == 1


def test_zero_variance_gene_gets_scale_one():
    adata = _hand_example()
    sctl.pp.standardize(adata)
    assert adata.var.loc["constant", "sctl_scale"] == 1
    assert np.isfinite(adata.X).all()
    np.testing.assert_array_equal(adata.X[:, 2], 0)


def test_reference_reapplies_training_parameters(bulk_factory):
    train, test = bulk_factory(seed=1), bulk_factory(n_lines=10, seed=2)
    test_values = test.X.copy()
    sctl.pp.standardize(train, method="robust", clip=3.0)
    sctl.pp.standardize(test, reference=train)
    np.testing.assert_array_equal(test.var["sctl_center"], train.var["sctl_center"])
    np.testing.assert_array_equal(test.var["sctl_scale"], train.var["sctl_scale"])
    expected = np.clip((test_values - train.var["sctl_center"].to_numpy()) / train.var["sctl_scale"].to_numpy(), -3, 3)
    np.testing.assert_allclose(test.X, expected, rtol=1e-5, atol=1e-6)
    params = test.uns["sctl_standardize"]["params"]
    assert params["reference"] is True
    assert params["method"] == "robust"
    assert params["clip"] == 3.0


def test_reference_matches_genes_by_name(bulk_factory):
    train, test = bulk_factory(seed=1), bulk_factory(n_lines=10, seed=2)
    sctl.pp.standardize(train)
    shuffled = test[:, test.var_names[::-1]].copy()
    sctl.pp.standardize(shuffled, reference=train)
    sctl.pp.standardize(test, reference=train)
    np.testing.assert_array_equal(shuffled.X, test[:, test.var_names[::-1]].X)


def test_layer_is_read_and_result_goes_to_x(cells):
    counts = cells.layers["counts"].copy()
    sctl.pp.standardize(cells, layer="counts")
    assert isinstance(cells.X, np.ndarray)
    np.testing.assert_allclose(cells.X.mean(axis=0), 0, atol=1e-5)
    assert (cells.layers["counts"] != counts).nnz == 0  # the layer is left as it was
    assert cells.uns["sctl_standardize"]["params"]["layer"] == "counts"


def test_standardize_view_and_sparse(cells):
    view = cells[:50]
    sctl.pp.standardize(view)
    assert not view.is_view
    np.testing.assert_allclose(view.X.std(axis=0)[view.var["sctl_scale"].to_numpy() != 1], 1, atol=1e-4)
    assert sparse.issparse(cells.X)  # the parent is left alone


def test_standardize_errors(bulk, bulk_factory):
    broken = bulk.copy()
    broken.X[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        sctl.pp.standardize(broken)
    broken.X[0, 0] = np.inf
    with pytest.raises(ValueError, match="infinite"):
        sctl.pp.standardize(broken)
    with pytest.raises(ValueError, match="zscore"):
        sctl.pp.standardize(bulk, method="minmax")
    with pytest.raises(ValueError, match="clip"):
        sctl.pp.standardize(bulk, clip=-1)
    with pytest.raises(ValueError, match=r"Standardise it first"):
        sctl.pp.standardize(bulk, reference=bulk_factory(seed=3))
    train = bulk_factory(seed=3)
    small = train[:, :10].copy()
    sctl.pp.standardize(small)
    with pytest.raises(ValueError, match=r"20 of the 30 genes .*align_genes"):
        sctl.pp.standardize(bulk, reference=small)
    with pytest.raises(KeyError, match="counts"):
        sctl.pp.standardize(bulk, layer="counts")
    assert "sctl_standardize" not in bulk.uns  # errors leave the input as it was
