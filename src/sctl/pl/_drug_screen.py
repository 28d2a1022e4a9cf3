"""Plot the in-silico drug screen written by :func:`sctl.tl.screen_drugs`: groups of cells x drugs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from anndata import AnnData
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from mpl_toolkits.axes_grid1 import make_axes_locatable

from sctl._constants import IN_DOMAIN_KEY
from sctl._docs import doc_params, tl_result_params
from sctl._validate import check_anndata, closest, preview
from sctl.pl._utils import finish, stored_result
from sctl.tl._screen_drugs import MIN_GROUP_CELLS, MIN_GROUP_IN_DOMAIN, SCREEN_KEY, group_column, rank_groups

#: dot area (points²) of a group whose every trusted cell is called sensitive
MAX_DOT_AREA = 220.0
UNTRUSTED_COLOR = "0.55"


@doc_params(adata_key=tl_result_params("screen_drugs", "Cells screened by"))
def drug_screen(
    adata: AnnData,
    key: str = SCREEN_KEY,
    *,
    groupby: str | None = None,
    drugs: Sequence[str] | None = None,
    n_top: int = 3,
    trusted_only: bool = False,
    cmap: str = "Reds",
    vmin: float | None = None,
    vmax: float | None = None,
    ax: Axes | None = None,
    show: bool | None = None,
    save: str | Path | None = None,
) -> Figure | None:
    """Dot plot of the drug screen: one row per group of cells, one column per drug.

    Reads what :func:`sctl.tl.screen_drugs` wrote. A dot's colour is the mean probability of sensitivity of the
    group's trusted cells (scored and inside the reference's domain), its size the fraction of them called
    sensitive, as in :func:`scanpy.pl.dotplot`. Rows the screen does not trust (fewer than 10 trusted cells, or
    fewer than 80 % of the group's cells inside the domain) are drawn as hollow grey dots with a grey label: the
    reference cannot judge those cells, so do not read their colour. By default the columns are the union of
    every group's ``n_top`` best drugs, in the order of the groups, so that each group's drugs sit together.

    Parameters
    ----------
    {adata_key}
    groupby
        ``None``: the groups the screen ranked (its ``groupby=``, table ``adata.uns[key]["groups"]``). A column
        of ``adata.obs`` (e.g. clusters computed after the screen): the table is computed anew from the stored
        probabilities, with the rules of :func:`sctl.tl.screen_drugs`.
    drugs
        Drugs to draw, in this order; ``None``: the union of each group's ``n_top`` best.
    n_top
        Best drugs of each group drawn when ``drugs`` is ``None``.
    trusted_only
        Leave out the rows that are not trusted.
    cmap
        Colour map of the mean probability.
    vmin, vmax
        Limits of the colour scale; ``None``: the range of the values drawn.
    ax
        Axes to draw into; ``None``: a new figure sized to the groups and drugs.
    show
        Show the figure (default: when not saving). When not shown, the figure is returned.
    save
        Path to write the figure to (format from the extension).

    Returns
    -------
    The figure (of ``ax`` when given), unless ``show`` is ``True``.

    Examples
    --------
    >>> sctl.tl.screen_drugs(cells, reference, groupby="leiden")  # doctest: +SKIP
    >>> sctl.pl.drug_screen(cells, n_top=3)  # doctest: +SKIP
    """
    table, groupby = _group_table(adata, key, groupby)
    if trusted_only:
        table = table[table["trusted"]]
        if table.empty:
            raise ValueError(
                f"No group of `adata.obs[{groupby!r}]` is trusted (each needs {MIN_GROUP_CELLS} cells inside the "
                f"reference's domain, and {MIN_GROUP_IN_DOMAIN:.0%} of its cells); pass `trusted_only=False` to "
                "draw them greyed."
            )
    groups = _group_order(adata, groupby, table)
    drugs = _drug_order(table, groups, drugs, n_top)
    means = _pivot(table, "mean_probability", groups, drugs)
    if ax is None:
        _, ax = plt.subplots(figsize=(3.8 + 0.42 * len(drugs), max(3.0, 1.6 + 0.38 * len(groups))))
    image = _dots(ax, table, means, _pivot(table, "fraction_sensitive", groups, drugs), cmap, (vmin, vmax))
    trusted = table.groupby("group")["trusted"].first().reindex(groups).to_numpy(dtype=bool)
    sizes = (table.groupby("group")["n_cells"].first() + table.groupby("group")["n_uncertain"].first()).reindex(groups)
    ax.set_yticks(range(len(groups)), [f"{g}  (n={n})" for g, n in sizes.items()])
    for label, ok in zip(ax.get_yticklabels(), trusted, strict=True):
        label.set_color("black" if ok else UNTRUSTED_COLOR)
    ax.set_xticks(range(len(drugs)), drugs, rotation=90)
    ax.set(xlim=(-0.6, len(drugs) - 0.4), ylim=(len(groups) - 0.5, -0.5), ylabel=groupby)
    ax.set_title("In-silico drug screen")
    _legends(ax, image, untrusted=not trusted.all())
    return finish(ax.figure, show, save)


def _group_table(adata: AnnData, key: str, groupby: str | None) -> tuple[pd.DataFrame, str]:
    """The ranked table of the screen's groups, or of ``groupby`` computed from the stored probabilities."""
    check_anndata(adata)
    hint = ", groupby=...)` with a column of `adata.obs` (clusters, samples)"
    entry = stored_result(adata, key, "params", "screen_drugs")
    params = entry["params"]
    if "groups" in entry and groupby in (None, params.get("groupby")):
        return entry["groups"], str(params.get("groupby"))
    if groupby is None:
        raise KeyError(
            f"`adata.uns[{key!r}]` holds no table of groups: the screen was run without `groupby`. Run "
            f"`sctl.tl.screen_drugs(adata, reference{hint}, or pass `groupby=` here to group the stored "
            "probabilities."
        )
    groups = group_column(adata, groupby)
    if key not in adata.obsm or IN_DOMAIN_KEY not in adata.obs.columns:
        raise KeyError(f"No probabilities `adata.obsm[{key!r}]` with `obs[{IN_DOMAIN_KEY!r}]`: run the screen first.")
    screen = pd.DataFrame(adata.obsm[key], index=adata.obs_names)
    in_domain = adata.obs[IN_DOMAIN_KEY].to_numpy()
    return rank_groups(screen, groups, in_domain, params.get("threshold", 0.5)), groupby


def _group_order(adata: AnnData, groupby: str, table: pd.DataFrame) -> list[str]:
    """The groups of the table, in the category order of ``adata.obs[groupby]`` when it has one."""
    present = list(pd.unique(table["group"]))
    column = adata.obs.get(groupby)
    if column is None or not isinstance(column.dtype, pd.CategoricalDtype):
        return present
    ordered = [str(c) for c in column.cat.categories if str(c) in present]
    return ordered + [g for g in present if g not in ordered]


def _drug_order(table: pd.DataFrame, groups: list[str], drugs: Sequence[str] | None, n_top: int) -> list[str]:
    """``drugs`` checked against the screen, or the union of each group's ``n_top`` best drugs, group by group."""
    screened = list(pd.unique(table["drug"]))
    if drugs is not None:
        drugs = [drugs] if isinstance(drugs, str) else list(drugs)
        unknown = [d for d in drugs if d not in screened]
        if unknown or not drugs:
            hint = closest(unknown[0], screened) if unknown else ""
            raise ValueError(
                f"`drugs` must name screened drugs; {preview(unknown) or 'none given'}.{hint} Screened: "
                f"{preview(screened)}."
            )
        return drugs
    if isinstance(n_top, bool) or not isinstance(n_top, int | np.integer) or n_top < 1:
        raise ValueError(f"`n_top` must be a positive integer (best drugs per group), got {n_top!r}.")
    chosen: list[str] = []
    for group in groups:
        best = table[(table["group"] == group) & (table["rank"] <= n_top)].sort_values("rank")["drug"]
        chosen += [d for d in best if d not in chosen]
    return chosen


def _pivot(table: pd.DataFrame, column: str, groups: list[str], drugs: list[str]) -> pd.DataFrame:
    return table.pivot(index="group", columns="drug", values=column).reindex(index=groups, columns=drugs)


def _dots(
    ax: Axes,
    table: pd.DataFrame,
    means: pd.DataFrame,
    fractions: pd.DataFrame,
    cmap: str,
    limits: tuple[float | None, float | None],
):
    """Filled dots for trusted rows, hollow grey ones for the others; returns the filled collection."""
    trusted = table.groupby("group")["trusted"].first().reindex(means.index).to_numpy(dtype=bool)
    y, x = np.indices(means.shape)
    values, areas = means.to_numpy(dtype=float), MAX_DOT_AREA * fractions.to_numpy(dtype=float)
    drawn = ~np.isnan(values)
    ok = drawn & trusted[:, None]
    finite = values[ok]
    vmin = limits[0] if limits[0] is not None else (float(finite.min()) if finite.size else 0.0)
    vmax = limits[1] if limits[1] is not None else (float(finite.max()) if finite.size else 1.0)
    ax.grid(True, color="0.92", lw=0.6, zorder=0)
    ax.set_axisbelow(True)
    image = ax.scatter(
        x[ok],
        y[ok],
        s=areas[ok],
        c=values[ok],
        cmap=cmap,
        vmin=vmin,
        vmax=max(vmax, vmin + 1e-6),
        edgecolors="0.3",
        linewidths=0.5,
        zorder=2,
    )
    grey = drawn & ~trusted[:, None]
    ax.scatter(x[grey], y[grey], s=areas[grey], facecolors="none", edgecolors=UNTRUSTED_COLOR, linewidths=1.0, zorder=2)
    return image


def _legends(ax: Axes, image, untrusted: bool) -> None:
    """Colour bar (mean probability) and dot sizes (fraction sensitive) right of ``ax``."""
    divider = make_axes_locatable(ax)
    ax.figure.colorbar(image, cax=divider.append_axes("right", size=0.14, pad=0.15), label="mean probability")
    side = divider.append_axes("right", size=1.1, pad=0.75)
    side.axis("off")
    handles = [
        Line2D([], [], ls="", marker="o", markersize=np.sqrt(MAX_DOT_AREA * f), color="0.4", label=f"{f:.0%}")
        for f in (0.25, 0.5, 0.75, 1.0)
    ]
    if untrusted:
        handles.append(
            Line2D(
                [],
                [],
                ls="",
                marker="o",
                markersize=9,
                markerfacecolor="none",
                color=UNTRUSTED_COLOR,
                label="not trusted",
            )
        )
    side.legend(
        handles=handles,
        title="fraction\nsensitive",
        loc="upper left",
        frameon=False,
        fontsize="small",
        title_fontsize="small",
        borderaxespad=0.0,
    )
