"""Curate single-cell response labels: flag intrinsically resistant controls and normal cells by clustering."""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import scanpy as sc
from anndata import AnnData
from sklearn.metrics import silhouette_score

from sctl._constants import (
    CURATED_LABEL_KEY,
    CURATION_REASON_KEY,
    INTRINSIC_RESISTANT,
    NORMAL_CELL,
    RESISTANT,
    SENSITIVE,
)
from sctl._docs import doc_params
from sctl._validate import check_anndata, check_obs_key, get_matrix, preview, to_dense

UNCHANGED = "unchanged"
CURATED_CATEGORIES = (SENSITIVE, RESISTANT, INTRINSIC_RESISTANT, NORMAL_CELL)
_SILHOUETTE_SAMPLE = 3000


@doc_params()
def curate_labels(
    adata: AnnData,
    *,
    condition_key: str = "condition",
    control: str = "control",
    resolution: float | Sequence[float] = (0.1, 0.25, 0.5, 1.0),
    treated_fraction: float = 0.75,
    use_rep: str | None = None,
    normal_markers: Sequence[str] | Mapping[str, Sequence[str]] | None = None,
    marker_threshold: float = 1.0,
    layer: str | None = None,
    seed: int = 0,
    key_added: str = CURATED_LABEL_KEY,
    copy: bool = False,
) -> AnnData | None:
    """Curate the sensitive / resistant labels of a treated-vs-control single-cell experiment.

    Single-cell drug-response studies usually label control cells sensitive and drug-treated (surviving) cells
    resistant. :cite:t:`he2025transfer{section 4.1.2}` refine this: control cells whose profile
    resembles the treated population are intrinsically resistant and must not count as sensitive, and
    normal (non-tumour) cells recognised by marker genes are set apart. Here:

    1. the cells are clustered with Leiden :cite:p:`traag2019leiden` on the scanpy neighbour graph at each
       ``resolution``, and each clustering's average silhouette width (ASW, :cite:t:`rousseeuw1987silhouettes`) on
       the representation is reported; the clustering with the highest ASW is used;
    2. in each cluster, the share of treated cells is computed after weighting both conditions equally
       (``(t / T) / (t / T + c / C)``, with ``t``, ``c`` the cluster's treated and control cells and ``T``,
       ``C`` all of them), so unequal group sizes do not bias it. Control cells of clusters at or above
       ``treated_fraction`` are relabelled ``"intrinsically_resistant"``;
    3. with ``normal_markers``, cells whose mean expression of a marker set reaches ``marker_threshold`` are
       relabelled ``"normal"``.

    No cell is removed: every change is written with its reason, and the user decides what to drop (e.g.
    ``adata[adata.obs["sctl_curated_label"].isin(["sensitive", "resistant"])]``).

    Parameters
    ----------
    adata
        Cells x genes, log-normalised expression in ``X`` (or ``layer``). A neighbour graph
        (``.obsp["connectivities"]``, :func:`scanpy.pp.neighbors`) is used when present.
    condition_key
        Column of ``adata.obs`` with the experimental condition (control vs one or more treatments).
    control
        Value of ``condition_key`` marking the untreated controls; every other value counts as treated.
    resolution
        Leiden resolution(s); with several, the clustering with the highest ASW is kept.
    treated_fraction
        Balanced share of treated cells (in (0.5, 1]) from which a cluster counts as the treated / resistant
        population.
    use_rep
        ``.obsm`` key of the representation for the neighbour graph and the ASW (default: ``"X_pca"``,
        computed with :func:`scanpy.pp.pca` when absent).
    normal_markers
        Marker genes of normal cells: a list, or a mapping cell type -> list (e.g.
        ``{"T cell": ["CD3D", "CD3E"], "fibroblast": ["COL1A1", "DCN"]}``).
    marker_threshold
        Mean marker expression (in the units of ``X`` / ``layer``, e.g. log1p CP10k) at or above which a cell
        is called normal.
    layer
        Layer with the expression used for the markers (``None``: ``X``).
    seed
        Seed of PCA, Leiden and the ASW subsample (at most 3,000 cells).
    key_added
        Name of the curated-label column; the clusters go to ``f"{key_added}_cluster"``.
    {copy}

    {returns_copy}
    Sets

    ``adata.obs[key_added]``
        ``"sensitive"`` (control), ``"resistant"`` (treated), ``"intrinsically_resistant"`` or ``"normal"``;
    ``adata.obs["sctl_curation_reason"]``
        ``"unchanged"`` or why the label changed (cluster, its treated share, the markers);
    ``adata.obs[f"{key_added}_cluster"]``
        the Leiden clusters used;
    ``adata.uns[key_added]``
        ``params``, ``silhouette`` (resolution, number of clusters, ASW), ``resolution`` (the one used),
        ``clusters`` (cells per condition, treated share, flagged) and ``counts`` (cells per label).

    When they are absent, ``X_pca`` (with ``.varm["PCs"]``, ``.uns["pca"]``) and the neighbour graph
    (``.obsp["connectivities"]``, ``["distances"]``, ``.uns["neighbors"]``; 15 exact neighbours, Gaussian
    kernel, as :cite:t:`he2025transfer` build theirs) are computed and kept.

    Examples
    --------
    >>> import numpy as np, sctl
    >>> cells = sctl.datasets.tumor(n_cells=600, n_lines=6)
    >>> cells.obs["condition"] = np.where(cells.obs["response"] == "resistant", "treated", "control")
    >>> sctl.pp.curate_labels(cells, resolution=0.5)
    >>> cells.obs["sctl_curated_label"].value_counts()  # doctest: +SKIP
    """
    check_anndata(adata)
    is_control = _control_mask(adata, condition_key, control)
    resolutions = _check_resolutions(resolution)
    if not 0.5 < treated_fraction <= 1:
        raise ValueError(f"`treated_fraction` must lie in (0.5, 1], got {treated_fraction}. 0.75 is a good start.")
    markers = _check_markers(adata, normal_markers)
    adata = adata.copy() if copy else adata
    rep = _ensure_graph(adata, use_rep, seed)

    silhouette, clusterings = _cluster(adata, rep, resolutions, seed)
    best = silhouette["asw"].idxmax() if silhouette["asw"].notna().any() else 0
    clusters = clusterings[best]
    summary = _cluster_summary(clusters, is_control, treated_fraction)

    labels = np.where(is_control, SENSITIVE, RESISTANT).astype(object)
    reasons = np.full(adata.n_obs, UNCHANGED, dtype=object)
    flagged_clusters = summary.index[summary["flagged"]]
    for cluster in flagged_clusters:
        rows = is_control & (clusters == cluster).to_numpy()
        labels[rows] = INTRINSIC_RESISTANT
        share = summary.loc[cluster, "treated_fraction"]
        reasons[rows] = f"control cell in treated-like cluster {cluster} ({share:.0%} treated, balanced)"
    if markers:
        _flag_normal(adata, markers, marker_threshold, layer, labels, reasons)

    adata.obs[key_added] = pd.Categorical(labels, categories=list(CURATED_CATEGORIES))
    adata.obs[CURATION_REASON_KEY] = pd.Categorical(reasons)
    adata.obs[f"{key_added}_cluster"] = clusters.to_numpy()
    adata.uns[key_added] = {
        "params": {
            "condition_key": condition_key,
            "control": control,
            "resolution": resolutions,
            "treated_fraction": treated_fraction,
            "use_rep": rep,
            "normal_markers": {k: list(v) for k, v in markers.items()} if markers else None,
            "marker_threshold": marker_threshold,
            "layer": layer,
            "seed": seed,
        },
        "silhouette": silhouette,
        "resolution": float(silhouette.loc[best, "resolution"]),
        "clusters": summary.reset_index(names="cluster"),
        "counts": adata.obs[key_added].value_counts().to_dict(),
    }
    return adata if copy else None


