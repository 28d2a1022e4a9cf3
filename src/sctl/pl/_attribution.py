"""Heatmap of the pathways (or genes) that drive a transfer model's predictions."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from anndata import AnnData
from matplotlib.figure import Figure

from sctl._constants import RESPONSE_KEY
from sctl._docs import doc_params
from sctl.pl._utils import finish


@doc_params()
def attribution(
    adata: AnnData,
    *,
    key: str = "sctl_attribution",
    n_top: int = 12,
    groupby: str = RESPONSE_KEY,
    cmap: str = "RdBu_r",
    show: bool | None = None,
    save: str | Path | None = None,
) -> Figure | None:
    """Heatmap of the attributions of the top features over cells grouped by predicted response.

    Reads what :func:`sctl.tl.attribute` wrote (as in :cite:t:`he2025transfer{Fig. 6b}`): the ``n_top`` features of
    largest mean absolute attribution (rows) over the cells (columns), cells ordered by ``groupby``.

    Parameters
    ----------
    adata
        Cells with ``adata.obsm[key]`` and ``adata.uns[key]["ranking"]``.
    key
        The ``key_added`` of :func:`sctl.tl.attribute`.
    n_top
        Number of features shown.
    groupby
        Column of ``adata.obs`` grouping the cells (default: the call of :func:`sctl.tl.predict_response`).
    cmap
        Colour map, centred on 0.
    {show_save}

    {returns_figure}

    Examples
    --------
    >>> sctl.tl.attribute(cells, model)  # doctest: +SKIP
    >>> fig = sctl.pl.attribution(cells, show=False)  # doctest: +SKIP
    """
    if key not in adata.obsm or key not in adata.uns:
        raise KeyError(f"`adata.obsm[{key!r}]` not found: run `sctl.tl.attribute(adata, model)` first.")
    if groupby not in adata.obs:
        raise KeyError(
            f"`adata.obs[{groupby!r}]` not found: run `sctl.tl.predict_response(adata, model=model)` first or "
            "pass another `groupby=`."
        )
    top = list(adata.uns[key]["ranking"].index[:n_top])
    groups = adata.obs[groupby].astype(str)
    order = np.argsort(groups.to_numpy(), kind="stable")
    values = adata.obsm[key][top].to_numpy()[order].T
    limit = float(np.abs(values).max()) or 1.0
    fig, ax = plt.subplots(figsize=(9, 0.35 * len(top) + 1.5))
    image = ax.imshow(values, aspect="auto", cmap=cmap, vmin=-limit, vmax=limit, interpolation="nearest")
    ax.set_yticks(range(len(top)), [str(t)[:50] for t in top], fontsize=8)
    sorted_groups = groups.to_numpy()[order]
    edges = np.flatnonzero(sorted_groups[1:] != sorted_groups[:-1]) + 0.5
    for edge in edges:
        ax.axvline(edge, color="black", linewidth=1)
    starts = np.r_[0, edges + 0.5].astype(int)
    ends = np.r_[edges + 0.5, len(sorted_groups)].astype(int)
    ax.set_xticks((starts + ends - 1) / 2, [sorted_groups[s] for s in starts])
    ax.set_xlabel(f"cells grouped by {groupby}")
    fig.colorbar(image, ax=ax, label="attribution to logit of sensitivity")
    return finish(fig, show, save)
