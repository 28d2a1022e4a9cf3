"""Plot the drug ranking written by :func:`sctl.tl.rank_drugs`."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from anndata import AnnData
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sctl._docs import doc_params, tl_result_params
from sctl._validate import check_anndata
from sctl.pl._utils import finish

RANK_DRUGS_KEY = "sctl_rank_drugs"


@doc_params(adata_key=tl_result_params("rank_drugs", "Samples ranked by"))
def drug_ranking(
    adata: AnnData,
    key: str = RANK_DRUGS_KEY,
    *,
    n_top: int | None = 20,
    states: bool = True,
    samples: bool = True,
    show: bool | None = None,
    save: str | Path | None = None,
) -> Figure | None:
    """Show the drugs ranked by their mean predicted shift of the resistance index, with its spread.

    Reads what :func:`sctl.tl.rank_drugs` wrote. The left panel has one bar per drug, best (most negative
    ``ΔRI``) at the top: the bar is the mean ``ΔRI`` over samples, the whisker one standard deviation, the dots
    the samples, and the label the fraction of samples whose treated profile is called effective. The right
    panel (``states=True``) is the mean shift of each state's z-score, effective states first.

    Parameters
    ----------
    {adata_key}
    n_top
        Show the ``n_top`` best drugs (``None``: all).
    states
        Add the heatmap of the state shifts.
    samples
        Draw each sample's ``ΔRI`` as a dot (from ``adata.obsm[key]``, when present).
    {show_save}

    {returns_figure}

    Examples
    --------
    >>> sctl.tl.rank_drugs(patients, model, ["erlotinib", "trametinib"], dose=1.0)  # doctest: +SKIP
    >>> sctl.pl.drug_ranking(patients, n_top=10)  # doctest: +SKIP
    """
    check_anndata(adata)
    ranking = _ranking(adata, key)
    if n_top is not None:
        if n_top < 1:
            raise ValueError(f"`n_top` must be at least 1 (or None for all drugs), got {n_top}.")
        ranking = ranking.iloc[:n_top]
    shifts = ranking[[c for c in ranking.columns if c.startswith("delta_") and not c.startswith("delta_ri_")]]
    with_states = states and shifts.shape[1] > 0
    height = max(2.5, 0.35 * len(ranking) + 1.2)
    widths = [3, 2] if with_states else [1]
    fig, axes = plt.subplots(
        1, len(widths), figsize=(5 + 4 * with_states, height), squeeze=False, gridspec_kw={"width_ratios": widths}
    )
    per_sample = adata.obsm[key] if samples and key in adata.obsm else None
    _bars(axes[0, 0], ranking, per_sample)
    if with_states:
        _state_heatmap(fig, axes[0, 1], shifts, adata.uns[key].get("params", {}))
    return finish(fig, show, save)


def _ranking(adata: AnnData, key: str) -> pd.DataFrame:
    if key not in adata.uns or "ranking" not in adata.uns[key]:
        raise KeyError(
            f"No drug ranking `adata.uns[{key!r}]['ranking']`: run `sctl.tl.rank_drugs(adata, model, drugs)` first "
            "(or pass the `key_added` you used as `key=`)."
        )
    ranking = adata.uns[key]["ranking"]
    if not isinstance(ranking, pd.DataFrame) or "delta_ri_mean" not in ranking.columns:
        raise TypeError(f"`adata.uns[{key!r}]['ranking']` is not a table of sctl.tl.rank_drugs.")
    return ranking.sort_values("delta_ri_mean", kind="stable")


def _bars(ax: Axes, ranking: pd.DataFrame, per_sample: pd.DataFrame | None) -> None:
    y = np.arange(len(ranking))[::-1]  # best at the top
    mean = ranking["delta_ri_mean"].to_numpy()
    colors = np.where(mean < 0, "#2166ac", "#b2182b")
    ax.barh(y, mean, xerr=ranking.get("delta_ri_std"), color=colors, alpha=0.75, capsize=2, ecolor="0.3")
    if per_sample is not None:
        rng = np.random.default_rng(0)
        for yi, drug in zip(y, ranking.index, strict=True):
            if drug in per_sample.columns:
                values = per_sample[drug].to_numpy()
                ax.scatter(values, yi + rng.uniform(-0.18, 0.18, len(values)), s=5, color="0.2", alpha=0.5, lw=0)
    if "frac_effective" in ranking.columns:
        labels = [f"{drug}  ({frac:.0%})" for drug, frac in ranking["frac_effective"].items()]
    else:
        labels = list(ranking.index)
    ax.set_yticks(y, labels)
    ax.axvline(0, color="0.4", lw=0.8)
    ax.set_xlabel("ΔRI = RI treated − RI basal  (← more effective)")
    ax.set_title("Predicted shift of the resistance index\n(label: fraction of samples called effective)")


def _state_heatmap(fig: Figure, ax: Axes, shifts: pd.DataFrame, params: dict) -> None:
    names = [c.removeprefix("delta_") for c in shifts.columns]
    first = [s for s in (*params.get("effective", []), *params.get("ineffective", [])) if s in names]
    order = first + [s for s in names if s not in first]
    values = shifts[[f"delta_{s}" for s in order]].to_numpy(dtype=float)
    limit = float(np.nanmax(np.abs(values))) or 1.0
    image = ax.imshow(values, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
    ax.set_xticks(range(len(order)), [s.replace("_", " ") for s in order], rotation=60, ha="right")
    ax.set_yticks([])
    n_effective = len([s for s in params.get("effective", []) if s in order])
    if 0 < n_effective < len(order):
        ax.axvline(n_effective - 0.5, color="k", lw=1)
    ax.set_title("Mean shift of state z-scores")
    fig.colorbar(image, ax=ax, shrink=0.8, label="Δ z-score")
