"""Plot the gene-gene attention maps of a CSG²A model for one or more drugs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from anndata import AnnData
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sctl._docs import doc_params
from sctl._validate import check_anndata
from sctl.pl._utils import finish
from sctl.tl._attention_similarity import map_correlation
from sctl.tl._drug_smiles import drug_smiles


@doc_params()
def attention_map(
    adata: AnnData,
    model: Any,
    drug: str | Sequence[str] | Mapping[str, str],
    *,
    dose: float | None = None,
    time: float | None = None,
    stage: str = "pretrained",
    include_prior: bool = True,
    n_top: int = 30,
    layer: str | None = None,
    correlation: bool = True,
    show: bool | None = None,
    save: str | Path | None = None,
) -> Figure | None:
    """Show a CSG²A model's gene-gene attention among the most attended genes, per drug, and how the maps agree.

    Each map is :meth:`sctl.models.CSG2A.get_attention` averaged over the profiles of ``adata``: entry ``(i, j)``
    is the weight of gene ``j`` in the first-layer output of gene ``i`` under the drug. One heatmap per drug
    shows the ``n_top`` genes with the largest total absolute weight (in and out, the diagonal left out), chosen
    over all drugs together so the panels share their genes. With two or more drugs and ``correlation=True``, a
    last panel shows the Pearson correlation between the drugs' full maps (off-diagonal entries): drugs that
    rewire the same genes correlate. :func:`sctl.tl.attention_similarity` computes these correlations for many
    drugs and tests them against the drugs' mechanisms of action (:func:`sctl.pl.attention_similarity`).

    Parameters
    ----------
    adata
        Basal profiles whose maps are averaged (e.g. the control profiles of a cell line).
    model
        A :class:`sctl.models.CSG2A`, or a :class:`sctl.models.CSG2AIC50` for ``stage="finetuned"`` (anything with
        ``get_attention(adata, smiles=, dose=, time=, layer=)``).
    drug
        Drug name(s) known to the model or to ``adata.uns["sctl_drugs"]``, or a mapping drug name -> SMILES.
    dose, time
        Condition of the maps: dose (µM) and time (hours); ``None``: 10 µM and 24 h with ``stage="pretrained"``,
        the fine-tuning condition with ``"finetuned"``.
    stage, include_prior
        Passed to :meth:`sctl.models.CSG2A.get_attention`: the profiles scaled for the pretrained network or
        through the fine-tuned pipeline; with or without the PPI term.
    n_top
        Genes shown in each heatmap.
    layer
        Layer with the basal profiles (``None``: the model's default).
    correlation
        Add the panel of correlations between drugs (with at least two drugs).
    {show_save}

    Returns
    -------
    The figure, unless ``show`` is ``True``. For the maps themselves call ``model.get_attention``.

    Examples
    --------
    >>> model = sctl.models.CSG2A(plate).train(max_epochs=50)  # doctest: +SKIP
    >>> sctl.pl.attention_map(plate[:10], model, ["trametinib", "dasatinib"], dose=1.0)  # doctest: +SKIP
    """
    check_anndata(adata)
    if not hasattr(model, "get_attention"):
        raise TypeError(f"`model` must be a CSG2A model with `get_attention`, got {type(model).__name__}.")
    if n_top < 2:
        raise ValueError(f"`n_top` must be at least 2 genes, got {n_top}.")
    smiles = drug_smiles(adata, model, drug)
    fine_tuning = getattr(model, "init_params_", {})  # a fine-tuned model's condition: its dose and time
    if stage == "finetuned" and "dose" in fine_tuning:
        dose = fine_tuning["dose"] if dose is None else dose
        time = fine_tuning["time"] if time is None else time
    dose, time = 10.0 if dose is None else dose, 24.0 if time is None else time
    condition = {"dose": dose, "time": time, "layer": layer}
    if stage != "pretrained" or not include_prior:  # models with only `get_attention(smiles=, dose=, time=, layer=)`
        condition.update(stage=stage, include_prior=include_prior)
    maps = {name: model.get_attention(adata, smiles=code, **condition) for name, code in smiles.items()}
    genes = _top_genes(maps, n_top)
    with_corr = correlation and len(maps) > 1
    n_panels = len(maps) + with_corr
    fig, axes = plt.subplots(1, n_panels, figsize=(4.6 * n_panels, 4.4), squeeze=False)
    limit = max(float(np.abs(m.loc[genes, genes].to_numpy()).max()) for m in maps.values()) or 1.0
    for ax, (name, weights) in zip(axes[0], maps.items(), strict=False):
        image = _heatmap(ax, weights.loc[genes, genes], limit, f"{name} ({dose:g} µM, {time:g} h)")
    fig.colorbar(image, ax=axes[0, len(maps) - 1], shrink=0.8, label="attention weight")
    if with_corr:
        _correlations(fig, axes[0, -1], maps)
    return finish(fig, show, save)


def _top_genes(maps: dict[str, pd.DataFrame], n_top: int) -> pd.Index:
    """Genes with the largest absolute weight in and out over every map, the diagonal left out."""
    total = None
    for weights in maps.values():
        values = np.abs(weights.to_numpy(dtype=np.float64))
        np.fill_diagonal(values, 0.0)
        strength = values.sum(axis=0) + values.sum(axis=1)
        total = strength if total is None else total + strength
    genes = next(iter(maps.values())).index
    order = np.argsort(-total, kind="stable")[: min(n_top, len(genes))]
    return genes[order]


def _heatmap(ax: Axes, weights: pd.DataFrame, limit: float, title: str):
    image = ax.imshow(weights.to_numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit)
    small = len(weights) <= 40
    ax.set_xticks(range(len(weights)), weights.columns if small else [], rotation=90, fontsize=6)
    ax.set_yticks(range(len(weights)), weights.index if small else [], fontsize=6)
    ax.set_xlabel("attended gene j")
    ax.set_ylabel("gene i")
    ax.set_title(title)
    return image


def _correlations(fig: Figure, ax: Axes, maps: dict[str, pd.DataFrame]) -> None:
    corr = map_correlation(maps).to_numpy()  # as :func:`sctl.tl.attention_similarity` computes it
    image = ax.imshow(corr, cmap="viridis", vmin=min(0.0, float(np.nanmin(corr))), vmax=1.0)
    names = list(maps)
    ax.set_xticks(range(len(names)), names, rotation=60, ha="right")
    ax.set_yticks(range(len(names)), names)
    for (i, j), value in np.ndenumerate(corr):
        ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7, color="w" if value < 0.6 else "k")
    ax.set_title("Correlation of the maps")
    fig.colorbar(image, ax=ax, shrink=0.8, label="Pearson r")
