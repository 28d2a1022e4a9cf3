"""Regression metrics for continuous responses (e.g. LN_IC50), overall and per drug.

Correlations of a constant input are undefined: :func:`pearson` and :func:`spearman` return NaN for them (and
for fewer than two samples) without emitting a warning, so a benchmark over hundreds of drugs stays readable.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from sctl._docs import doc_params
from sctl.metrics._utils import ArrayLike, as_float, check_same_length

ALL_ROW = "all"
GROUP_MEAN_ROW = "group_mean"

#: the Parameters section of the metrics of two vectors
_VALUES = """
    Parameters
    ----------
    y_true, y_pred
        Observed and predicted values, same length, no NaN.
    """


def _pair(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    truth, pred = as_float(y_true, "y_true"), as_float(y_pred, "y_pred")
    check_same_length(truth, pred, ("y_true", "y_pred"))
    return truth, pred


def _require_samples(truth: np.ndarray) -> None:
    if truth.size == 0:
        raise ValueError("`y_true` is empty; metrics need at least one sample.")


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation, NaN when either input is constant or shorter than two."""
    if a.size < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:  # before centring: rounding would hide a constant
        return float("nan")
    a, b = a - a.mean(), b - b.mean()
    norm = np.sqrt(np.dot(a, a) * np.dot(b, b))
    if norm == 0 or not np.isfinite(norm):
        return float("nan")
    return float(np.clip(np.dot(a, b) / norm, -1.0, 1.0))


@doc_params(values=_VALUES)
def rmse(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Root mean squared error.

    {values}

    Returns
    -------
    The square root of the mean squared difference, in the unit of the values; 0 for a perfect prediction.

    Examples
    --------
    >>> rmse([0.0, 0.0], [3.0, 4.0])
    3.5355339059327378
    """
    truth, pred = _pair(y_true, y_pred)
    _require_samples(truth)
    return float(np.sqrt(np.mean((truth - pred) ** 2)))


@doc_params(values=_VALUES)
def mae(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Mean absolute error.

    {values}

    Returns
    -------
    The mean absolute difference, in the unit of the values; 0 for a perfect prediction.

    Examples
    --------
    >>> mae([0.0, 0.0], [3.0, -4.0])
    3.5
    """
    truth, pred = _pair(y_true, y_pred)
    _require_samples(truth)
    return float(np.mean(np.abs(truth - pred)))


@doc_params(values=_VALUES)
def pearson(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Pearson correlation; NaN (no warning) when an input is constant or has fewer than two values.

    {values}

    Returns
    -------
    Correlation in [-1, 1], or NaN when undefined.

    Examples
    --------
    >>> pearson([1.0, 2.0, 3.0], [2.0, 4.0, 7.0])
    0.9933992677987828
    """
    return _correlation(*_pair(y_true, y_pred))


@doc_params(values=_VALUES)
def spearman(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Spearman rank correlation (Pearson of the average ranks); NaN (no warning) for constant inputs.

    {values}

    Returns
    -------
    Rank correlation in [-1, 1], or NaN when undefined.

    Examples
    --------
    >>> spearman([1.0, 2.0, 3.0], [2.0, 4.0, 70.0])
    1.0
    """
    truth, pred = _pair(y_true, y_pred)
    return _correlation(rankdata(truth), rankdata(pred))


def _row(truth: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    return {
        "n": truth.size,
        "rmse": rmse(truth, pred),
        "mae": mae(truth, pred),
        "pearson": pearson(truth, pred),
        "spearman": spearman(truth, pred),
    }


@doc_params(values=_VALUES)
def regression_report(y_true: ArrayLike, y_pred: ArrayLike, *, groups: ArrayLike | None = None) -> pd.DataFrame:
    """Regression metrics over all samples and, given ``groups``, per group (e.g. per drug).

    {values}
    groups
        Group of each sample, e.g. the drug of each (cell line, drug) pair. Per-drug correlations are what
        drug-response benchmarks (drevalpy) report, since the overall correlation is inflated by differences
        between drugs that even a per-drug mean captures.

    Returns
    -------
    One row per summary, columns ``n, rmse, mae, pearson, spearman``:

    ``"all"``
        every sample pooled;
    one row per group
        named by the group, in order of first appearance;
    ``"group_mean"``
        the unweighted mean of each metric over the groups, skipping groups whose correlation is undefined
        (NaN); its ``n`` is the number of groups.

    Examples
    --------
    >>> report = regression_report([1, 2, 3, 5, 4, 6], [1, 2, 4, 4, 5, 6], groups=list("aaabbb"))
    >>> report.loc[["all", "group_mean"], ["n", "pearson"]].round(3)
                n  pearson
    all         6    0.919
    group_mean  2    0.741
    """
    truth, pred = _pair(y_true, y_pred)
    _require_samples(truth)
    rows = {ALL_ROW: _row(truth, pred)}
    if groups is not None:
        rows.update(_group_rows(truth, pred, groups))
    report = pd.DataFrame.from_dict(rows, orient="index")
    report["n"] = report["n"].astype(int)
    return report


def _group_rows(truth: np.ndarray, pred: np.ndarray, groups: ArrayLike) -> dict[str, dict[str, float]]:
    labels = pd.Series(np.asarray(groups, dtype=object))
    if len(labels) != truth.size:
        raise ValueError(f"`groups` has {len(labels)} values but `y_true` has {truth.size}; give one per sample.")
    if labels.isna().any():
        raise ValueError(f"`groups` holds {int(labels.isna().sum())} missing values; give every sample a group.")
    clashes = {ALL_ROW, GROUP_MEAN_ROW} & set(labels.astype(str))
    if clashes:
        raise ValueError(f"Group names {sorted(clashes)} are reserved for summary rows; rename those groups.")
    rows = {
        group: _row(truth[index], pred[index]) for group, index in labels.groupby(labels, sort=False).indices.items()
    }
    per_group = pd.DataFrame.from_dict(rows, orient="index")
    summary = per_group.drop(columns="n").mean(skipna=True).to_dict()
    rows[GROUP_MEAN_ROW] = {"n": len(per_group), **summary}
    return rows
