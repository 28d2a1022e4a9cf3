"""Plot the predicted drug response on an embedding."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import scanpy as sc
from anndata import AnnData
from matplotlib.figure import Figure

from sctl._constants import IN_DOMAIN_KEY, RESPONSE_KEY
from sctl._docs import doc_params
from sctl._validate import check_anndata
from sctl.pl._utils import finish


@doc_params()
def response(
    adata: AnnData,
    *,
    basis: str = "umap",
    key: str = RESPONSE_KEY,
    extra: list[str] | None = None,
    show_domain: bool = True,
    show: bool | None = None,
    save: str | Path | None = None,
    **kwargs: Any,
) -> Figure | None:
    """Show the probability of sensitivity and the sensitive / resistant call side by side on an embedding.

    Reads what :func:`sctl.tl.predict_response` wrote; each panel is drawn by :func:`scanpy.pl.embedding`. Cells
    outside the reference's applicability domain (``adata.obs["sctl_in_domain"]`` False) are called
    ``"uncertain"`` in the call panel and, with ``show_domain``, drawn over in grey on the probability panel.

    Parameters
    ----------
    adata
        Annotated cells with ``adata.obsm[f"X_{basis}"]`` (e.g. from :func:`scanpy.tl.umap`).
    basis
        Embedding to draw on, e.g. ``"umap"``, ``"pca"``.
    key
        The ``key_added`` of :func:`sctl.tl.predict_response`.
    extra
        More ``.obs`` columns or genes to draw beside, e.g. ground-truth labels.
    show_domain
        Grey out, on the probability panel, the cells outside the reference's domain (when
        ``adata.obs["sctl_in_domain"]`` exists, i.e. after a prediction from a reference).
    {show_save}
    **kwargs
        Passed on to :func:`scanpy.pl.embedding`.

    {returns_figure}

    Examples
    --------
    >>> import scanpy as sc, sctl
    >>> sc.pp.pca(cells); sc.pp.neighbors(cells); sc.tl.umap(cells)  # doctest: +SKIP
    >>> sctl.pl.response(cells, basis="umap", extra=["response"])  # doctest: +SKIP
    """
    check_anndata(adata)
    proba_key = f"{key}_proba"
    for column in (proba_key, key):
        if column not in adata.obs:
            raise KeyError(
                f"`adata.obs[{column!r}]` not found: run `sctl.tl.predict_response(adata, ...)` first "
                f"(or pass the `key_added` you used as `key=`)."
            )
    if f"X_{basis}" not in adata.obsm:
        raise KeyError(
            f"No embedding `adata.obsm['X_{basis}']`: compute it first, e.g. `sc.pp.neighbors(adata)` then "
            f"`sc.tl.{basis}(adata)`, or pass another `basis=`."
        )
    colors = [proba_key, key, *(extra or [])]
    fig, axes = plt.subplots(1, len(colors), figsize=(4.6 * len(colors), 4), squeeze=False)
    for ax, color in zip(axes[0], colors, strict=True):
        options = {"vmin": 0, "vmax": 1, "cmap": "RdBu_r"} if color == proba_key else {}
        sc.pl.embedding(adata, basis, color=color, ax=ax, show=False, **options, **kwargs)
    if show_domain and IN_DOMAIN_KEY in adata.obs:
        _grey_out_of_domain(axes[0][0], adata, basis)
    return finish(fig, show, save)


def _grey_out_of_domain(ax: plt.Axes, adata: AnnData, basis: str) -> None:
    outside = ~adata.obs[IN_DOMAIN_KEY].to_numpy(dtype=bool)
    if outside.any():
        coordinates = adata.obsm[f"X_{basis}"][outside]
        ax.scatter(
            coordinates[:, 0],
            coordinates[:, 1],
            s=12,
            c="lightgrey",
            marker="x",
            linewidths=0.6,
            label="outside the reference's domain",
            zorder=3,
        )
        ax.legend(loc="lower right", fontsize="small", frameon=False)
