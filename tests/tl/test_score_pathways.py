"""sctl.tl.score_pathways gives decoupler's own numbers on real GDSC expression."""

import decoupler as dc
import numpy as np
import pandas as pd
import pytest

import sctl


@pytest.fixture(scope="module")
def lines():
    return sctl.datasets.gdsc()[:120].copy()


def test_progeny_ulm_matches_decoupler(lines):
    adata = lines.copy()
    sctl.tl.score_pathways(adata)
    direct = lines.copy()
    dc.mt.ulm(direct, sctl.datasets.progeny(), tmin=5)
    pd.testing.assert_frame_equal(adata.obsm["sctl_pathways"], direct.obsm["score_ulm"].astype(np.float64))
    pd.testing.assert_frame_equal(adata.obsm["sctl_pathways_padj"], direct.obsm["padj_ulm"].astype(np.float64))
    assert adata.obsm["sctl_pathways"].shape == (120, 14)
    params = adata.uns["sctl_pathways"]["params"]
    assert params["net"] == "progeny"
    assert params["method"] == "ulm"
    assert params["n_sources"] == 14


def test_shipped_gene_sets_and_user_net_with_layer(lines):
    adata = lines.copy()
    adata.layers["expr"] = adata.X.copy()
    adata.X = np.zeros_like(adata.X)
    net = sctl.datasets.genesets("reactome", min_size=10, max_size=300)
    out = sctl.tl.score_pathways(adata, net=net, method="zscore", layer="expr", key_added="react", copy=True)
    assert "react" not in adata.obsm
    direct = dc.mt.zscore(pd.DataFrame(lines.X, index=lines.obs_names, columns=lines.var_names), net, tmin=5)[0]
    pd.testing.assert_frame_equal(out.obsm["react"], direct.astype(np.float64))
    assert out.uns["react"]["params"]["net"] == "custom"
    named = sctl.tl.score_pathways(lines, net="go_bp", copy=True)
    assert named.obsm["sctl_pathways"].shape[1] > 100


def test_empty_observation_gets_nan(lines):
    adata = lines[:20].copy()
    adata.X[0] = 0.0
    sctl.tl.score_pathways(adata)
    scores = adata.obsm["sctl_pathways"]
    assert list(scores.index) == list(adata.obs_names)
    assert scores.iloc[0].isna().all()
    assert scores.iloc[1:].notna().all().all()


def test_errors(lines):
    with pytest.raises(ValueError, match="Shipped resources: 'progeny', 'go_bp', 'reactome'"):
        sctl.tl.score_pathways(lines, net="kegg")
    with pytest.raises(ValueError, match="Unknown decoupler method"):
        sctl.tl.score_pathways(lines, method="ulmm")
    with pytest.raises(ValueError, match="lacks the column"):
        sctl.tl.score_pathways(lines, net=pd.DataFrame({"pathway": ["a"], "gene": ["b"]}))
    with pytest.raises(ValueError, match="No source of the network"):
        sctl.tl.score_pathways(lines, net=pd.DataFrame({"source": ["a"] * 6, "target": list("uvwxyz")}))
    with pytest.raises(ValueError, match="repeats"):
        sctl.tl.score_pathways(lines, net=pd.DataFrame({"source": ["a", "a"], "target": ["TP53", "TP53"]}))