def _control_mask(adata: AnnData, condition_key: str, control: str) -> np.ndarray:
    condition = check_obs_key(adata, condition_key, "Pass the column that says control vs treated.")
    if condition.isna().any():
        raise ValueError(f"`adata.obs[{condition_key!r}]` has {int(condition.isna().sum())} missing values; fill them.")
    values = condition.astype(str)
    is_control = (values == str(control)).to_numpy()
    if not is_control.any() or is_control.all():
        raise ValueError(
            f"`adata.obs[{condition_key!r}]` needs control cells (`control={control!r}`) and treated cells; "
            f"found the values {preview(values.unique())}. Pass the value of the controls as `control=`."
        )
    return is_control


def _check_resolutions(resolution: float | Sequence[float]) -> list[float]:
    values = [resolution] if isinstance(resolution, numbers.Real) else list(resolution)
    if not values or any(isinstance(r, bool) or not isinstance(r, numbers.Real) or r <= 0 for r in values):
        raise ValueError(f"`resolution` must be a positive number or a list of them (e.g. 0.5), got {resolution!r}.")
    return [float(r) for r in values]


def _check_markers(adata: AnnData, normal_markers: Any) -> dict[str, list[str]]:
    if normal_markers is None:
        return {}
    if isinstance(normal_markers, str):
        raise TypeError(f"`normal_markers` must be a list of genes or a mapping, got the string {normal_markers!r}.")
    sets = dict(normal_markers) if isinstance(normal_markers, Mapping) else {"normal": list(normal_markers)}
    out = {}
    for name, genes in sets.items():
        genes = list(genes)
        found = [g for g in genes if g in adata.var_names]
        if not found:
            raise ValueError(
                f"None of the normal markers {preview(genes)} ({name}) is in `adata.var_names`. Check the gene "
                "identifiers (symbols vs Ensembl ids, case)."
            )
        if len(found) < len(genes):
            missing = [g for g in genes if g not in adata.var_names]
            warnings.warn(
                f"Normal markers {preview(missing)} ({name}) are not in `adata`; using the others.", stacklevel=3
            )
        out[str(name)] = found
    return out


