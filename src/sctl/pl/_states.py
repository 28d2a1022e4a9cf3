"""Plot the post-treatment state scores and the resistance index written by :func:`sctl.tl.score_states`."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from anndata import AnnData
from matplotlib.figure import Figure

from sctl._constants import RESISTANCE_INDEX_KEY, STATE_CALL_KEY, STATES_KEY
from sctl._docs import doc_params
from sctl._validate import check_anndata
from sctl.pl._utils import finish, group_labels, violins


@doc_params()
def states(
    adata: AnnData,
    groupby: str | None = STATE_CALL_KEY,
    *,
    key: str = STATES_KEY,
    kind: str = "heatmap",
    show: bool | None = None,
    save: str | Path | None = None,
) -> Figure | None:
    """Show the state scores (z-scored across cells) and the resistance index by group.

    ``kind="heatmap"`` draws the mean z-score of every state (and of the resistance index, when computed) in
    each group, the effective states first, as in GRIP-Lung's summaries of predicted post-treatment states
    (section 4.10). ``kind="violin"`` draws one panel per state with one violin per group.

    Parameters
    ----------
    adata
        Cells scored by :func:`sctl.tl.score_states`.
    groupby
        Column of ``adata.obs`` grouping the cells, e.g. ``"sctl_state_call"`` (default), ``"sctl_response"``,
        a drug or a cluster; ``None`` for all cells together.
    key
        The ``key_added`` of :func:`sctl.tl.score_states`.
    kind
        ``"heatmap"`` or ``"violin"``.
    {show_save}

    {returns_figure}

    Examples
    --------
    >>> sctl.tl.score_states(cells)  # doctest: +SKIP
    >>> sctl.pl.states(cells, groupby="sctl_response", kind="violin")  # doctest: +SKIP
    """
    check_anndata(adata)
    if key not in adata.obsm:
        raise KeyError(f"No state scores `adata.obsm[{key!r}]`: run `sctl.tl.score_states(adata)` first.")
    if kind not in ("heatmap", "violin"):
        raise ValueError(f"`kind` must be 'heatmap' or 'violin', got {kind!r}.")
    scores = pd.DataFrame(adata.obsm[key], index=adata.obs_names)
    z = (scores - scores.mean()) / scores.std(ddof=0).replace(0.0, 1.0)
    if RESISTANCE_INDEX_KEY in adata.obs:
        z["resistance index"] = adata.obs[RESISTANCE_INDEX_KEY].to_numpy()
    labels = group_labels(adata, groupby)
    fig = _heatmap(z, labels, groupby) if kind == "heatmap" else _violins(z, labels, groupby)
    return finish(fig, show, save)


def _heatmap(z: pd.DataFrame, labels: pd.Series, groupby: str | None) -> Figure:
    means = z.groupby(labels.to_numpy(), observed=True).mean()
    limit = float(np.nanmax(np.abs(means.to_numpy()))) or 1.0
    fig, ax = plt.subplots(figsize=(1.0 + 0.75 * means.shape[1], 1.4 + 0.45 * means.shape[0]))
    image = ax.imshow(means.to_numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
    ax.set_xticks(range(means.shape[1]), [c.replace("_", " ") for c in means.columns], rotation=45, ha="right")
    ax.set_yticks(range(means.shape[0]), [str(g) for g in means.index])
    for (row, col), value in np.ndenumerate(means.to_numpy()):
        ax.text(col, row, f"{value:.2f}", ha="center", va="center", fontsize=7)
    ax.set_ylabel(groupby or "")
    ax.set_title("mean z-score of state scores")
    fig.colorbar(image, ax=ax, shrink=0.8)
    return fig


def _violins(z: pd.DataFrame, labels: pd.Series, groupby: str | None) -> Figure:
    n_cols = min(4, z.shape[1])
    n_rows = int(np.ceil(z.shape[1] / n_cols))
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(3.2 * n_cols, 2.8 * n_rows), squeeze=False)
    for ax, column in zip(axes.flat, z.columns, strict=False):
        violins(ax, z[column], labels, column.replace("_", " "))
        ax.axhline(0.0, color="grey", lw=0.5)
        ax.set_xlabel(groupby or "")
    for ax in axes.flat[z.shape[1] :]:
        ax.set_visible(False)
    return fig
