import anndata
import numpy as np
import pandas as pd
import pytest
from anndata import AnnData
from scipy import sparse
from sklearn.metrics import roc_auc_score

import sctl
from sctl.tl._state_kernels import ssgsea


@pytest.fixture(scope="module")
def markers() -> pd.DataFrame:
    return sctl.datasets.state_markers()


def _planted(
    markers: pd.DataFrame, state: str | list[str], n_cells: int = 120, n_other: int = 200, seed: int = 0
) -> AnnData:
    """Log-gamma cells over the marker genes plus filler genes; the first half has the genes of ``state`` up."""
    rng = np.random.default_rng(seed)
    genes = list(pd.unique(markers["gene"])) + [f"FILLER{i}" for i in range(n_other)]
    X = rng.gamma(2.0, 1.0, size=(n_cells, len(genes)))
    up = np.isin(genes, markers.loc[markers["state"].isin(np.atleast_1d(state)), "gene"])
    X[: n_cells // 2, up] += 3.0
    obs = pd.DataFrame({"group": ["up"] * (n_cells // 2) + ["base"] * (n_cells - n_cells // 2)})
    obs.index = obs.index.astype(str)
    return AnnData(np.log1p(X).astype(np.float32), obs=obs, var=pd.DataFrame(index=genes))


def test_state_markers_table(markers):
    assert list(markers.columns) == ["state", "category", "parent_state", "gene", "reference"]
    assert markers["state"].nunique() == 8
    parents = markers.drop_duplicates("state").set_index("state")["parent_state"]
    assert set(parents[parents != parents.index].index) == {"apoptosis", "autophagy", "ferroptosis"}
    assert set(parents[parents != parents.index]) == {"programmed_cell_death"}
    assert markers.groupby("category")["parent_state"].nunique().to_dict() == {"effective": 3, "ineffective": 3}
    assert set(markers["category"]) == {"effective", "ineffective"}
    assert (markers["reference"].str.len() > 5).all()
    assert not markers.duplicated(["state", "gene"]).any()
    assert markers.groupby("state").size().min() >= 10
    only = sctl.datasets.state_markers(["apoptosis"])
    assert set(only["state"]) == {"apoptosis"}
    with pytest.raises(ValueError, match="Unknown state"):
        sctl.datasets.state_markers(["apoptsis"])


def test_ssgsea_matches_gseapy():
    gseapy = pytest.importorskip("gseapy")
    rng = np.random.default_rng(1)
    genes = [f"G{i}" for i in range(150)]
    X = rng.normal(size=(5, 150))
    sets = {"A": genes[:20], "B": genes[40:52], "C": list(rng.choice(genes, 25, replace=False))}
    net = pd.DataFrame([(s, g) for s, gs in sets.items() for g in gs], columns=["source", "target"])
    frame = pd.DataFrame(X.T, index=genes, columns=[f"s{i}" for i in range(5)])
    res = gseapy.ssgsea(frame, sets, min_size=1, max_size=1000, outdir=None, threads=1, no_plot=True)
    expected = res.res2d.pivot(index="Name", columns="Term", values="ES").astype(float).loc[frame.columns]
    ours = ssgsea(sparse.csr_matrix(X), genes, net, chunk_size=2)
    np.testing.assert_allclose(ours[["A", "B", "C"]].to_numpy(), expected[["A", "B", "C"]].to_numpy(), rtol=1e-9)


def test_score_states_keys_and_index():
    cells = sctl.datasets.tumor(n_cells=200, seed=2)
    out = sctl.tl.score_states(cells, copy=True)
    assert "sctl_states" not in cells.obsm
    states = out.obsm["sctl_states"]
    assert isinstance(states, pd.DataFrame)
    assert states.shape == (200, 8)
    assert states.index.equals(cells.obs_names)
    obs = out.obs
    np.testing.assert_allclose(
        obs["sctl_resistance_index"], obs["sctl_ineffective_score"] - obs["sctl_effective_score"]
    )
    z = (states - states.mean()) / states.std(ddof=0)
    # the six GRIP-Lung states weigh the same: the three cell-death sets are averaged into one state first
    cell_death = z[["apoptosis", "autophagy", "ferroptosis"]].mean(axis=1)
    effective = (cell_death + z["senescence"] + z["cell_cycle_arrest"]) / 3
    np.testing.assert_allclose(obs["sctl_effective_score"], effective, atol=1e-9)
    ineffective = z[["drug_resistance", "immune_escape", "malignant_progression"]].mean(axis=1)
    np.testing.assert_allclose(obs["sctl_ineffective_score"], ineffective, atol=1e-9)
    assert list(obs["sctl_state_call"].cat.categories) == ["effective", "ineffective"]
    assert ((obs["sctl_resistance_index"] <= 0) == (obs["sctl_state_call"] == "effective")).all()
    params = out.uns["sctl_states"]["params"]
    assert params["method"] == "ssgsea"
    assert params["ineffective"] == ["drug_resistance", "immune_escape", "malignant_progression"]
    assert params["effective_states"] == {
        "programmed_cell_death": ["apoptosis", "autophagy", "ferroptosis"],
        "senescence": ["senescence"],
        "cell_cycle_arrest": ["cell_cycle_arrest"],
    }
    assert list(params["ineffective_states"]) == params["ineffective"]
    assert out.uns["sctl_states"]["n_genes"]["apoptosis"][1] == 22


@pytest.mark.parametrize("method", ["ssgsea", "ulm", "aucell", "zscore"])
def test_planted_cell_death_recovered(markers, method):
    adata = _planted(markers, ["apoptosis", "autophagy", "ferroptosis"])  # the whole programmed-cell-death state
    sctl.tl.score_states(adata, method=method)
    up = adata.obs["group"] == "up"
    scores = adata.obsm["sctl_states"]
    assert roc_auc_score(up, scores["apoptosis"]) > 0.95
    assert adata.obs.loc[up, "sctl_resistance_index"].mean() < adata.obs.loc[~up, "sctl_resistance_index"].mean()
    assert (adata.obs.loc[up, "sctl_state_call"] == "effective").mean() > 0.6


def test_planted_ineffective_states_called_ineffective(markers):
    adata = _planted(markers, ["drug_resistance", "immune_escape", "malignant_progression"], seed=3)
    adata.layers["sctl_predicted"] = adata.X.copy()
    adata.X = np.zeros_like(adata.X)
    sctl.tl.score_states(adata, layer="sctl_predicted")
    up = adata.obs["group"] == "up"
    assert (adata.obs.loc[up, "sctl_state_call"] == "ineffective").all()
    assert (adata.obs.loc[~up, "sctl_state_call"] == "effective").all()
    assert adata.uns["sctl_states"]["params"]["layer"] == "sctl_predicted"


def test_cell_death_weighs_one_state_of_six(markers):
    """Raising cell death alone moves the effective score by a third of a state, not three fifths."""
    adata = _planted(markers, ["apoptosis", "autophagy", "ferroptosis"], n_cells=100, seed=4)
    sctl.tl.score_states(adata)
    z = adata.obsm["sctl_states"].pipe(lambda s: (s - s.mean()) / s.std(ddof=0))
    up = (adata.obs["group"] == "up").to_numpy()
    shift = adata.obs["sctl_effective_score"][up].mean() - adata.obs["sctl_effective_score"][~up].mean()
    death_shift = (
        z.loc[up, ["apoptosis", "autophagy", "ferroptosis"]].mean(axis=1).mean()
        - z.loc[~up, ["apoptosis", "autophagy", "ferroptosis"]].mean(axis=1).mean()
    )
    others = ["senescence", "cell_cycle_arrest"]
    other_shift = z.loc[up, others].mean().sum() - z.loc[~up, others].mean().sum()
    assert shift == pytest.approx((death_shift + other_shift) / 3)
    assert shift < 0.5 * death_shift  # 3/5 of the cell-death shift before the fix


def test_parent_states_of_custom_sets(markers):
    adata = _planted(markers, "apoptosis", n_cells=40)
    filler = [f"FILLER{i}" for i in range(40)]
    sets = pd.DataFrame(
        [("a1", "effective", "A", g) for g in filler[:8]]
        + [("a2", "effective", "A", g) for g in filler[8:16]]
        + [("b", "effective", "b", g) for g in filler[16:24]]
        + [("c", "ineffective", "c", g) for g in filler[24:32]],
        columns=["state", "category", "parent_state", "gene"],
    )
    sctl.tl.score_states(adata, genesets=sets)
    z = adata.obsm["sctl_states"].pipe(lambda s: (s - s.mean()) / s.std(ddof=0))
    expected = ((z["a1"] + z["a2"]) / 2 + z["b"]) / 2
    np.testing.assert_allclose(adata.obs["sctl_effective_score"], expected, atol=1e-9)
    assert adata.uns["sctl_states"]["params"]["effective_states"] == {"A": ["a1", "a2"], "b": ["b"]}
    # a mapping with sctl's set names gets their GRIP-Lung states
    mapping = {s: list(g) for s, g in markers.groupby("state")["gene"]}
    sctl.tl.score_states(adata, genesets=mapping, key_added="sctl_mapped")
    params = adata.uns["sctl_mapped"]["params"]
    assert params["effective_states"]["programmed_cell_death"] == ["apoptosis", "autophagy", "ferroptosis"]
    conflicting = sets.assign(parent_state="A")
    with pytest.raises(ValueError, match="both effective and ineffective"):
        sctl.tl.score_states(adata, genesets=conflicting)


def test_custom_sets_without_categories_warn_and_skip_index(markers):
    adata = _planted(markers, "apoptosis", n_cells=40)
    sets = {"mine": ["FILLER1", "FILLER2", "FILLER3", "FILLER4", "FILLER5"]}
    with pytest.warns(UserWarning, match="only the state scores"):
        sctl.tl.score_states(adata, genesets=sets, key_added="sctl_custom")
    assert list(adata.obsm["sctl_custom"].columns) == ["mine"]
    assert "sctl_resistance_index" not in adata.obs
    sctl.tl.score_states(
        adata,
        genesets={**sets, "other": [f"FILLER{i}" for i in range(10, 16)]},
        effective=["mine"],
        ineffective=["other"],
    )
    assert "sctl_resistance_index" in adata.obs


def test_errors(markers):
    adata = _planted(markers, "apoptosis", n_cells=20)
    with pytest.raises(KeyError, match="sctl_predicted"):
        sctl.tl.score_states(adata, layer="sctl_predicted")
    with pytest.raises(ValueError, match="Unknown method"):
        sctl.tl.score_states(adata, method="ssgea")
    small = adata[:, adata.var_names.str.startswith("FILLER") | adata.var_names.isin(["BAX", "BAK1"])].copy()
    with pytest.raises(ValueError, match=r"'apoptosis': 2 of 22") as info:
        sctl.tl.score_states(small)
    assert "'autophagy': 0 of 18" in str(info.value)
    with pytest.raises(ValueError, match="columns `state` and `gene`"):
        sctl.tl.score_states(adata, genesets=pd.DataFrame({"a": ["x"], "b": ["y"]}))
    with pytest.raises(ValueError, match="not among the scored sets"):
        sctl.tl.score_states(adata, effective=["apoptosis", "necroptosis"])
    duplicated = adata.copy()
    duplicated.var_names = [*adata.var_names[:-1], adata.var_names[0]]
    with pytest.raises(ValueError, match="not unique"):
        sctl.tl.score_states(duplicated)
    with pytest.raises(ValueError, match="at least two"):
        sctl.tl.score_states(adata[:1].copy())


def test_results_survive_h5ad(tmp_path, markers):
    adata = _planted(markers, "apoptosis", n_cells=30)
    sctl.tl.score_states(adata, method="zscore")
    adata.write_h5ad(tmp_path / "states.h5ad")
    back = anndata.read_h5ad(tmp_path / "states.h5ad")
    pd.testing.assert_frame_equal(back.obsm["sctl_states"], adata.obsm["sctl_states"])
    assert back.uns["sctl_states"]["params"]["method"] == "zscore"
