"""Sensitive and resistant gene scores of predicted response groups, checked against true labels (ATSDP-NET)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import scanpy as sc
from anndata import AnnData
from scipy import sparse

from sctl._constants import (
    GENE_SCORES_KEY,
    RESISTANT,
    RESISTANT_SCORE_KEY,
    RESPONSE_KEY,
    SENSITIVE,
    SENSITIVE_SCORE_KEY,
)
from sctl._docs import doc_params
from sctl._validate import check_anndata, check_finite, get_matrix, preview

SIDES = (SENSITIVE, RESISTANT)
_SCORE_KEYS = {SENSITIVE: SENSITIVE_SCORE_KEY, RESISTANT: RESISTANT_SCORE_KEY}


@doc_params()
def response_gene_scores(
    adata: AnnData,
    groupby: str = RESPONSE_KEY,
    *,
    n_genes: int = 50,
    truth_key: str | None = None,
    n_permutations: int = 1000,
    layer: str | None = None,
    method: str = "wilcoxon",
    ctrl_size: int = 50,
    n_bins: int = 25,
    seed: int = 0,
    key_added: str = GENE_SCORES_KEY,
    copy: bool = False,
) -> AnnData | None:
    """Score cells on the genes that separate predicted sensitive from resistant cells (ATSDP-NET, §3.5).

    Following :cite:t:`zhou2025atsdpnet`, the differentially expressed genes (DEGs) of the
    predicted sensitive and resistant cells are found with :func:`scanpy.tl.rank_genes_groups` (each group against
    the other); every cell gets a *sensitive* and a *resistant* gene score, the mean expression of the top
    ``n_genes`` up-regulated DEGs of each group minus that of expression-matched control genes
    (:func:`scanpy.tl.score_genes`, :cite:t:`tirosh2016melanoma`). When true labels are known (``truth_key``), the
    same is done with the DEGs of the true groups and the Pearson correlation R between the scores from predicted
    and from true DEGs measures how well the prediction recovers the biology. Its significance is a permutation
    test: ``n_permutations`` random gene sets of the same size are scored the same way (bin-matched controls,
    vectorised) and correlated with the true-DEG score; ``p = (1 + #{R_random >= R}) / (1 + n_permutations)``.

    Parameters
    ----------
    adata
        Cells x genes, log-normalised expression in ``X`` or ``layer``, with the predicted groups in
        ``adata.obs[groupby]`` (from :func:`sctl.tl.predict_response`).
    groupby
        Column of ``"sensitive"`` / ``"resistant"`` calls.
    n_genes
        DEGs kept per group (those with a positive test statistic, best first).
    truth_key
        Column of true ``"sensitive"`` / ``"resistant"`` labels, e.g. ``"response"`` of
        :func:`sctl.datasets.tumor`. Without it, no correlation or p-value is computed.
    n_permutations
        Random gene sets drawn for the permutation test (ATSDP-NET: 1,000).
    layer
        Layer of log-normalised expression (default: ``X``).
    method
        Test of :func:`scanpy.tl.rank_genes_groups` (``"wilcoxon"``, ``"t-test"``, ``"logreg"``, ...).
    ctrl_size, n_bins
        Control genes per expression bin and number of bins of :func:`scanpy.tl.score_genes`.
    seed
        Seed of the control genes and of the random gene sets.
    key_added
        Results go to ``adata.uns[key_added]``.
    {copy}

    {returns_copy}
    Sets

    ``adata.obs["sctl_sensitive_score"]``, ``adata.obs["sctl_resistant_score"]``
        scores on the DEGs of the predicted groups;
    ``adata.obs["sctl_true_sensitive_score"]``, ``adata.obs["sctl_true_resistant_score"]``
        scores on the DEGs of the true groups (with ``truth_key``);
    ``adata.uns[key_added]``
        ``params``; ``genes`` (side -> predicted DEGs) and ``true_genes``; ``pearson_r``, ``pvalue`` (side ->
        value) and ``null_r`` (side -> the ``n_permutations`` random correlations) with ``truth_key``.

    Examples
    --------
    >>> cells = sctl.datasets.tumor(n_cells=500)
    >>> cells.obs["sctl_response"] = cells.obs["response"]  # stands for a prediction here
    >>> sctl.tl.response_gene_scores(cells, truth_key="response", n_permutations=200)
    >>> cells.uns["sctl_response_gene_scores"]["pvalue"]  # doctest: +SKIP
    {'sensitive': 0.005, 'resistant': 0.005}
    """
    check_anndata(adata)
    _check_groups(adata, groupby, hint="run `sctl.tl.predict_response(adata, ...)` first")
    if truth_key is not None:
        _check_groups(adata, truth_key, hint="pass the column of the true sensitive / resistant labels")
    if n_genes < 1 or n_permutations < 0:
        raise ValueError(f"`n_genes` must be >= 1 and `n_permutations` >= 0, got {n_genes} and {n_permutations}.")
    matrix = get_matrix(adata, layer)
    check_finite(matrix, "`adata.X`" if layer is None else f"`adata.layers[{layer!r}]`")
    bare = AnnData(X=matrix, obs=pd.DataFrame(index=adata.obs_names), var=pd.DataFrame(index=adata.var_names))

    genes = _degs(bare, adata.obs[groupby], n_genes, method)
    scores = {side: _score(bare, genes[side], ctrl_size, n_bins, seed) for side in SIDES}
    result: dict[str, Any] = {"genes": genes}
    if truth_key is not None:
        true_genes = _degs(bare, adata.obs[truth_key], n_genes, method)
        true_scores = {side: _score(bare, true_genes[side], ctrl_size, n_bins, seed) for side in SIDES}
        null_options = {"n_permutations": n_permutations, "ctrl_size": ctrl_size, "n_bins": n_bins, "seed": seed}
        result |= {"true_genes": true_genes, **_compare(bare, scores, true_scores, genes, **null_options)}

    adata = adata.copy() if copy else adata
    for side in SIDES:
        adata.obs[_SCORE_KEYS[side]] = scores[side]
        if truth_key is not None:
            adata.obs[_SCORE_KEYS[side].replace("sctl_", "sctl_true_")] = true_scores[side]
    params = {
        "groupby": groupby,
        "truth_key": truth_key,
        "n_genes": int(n_genes),
        "n_permutations": int(n_permutations),
        "layer": layer,
        "method": method,
        "ctrl_size": int(ctrl_size),
        "n_bins": int(n_bins),
        "seed": int(seed),
    }
    adata.uns[key_added] = {"params": params, **result}
    return adata if copy else None


def _check_groups(adata: AnnData, key: str, hint: str) -> None:
    if key not in adata.obs.columns:
        raise KeyError(f"No column `adata.obs[{key!r}]` with sensitive / resistant labels: {hint}.")
    counts = adata.obs[key].astype(str).value_counts()
    few = [side for side in SIDES if counts.get(side, 0) < 2]
    if few:
        raise ValueError(
            f"`adata.obs[{key!r}]` needs at least two cells labelled each of {SIDES}; too few {preview(few)} "
            f"(found: {counts.to_dict()})."
        )


def _degs(bare: AnnData, labels: pd.Series, n_genes: int, method: str) -> dict[str, list[str]]:
    """Top ``n_genes`` up-regulated genes of each side against the other."""
    bare.obs["_group"] = pd.Categorical(labels.astype(str).to_numpy())
    labelled = bare.obs["_group"].isin(SIDES).to_numpy()
    subset = bare if labelled.all() else bare[labelled].copy()
    sc.tl.rank_genes_groups(subset, "_group", groups=list(SIDES), reference="rest", method=method, key_added="_rgg")
    genes = {}
    for side in SIDES:
        table = sc.get.rank_genes_groups_df(subset, side, key="_rgg")
        genes[side] = table.loc[table["scores"] > 0, "names"].astype(str).head(n_genes).tolist()
        if not genes[side]:
            raise ValueError(f"No gene is up-regulated in the {side!r} cells: the two groups cannot be told apart.")
    del bare.obs["_group"]
    return genes


def _score(bare: AnnData, genes: list[str], ctrl_size: int, n_bins: int, seed: int) -> np.ndarray:
    scored = sc.tl.score_genes(
        bare, genes, ctrl_size=ctrl_size, n_bins=n_bins, random_state=seed, score_name="_score", copy=True
    )
    return scored.obs["_score"].to_numpy(dtype=np.float64)


def _compare(
    bare: AnnData,
    scores: dict[str, np.ndarray],
    true_scores: dict[str, np.ndarray],
    genes: dict[str, list[str]],
    *,
    n_permutations: int,
    ctrl_size: int,
    n_bins: int,
    seed: int,
) -> dict[str, dict[str, Any]]:
    """Pearson R of predicted vs true scores and its permutation p-value against random gene sets."""
    rng = np.random.default_rng(seed)
    out: dict[str, dict[str, Any]] = {"pearson_r": {}, "pvalue": {}, "null_r": {}}
    for side in SIDES:
        r = float(np.corrcoef(scores[side], true_scores[side])[0, 1])
        null = random_set_scores(bare.X, len(genes[side]), n_permutations, rng, ctrl_size=ctrl_size, n_bins=n_bins)
        null_r = _columnwise_pearson(null, true_scores[side])
        out["pearson_r"][side] = r
        out["pvalue"][side] = float((1 + np.sum(null_r >= r)) / (1 + n_permutations))
        out["null_r"][side] = null_r
    return out


def random_set_scores(
    X: np.ndarray | sparse.spmatrix,
    size: int,
    n_sets: int,
    rng: np.random.Generator,
    *,
    ctrl_size: int = 50,
    n_bins: int = 25,
) -> np.ndarray:
    """Scores of ``n_sets`` random gene sets of ``size`` genes, each as :func:`scanpy.tl.score_genes` would give.

    Each set's score is its mean expression minus the mean of its control genes: ``ctrl_size`` genes drawn from
    each expression bin its genes fall in (``n_bins`` bins of the genes' mean expression), the set's own genes
    excluded, as in :func:`scanpy.tl.score_genes`. All sets are scored at once by one matrix product.

    Parameters
    ----------
    X
        Cells x genes expression.
    size
        Genes per random set.
    n_sets
        Number of random sets.
    rng
        Random generator.
    ctrl_size, n_bins
        As in :func:`scanpy.tl.score_genes`.

    Returns
    -------
    Cells x ``n_sets`` scores.

    Examples
    --------
    >>> X = np.random.default_rng(0).gamma(1.0, size=(30, 100))
    >>> random_set_scores(X, 10, 5, np.random.default_rng(1)).shape
    (30, 5)
    """
    n_genes = X.shape[1]
    means = np.asarray(X.mean(axis=0)).ravel()
    n_items = int(np.round(n_genes / (n_bins - 1)))
    cut = (pd.Series(means).rank(method="min").to_numpy() // max(n_items, 1)).astype(int)
    members = {b: np.flatnonzero(cut == b) for b in np.unique(cut)}
    weights = np.zeros((n_genes, n_sets))
    for j in range(n_sets):
        chosen = rng.choice(n_genes, size=size, replace=False)
        controls = [
            pool if len(pool) <= ctrl_size else rng.choice(pool, size=ctrl_size, replace=False)
            for pool in (members[b] for b in np.unique(cut[chosen]))
        ]
        control = np.setdiff1d(np.concatenate(controls), chosen)
        weights[chosen, j] += 1.0 / size
        if len(control):
            weights[control, j] -= 1.0 / len(control)
    product = X @ weights
    return np.asarray(product)


def _columnwise_pearson(matrix: np.ndarray, vector: np.ndarray) -> np.ndarray:
    centred = matrix - matrix.mean(axis=0)
    target = vector - vector.mean()
    norms = np.linalg.norm(centred, axis=0) * np.linalg.norm(target)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norms > 0, centred.T @ target / norms, 0.0)
