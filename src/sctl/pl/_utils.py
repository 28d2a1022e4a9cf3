"""Helpers shared by the plots."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from anndata import AnnData
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sctl._validate import check_anndata


def finish(fig: Figure, show: bool | None, save: str | Path | None, *, tight: bool = True) -> Figure | None:
    """Lay out ``fig`` (``tight``), save it to ``save``, show it (by default when not saved); return it unless shown."""
    if tight:
        fig.tight_layout()
    if save is not None:
        fig.savefig(save, dpi=150, bbox_inches="tight")
    if show if show is not None else save is None:
        plt.show()
        return None
    return fig


def stored_result(adata: AnnData, key: str, part: str, run: str, extra_hint: str = "") -> dict:
    """``adata.uns[key]`` written by ``sctl.tl.<run>`` and holding ``part``, else a KeyError saying what to run."""
    check_anndata(adata)
    entry = adata.uns.get(key)
    if not isinstance(entry, Mapping) or part not in entry:
        raise KeyError(
            f"No result of `sctl.tl.{run}` in `adata.uns[{key!r}]`: run `sctl.tl.{run}(adata, ...)` first (or pass "
            f"the key you stored it under){extra_hint}."
        )
    return entry


def require_obs(adata: AnnData, columns: list[str], hint: str) -> None:
    """Raise a :class:`KeyError` naming the first missing ``adata.obs`` column and how to make it."""
    for column in columns:
        if column not in adata.obs.columns:
            raise KeyError(f"`adata.obs[{column!r}]` not found: {hint}.")


def group_labels(adata: AnnData, groupby: str | None) -> pd.Series:
    """Categorical labels of ``groupby`` (one group ``"all"`` when ``None``), unused categories dropped."""
    if groupby is None:
        return pd.Series(pd.Categorical(["all"] * adata.n_obs), index=adata.obs_names)
    if groupby not in adata.obs.columns:
        raise KeyError(f"`adata.obs[{groupby!r}]` not found: pass an existing column as `groupby=`.")
    return adata.obs[groupby].astype("category").cat.remove_unused_categories()


def violins(ax: Axes, values: pd.Series, labels: pd.Series, title: str) -> None:
    """One violin per group, with the group sizes on the x axis."""
    groups = list(labels.cat.categories)
    data = [values[labels == group].dropna().to_numpy() for group in groups]
    keep = [i for i, d in enumerate(data) if len(d) > 1]
    if keep:
        ax.violinplot([data[i] for i in keep], positions=keep, showmedians=True)
    ax.set_xticks(range(len(groups)), [f"{g}\n(n={len(d)})" for g, d in zip(groups, data, strict=True)])
    ax.set_title(title)
