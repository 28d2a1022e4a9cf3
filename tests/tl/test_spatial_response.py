"""sctl.tl.spatial_response / sctl.pl.spatial_response: clustering of the response call in tissue space (squidpy)."""

import sys

import matplotlib

matplotlib.use("Agg")

import anndata as ad
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

import sctl

from ..pl._plot_inputs import tissue

KEY = "sctl_spatial_response"
N_PERMS = 200


@pytest.fixture(scope="module")
def patch():
    pytest.importorskip("squidpy")
    adata = tissue()
    sctl.tl.spatial_response(adata, n_perms=N_PERMS, interval=20)
    return adata


def test_a_sensitive_patch_clusters(patch):
    result = patch.uns[KEY]
    join = result["join_count"]
    assert join["zscore"] > 2
    assert join["pvalue"] < 0.05
    assert join["pvalue"] == pytest.approx(1 / (N_PERMS + 1))  # no permutation reaches the patch
    assert join["n_cells"] == patch.n_obs
    assert join["n_sensitive"] == (patch.obs["sctl_response"] == "sensitive").sum()
    # the observed count is the number of edges between two sensitive cells, counted once
    adjacency = patch.obsp[f"{KEY}_connectivities"] != 0
    adjacency = ((adjacency + adjacency.T) > 0).toarray()
    np.fill_diagonal(adjacency, False)
    sensitive = (patch.obs["sctl_response"] == "sensitive").to_numpy()
    assert join["observed"] == adjacency[np.ix_(sensitive, sensitive)].sum() / 2
    assert join["n_edges"] == adjacency.sum() / 2
    assert join["observed"] > join["expected"] + 2 * join["std"]
    zscore = result["nhood_enrichment"]["zscore"]
    assert zscore.loc["sensitive", "sensitive"] > 2
    assert zscore.loc["resistant", "sensitive"] < -2
    occ = result["co_occurrence"]["occ"]
    categories = result["co_occurrence"]["categories"]
    s = categories.index("sensitive")
    assert occ[s, s, 0] > 2  # sensitive cells are found next to sensitive cells far more than by chance
    assert occ[s, s, 0] > occ[s, s, -1]  # ... and less so farther away


def test_keys_shapes_and_no_foreign_keys(patch):
    n = patch.n_obs
    assert patch.obsp[f"{KEY}_connectivities"].shape == (n, n)
    assert patch.obsp[f"{KEY}_distances"].shape == (n, n)
    assert set(patch.obsp) == {f"{KEY}_connectivities", f"{KEY}_distances"}
    assert set(patch.uns) == {KEY}  # squidpy left none of its own keys behind
    assert set(patch.obs.columns) == {"sctl_response", f"{KEY}_sensitive_fraction"}
    result = patch.uns[KEY]
    assert set(result) == {"params", "join_count", "nhood_enrichment", "co_occurrence"}
    assert result["params"]["n_perms"] == N_PERMS
    assert result["params"]["spatial_key"] == "spatial"
    assert result["params"]["key"] == "sctl_response"
    assert result["nhood_enrichment"]["zscore"].shape == (2, 2)
    assert list(result["nhood_enrichment"]["count"].index) == ["resistant", "sensitive"]
    assert result["co_occurrence"]["interval"].shape == (20,)
    assert result["co_occurrence"]["occ"].shape == (2, 2, 19)
    fraction = patch.obs[f"{KEY}_sensitive_fraction"].to_numpy()
    assert fraction.shape == (n,)
    assert np.nanmin(fraction) >= 0
    assert np.nanmax(fraction) <= 1
    sensitive = (patch.obs["sctl_response"] == "sensitive").to_numpy()
    assert fraction[sensitive].mean() > 0.7
    assert fraction[~sensitive].mean() < 0.1


def test_a_shuffled_layout_does_not_cluster():
    pytest.importorskip("squidpy")
    adata = tissue(shuffle=True)
    sctl.tl.spatial_response(adata, n_perms=N_PERMS, interval=10)
    join = adata.uns[KEY]["join_count"]
    assert abs(join["zscore"]) < 2
    assert join["pvalue"] > 0.05
    assert abs(adata.uns[KEY]["nhood_enrichment"]["zscore"].loc["sensitive", "sensitive"]) < 2


def test_seeded_copy_and_h5ad_round_trip(patch, tmp_path):
    adata = tissue()
    again = sctl.tl.spatial_response(adata, n_perms=N_PERMS, interval=20, copy=True)
    assert KEY not in adata.uns  # copy=True leaves the input alone
    assert again.uns[KEY]["join_count"] == patch.uns[KEY]["join_count"]
    other = sctl.tl.spatial_response(adata, n_perms=N_PERMS, interval=20, seed=1, copy=True)
    assert other.uns[KEY]["join_count"]["expected"] != patch.uns[KEY]["join_count"]["expected"]
    again.write_h5ad(tmp_path / "spatial.h5ad")
    back = ad.read_h5ad(tmp_path / "spatial.h5ad")
    assert back.uns[KEY]["join_count"]["zscore"] == pytest.approx(again.uns[KEY]["join_count"]["zscore"])
    np.testing.assert_allclose(back.uns[KEY]["co_occurrence"]["occ"], again.uns[KEY]["co_occurrence"]["occ"])


