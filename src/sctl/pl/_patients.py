"""Plots of the patient-level evaluation and of pathway activities."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from anndata import AnnData
from matplotlib.figure import Figure

from sctl._constants import EVALUATE_PATIENTS_KEY, PATHWAYS_KEY
from sctl._docs import doc_params
from sctl._validate import check_anndata, preview
from sctl.pl._utils import finish, group_labels, stored_result
from sctl.tl._evaluate_patients import RESPONDER_STATUS, patient_table

_COLOURS = {"responder": "#2166ac", "non-responder": "#b2182b"}


@doc_params()
def patient_response(
    adata: AnnData,
    *,
    key: str = EVALUATE_PATIENTS_KEY,
    drugs: Sequence[str] | None = None,
    ncols: int = 4,
    show: bool | None = None,
    save: str | Path | None = None,
) -> Figure | None:
    """Draw each drug's predictions for responders and non-responders with the test's p-value and AUROC.

    One panel per tested drug (as in :cite:t:`bang2025csg2a{Fig. 4}`): a box and the individual patients for
    each group, titled with the one-sided Mann-Whitney p-value and the AUROC.

    Parameters
    ----------
    adata
        The AnnData passed to :func:`sctl.tl.evaluate_patients`, which reads its predictions again.
    key
        The ``key_added`` of :func:`sctl.tl.evaluate_patients`.
    drugs
        Drugs to draw (default: every tested drug, most significant first).
    ncols
        Panels per row.
    {show_save}

    {returns_figure}

    Examples
    --------
    >>> sctl.tl.evaluate_patients(patients, prediction_key="ln_ic50_pred", response_key="response")  # doctest: +SKIP
    >>> sctl.pl.patient_response(patients, save="patients.png")  # doctest: +SKIP
    """
    entry = stored_result(adata, key, "results", "evaluate_patients")
    params, results = entry["params"], entry["results"].set_index("drug")
    tested = results.index[results["status"] == "tested"]
    drugs = list(tested) if drugs is None else list(drugs)
    unknown = [d for d in drugs if d not in tested]
    if unknown:
        raise ValueError(f"Drugs {preview(unknown)} were not tested; tested drugs: {preview(tested)}.")
    pairs = patient_table(
        adata, params["prediction_key"], params["response_key"], params["drug_key"], params["responder"]
    )
    ncols = max(1, min(ncols, len(drugs)))
    nrows = int(np.ceil(len(drugs) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 3.4 * nrows), squeeze=False)
    rng = np.random.default_rng(0)
    for ax, drug in zip(axes.flat, drugs, strict=False):
        _draw_drug(ax, pairs[pairs["drug"] == drug], results.loc[drug], params["prediction_key"], rng)
    for ax in axes.flat[len(drugs) :]:
        ax.set_visible(False)
    return finish(fig, show, save)


def _draw_drug(ax: plt.Axes, pairs: pd.DataFrame, row: pd.Series, label: str, rng: np.random.Generator) -> None:
    groups = [pairs.loc[pairs["responder"] == flag, "prediction"].to_numpy() for flag in (True, False)]
    names = [RESPONDER_STATUS[1], RESPONDER_STATUS[0]]
    ax.boxplot(groups, positions=[0, 1], widths=0.5, showfliers=False)
    for i, (values, name) in enumerate(zip(groups, names, strict=True)):
        jitter = rng.uniform(-0.12, 0.12, size=len(values))
        ax.scatter(i + jitter, values, s=12, alpha=0.7, color=_COLOURS[name], zorder=3)
    ax.set_xticks([0, 1], [f"{n}\n(n={len(v)})" for n, v in zip(names, groups, strict=True)])
    ax.set_ylabel(label)
    ax.set_title(f"{row.name}\np = {row['pvalue']:.2g}, AUROC = {row['auroc']:.2f}", fontsize=10)


@doc_params()
def pathways(
    adata: AnnData,
    groupby: str | None = None,
    *,
    key: str = PATHWAYS_KEY,
    sources: Sequence[str] | None = None,
    n_top: int = 20,
    show: bool | None = None,
    save: str | Path | None = None,
) -> Figure | None:
    """Heatmap of the mean pathway activity per group, from :func:`sctl.tl.score_pathways`.

    Parameters
    ----------
    adata
        Observations with ``adata.obsm[key]`` (observations x sources).
    groupby
        ``.obs`` column whose groups form the rows (e.g. ``"sctl_response"`` or ``"tissue"``); ``None``: one
        row for all observations.
    key
        The ``key_added`` of :func:`sctl.tl.score_pathways`.
    sources
        Pathways / sets to show (default: the ``n_top`` whose group means vary most).
    n_top
        Number of sources shown when ``sources`` is not given.
    {show_save}

    {returns_figure}

    Examples
    --------
    >>> sctl.tl.score_pathways(bulk, net="progeny")  # doctest: +SKIP
    >>> sctl.pl.pathways(bulk, groupby="tissue", save="pathways.png")  # doctest: +SKIP
    """
    check_anndata(adata)
    if key not in adata.obsm or not isinstance(adata.obsm[key], pd.DataFrame):
        raise KeyError(
            f"`adata.obsm[{key!r}]` not found: run `sctl.tl.score_pathways(adata, ...)` first (or pass the "
            "`key_added` you used as `key=`)."
        )
    scores = adata.obsm[key]
    labels = group_labels(adata, groupby)
    means = scores.groupby(labels.to_numpy(), observed=True).mean()
    if sources is not None:
        missing = [s for s in sources if s not in means.columns]
        if missing:
            raise KeyError(f"Sources {preview(missing)} are not in `adata.obsm[{key!r}]`.")
        means = means[list(sources)]
    elif means.shape[1] > n_top:
        spread = means.var(axis=0) if len(means) > 1 else means.abs().iloc[0]
        means = means[spread.sort_values(ascending=False).index[:n_top]]
    limit = float(np.nanmax(np.abs(means.to_numpy()))) or 1.0
    fig, ax = plt.subplots(figsize=(0.45 * means.shape[1] + 2.5, 0.4 * means.shape[0] + 2.2))
    image = ax.imshow(means.to_numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
    ax.set_xticks(range(means.shape[1]), means.columns, rotation=90)
    ax.set_yticks(range(means.shape[0]), [str(i) for i in means.index])
    ax.set_ylabel(groupby or "")
    fig.colorbar(image, ax=ax, label=f"mean activity ({adata.uns.get(key, {}).get('params', {}).get('method', '')})")
    return finish(fig, show, save)
