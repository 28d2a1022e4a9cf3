import warnings

import numpy as np
import pandas as pd
import pytest
from anndata import AnnData
from scipy.stats import spearmanr

import sctl


def _trajectory(n: int = 300, seed: int = 0) -> tuple[AnnData, np.ndarray]:
    """Cells along one axis ``t`` (0 = resistant end); g0 rises with t, g1 falls, the rest are noise.

    The untreated cells (``condition == "control"``) sit at the sensitive end, t > 0.8.
    """
    rng = np.random.default_rng(seed)
    t = np.sort(rng.random(n))
    loadings = np.r_[2.0, -2.0, rng.normal(size=28)]
    X = np.outer(t, loadings) * 2 + rng.normal(scale=0.3, size=(n, 30))
    adata = AnnData(X.astype(np.float32), var=pd.DataFrame(index=[f"g{i}" for i in range(30)]))
    adata.obs_names = [f"c{i}" for i in range(n)]
    adata.obs["sctl_response_proba"] = np.clip(t + rng.normal(scale=0.1, size=n), 0, 1)
    adata.obs["stage"] = pd.Categorical(np.where(t < 0.2, "early", "late"))
    adata.obs["condition"] = pd.Categorical(np.where(t > 0.8, "control", "treated"))
    return adata, t


@pytest.fixture(scope="module")
def traj() -> tuple[AnnData, np.ndarray]:
    return _trajectory()


def test_pseudotime_recovers_planted_order(traj):
    adata, t = traj
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an annotation root is not circular: no warning
        out = sctl.tl.response_pseudotime(adata, genes=["g0", "g1", "g5"], copy=True)
    assert "X_diffmap" not in adata.obsm  # copy=True leaves the input alone
    for key in ("X_pca", "X_diffmap"):
        assert key in out.obsm
    assert "dpt_pseudotime" not in out.obs
    pseudotime = out.obs["sctl_response_pseudotime"].to_numpy()
    assert pseudotime.shape == (300,)
    assert np.isfinite(pseudotime).all()
    assert pseudotime.min() == 0
    # the paper's direction: from the sensitive (untreated) end to the resistant end
    assert spearmanr(pseudotime, t)[0] < -0.9
    result = out.uns["sctl_response_pseudotime"]
    assert result["spearman_rho"] < -0.8
    assert result["spearman_pvalue"] < 1e-10
    params = result["params"]
    assert params["root"] == "('condition', 'control')"
    assert params["circular_root"] is False
    # rooted on the annotation (the control cell farthest from the others), not on the predicted score
    control = np.flatnonzero(adata.obs["condition"] == "control")
    assert params["root_index"] in control
    genes = result["genes"]
    assert list(genes.index) == ["g0", "g1", "g5"]
    assert genes.loc["g0", "rho"] < -0.8
    assert genes.loc["g1", "rho"] > 0.8


def test_roots(traj):
    adata, t = traj
    adata = adata.copy()
    with pytest.warns(UserWarning, match="circular"):
        sctl.tl.response_pseudotime(adata, root="most_sensitive")
    params = adata.uns["sctl_response_pseudotime"]["params"]
    assert params["root_cell"] == adata.obs_names[np.argmax(adata.obs["sctl_response_proba"])]
    assert params["circular_root"] is True
    assert adata.uns["sctl_response_pseudotime"]["spearman_rho"] < -0.8
    with pytest.warns(UserWarning, match="circular"):
        sctl.tl.response_pseudotime(adata, root="most_resistant")
    assert adata.uns["sctl_response_pseudotime"]["spearman_rho"] > 0.8
    adata.obs["sctl_response"] = np.where(adata.obs["sctl_response_proba"] >= 0.5, "sensitive", "resistant")
    with pytest.warns(UserWarning, match="circular"):  # a label made from the prediction is circular too
        sctl.tl.response_pseudotime(adata, root=("sctl_response", "sensitive"))
    sctl.tl.response_pseudotime(adata, root=("stage", "early"))
    root = adata.uns["sctl_response_pseudotime"]["params"]["root_index"]
    assert t[root] < 0.2
    assert adata.uns["sctl_response_pseudotime"]["spearman_rho"] > 0.8
    sctl.tl.response_pseudotime(adata, root=(t > 0.9))
    assert t[adata.uns["sctl_response_pseudotime"]["params"]["root_index"]] > 0.9
    sctl.tl.response_pseudotime(adata, root=5)
    assert adata.uns["sctl_response_pseudotime"]["params"]["root_cell"] == "c5"
    sctl.tl.response_pseudotime(adata, root="c7", key_added="sctl_pt")
    assert adata.obs["sctl_pt"].iloc[7] == 0


def test_errors(traj):
    adata, _ = traj
    bare = adata.copy()
    del bare.obs["sctl_response_proba"]
    with pytest.raises(KeyError, match="predict_response"):
        sctl.tl.response_pseudotime(bare)
    with pytest.raises(KeyError, match="neither"):
        sctl.tl.response_pseudotime(adata, root="most_resistent", copy=True)
    with pytest.raises(IndexError, match="out of range"):
        sctl.tl.response_pseudotime(adata, root=10_000, copy=True)
    with pytest.raises(ValueError, match="selects no cell"):
        sctl.tl.response_pseudotime(adata, root=np.zeros(adata.n_obs, dtype=bool), copy=True)
    with pytest.raises(ValueError, match=r"No cell has `adata.obs\['condition'\] == 'untreated'`.*'control'"):
        sctl.tl.response_pseudotime(adata, root=("condition", "untreated"), copy=True)


def test_default_root_needs_the_annotation_and_fails_before_any_work(traj):
    adata, _ = traj
    adata = adata.copy()
    del adata.obs["condition"]
    with pytest.raises(KeyError, match=r"untreated cells, `adata.obs\['condition'\] == 'control'`.*root=\(column"):
        sctl.tl.response_pseudotime(adata)
    assert "X_pca" not in adata.obsm  # nothing written
    assert "neighbors" not in adata.uns
    with pytest.raises(KeyError, match="GENE_X"):
        sctl.tl.response_pseudotime(adata, genes=["g0", "GENE_X"], copy=True)


def test_disconnected_cells_warn():
    cells = sctl.datasets.tumor(n_cells=300, n_lines=6, seed=1)
    cells.obs["sctl_response_proba"] = (cells.obs["response"] == "sensitive").astype(float)
    with pytest.warns(UserWarning, match="not connected"):
        sctl.tl.response_pseudotime(cells, root=("response", "sensitive"), n_neighbors=5)
    assert not np.isfinite(cells.obs["sctl_response_pseudotime"]).all()
