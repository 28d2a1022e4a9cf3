"""sctl.pp.curate_labels on tumor(): resistant-line cells mislabelled as controls must be found."""

import numpy as np
import pytest
from scipy import sparse

import sctl

MARKERS = ["PTPRC", "CD3D", "CD3E"]


@pytest.fixture(scope="module")
def experiment():
    """Controls = sensitive-line cells plus 30 planted resistant-line cells; 20 controls express normal markers."""
    cells = sctl.datasets.tumor(n_cells=600, n_lines=6, seed=1)
    rng = np.random.default_rng(0)
    resistant = (cells.obs["response"] == "resistant").to_numpy()
    condition = np.where(resistant, "treated", "control").astype(object)
    planted = rng.choice(np.flatnonzero(resistant), 30, replace=False)
    condition[planted] = "control"
    cells.obs["condition"] = condition
    markers = [g for g in MARKERS if g in cells.var_names] or list(cells.var_names[-3:])
    normal = rng.choice(np.flatnonzero(~resistant), 20, replace=False)
    X = cells.X.toarray()
    X[:, cells.var_names.get_indexer(markers)] = 0.0
    X[np.ix_(normal, cells.var_names.get_indexer(markers))] = 4.0
    cells.X = sparse.csr_matrix(X)
    return cells, planted, normal, markers


@pytest.fixture(scope="module")
def curated(experiment):
    cells, _, _, markers = experiment
    return sctl.pp.curate_labels(cells, normal_markers={"T cell": markers}, copy=True)


def test_recovers_planted_resistant_controls(experiment, curated):
    cells, planted, normal, _ = experiment
    labels = curated.obs["sctl_curated_label"].to_numpy()
    assert curated.n_obs == cells.n_obs  # nothing is deleted
    assert np.mean(labels[planted] == "intrinsically_resistant") >= 0.8
    true_controls = np.setdiff1d(np.flatnonzero((cells.obs["response"] == "sensitive").to_numpy()), normal)
    assert np.mean(labels[true_controls] == "intrinsically_resistant") < 0.05
    treated = (cells.obs["condition"] == "treated").to_numpy()
    assert (labels[treated] == "resistant").all()
    assert "X_pca" not in cells.obsm  # copy=True leaves the input alone


def test_normal_markers_and_reasons(experiment, curated):
    _, _, normal, _ = experiment
    labels = curated.obs["sctl_curated_label"]
    reasons = curated.obs["sctl_curation_reason"].astype(str)
    assert (labels.iloc[normal] == "normal").all()
    assert (labels == "normal").sum() == len(normal)
    assert reasons.iloc[normal].str.contains("T cell markers").all()
    changed = labels.isin(["intrinsically_resistant", "normal"]).to_numpy()
    assert (reasons[changed] != "unchanged").all()
    assert (reasons[~changed] == "unchanged").all()
    assert reasons[labels == "intrinsically_resistant"].str.startswith("control cell in treated-like cluster").all()


def test_silhouette_and_records(curated):
    info = curated.uns["sctl_curated_label"]
    assert list(info["silhouette"]["resolution"]) == [0.1, 0.25, 0.5, 1.0]
    assert info["silhouette"]["asw"].notna().all()
    assert info["resolution"] == info["silhouette"].loc[info["silhouette"]["asw"].idxmax(), "resolution"]
    assert info["clusters"]["flagged"].any()
    assert info["params"]["control"] == "control"
    assert curated.obs["sctl_curated_label_cluster"].nunique() in set(info["silhouette"]["n_clusters"])
    assert {"connectivities", "distances"} <= set(curated.obsp)


def test_existing_graph_single_resolution_inplace(curated):
    cells = curated.copy()
    assert sctl.pp.curate_labels(cells, resolution=0.5, key_added="lab") is None
    assert len(cells.uns["lab"]["silhouette"]) == 1
    assert "lab" in cells.obs
    assert "sctl_curation_reason" in cells.obs


def test_errors(experiment):
    cells = experiment[0]
    with pytest.raises(KeyError, match="not found"):
        sctl.pp.curate_labels(cells, condition_key="treatment")
    with pytest.raises(ValueError, match="needs control cells"):
        sctl.pp.curate_labels(cells, control="DMSO")
    with pytest.raises(ValueError, match="None of the normal markers"):
        sctl.pp.curate_labels(cells, normal_markers=["NOTAGENE"])
    with pytest.raises(ValueError, match="treated_fraction"):
        sctl.pp.curate_labels(cells, treated_fraction=0.3)
    with pytest.raises(ValueError, match="resolution"):
        sctl.pp.curate_labels(cells, resolution=-1)
