"""Plot the sensitive / resistant gene scores written by :func:`sctl.tl.response_gene_scores`."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from anndata import AnnData
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sctl._constants import GENE_SCORES_KEY, RESISTANT_SCORE_KEY, SENSITIVE_SCORE_KEY
from sctl._docs import doc_params
from sctl._validate import check_anndata
from sctl.pl._utils import finish, group_labels, require_obs, violins

_SIDES = {"sensitive": SENSITIVE_SCORE_KEY, "resistant": RESISTANT_SCORE_KEY}


@doc_params()
def gene_scores(
    adata: AnnData,
    groupby: str | None = None,
    *,
    key: str = GENE_SCORES_KEY,
    show: bool | None = None,
    save: str | Path | None = None,
) -> Figure | None:
    """Show the sensitive and resistant gene scores by group and, with true labels, their validation.

    One row per side (sensitive, resistant). The first panel draws the score of each cell by group; when
    :func:`sctl.tl.response_gene_scores` was given ``truth_key``, two more panels reproduce ATSDP-NET's Figure 5c-d of
    :cite:t:`zhou2025atsdpnet`: the scores from predicted against those from true DEGs, with Pearson R, and the R of the
    random gene sets with the observed R as a dashed line and the permutation p-value.

    Parameters
    ----------
    adata
        Cells scored by :func:`sctl.tl.response_gene_scores`.
    groupby
        Column grouping the cells in the first panel (default: the ``groupby`` the scores were computed with).
    key
        The ``key_added`` of :func:`sctl.tl.response_gene_scores`.
    {show_save}

    {returns_figure}

    Examples
    --------
    >>> sctl.tl.response_gene_scores(cells, truth_key="response")  # doctest: +SKIP
    >>> sctl.pl.gene_scores(cells, save="gene_scores.png")  # doctest: +SKIP
    """
    check_anndata(adata)
    if key not in adata.uns:
        raise KeyError(f"No `adata.uns[{key!r}]`: run `sctl.tl.response_gene_scores(adata)` first.")
    result = adata.uns[key]
    require_obs(adata, list(_SIDES.values()), "run `sctl.tl.response_gene_scores(adata)` first")
    labels = group_labels(adata, groupby or result["params"]["groupby"])
    validated = "pearson_r" in result
    n_cols = 3 if validated else 1
    fig, axes = plt.subplots(2, n_cols, figsize=(4.0 * n_cols, 6.4), squeeze=False)
    for row, (side, column) in enumerate(_SIDES.items()):
        violins(axes[row, 0], adata.obs[column], labels, f"{side} gene score")
        if validated:
            true_column = column.replace("sctl_", "sctl_true_")
            _scatter(axes[row, 1], adata.obs[column], adata.obs[true_column], result["pearson_r"][side], side)
            _null(axes[row, 2], result["null_r"][side], result["pearson_r"][side], result["pvalue"][side], side)
    return finish(fig, show, save)


def _scatter(ax: Axes, predicted: np.ndarray, true: np.ndarray, r: float, side: str) -> None:
    ax.scatter(true, predicted, s=4, alpha=0.5, rasterized=True)
    slope, intercept = np.polyfit(np.asarray(true, dtype=float), np.asarray(predicted, dtype=float), 1)
    grid = np.linspace(np.min(true), np.max(true), 2)
    ax.plot(grid, slope * grid + intercept, color="red", lw=1)
    ax.set_xlabel(f"score on true {side} DEGs")
    ax.set_ylabel(f"score on predicted {side} DEGs")
    ax.set_title(f"Pearson R = {r:.3f}")


def _null(ax: Axes, null_r: np.ndarray, r: float, pvalue: float, side: str) -> None:
    ax.hist(np.asarray(null_r), bins=30, color="grey")
    ax.axvline(r, color="red", ls="--")
    ax.set_xlabel(f"R of random gene sets ({side})")
    ax.set_ylabel("count")
    ax.set_title(f"permutation p = {pvalue:.3g}")
