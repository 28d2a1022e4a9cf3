import math

import numpy as np
import pandas as pd
import pytest
from anndata import AnnData

import sctl


def _lines(values, drug="DrugA") -> AnnData:
    index = [f"line{i}" for i in range(len(values))]
    adata = AnnData(np.zeros((len(values), 2), dtype=np.float32), obs=pd.DataFrame(index=index))
    adata.obsm["ln_ic50"] = pd.DataFrame({drug: values}, index=index)
    return adata


@pytest.mark.parametrize(("n", "k"), [(10, 0.3), (37, 0.3), (40, 0.5), (41, 0.5), (100, 0.29), (7, 0.2)])
def test_extremes_labels_floor_k_n_at_each_end(n, k):
    rng = np.random.default_rng(n)
    values = rng.permutation(np.arange(n, dtype=float))
    adata = _lines(values)
    sctl.pp.binarize_response(adata, "DrugA", k=k)
    labels = adata.obs["sctl_label"]
    n_end = math.floor(k * n + 1e-9)
    assert (labels == "sensitive").sum() == (labels == "resistant").sum() == n_end
    # the lowest values are sensitive (low LN_IC50 = sensitive), the highest resistant
    assert set(values[labels == "sensitive"]) == set(range(n_end))
    assert set(values[labels == "resistant"]) == set(range(n - n_end, n))
    assert labels.isna().sum() == n - 2 * n_end
    assert list(labels.cat.categories) == ["resistant", "sensitive"]
    params = adata.uns["sctl_label"]["params"]
    assert params["n_sensitive"] == params["n_resistant"] == n_end
    assert params["sensitive_cutoff"] == n_end - 1
    assert params["resistant_cutoff"] == n - n_end


def test_untested_lines_stay_unlabelled(bulk, unchanged):
    before = bulk.copy()
    out = sctl.pp.binarize_response(bulk, "DrugB", k=0.3, copy=True)
    unchanged(before, bulk)
    tested = bulk.obsm["ln_ic50"]["DrugB"].notna()
    assert out.obs["sctl_label"][~tested].isna().all()
    params = out.uns["sctl_label"]["params"]
    assert params["n_untested"] == (~tested).sum() == 6
    assert params["n_sensitive"] == math.floor(0.3 * tested.sum())
    assert params["n_unlabelled"] == tested.sum() - 2 * params["n_sensitive"]
    assert params["drug"] == "DrugB"
    assert params["key"] == "ln_ic50"
    assert params["method"] == "extremes"


def test_median_and_threshold_rules():
    adata = _lines([1.0, 2.0, 3.0, 4.0, 5.0, np.nan])
    sctl.pp.binarize_response(adata, "DrugA", method="median")
    assert list(adata.obs["sctl_label"].astype(object).fillna("-")) == [
        "sensitive",
        "sensitive",
        "resistant",
        "resistant",
        "resistant",
        "-",
    ]
    assert adata.uns["sctl_label"]["params"]["median"] == 3.0
    sctl.pp.binarize_response(adata, "DrugA", method="threshold", threshold=4.0, key_added="sctl_t")
    assert list(adata.obs["sctl_t"].astype(object).fillna("-")) == [
        "sensitive",
        "sensitive",
        "sensitive",
        "resistant",
        "resistant",
        "-",
    ]
    params = adata.uns["sctl_t"]["params"]
    assert params["threshold"] == 4.0
    assert params["sensitive_cutoff"] == 3.0
    assert params["resistant_cutoff"] == 4.0
    assert "sctl_label" in adata.obs  # the first labels are kept under their own key


def test_auc_key(bulk):
    sctl.pp.binarize_response(bulk, "DrugC", "auc", method="median")
    auc = bulk.obsm["auc"]["DrugC"]
    assert (auc[bulk.obs["sctl_label"] == "sensitive"] < auc.median()).all()
    assert bulk.uns["sctl_label"]["params"]["key"] == "auc"


def test_binarize_errors(bulk):
    with pytest.raises(KeyError, match=r"DrugZ.*Did you mean.*Known drugs"):
        sctl.pp.binarize_response(bulk, "DrugZ")
    with pytest.raises(KeyError, match="ic50"):
        sctl.pp.binarize_response(bulk, "DrugA", "ic50")
    for k in (0.0, 0.6, -0.1):
        with pytest.raises(ValueError, match=r"\(0, 0.5\]"):
            sctl.pp.binarize_response(bulk, "DrugA", k=k)
    with pytest.raises(ValueError, match="threshold="):
        sctl.pp.binarize_response(bulk, "DrugA", method="threshold")
    with pytest.raises(ValueError, match="extremes"):
        sctl.pp.binarize_response(bulk, "DrugA", method="quantile")
    with pytest.raises(ValueError, match="two classes"):
        sctl.pp.binarize_response(bulk, "DrugA", method="threshold", threshold=100.0)
    with pytest.raises(ValueError, match="two classes"):
        sctl.pp.binarize_response(_lines([1.0, 2.0, 3.0]), "DrugA", k=0.2)  # floor(0.6) = 0 lines per end
    with pytest.warns(UserWarning, match="ignored"):
        sctl.pp.binarize_response(bulk, "DrugA", threshold=1.0, copy=True)
    assert "sctl_label" not in bulk.obs  # errors leave the input as it was


def test_labels_and_params_write_to_h5ad(bulk, tmp_path):
    import anndata as ad

    sctl.pp.binarize_response(bulk, "DrugA")
    sctl.pp.standardize(bulk, method="robust")
    bulk.write_h5ad(tmp_path / "bulk.h5ad")
    back = ad.read_h5ad(tmp_path / "bulk.h5ad")
    assert back.obs["sctl_label"].equals(bulk.obs["sctl_label"])
    assert back.uns["sctl_label"]["params"]["n_sensitive"] == 12
    assert back.uns["sctl_standardize"]["params"]["method"] == "robust"