def test_sections_get_their_own_graph_and_permutations():
    pytest.importorskip("squidpy")
    # two sections placed side by side: one all sensitive, one all resistant
    adata = tissue(side=16)
    left = adata.obsm["spatial"][:, 0] < 8
    adata.obs["sctl_response"] = pd.Categorical(np.where(left, "sensitive", "resistant"))
    adata.obs["section"] = np.where(left, "A", "B")
    pooled = sctl.tl.spatial_response(adata, n_perms=100, interval=5, copy=True)
    assert pooled.uns[KEY]["join_count"]["zscore"] > 2
    split = sctl.tl.spatial_response(adata, library_key="section", n_perms=100, interval=5, copy=True)
    graph = split.obsp[f"{KEY}_connectivities"]
    assert graph[np.ix_(left, ~left)].nnz == 0  # no edge across sections
    join = split.uns[KEY]["join_count"]
    assert join["std"] == 0  # shuffling within a one-call section changes nothing
    assert join["pvalue"] == 1
    assert split.uns[KEY]["params"]["library_key"] == "section"


def test_other_graphs_and_the_pre_1_8_squidpy_api(monkeypatch):
    sq = pytest.importorskip("squidpy")
    adata = tissue(side=12)
    knn = sctl.tl.spatial_response(adata, n_perms=20, interval=5, copy=True)
    radius = sctl.tl.spatial_response(adata, graph="radius", radius=1.5, n_perms=20, interval=5, copy=True)
    degree = np.diff(radius.obsp[f"{KEY}_connectivities"].indptr)
    assert degree.max() <= 8  # the 8 grid neighbours within 1.5 at most
    assert radius.uns[KEY]["params"]["graph"] == "radius"
    # squidpy < 1.8 has one `spatial_neighbors`: the same k-nearest-neighbour graph comes out
    monkeypatch.delattr(sq.gr, "spatial_neighbors_knn")
    with pytest.warns(FutureWarning):  # squidpy 1.8 deprecates the old function
        legacy = sctl.tl.spatial_response(adata, n_perms=20, interval=5, copy=True)
    assert (legacy.obsp[f"{KEY}_connectivities"] != knn.obsp[f"{KEY}_connectivities"]).nnz == 0


def test_bad_input_errors(monkeypatch):
    adata = tissue(side=6)
    del adata.obsm["spatial"]
    with pytest.raises(KeyError, match=r"obsm\['spatial'\].*obsm\['spatial'\] = "):
        sctl.tl.spatial_response(adata)
    adata = tissue(side=6)
    with pytest.raises(KeyError, match="xy"):
        sctl.tl.spatial_response(adata, spatial_key="xy")
    del adata.obs["sctl_response"]
    with pytest.raises(KeyError, match=r"run `sctl\.tl\.predict_response"):
        sctl.tl.spatial_response(adata)
    adata = tissue(side=6)
    adata.obs["sctl_response"] = "resistant"
    with pytest.raises(ValueError, match="sensitive="):
        sctl.tl.spatial_response(adata)
    adata = tissue(side=6)
    with pytest.raises(ValueError, match="needs `radius=`"):
        sctl.tl.spatial_response(adata, graph="radius")
    with pytest.raises(ValueError, match="`graph` must be one of"):
        sctl.tl.spatial_response(adata, graph="voronoi")
    adata.obsm["spatial"] = adata.obsm["spatial"][:, :1]
    with pytest.raises(ValueError, match="n_cells x 2"):
        sctl.tl.spatial_response(adata)
    adata = tissue(side=6)
    adata.obs.loc[adata.obs_names[0], "sctl_response"] = np.nan
    with pytest.raises(ValueError, match="1 of 36 cells have no call"):
        sctl.tl.spatial_response(adata)
    monkeypatch.setitem(sys.modules, "squidpy", None)  # as if squidpy were not installed
    with pytest.raises(ImportError, match=r'pip install "sctl\[spatial\]"'):
        sctl.tl.spatial_response(tissue(side=6))


def test_plot_renders(patch, tmp_path):
    path = tmp_path / "spatial.png"
    fig = sctl.pl.spatial_response(patch, save=path)
    assert path.exists()
    assert path.stat().st_size > 0
    calls, fraction, enrichment, co_occurrence = fig.axes[:4]
    assert calls.get_title() == "sctl_response"
    assert sum(len(c.get_offsets()) for c in calls.collections) == patch.n_obs
    np.testing.assert_allclose(fraction.collections[0].get_array(), patch.obs[f"{KEY}_sensitive_fraction"])
    np.testing.assert_allclose(
        enrichment.images[0].get_array(), patch.uns[KEY]["nhood_enrichment"]["zscore"].to_numpy()
    )
    assert "p = " in enrichment.get_title()
    assert len(co_occurrence.lines) == 5  # 2 calls x 2 conditions + the line at 1
    plt.close(fig)
    with pytest.raises(KeyError, match=r"run `sctl\.tl\.spatial_response"):
        sctl.pl.spatial_response(tissue(side=4), show=False)


def test_plot_takes_the_old_key_added_with_a_warning():
    with (
        pytest.warns(FutureWarning, match=r"`key_added=` of sctl\.pl\.spatial_response\(\) is renamed `key=`"),
        pytest.raises(KeyError, match=r"adata\.uns\['mine'\].*run `sctl\.tl\.spatial_response"),
    ):
        sctl.pl.spatial_response(tissue(side=4), key_added="mine", show=False)
