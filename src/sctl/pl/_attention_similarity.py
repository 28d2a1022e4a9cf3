"""Plot the correlation of CSG²A attention maps between drugs, by mechanism of action."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from anndata import AnnData
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from scipy.cluster.hierarchy import dendrogram, linkage
from scipy.spatial.distance import squareform

from sctl._deprecation import renamed_arguments
from sctl._docs import doc_params
from sctl.pl._utils import finish, stored_result
from sctl.tl._attention_similarity import ATTENTION_SIMILARITY_KEY


@renamed_arguments(key_added="key")
@doc_params()
def attention_similarity(
    adata: AnnData,
    *,
    key: str = ATTENTION_SIMILARITY_KEY,
    cluster: bool = True,
    annotate: bool | None = None,
    show: bool | None = None,
    save: str | Path | None = None,
) -> Figure | None:
    """Show how similar the drugs' CSG²A attention maps are, with their mechanisms of action (CSG²A, Fig. 6).

    Left: the drug x drug correlation of the maps, rows and columns ordered by average-linkage clustering on
    ``1 - r`` (with the dendrogram above), and a colour bar of the mechanism of action (MoA) beside each axis:
    drugs of one MoA that cluster together have similar maps. Right: the correlations of same-MoA and
    different-MoA pairs, with the means and the permutation p-value of :func:`sctl.tl.attention_similarity`.

    Parameters
    ----------
    adata
        The AnnData that :func:`sctl.tl.attention_similarity` wrote into.
    key
        The ``key_added`` of :func:`sctl.tl.attention_similarity`.
    cluster
        Order the drugs by hierarchical clustering (else in the order they were given).
    annotate
        Write the correlations in the cells (default: with at most 15 drugs).
    {show_save}

    Returns
    -------
    The figure, unless ``show`` is ``True``. The heatmap is the axes labelled ``"correlation"``
    (:meth:`~matplotlib.axes.Axes.get_label`), in the clustered order; the right panel is titled
    ``"Within vs between MoA ..."``.

    Examples
    --------
    >>> sctl.tl.attention_similarity(plate[:20], model, drugs)  # doctest: +SKIP
    >>> sctl.pl.attention_similarity(plate, save="attention_similarity.pdf")  # doctest: +SKIP
    """
    result = stored_result(adata, key, "correlation", "attention_similarity")
    corr: pd.DataFrame = result["correlation"]
    moa = result["moa"]["moa"].reindex(corr.index).astype(str)
    n = len(corr)
    order = _order(corr) if cluster and n > 2 else list(range(n))
    corr = corr.iloc[order, order]
    moa = moa.iloc[order]
    annotate = n <= 15 if annotate is None else annotate

    side = 2.0 + 0.32 * n
    fig = plt.figure(figsize=(side + 9.0, side + 1.6))
    grid = fig.add_gridspec(
        3, 6, width_ratios=[0.3, side, 0.25, 0.7, 2.6, 4.0], height_ratios=[0.9, 0.3, side], wspace=0.05, hspace=0.04
    )
    heat = fig.add_subplot(grid[2, 1])
    top_bar = fig.add_subplot(grid[1, 1], sharex=heat)
    left_bar = fig.add_subplot(grid[2, 0], sharey=heat)
    tree = fig.add_subplot(grid[0, 1])  # same column as the heatmap: leaf k at x = 10 k + 5
    colourbar = fig.add_subplot(grid[2, 2])
    box = fig.add_subplot(grid[:, 5])

    values = corr.to_numpy(dtype=np.float64)
    off = values[~np.eye(n, dtype=bool)]
    low = float(np.nanmin(off)) if np.isfinite(off).any() else 0.0  # contrast: the colours span the observed r
    low = low if low < 1.0 else 0.0
    image = heat.imshow(values, cmap="viridis", vmin=low, vmax=1.0, aspect="auto")
    heat.set_label("correlation")
    heat.set_xticks(range(n), corr.columns, rotation=60, ha="right", fontsize=8)
    heat.tick_params(axis="y", left=False, labelleft=False)
    if annotate:
        for (i, j), value in np.ndenumerate(values):
            dark = (value - low) / max(1.0 - low, 1e-12) < 0.6  # viridis is dark at the low end
            heat.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=6, color="w" if dark else "k")
    fig.colorbar(image, cax=colourbar, label=f"{result['params'].get('method', 'pearson').capitalize()} r")

    classes = sorted(set(moa))
    palette = plt.get_cmap("tab20" if len(classes) > 10 else "tab10")
    colours = ListedColormap([palette(i % palette.N) for i in range(len(classes))])
    codes = np.array([classes.index(m) for m in moa])
    top_bar.imshow(codes[None, :], cmap=colours, vmin=-0.5, vmax=len(classes) - 0.5, aspect="auto")
    left_bar.imshow(codes[:, None], cmap=colours, vmin=-0.5, vmax=len(classes) - 0.5, aspect="auto")
    top_bar.tick_params(axis="both", bottom=False, labelbottom=False, left=False, labelleft=False)
    left_bar.tick_params(axis="x", bottom=False, labelbottom=False)
    left_bar.set_yticks(range(n), corr.index, fontsize=8)
    if cluster and n > 2:
        _dendrogram(tree, result["correlation"])
    tree.axis("off")
    tree.set_title("Correlation of the attention maps", fontsize=11)
    handles = [Patch(color=colours(i), label=m) for i, m in enumerate(classes)]
    legend = fig.add_subplot(grid[2, 4])
    legend.axis("off")
    legend.legend(handles=handles, title="MoA", fontsize=7, title_fontsize=8, loc="upper left", frameon=False)

    _within_between(box, result["pairs"], result["test"])
    return finish(fig, show, save, tight=False)


def _order(corr: pd.DataFrame) -> list[int]:
    return list(dendrogram(_linkage(corr), no_plot=True)["leaves"])


def _linkage(corr: pd.DataFrame) -> np.ndarray:
    distance = 1.0 - np.nan_to_num(corr.to_numpy(dtype=np.float64), nan=0.0)
    distance = np.clip((distance + distance.T) / 2, 0.0, 2.0)
    np.fill_diagonal(distance, 0.0)
    return linkage(squareform(distance, checks=False), method="average")


def _dendrogram(ax: Axes, corr: pd.DataFrame) -> None:
    tree = dendrogram(_linkage(corr), ax=ax, no_labels=True, color_threshold=0, above_threshold_color="k")
    ax.set_xlim(0, 10 * len(tree["leaves"]))


def _within_between(ax: Axes, pairs: pd.DataFrame, test: dict) -> None:
    groups = [("same MoA", pairs["same_moa"].to_numpy(bool)), ("different MoA", ~pairs["same_moa"].to_numpy(bool))]
    data = [pairs.loc[mask, "correlation"].dropna().to_numpy() for _, mask in groups]
    keep = [i for i, values in enumerate(data) if len(values)]
    if keep:
        ax.boxplot([data[i] for i in keep], positions=keep, widths=0.5, showfliers=False)
    rng = np.random.default_rng(0)
    for i, values in enumerate(data):
        ax.scatter(i + rng.uniform(-0.12, 0.12, len(values)), values, s=10, alpha=0.6, color=f"C{i}", lw=0)
    ax.set_xticks(range(2), [f"{name}\n(n={len(values)})" for (name, _), values in zip(groups, data, strict=True)])
    ax.set_xlim(-0.6, 1.6)
    ax.set_ylabel("correlation of the maps")
    pvalue = test.get("pvalue", float("nan"))
    ax.set_title(
        f"Within vs between MoA\nmean {test.get('within_mean', np.nan):.2f} vs {test.get('between_mean', np.nan):.2f}"
        f", p = {pvalue:.2g}",
        fontsize=10,
    )
