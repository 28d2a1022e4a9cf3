import numpy as np
import pandas as pd
import pytest
import scanpy as sc
from anndata import AnnData
from sklearn.metrics import roc_auc_score

import sctl
from sctl.tl._gene_scores import random_set_scores


@pytest.fixture(scope="module")
def tumor() -> AnnData:
    cells = sctl.datasets.tumor(n_cells=400, seed=4)
    cells.obs["sctl_response"] = cells.obs["response"]  # a perfect prediction
    return cells


def test_perfect_prediction_is_significant(tumor):
    cells = tumor.copy()
    sctl.tl.response_gene_scores(cells, truth_key="response", n_genes=30)
    result = cells.uns["sctl_response_gene_scores"]
    for side in ("sensitive", "resistant"):
        assert len(result["genes"][side]) == 30
        assert result["genes"][side] == result["true_genes"][side]
        assert result["pearson_r"][side] == pytest.approx(1.0)
        assert result["pvalue"][side] == pytest.approx(1 / 1001)
        assert result["null_r"][side].shape == (1000,)
        assert np.abs(result["null_r"][side]).max() < 1.0
    assert not set(result["genes"]["sensitive"]) & set(result["genes"]["resistant"])
    truth = cells.obs["response"] == "sensitive"
    assert roc_auc_score(truth, cells.obs["sctl_sensitive_score"]) > 0.9
    assert roc_auc_score(~truth, cells.obs["sctl_resistant_score"]) > 0.9
    np.testing.assert_allclose(cells.obs["sctl_sensitive_score"], cells.obs["sctl_true_sensitive_score"])
    assert result["params"]["n_permutations"] == 1000


def test_random_labels_are_not_significant(tumor):
    cells = tumor.copy()
    rng = np.random.default_rng(0)
    cells.obs["sctl_response"] = pd.Categorical(rng.permutation(cells.obs["response"].to_numpy()))
    sctl.tl.response_gene_scores(cells, truth_key="response", n_permutations=300)
    result = cells.uns["sctl_response_gene_scores"]
    assert min(result["pvalue"].values()) > 0.1
    assert max(result["pearson_r"].values()) < 0.5


def test_without_truth_and_seeded(tumor):
    first = sctl.tl.response_gene_scores(tumor, n_genes=20, copy=True)
    second = sctl.tl.response_gene_scores(tumor, n_genes=20, copy=True)
    assert "sctl_sensitive_score" not in tumor.obs
    result = first.uns["sctl_response_gene_scores"]
    assert set(result) == {"params", "genes"}
    assert "sctl_true_sensitive_score" not in first.obs
    np.testing.assert_array_equal(first.obs["sctl_resistant_score"], second.obs["sctl_resistant_score"])


def test_random_set_scores_match_score_genes():
    rng = np.random.default_rng(0)
    X = rng.gamma(1.0, 1.0, size=(50, 120)).astype(np.float32)
    adata = AnnData(X, var=pd.DataFrame(index=[f"g{i}" for i in range(120)]))
    ours = random_set_scores(X, 8, 1, np.random.default_rng(5), ctrl_size=1000)  # every bin gene is a control
    chosen = np.random.default_rng(5).choice(120, size=8, replace=False)
    sc.tl.score_genes(adata, adata.var_names[chosen], ctrl_size=1000)
    np.testing.assert_allclose(ours[:, 0], adata.obs["score"], rtol=1e-5, atol=1e-6)


def test_errors(tumor):
    cells = tumor.copy()
    del cells.obs["sctl_response"]
    with pytest.raises(KeyError, match="predict_response"):
        sctl.tl.response_gene_scores(cells)
    cells.obs["sctl_response"] = "sensitive"
    with pytest.raises(ValueError, match="at least two cells"):
        sctl.tl.response_gene_scores(cells)
    cells.obs["sctl_response"] = tumor.obs["response"]
    with pytest.raises(KeyError, match="true sensitive"):
        sctl.tl.response_gene_scores(cells, truth_key="truth")
    with pytest.raises(KeyError, match="counts_"):
        sctl.tl.response_gene_scores(cells, layer="counts_")
