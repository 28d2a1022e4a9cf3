"""Per-drug (or per-cell-line) error of each perturbation model beside the naive baselines."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from anndata import AnnData
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sctl._docs import doc_params
from sctl._validate import preview
from sctl.models.baselines._perturbation import PERTURBATION_BASELINES
from sctl.pl._utils import finish, stored_result
from sctl.tl._evaluate_perturbation import EVALUATE_KEY

#: metrics where lower is better; the others (correlations, sign accuracy) are better high
LOWER_IS_BETTER = ("mean_rowwise_rmse", "mae", "mae_correct_sign", "mae_wrong_sign")
_COLUMNS = ("model", "grouping", "group", "metric", "value")


@doc_params()
def perturbation_errors(
    adata: AnnData | pd.DataFrame,
    metric: str = "mean_rowwise_rmse",
    *,
    key: str = EVALUATE_KEY,
    groupby: str | None = None,
    scheme: str | None = None,
    models: Sequence[str] | None = None,
    max_groups: int | None = 30,
    ax: Axes | None = None,
    show: bool | None = None,
    save: str | Path | None = None,
) -> Figure | None:
    """Error of every model on each drug (or cell line), one row per group, models beside the baselines.

    Reads the per-group metrics of :func:`sctl.tl.evaluate_perturbation`: for every held-out fold the profiles
    of each drug (cell line) were scored apart. A dot is the mean over folds (and over seeds, when the table
    pools several runs) of one model on one group, the bar around it the standard deviation when there is more
    than one value. Models are filled dots, the naive baselines (``zero_change``, ``mean_shift``,
    ``per_drug_mean``, ``ridge``) open ones. Groups are sorted by the mean of the metric over the models, the
    hardest on top; the axis label says which way is better. Per drug is where the per-perturbation view of
    :cite:t:`ali2024deep` locates a model's failures that a pooled mean hides.

    Parameters
    ----------
    adata
        AnnData evaluated by :func:`sctl.tl.evaluate_perturbation` (read from ``adata.uns[key]["per_group"]``),
        or that per-group table itself (e.g. several runs concatenated), with columns ``model``, ``grouping``,
        ``group``, ``metric`` and ``value`` (and ``scheme``).
    metric
        Metric to draw: ``"mean_rowwise_rmse"`` (RMSE of Δx per profile, averaged), ``"pearson_delta"``
        (Pearson of the deviations from the training mean shift), ``"mean_pearson"``, ``"sign_accuracy"``,
        ``"mae"``, ...
    key
        The ``key_added`` of :func:`sctl.tl.evaluate_perturbation`.
    groupby
        Grouping to draw, e.g. ``"drug"`` or ``"cell_line"``; ``None``: the first one stored.
    scheme
        Split scheme to draw when the table holds several; ``None``: the only one.
    models
        Models and baselines to draw, in legend order; ``None``: all that have values.
    max_groups
        Draw only the ``max_groups`` groups with the largest error (smallest score for correlations and sign
        accuracy); ``None``: all.
    ax
        Axes to draw into; ``None``: a new figure sized to the number of groups.
    {show_save}

    Returns
    -------
    The figure (of ``ax`` when given), unless ``show`` is ``True``.

    Examples
    --------
    {plate_with_delta}
    >>> table = sctl.tl.evaluate_perturbation(plate, ["GRIP"], scheme="dose")  # doctest: +SKIP
    >>> fig = sctl.pl.perturbation_errors(plate, "mean_rowwise_rmse", max_groups=20, show=False)  # doctest: +SKIP
    """
    table = _per_group_table(adata, key)
    table = _select(table, "scheme", scheme, "scheme=")
    groupings = list(pd.unique(table["grouping"].astype(str)))
    grouping = groupings[0] if groupby is None else str(groupby)
    if grouping not in groupings:
        raise ValueError(f"No per-group results for groupby={grouping!r}; stored: {preview(groupings)}.")
    table = table[table["grouping"].astype(str) == grouping]
    known_metrics = list(pd.unique(table["metric"]))
    if metric not in known_metrics:
        raise ValueError(f"Unknown metric {metric!r}; choose one of {preview(known_metrics, 10)}.")
    table = table[table["metric"] == metric]
    stats = table.groupby(["model", "group"], sort=False)["value"].agg(["mean", "std", "count"])
    stats = stats[stats["mean"].notna()]
    available = list(pd.unique(stats.index.get_level_values("model")))
    if models is None:
        models = [m for m in available if m not in PERTURBATION_BASELINES] + [
            m for m in available if m in PERTURBATION_BASELINES
        ]
    else:
        models = list(models)
        missing = [m for m in models if m not in available]
        if missing:
            raise ValueError(f"No {metric} values for model(s) {missing}; available: {preview(available, 10)}.")
    if not models:
        raise ValueError(f"No model has {metric} values per {grouping} (all NaN?).")
    means = stats["mean"].unstack("model").reindex(columns=models)
    lower_better = metric in LOWER_IS_BETTER
    order = means.mean(axis=1).sort_values(ascending=not lower_better).index  # hardest first
    if max_groups is not None:
        order = order[: int(max_groups)]
    groups = list(order)

    if ax is None:
        _, ax = plt.subplots(figsize=(6.0, 1.2 + 0.24 * len(groups)))
    y = np.arange(len(groups))[::-1]  # hardest group on top
    offsets = np.linspace(-0.3, 0.3, len(models)) if len(models) > 1 else np.zeros(1)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (model, offset) in enumerate(zip(models, offsets, strict=True)):
        rows = stats.loc[model].reindex(groups)
        baseline = model in PERTURBATION_BASELINES
        color = colors[i % len(colors)]
        spread = rows["std"].where(rows["count"] > 1)
        if spread.notna().any():
            ax.errorbar(rows["mean"], y + offset, xerr=spread, fmt="none", ecolor=color, elinewidth=0.8, alpha=0.6)
        ax.scatter(
            rows["mean"],
            y + offset,
            s=22,
            marker="o" if not baseline else "D",
            facecolors="none" if baseline else color,
            edgecolors=color,
            linewidths=1.0,
            label=model,
            zorder=3,
        )
    ax.set_yticks(y[::-1], groups[::-1])  # ascending positions: the hardest group last, on top
    ax.set_ylim(-0.7, len(groups) - 0.3)
    ax.set_xlabel(f"{metric} ({'lower' if lower_better else 'higher'} is better)")
    ax.set_ylabel(grouping)
    shown = "" if len(groups) == len(means) else f", {len(groups)} hardest of {len(means)}"
    ax.set_title(f"{metric} per {grouping}{shown}")
    ax.grid(axis="x", linewidth=0.5, alpha=0.5)
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return finish(ax.figure, show, save)


def _per_group_table(adata: AnnData | pd.DataFrame, key: str) -> pd.DataFrame:
    if isinstance(adata, pd.DataFrame):
        table = adata
    else:
        table = stored_result(adata, key, "per_group", "evaluate_perturbation")["per_group"]
    missing = [c for c in _COLUMNS if c not in table.columns]
    if missing:
        raise KeyError(
            f"The per-group table lacks the column(s) {missing}; pass the AnnData evaluated by "
            "`sctl.tl.evaluate_perturbation` or its `.uns[key]['per_group']` table."
        )
    if table.empty:
        raise ValueError("The per-group table is empty: no model could predict any held-out fold.")
    return table


def _select(table: pd.DataFrame, column: str, value: str | None, argument: str) -> pd.DataFrame:
    if column not in table.columns:
        return table
    values = list(pd.unique(table[column].astype(str)))
    if value is None:
        if len(values) > 1:
            raise ValueError(f"The table holds several {column}s {values}; choose one with `{argument}`.")
        return table
    if value not in values:
        raise ValueError(f"No results for {column} {value!r}; stored: {preview(values)}.")
    return table[table[column].astype(str) == value]
