"""Plot the diffusion pseudotime beside the predicted response, as written by :func:`sctl.tl.response_pseudotime`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import scanpy as sc
from anndata import AnnData
from matplotlib.figure import Figure

from sctl._constants import PSEUDOTIME_KEY, RESPONSE_PROBA_KEY
from sctl._docs import doc_params
from sctl._validate import check_anndata
from sctl.pl._utils import finish, require_obs


@doc_params()
def response_trajectory(
    adata: AnnData,
    *,
    basis: str = "umap",
    key: str = RESPONSE_PROBA_KEY,
    pseudotime_key: str = PSEUDOTIME_KEY,
    genes: list[str] | None = None,
    show: bool | None = None,
    save: str | Path | None = None,
    **kwargs: Any,
) -> Figure | None:
    """Show pseudotime and the probability of sensitivity side by side on an embedding (ATSDP-NET, Fig. 7a-b).

    Each panel is drawn by :func:`scanpy.pl.embedding`; the root cell is marked with a star and the Spearman
    correlation computed by :func:`sctl.tl.response_pseudotime` is written in the titles.

    Parameters
    ----------
    adata
        Cells with ``adata.obsm[f"X_{basis}"]`` and the output of :func:`sctl.tl.response_pseudotime`.
    basis
        Embedding to draw on, e.g. ``"umap"``, ``"pca"``, ``"diffmap"``.
    key
        Column of the probability of sensitivity.
    pseudotime_key
        The ``key_added`` of :func:`sctl.tl.response_pseudotime`.
    genes
        Genes (or ``.obs`` columns) drawn in further panels, e.g. key genes of the response.
    {show_save}
    **kwargs
        Passed on to :func:`scanpy.pl.embedding`.

    {returns_figure}

    Examples
    --------
    >>> sctl.tl.response_pseudotime(cells, genes=["CDKN2A"])  # doctest: +SKIP
    >>> sc.tl.umap(cells)  # doctest: +SKIP
    >>> sctl.pl.response_trajectory(cells, genes=["CDKN2A"])  # doctest: +SKIP
    """
    check_anndata(adata)
    require_obs(adata, [pseudotime_key, key], "run `sctl.tl.response_pseudotime(adata)` first")
    if f"X_{basis}" not in adata.obsm:
        raise KeyError(
            f"No embedding `adata.obsm['X_{basis}']`: compute it first (e.g. `sc.tl.umap(adata)` after "
            "`sctl.tl.response_pseudotime`, which builds the neighbour graph) or pass another `basis=`."
        )
    result = adata.uns.get(pseudotime_key, {})
    colors = [pseudotime_key, key, *(genes or [])]
    fig, axes = plt.subplots(1, len(colors), figsize=(4.6 * len(colors), 4), squeeze=False)
    for ax, color in zip(axes[0], colors, strict=True):
        options = {"vmin": 0, "vmax": 1, "cmap": "RdBu_r"} if color == key else {"cmap": "viridis"}
        sc.pl.embedding(adata, basis, color=color, ax=ax, show=False, **{**options, **kwargs})
    axes[0, 1].set_title(_title(key, result.get("spearman_rho")))
    for ax, gene in zip(axes[0, 2:], genes or [], strict=True):
        table = result.get("genes")
        if table is not None and gene in table.index:
            ax.set_title(_title(gene, table.loc[gene, "rho"]))
    if "params" in result:
        first = 1 if basis == "diffmap" else 0  # scanpy skips the trivial first diffusion component
        root = adata.obsm[f"X_{basis}"][result["params"]["root_index"], first : first + 2]
        for ax in axes[0]:
            ax.scatter([root[0]], [root[1]], marker="*", s=150, c="black", zorder=5)
    return finish(fig, show, save)


def _title(name: str, rho: float | None) -> str:
    return name if rho is None else f"{name}\nSpearman rho with pseudotime = {rho:.2f}"
