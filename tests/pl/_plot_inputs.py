"""Small inputs for every plot of sctl.pl: the data each one draws, written by the real sctl.tl verb.

Shared by the plot tests (their fixtures) and the plot contract of tests/test_package_structure.py, which calls
each plot through :data:`PLOT_CALLS`. Each builder returns fresh data in a few seconds at most.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd

import sctl
from sctl.datasets import state_markers
from sctl.models.baselines import PerDrugMean


# ---------------------------------------------------------------------------------------------- stand-in models
class ShiftModel:
    """A perturbation "model" predicting a fixed change per drug."""

    predicts = "delta"

    def __init__(self, var_names, shifts):
        self.var_names, self.shifts = pd.Index(var_names), shifts

    def predict(self, adata, *, drug=None, dose=None):
        return pd.DataFrame(np.tile(self.shifts[drug], (adata.n_obs, 1)), index=adata.obs_names, columns=self.var_names)


class FixedAttention:
    """An attention "model": a fixed gene x gene map per SMILES (seeded by it), whatever the profiles."""

    def get_attention(self, adata, *, smiles, dose=None, time=None, layer=None):
        seed = sum(map(ord, smiles))
        genes = adata.var_names
        return pd.DataFrame(np.random.default_rng(seed).normal(size=(len(genes), len(genes))), genes, genes)


ATTENTION_DRUGS = {"a": "CCO", "b": "CCN", "c": "CCCl", "d": "c1ccccc1"}


# ------------------------------------------------------------------------------------------------- inputs
def evaluated_response() -> ad.AnnData:
    """80 lines x 15 genes, ``sctl.tl.evaluate_response`` of a logistic and a signature baseline (3 folds x 2)."""
    rng = np.random.default_rng(0)
    n_lines, n_genes = 80, 15
    x = rng.normal(size=(n_lines, n_genes))
    bulk = ad.AnnData(
        x.astype(np.float32),
        obs=pd.DataFrame(index=[f"l{i}" for i in range(n_lines)]),
        var=pd.DataFrame(index=[f"g{i}" for i in range(n_genes)]),
    )
    bulk.obsm["ln_ic50"] = pd.DataFrame({"A": -x[:, :3].sum(1) + rng.normal(size=n_lines)}, index=bulk.obs_names)
    sctl.tl.evaluate_response(bulk, drug="A", methods=["logreg", "signature"], n_folds=3, seeds=[0, 1])
    return bulk


def evaluated_perturbation() -> ad.AnnData:
    """The L1000 plate after ``sctl.tl.evaluate_perturbation`` of per-drug means (a factory) and the baselines."""
    plate = sctl.datasets.lincs()
    sctl.pp.match_controls(plate, control="DMSO")
    sctl.pp.log_fold_change(plate)

    def drug_means(train):  # a stand-in "model": any factory is drawn as a model, not a baseline
        return PerDrugMean().fit(train)

    sctl.tl.evaluate_perturbation(plate, {"drug_means": drug_means}, scheme="dose", n_folds=3)
    return plate


def predicted_perturbation() -> ad.AnnData:
    """Treated profiles of the L1000 plate with the changes predicted by per-drug means."""
    plate = sctl.datasets.lincs()
    sctl.pp.match_controls(plate, control="DMSO")
    sctl.pp.log_fold_change(plate)
    treated = plate[~plate.obs["is_control"].to_numpy()].copy()
    sctl.tl.predict_perturbation(treated, PerDrugMean().fit(treated))
    return treated


def ranked_drugs() -> ad.AnnData:
    """20 profiles and 8 drugs whose effect on the effective-state markers grows with their number."""
    markers = state_markers()
    rng = np.random.default_rng(0)
    genes = [*markers["gene"].unique(), *(f"OTHER{i}" for i in range(200))]
    adata = ad.AnnData(rng.normal(5, 1, size=(20, len(genes))).astype(np.float32))
    adata.var_names = genes
    adata.layers["sctl_basal"] = adata.X.copy()
    effective = adata.var_names.isin(markers.loc[markers["category"] == "effective", "gene"])
    shifts = {f"drug{i}": (i - 3) * 0.5 * effective + rng.normal(0, 0.3, len(genes)) for i in range(8)}
    sctl.tl.rank_drugs(adata, ShiftModel(genes, shifts), list(shifts))
    return adata


def called_cells() -> ad.AnnData:
    """300 simulated tumour cells with a response call and a noisy probability."""
    cells = sctl.datasets.tumor(n_cells=300, seed=5)
    cells.obs["sctl_response"] = cells.obs["response"]
    noise = np.random.default_rng(0).normal(scale=0.05, size=cells.n_obs)
    cells.obs["sctl_response_proba"] = np.where(cells.obs["response"] == "sensitive", 0.8, 0.2) + noise
    return cells


def predicted_response() -> ad.AnnData:
    """80 cells with a response probability, call and UMAP."""
    rng = np.random.default_rng(0)
    proba = rng.uniform(size=80)
    adata = ad.AnnData(rng.normal(size=(80, 5)).astype(np.float32))
    adata.obs["sctl_response_proba"] = proba
    adata.obs["sctl_response"] = pd.Categorical(
        np.where(proba >= 0.5, "sensitive", "resistant"), categories=["resistant", "sensitive"]
    )
    adata.obsm["X_umap"] = rng.normal(size=(80, 2))
    return adata


def response_trend() -> ad.AnnData:
    """200 cells along a trend ``t`` (the probability), 20 genes following it; no pseudotime yet."""
    rng = np.random.default_rng(0)
    t = rng.random(200)
    x = np.outer(t, rng.normal(size=20)) * 3 + rng.normal(scale=0.3, size=(200, 20))
    adata = ad.AnnData(x.astype(np.float32), var=pd.DataFrame(index=[f"g{i}" for i in range(20)]))
    adata.obs["sctl_response_proba"] = t
    return adata


def evaluated_patients() -> ad.AnnData:
    """40 patients, three drugs (A separates the 15 responders), after ``sctl.tl.evaluate_patients``."""
    rng = np.random.default_rng(0)
    n = 40
    adata = ad.AnnData(obs=pd.DataFrame(index=[f"p{i}" for i in range(n)]))
    responder = np.arange(n) < 15
    adata.obsm["pred"] = pd.DataFrame(
        {"DrugA": rng.normal(0, 1, n) - 1.5 * responder, "DrugB": rng.normal(0, 1, n), "DrugC": rng.normal(0, 1, n)},
        index=adata.obs_names,
    )
    status = np.where(responder, "responder", "non-responder")
    adata.obsm["resp"] = pd.DataFrame(
        {"DrugA": status, "DrugB": status, "DrugC": ["non-responder"] * n}, index=adata.obs_names
    )
    sctl.tl.evaluate_patients(adata, prediction_key="pred", response_key="resp")
    return adata


def screened_cells() -> ad.AnnData:
    """300 cells in clusters ``"A"`` (sensitive to drug A), ``"B"`` (to drug B) and ``"rare"`` (6 cells, not
    trusted), after ``sctl.tl.screen_drugs`` of a 120-line reference of three drugs (C is noise) on 30 genes."""
    rng = np.random.default_rng(0)
    n_lines, n_cells, n_genes = 120, 300, 30
    genes = [f"g{i}" for i in range(n_genes)]
    bulk_x = rng.normal(size=(n_lines, n_genes))
    response = pd.DataFrame(
        {
            "A": -bulk_x[:, :4].sum(1) + rng.normal(scale=0.5, size=n_lines),
            "B": -bulk_x[:, 4:8].sum(1) + rng.normal(scale=0.5, size=n_lines),
            "C": rng.normal(size=n_lines),
        },
        index=[f"l{i}" for i in range(n_lines)],
    )
    bulk = ad.AnnData(
        bulk_x.astype(np.float32),
        obs=pd.DataFrame(index=response.index),
        var=pd.DataFrame(index=genes),
        obsm={"ln_ic50": response},
    )
    z = rng.normal(size=(n_cells, n_genes))
    cluster = np.where(z[:, :4].sum(1) > z[:, 4:8].sum(1), "A", "B").astype(object)
    cluster[:6] = "rare"
    cells = ad.AnnData(
        np.log1p(np.exp(1.0 + 0.4 * z)).astype(np.float32),
        obs=pd.DataFrame({"cluster": pd.Categorical(cluster)}, index=[f"c{i}" for i in range(n_cells)]),
        var=pd.DataFrame(index=genes),
    )
    sctl.tl.screen_drugs(cells, bulk, groupby="cluster")
    return cells


def tissue(shuffle: bool = False, side: int = 30, seed: int = 0) -> ad.AnnData:
    """A jittered square grid of cells; the sensitive ones form a disc (or, shuffled, are scattered at random)."""
    rng = np.random.default_rng(seed)
    xy = np.array([(i, j) for i in range(side) for j in range(side)], dtype=float)
    xy += rng.normal(0, 0.1, xy.shape)
    patch = ((xy[:, 0] - 10) ** 2 + (xy[:, 1] - 10) ** 2) < 64
    if shuffle:
        patch = rng.permutation(patch)
    adata = ad.AnnData(np.zeros((len(xy), 3), dtype=np.float32))
    adata.obs_names = [f"cell{i}" for i in range(len(xy))]
    adata.obs["sctl_response"] = pd.Categorical(
        np.where(patch, "sensitive", "resistant"), categories=["resistant", "sensitive"]
    )
    adata.obsm["spatial"] = xy
    return adata


# -------------------------------------------------------------------------------------- one call per plot
Call = tuple[tuple[Any, ...], dict[str, Any]]


def _attention_map() -> Call:
    profiles = ad.AnnData(np.zeros((3, 6), dtype=np.float32))
    return (profiles, FixedAttention(), {"a": ATTENTION_DRUGS["a"], "b": ATTENTION_DRUGS["b"]}), {"n_top": 4}


def _attention_similarity() -> Call:
    adata = ad.AnnData(np.zeros((3, 6), dtype=np.float32))
    moa = {"a": "alcohol", "b": "alcohol", "c": "halide", "d": "aromatic"}
    sctl.tl.attention_similarity(adata, FixedAttention(), ATTENTION_DRUGS, moa=moa, n_perms=10)
    return (adata,), {}


def _attribution() -> Call:
    from sctl.models import ATSDPNet, transfer_data

    from ..models._transfer_data import DRUG, bulk_and_cells

    bulk, cells = bulk_and_cells()
    data = transfer_data(bulk, cells, DRUG)
    ATSDPNet.setup_anndata(data)
    model = ATSDPNet(data)
    model.train(max_epochs=1, enable_progress_bar=False)
    cells = cells[:40].copy()
    sctl.tl.attribute(cells, model, by="gene", n_steps=8)
    sctl.tl.predict_response(cells, model=model)
    return (cells,), {}


def _states() -> Call:
    cells = called_cells()
    sctl.tl.score_states(cells)
    return (cells,), {"groupby": "sctl_response"}


def _gene_scores() -> Call:
    cells = called_cells()
    sctl.tl.response_gene_scores(cells, n_genes=20)
    return (cells,), {}


def _response_trajectory() -> Call:
    adata = response_trend()
    sctl.tl.response_pseudotime(adata, root=(adata.obs["sctl_response_proba"] > 0.9).to_numpy(), genes=["g0"])
    return (adata,), {"basis": "pca", "genes": ["g0"]}


def _pathways() -> Call:
    lines = sctl.datasets.gdsc()[:60].copy()
    sctl.tl.score_pathways(lines)
    return (lines, "tissue"), {}


def _spatial_response() -> Call:
    import pytest

    pytest.importorskip("squidpy")
    adata = tissue(side=12)
    sctl.tl.spatial_response(adata, n_perms=20, interval=5)
    return (adata,), {}


#: plot name -> a function returning the positional and keyword arguments of one call on small data
PLOT_CALLS: dict[str, Callable[[], Call]] = {
    "attention_map": _attention_map,
    "attention_similarity": _attention_similarity,
    "attribution": _attribution,
    "drug_ranking": lambda: ((ranked_drugs(),), {}),
    "drug_screen": lambda: ((screened_cells(),), {}),
    "gene_scores": _gene_scores,
    "metrics_radar": lambda: ((evaluated_response(),), {}),
    "pathways": _pathways,
    "patient_response": lambda: ((evaluated_patients(),), {}),
    "perturbation_errors": lambda: ((evaluated_perturbation(),), {}),
    "pr": lambda: ((evaluated_response(),), {}),
    "pred_vs_obs": lambda: ((predicted_perturbation(),), {"max_points": 500}),
    "response": lambda: ((predicted_response(),), {"basis": "umap"}),
    "response_trajectory": _response_trajectory,
    "roc": lambda: ((evaluated_response(),), {}),
    "spatial_response": _spatial_response,
    "states": _states,
}
