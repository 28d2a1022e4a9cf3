import numpy as np
import pandas as pd
import pytest
from anndata import AnnData
from scipy.stats import spearmanr

import sctl


def _trajectory(n: int = 300, seed: int = 0) -> tuple[AnnData, np.ndarray]:
    """Cells along one axis ``t`` (0 = resistant end); g0 rises with t, g1 falls, the rest are noise."""
    rng = np.random.default_rng(seed)
    t = np.sort(rng.random(n))
    loadings = np.r_[2.0, -2.0, rng.normal(size=28)]
    X = np.outer(t, loadings) * 2 + rng.normal(scale=0.3, size=(n, 30))
    adata = AnnData(X.astype(np.float32), var=pd.DataFrame(index=[f"g{i}" for i in range(30)]))
    adata.obs_names = [f"c{i}" for i in range(n)]
    adata.obs["sctl_response_proba"] = np.clip(t + rng.normal(scale=0.1, size=n), 0, 1)
    adata.obs["stage"] = pd.Categorical(np.where(t < 0.2, "early", "late"))
    return adata, t


@pytest.fixture(scope="module")
def traj() -> tuple[AnnData, np.ndarray]:
    return _trajectory()


def test_pseudotime_recovers_planted_order(traj):
    adata, t = traj
    out = sctl.tl.response_pseudotime(adata, genes=["g0", "g1", "g5"], copy=True)
    assert "X_diffmap" not in adata.obsm  # copy=True leaves the input alone
    for key in ("X_pca", "X_diffmap"):
        assert key in out.obsm
    assert "dpt_pseudotime" not in out.obs
    pseudotime = out.obs["sctl_response_pseudotime"].to_numpy()
    assert pseudotime.shape == (300,)
    assert np.isfinite(pseudotime).all()
    assert pseudotime.min() == 0
    assert spearmanr(pseudotime, t)[0] > 0.9
    result = out.uns["sctl_response_pseudotime"]
    assert result["spearman_rho"] > 0.8
    assert result["spearman_pvalue"] < 1e-10
    assert result["params"]["root_cell"] == adata.obs_names[np.argmin(adata.obs["sctl_response_proba"])]
    genes = result["genes"]
    assert list(genes.index) == ["g0", "g1", "g5"]
    assert genes.loc["g0", "rho"] > 0.8
    assert genes.loc["g1", "rho"] < -0.8


def test_roots(traj):
    adata, t = traj
    adata = adata.copy()
    sctl.tl.response_pseudotime(adata, root="most_sensitive")
    assert adata.uns["sctl_response_pseudotime"]["spearman_rho"] < -0.8
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
    with pytest.raises(KeyError, match="GENE_X"):
        sctl.tl.response_pseudotime(adata, genes=["g0", "GENE_X"], copy=True)


def test_disconnected_cells_warn():
    cells = sctl.datasets.tumor(n_cells=300, n_lines=6, seed=1)
    cells.obs["sctl_response_proba"] = (cells.obs["response"] == "sensitive").astype(float)
    with pytest.warns(UserWarning, match="not connected"):
        sctl.tl.response_pseudotime(cells, n_neighbors=5)
    assert not np.isfinite(cells.obs["sctl_response_pseudotime"]).all()
