"""Plot the spatial clustering of the response call, as written by :func:`sctl.tl.spatial_response`."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from anndata import AnnData
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sctl._constants import RESISTANT, SENSITIVE
from sctl._deprecation import renamed_arguments
from sctl._docs import doc_params, tl_result_params
from sctl.pl._utils import finish, stored_result
from sctl.tl._spatial_response import SPATIAL_RESPONSE_KEY

_COLOURS = {SENSITIVE: "#c0392b", RESISTANT: "#2e86c1"}


@renamed_arguments(key_added="key")
@doc_params(adata_key=tl_result_params("spatial_response", "Cells with the output of"))
def spatial_response(
    adata: AnnData,
    *,
    key: str = SPATIAL_RESPONSE_KEY,
    size: float | None = None,
    show: bool | None = None,
    save: str | Path | None = None,
) -> Figure | None:
    """Show where sensitive and resistant cells lie in the tissue and how strongly they cluster.

    Four panels: the call on the spatial coordinates; each cell's fraction of sensitive neighbours; the
    neighbourhood-enrichment z-scores (call x call, squidpy) with the sensitive-sensitive join-count z-score and
    permutation p-value in the title; and the co-occurrence ratio ``p(call | sensitive within d) / p(call)``
    (solid) and ``p(call | resistant within d) / p(call)`` (dashed) against the distance ``d``: above 1 at short
    distances, the call is found near the condition more than by chance.

    Parameters
    ----------
    {adata_key}
    size
        Marker size of the spatial scatters (default: from the number of cells).
    {show_save}

    Returns
    -------
    The figure (its ``axes`` are the four panels, in the order above), unless ``show`` is ``True``.

    Examples
    --------
    >>> sctl.tl.spatial_response(cells)  # doctest: +SKIP
    >>> sctl.pl.spatial_response(cells, save="spatial_response.pdf")  # doctest: +SKIP
    """
    result = stored_result(adata, key, "join_count", "spatial_response")
    params = result["params"]
    for where, name in (("obs", params["key"]), ("obsm", params["spatial_key"])):
        if name not in getattr(adata, where):
            raise KeyError(f"`adata.{where}[{name!r}]`, used by `sctl.tl.spatial_response`, is no longer in `adata`.")
    coords = np.asarray(adata.obsm[params["spatial_key"]])[:, :2]
    size = size if size is not None else float(np.clip(12000 / max(adata.n_obs, 1), 2, 60))
    fig, axes = plt.subplots(1, 4, figsize=(19, 4.4))
    _calls(axes[0], coords, adata.obs[params["key"]].astype(str).to_numpy(), size, params["key"])
    _fraction(fig, axes[1], coords, adata.obs[f"{key}_sensitive_fraction"].to_numpy(), size)
    _enrichment(fig, axes[2], result)
    _co_occurrence(axes[3], result["co_occurrence"], params["sensitive"])
    return finish(fig, show, save)


def _spatial_axes(ax: Axes, title: str) -> None:
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title(title)


def _calls(ax: Axes, coords: np.ndarray, calls: np.ndarray, size: float, key: str) -> None:
    palette = plt.get_cmap("tab10")
    for i, call in enumerate(sorted(set(calls))):
        mask = calls == call
        colour = _COLOURS.get(call, palette(i))
        ax.scatter(coords[mask, 0], coords[mask, 1], s=size, color=colour, label=f"{call} ({mask.sum()})", lw=0)
    ax.legend(loc="best", fontsize=7, markerscale=max(1.0, 20 / size))
    _spatial_axes(ax, key)


def _fraction(fig: Figure, ax: Axes, coords: np.ndarray, fraction: np.ndarray, size: float) -> None:
    image = ax.scatter(coords[:, 0], coords[:, 1], c=fraction, s=size, cmap="RdBu_r", vmin=0, vmax=1, lw=0)
    fig.colorbar(image, ax=ax, shrink=0.8, label="fraction of sensitive neighbours")
    _spatial_axes(ax, "Sensitive neighbours")


def _enrichment(fig: Figure, ax: Axes, result: dict) -> None:
    zscore = result["nhood_enrichment"]["zscore"]
    values = zscore.to_numpy(dtype=np.float64)
    limit = float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 1.0
    image = ax.imshow(values, cmap="RdBu_r", vmin=-limit, vmax=limit)
    for (i, j), value in np.ndenumerate(values):
        ax.text(
            j, i, f"{value:.1f}", ha="center", va="center", fontsize=9, color="w" if abs(value) > limit / 2 else "k"
        )
    ax.set_xticks(range(len(zscore.columns)), zscore.columns, rotation=30, ha="right")
    ax.set_yticks(range(len(zscore.index)), zscore.index)
    join = result["join_count"]
    ax.set_title(f"Neighbourhood enrichment\njoin count z = {join['zscore']:.1f}, p = {join['pvalue']:.2g}")
    fig.colorbar(image, ax=ax, shrink=0.8, label="z-score")


def _co_occurrence(ax: Axes, co_occurrence: dict, sensitive: str) -> None:
    occ = np.asarray(co_occurrence["occ"], dtype=np.float64)
    interval = np.asarray(co_occurrence["interval"], dtype=np.float64)
    categories = [str(c) for c in co_occurrence["categories"]]
    palette = plt.get_cmap("tab10")
    distance = interval[1:]
    conditions = [sensitive, *[c for c in categories if c != sensitive]][:2]
    for style, condition in zip(("-", "--"), conditions, strict=False):
        j = categories.index(condition)
        for i, call in enumerate(categories):
            colour = _COLOURS.get(call, palette(i))
            ax.plot(distance, occ[i, j], style, color=colour, label=f"{call} | {condition}")
    ax.axhline(1.0, color="grey", lw=0.8)
    ax.set_xlabel("distance d")
    ax.set_ylabel("p(call | condition within d) / p(call)")
    ax.set_title("Co-occurrence")
    ax.legend(fontsize=7)
