"""ROC and precision-recall curves, and a radar of metric means, from what :func:`sctl.tl.evaluate_response` stored."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from anndata import AnnData
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from sklearn.metrics import precision_recall_curve, roc_curve

from sctl._constants import RESPONSE_CATEGORIES, SENSITIVE
from sctl._docs import doc_params
from sctl._validate import check_anndata, check_obs_key, preview
from sctl.pl._utils import finish, stored_result

EVALUATE_RESPONSE_KEY = "sctl_evaluate_response"
#: the Parameters section of :func:`roc` and :func:`pr`
_CURVE_PARAMETERS = """
Parameters
----------
adata
    AnnData evaluated by :func:`sctl.tl.evaluate_response`, or cells with scores and true labels in ``.obs``.
key
    The ``key_added`` of :func:`sctl.tl.evaluate_response`.
setting
    ``"bulk_cv"`` or ``"transfer"``.
methods
    Methods to draw (``None``: all stored).
truth_key
    Column of ``adata.obs`` with true labels (``"sensitive"`` / ``"resistant"``, 0 / 1 or booleans); switches
    to the ``.obs`` mode.
score_keys
    Columns of ``adata.obs`` with scores of sensitivity (``.obs`` mode; default ``["sctl_response_proba"]``).
{ax}
{show_save}
"""


@doc_params(curve_parameters=_CURVE_PARAMETERS)
def roc(
    adata: AnnData,
    *,
    key: str = EVALUATE_RESPONSE_KEY,
    setting: str = "bulk_cv",
    methods: Sequence[str] | None = None,
    truth_key: str | None = None,
    score_keys: Sequence[str] | None = None,
    ax: Axes | None = None,
    show: bool | None = None,
    save: str | Path | None = None,
) -> Figure | None:
    """ROC curve of each method, from the stored out-of-fold predictions or from ``.obs`` columns.

    With ``truth_key=None`` the curves pool the predictions that :func:`sctl.tl.evaluate_response` stored in
    ``adata.uns[key]["predictions"]`` for ``setting`` (all folds and seeds of a method together); the legend gives
    the AUROC of the table (mean ± sd over folds x seeds). With ``truth_key``, one curve per ``score_keys`` column
    of ``adata.obs`` (e.g. ``"sctl_response_proba"`` of :func:`sctl.tl.predict_response`).

    {curve_parameters}

    {returns_figure}

    Examples
    --------
    >>> import sctl
    >>> bulk = sctl.datasets.gdsc()
    >>> sctl.tl.evaluate_response(bulk, drug="Dabrafenib", seeds=[0])  # doctest: +SKIP
    >>> fig = sctl.pl.roc(bulk, show=False)  # doctest: +SKIP
    """
    return _curves(adata, "roc", key, setting, methods, truth_key, score_keys, ax, show, save)


@doc_params(curve_parameters=_CURVE_PARAMETERS)
def pr(
    adata: AnnData,
    *,
    key: str = EVALUATE_RESPONSE_KEY,
    setting: str = "bulk_cv",
    methods: Sequence[str] | None = None,
    truth_key: str | None = None,
    score_keys: Sequence[str] | None = None,
    ax: Axes | None = None,
    show: bool | None = None,
    save: str | Path | None = None,
) -> Figure | None:
    """Precision-recall curve of each method; the dashed line is the share of sensitive samples (chance).

    As :func:`roc`, with the average precision of the table in the legend.

    {curve_parameters}

    {returns_figure}

    Examples
    --------
    >>> fig = sctl.pl.pr(bulk, methods=["logreg", "rf"], show=False)  # doctest: +SKIP
    """
    return _curves(adata, "pr", key, setting, methods, truth_key, score_keys, ax, show, save)


@doc_params()
def metrics_radar(
    adata: AnnData,
    *,
    key: str = EVALUATE_RESPONSE_KEY,
    setting: str = "bulk_cv",
    methods: Sequence[str] | None = None,
    metrics: Sequence[str] | None = None,
    show: bool | None = None,
    save: str | Path | None = None,
) -> Figure | None:
    """Radar of the mean of each metric, one polygon per method (as the papers' summary figures).

    A method's vertex on an axis is its mean of that metric over folds and seeds, from the table that
    :func:`sctl.tl.evaluate_response` stored; the radial scale runs from 0 to 1.

    Parameters
    ----------
    adata
        AnnData evaluated by :func:`sctl.tl.evaluate_response`.
    key, setting, methods
        As in :func:`roc`.
    metrics
        Metrics, one axis each (``None``: all stored, at least three are needed).
    {show_save}

    {returns_figure}

    Examples
    --------
    >>> fig = sctl.pl.metrics_radar(bulk, metrics=["precision", "recall", "f1", "auroc"], show=False)  # doctest: +SKIP
    """
    table = _stored(adata, key, "table", setting, methods)
    metrics = list(pd.unique(table["metric"])) if metrics is None else list(metrics)
    unknown = [m for m in metrics if m not in set(table["metric"])]
    if unknown:
        raise ValueError(f"Metrics {unknown} are not stored; choose among {preview(pd.unique(table['metric']), 8)}.")
    if len(metrics) < 3:
        raise ValueError(f"A radar needs at least three metrics, got {metrics}; use a bar plot for fewer.")
    means = table.pivot(index="method", columns="metric", values="mean").loc[pd.unique(table["method"]), metrics]
    angles = np.linspace(0, 2 * np.pi, len(metrics), endpoint=False)
    closed = np.r_[angles, angles[:1]]
    fig, ax = plt.subplots(figsize=(5, 5), subplot_kw={"projection": "polar"})
    for method, row in means.iterrows():
        values = np.r_[row.to_numpy(dtype=float), row.to_numpy(dtype=float)[:1]]
        ax.plot(closed, values, label=str(method))
        ax.fill(closed, values, alpha=0.1)
    ax.set_xticks(angles, metrics)
    ax.set_ylim(0, 1)
    ax.set_yticks([0.25, 0.5, 0.75, 1.0])
    ax.set_rlabel_position(float(np.degrees(angles[1] / 2)))  # between the first two axes, clear of their names
    ax.tick_params(axis="y", labelsize="small", labelcolor="grey")
    ax.tick_params(axis="x", pad=6)
    ax.set_title(f"{setting}: mean per method", pad=14)
    ax.legend(loc="upper right", bbox_to_anchor=(1.3, 1.1), fontsize="small")
    return finish(fig, show, save)


# ------------------------------------------------------------------------------------------------------ helpers
def _stored(adata: AnnData, key: str, part: str, setting: str, methods: Sequence[str] | None) -> pd.DataFrame:
    """Rows of ``adata.uns[key][part]`` for ``setting`` and ``methods``, with errors that say what to run."""
    entry = stored_result(adata, key, part, "evaluate_response", ", or give `truth_key=` to plot `.obs` columns")
    data = entry[part]
    data = data[data["setting"] == setting]
    if data.empty:
        raise ValueError(
            f"No {setting!r} results in `adata.uns[{key!r}]`; stored settings: "
            f"{preview(pd.unique(entry[part]['setting']), 3)}."
        )
    if methods is not None:
        missing = [m for m in methods if m not in set(data["method"])]
        if missing:
            raise ValueError(f"Methods {missing} were not evaluated; stored: {preview(pd.unique(data['method']), 8)}.")
        data = data[data["method"].isin(list(methods))]
    return data


def _curve_data(
    adata: AnnData,
    kind: str,
    key: str,
    setting: str,
    methods: Sequence[str] | None,
    truth_key: str | None,
    score_keys: Sequence[str] | None,
) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``(label, truth, score)`` per curve."""
    if truth_key is None:
        if score_keys is not None:
            raise ValueError("`score_keys` plots `.obs` columns and needs `truth_key=`, the column of true labels.")
        predictions = _stored(adata, key, "predictions", setting, methods)
        table = adata.uns[key]["table"]
        metric = "auroc" if kind == "roc" else "ap"
        out = []
        for method, rows in predictions.groupby("method", sort=False):
            stat = table[(table["setting"] == setting) & (table["method"] == method) & (table["metric"] == metric)]
            label = str(method)
            if len(stat):
                mean, std = float(stat["mean"].iloc[0]), float(stat["std"].iloc[0])
                label += f" ({metric.upper()} {mean:.2f}" + ("" if np.isnan(std) else f" ± {std:.2f}") + ")"
            out.append((label, rows["truth"].to_numpy(), rows["proba"].to_numpy()))
        return out
    check_anndata(adata)
    truth = _binary_truth(check_obs_key(adata, truth_key))
    known = ~np.isnan(truth)
    out = []
    for column in score_keys or ["sctl_response_proba"]:
        score = check_obs_key(adata, column, hint="Pass score columns as `score_keys=`.").to_numpy(dtype=float)
        scored = known & ~np.isnan(score)
        n_unscored = int((known & np.isnan(score)).sum())
        if n_unscored:  # e.g. cells with too few detected genes, which predict_response leaves NaN
            warnings.warn(
                f"{column}: {n_unscored} labelled cells have no score (NaN) and are left out of the curve.",
                UserWarning,
                stacklevel=4,
            )
        out.append((column, truth[scored].astype(int), score[scored]))
    return out


def _binary_truth(labels: pd.Series) -> np.ndarray:
    text = labels.astype(object)
    known = text.dropna()
    if known.isin(RESPONSE_CATEGORIES).all():
        return text.map({SENSITIVE: 1.0, RESPONSE_CATEGORIES[0]: 0.0}).to_numpy(dtype=float)
    if known.map(lambda v: v in (0, 1)).all():
        return text.map(lambda v: np.nan if pd.isna(v) else float(v)).to_numpy(dtype=float)
    raise ValueError(
        f"True labels must be 'sensitive' / 'resistant', 0 / 1 or booleans; found {preview(known.unique(), 5)}."
    )


def _curves(
    adata: AnnData,
    kind: str,
    key: str,
    setting: str,
    methods: Sequence[str] | None,
    truth_key: str | None,
    score_keys: Sequence[str] | None,
    ax: Axes | None,
    show: bool | None,
    save: str | Path | None,
) -> Figure | None:
    curves = _curve_data(adata, kind, key, setting, methods, truth_key, score_keys)
    fig, ax = plt.subplots(figsize=(4.5, 4.2)) if ax is None else (ax.figure, ax)
    where = setting if truth_key is None else truth_key
    for label, truth, score in curves:
        if len(np.unique(truth)) < 2:
            raise ValueError(f"{label}: the true labels hold a single class; a curve needs both.")
        if kind == "roc":
            x, y, _ = roc_curve(truth, score)
        else:
            y, x, _ = precision_recall_curve(truth, score)
        ax.plot(x, y, label=label, drawstyle="steps-post" if kind == "pr" else "default")
    if kind == "roc":
        ax.plot([0, 1], [0, 1], ls="--", c="grey", lw=0.8)
        ax.set(xlabel="False positive rate", ylabel="True positive rate", title=f"ROC ({where})")
    else:
        chance = float(np.mean(np.concatenate([t for _, t, _ in curves])))
        ax.axhline(chance, ls="--", c="grey", lw=0.8)
        ax.set(xlabel="Recall", ylabel="Precision", title=f"Precision-recall ({where})")
    ax.set(xlim=(0, 1), ylim=(0, 1.02))
    ax.legend(loc="lower right" if kind == "roc" else "lower left", fontsize="small")
    return finish(fig, show, save)
