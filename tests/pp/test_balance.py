import numpy as np
import pandas as pd
import pytest
from anndata import AnnData

import sctl


def _imbalanced(n_major: int = 30, n_minor: int = 8, seed: int = 0) -> AnnData:
    rng = np.random.default_rng(seed)
    n = n_major + n_minor
    labels = ["resistant"] * n_major + ["sensitive"] * n_minor + [np.nan] * 4
    obs = pd.DataFrame(
        {
            "sctl_label": pd.Categorical(labels, categories=["resistant", "sensitive"]),
            "tissue": ["lung"] * (n + 4),
            "purity": rng.uniform(size=n + 4),
        },
        index=[f"line{i}" for i in range(n + 4)],
    )
    x = rng.normal(size=(n + 4, 6)).astype(np.float32)
    x[n_major:n] += 3.0  # the minority class sits elsewhere
    adata = AnnData(x, obs=obs, var=pd.DataFrame(index=[f"g{i}" for i in range(6)]))
    adata.layers["counts"] = x * 2
    adata.uns["sctl_label"] = {"params": {"drug": "DrugA"}}
    return adata


@pytest.mark.parametrize("method", ["smote", "oversample"])
def test_balance_equalises_classes(method, unchanged):
    adata = _imbalanced()
    before = adata.copy()
    out = sctl.pp.balance(adata, method=method, seed=0)
    unchanged(before, adata)
    counts = out.obs["sctl_label"].value_counts()
    assert counts["resistant"] == counts["sensitive"] == 30
    assert out.n_obs == 60
    assert out.obs_names.is_unique
    synthetic = out.obs["sctl_synthetic"]
    assert synthetic.dtype == bool
    assert synthetic.sum() == 22
    assert (out.obs["sctl_label"][synthetic] == "sensitive").all()
    # the labelled rows come first, unchanged; unlabelled rows are left out
    np.testing.assert_array_equal(out.X[:38], adata.X[:38])
    assert list(out.obs_names[:38]) == list(adata.obs_names[:38])
    assert out.obs["tissue"][synthetic].isna().all()
    assert out.obs["purity"][synthetic].isna().all()
    assert out.obs["purity"].dtype == np.float64
    assert isinstance(out.obs["sctl_label"].dtype, pd.CategoricalDtype)
    assert list(out.var_names) == list(adata.var_names)
    info = out.uns["sctl_balance"]
    assert info["counts_before"] == {"resistant": 30, "sensitive": 8}
    assert info["n_synthetic"] == 22
    assert info["params"]["method"] == method
    assert out.uns["sctl_label"]["params"]["drug"] == "DrugA"


def test_smote_rows_lie_between_minority_rows():
    adata = _imbalanced()
    out = sctl.pp.balance(adata, method="smote", seed=0)
    minority = adata.X[30:38]
    new = out.X[out.obs["sctl_synthetic"].to_numpy()]
    lo, hi = minority.min(axis=0), minority.max(axis=0)
    assert ((new >= lo - 1e-5) & (new <= hi + 1e-5)).all()


def test_oversample_repeats_minority_rows():
    adata = _imbalanced()
    out = sctl.pp.balance(adata, method="oversample", seed=0)
    new = out.X[out.obs["sctl_synthetic"].to_numpy()]
    minority = {tuple(row) for row in adata.X[30:38]}
    assert all(tuple(row) in minority for row in new)


def test_balance_is_deterministic_and_reads_layer():
    adata = _imbalanced()
    a = sctl.pp.balance(adata, seed=1)
    b = sctl.pp.balance(adata, seed=1)
    c = sctl.pp.balance(adata, seed=2)
    np.testing.assert_array_equal(a.X, b.X)
    assert not np.array_equal(a.X, c.X)
    layered = sctl.pp.balance(adata, layer="counts", seed=1)
    np.testing.assert_array_equal(layered.X[:38], adata.layers["counts"][:38])


def test_balance_errors():
    adata = _imbalanced(n_minor=4)
    with pytest.raises(ValueError, match=r"class 'sensitive' has 4.*method='oversample'.*k_neighbors"):
        sctl.pp.balance(adata, k_neighbors=5)
    assert sctl.pp.balance(adata, k_neighbors=3).n_obs == 60
    with pytest.raises(ValueError, match="smote"):
        sctl.pp.balance(adata, method="adasyn")
    with pytest.raises(KeyError, match=r"'label'.*binarize_response"):
        sctl.pp.balance(adata, label_key="label")
    one_class = adata.copy()
    one_class.obs["sctl_label"] = pd.Categorical(["resistant"] * one_class.n_obs)
    with pytest.raises(ValueError, match="two classes"):
        sctl.pp.balance(one_class)
    broken = adata.copy()
    broken.X[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        sctl.pp.balance(broken)


def test_balanced_anndata_writes_to_h5ad(tmp_path):
    import anndata as ad

    out = sctl.pp.balance(_imbalanced(), seed=0)
    out.write_h5ad(tmp_path / "balanced.h5ad")
    back = ad.read_h5ad(tmp_path / "balanced.h5ad")
    assert back.obs["sctl_synthetic"].sum() == 22
    assert back.uns["sctl_balance"]["n_synthetic"] == 22