def _ensure_graph(adata: AnnData, use_rep: str | None, seed: int) -> str:
    rep = "X_pca" if use_rep is None else use_rep
    if rep not in adata.obsm:
        if use_rep is not None:
            raise KeyError(f"`adata.obsm[{use_rep!r}]` not found (available: {preview(adata.obsm.keys()) or 'none'}).")
        sc.pp.pca(adata, n_comps=min(50, adata.n_obs - 1, adata.n_vars - 1), random_state=seed)
    if "connectivities" not in adata.obsp:
        # a Gaussian kernel on exact neighbours, as He et al. build their graph (and no JIT compilation)
        sc.pp.neighbors(adata, use_rep=rep, method="gauss", transformer="sklearn", random_state=seed)
    return rep


def _cluster(adata: AnnData, rep: str, resolutions: list[float], seed: int) -> tuple[pd.DataFrame, list[pd.Series]]:
    holder = AnnData(obs=pd.DataFrame(index=adata.obs_names))
    coords = np.asarray(adata.obsm[rep])
    rows, clusterings = [], []
    for res in resolutions:
        sc.tl.leiden(
            holder,
            resolution=res,
            adjacency=adata.obsp["connectivities"],
            flavor="igraph",
            n_iterations=2,
            directed=False,
            random_state=seed,
            key_added="leiden",
        )
        labels = holder.obs["leiden"].astype(str)
        n_clusters = labels.nunique()
        asw = np.nan
        if 2 <= n_clusters < adata.n_obs:
            sample = min(_SILHOUETTE_SAMPLE, adata.n_obs)
            asw = float(silhouette_score(coords, labels, sample_size=sample, random_state=seed))
        rows.append({"resolution": res, "n_clusters": n_clusters, "asw": asw})
        clusterings.append(labels.copy())
    return pd.DataFrame(rows), clusterings


def _cluster_summary(clusters: pd.Series, is_control: np.ndarray, treated_fraction: float) -> pd.DataFrame:
    counts = pd.crosstab(clusters.to_numpy(), np.where(is_control, "n_control", "n_treated"))
    counts = counts.reindex(columns=["n_control", "n_treated"], fill_value=0)
    share_treated = counts["n_treated"] / max(int((~is_control).sum()), 1)
    share_control = counts["n_control"] / max(int(is_control.sum()), 1)
    counts["treated_fraction"] = share_treated / (share_treated + share_control)
    counts["flagged"] = (counts["treated_fraction"] >= treated_fraction) & (counts["n_control"] > 0)
    return counts


def _flag_normal(
    adata: AnnData,
    markers: dict[str, list[str]],
    threshold: float,
    layer: str | None,
    labels: np.ndarray,
    reasons: np.ndarray,
) -> None:
    matrix = get_matrix(adata, layer)
    for name, genes in markers.items():
        columns = adata.var_names.get_indexer(genes)
        score = to_dense(matrix[:, columns], np.float64).mean(axis=1)
        rows = score >= threshold
        labels[rows] = NORMAL_CELL
        note = f"expresses {name} markers (mean expression >= {threshold:g})"
        for i in np.flatnonzero(rows):
            reasons[i] = note if reasons[i] == UNCHANGED else f"{reasons[i]}; {note}"
