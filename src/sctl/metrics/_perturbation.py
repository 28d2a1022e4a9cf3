"""Metrics for predicted versus observed per-gene changes (samples x genes), e.g. drug-induced changes.

The sign metrics follow :cite:t:`ali2024deep` (Open Problems single-cell perturbations): a prediction is *right* for an
entry when it gets the direction of the change (up, down or none) right, and the MAE is split between the
entries whose direction was right and those whose direction was wrong. The mean row-wise RMSE is the
competition's own score.
"""

from __future__ import annotations

import numpy as np

from sctl._docs import doc_params
from sctl.metrics._regression import _correlation
from sctl.metrics._utils import ArrayLike, as_float_2d, check_same_shape

_CHANGES = """
    true, pred
        Observed and predicted changes, samples x genes (a 1-D array is one sample); no NaN.
    """


def _pair(true: ArrayLike, pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    observed, predicted = as_float_2d(true, "true"), as_float_2d(pred, "pred")
    check_same_shape(observed, predicted, ("true", "pred"))
    if observed.size == 0:
        raise ValueError("`true` is empty; metrics need at least one sample and one gene.")
    return observed, predicted


def _signs(values: np.ndarray, atol: float) -> np.ndarray:
    """Return -1, 0 or +1 per entry; entries within ``atol`` of zero count as no change."""
    return np.where(np.abs(values) <= atol, 0, np.sign(values)).astype(np.int8)


def _sign_match(observed: np.ndarray, predicted: np.ndarray, atol: float) -> np.ndarray:
    if atol < 0:
        raise ValueError(f"`atol` must be zero or positive, got {atol}.")
    return _signs(observed, atol) == _signs(predicted, atol)


@doc_params(changes=_CHANGES)
def sign_accuracy(true: ArrayLike, pred: ArrayLike, *, atol: float = 0.0) -> float:
    """Fraction of entries (sample, gene) whose predicted change has the observed direction.

    Directions are up (+1), down (-1) or none (0): an entry whose absolute value is at most ``atol`` counts as
    no change. A direction matches only the same direction, so a zero matches only a zero; with the default
    ``atol=0`` exact zeros are rare and practically every entry is up or down.

    Parameters
    ----------
    {changes}
    atol
        Largest absolute change still counted as no change.

    Returns
    -------
    Sign accuracy in [0, 1].

    Examples
    --------
    >>> sign_accuracy([[1.0, -2.0], [0.5, 3.0]], [[0.2, 1.0], [0.1, 2.0]])
    0.75
    """
    observed, predicted = _pair(true, pred)
    return float(_sign_match(observed, predicted, atol).mean())


@doc_params(changes=_CHANGES)
def direction_accuracy(true: ArrayLike, pred: ArrayLike, *, min_change: float = 0.5) -> float:
    """Fraction of the clearly changed entries (``|observed| > min_change``) whose predicted change has their sign.

    Unlike :func:`sign_accuracy`, which scores every entry (most of them noise around zero), as
    :cite:t:`ali2024deep{Eq. 1}` do over all 18,211 genes, this scores only the genes that moved: sctl's variant for
    data where most genes do not change. A predicted zero is never right.

    Parameters
    ----------
    {changes}
    min_change
        Smallest absolute observed change (exclusive) of a scored entry, in the units of ``true``.

    Returns
    -------
    Accuracy in [0, 1]; NaN when no entry changed by more than ``min_change``.

    Examples
    --------
    >>> direction_accuracy([[1.0, -2.0], [0.1, 3.0]], [[0.2, 1.0], [-0.1, 2.0]])
    0.6666666666666666
    """
    observed, predicted = _pair(true, pred)
    if min_change < 0:
        raise ValueError(f"`min_change` must be zero or positive, got {min_change}.")
    changed = np.abs(observed) > min_change
    if not changed.any():
        return float("nan")
    return float((np.sign(predicted[changed]) == np.sign(observed[changed])).mean())


@doc_params(changes=_CHANGES)
def mae_by_sign(true: ArrayLike, pred: ArrayLike, *, atol: float = 0.0) -> dict[str, float]:
    """Mean absolute error on the entries whose direction was predicted right, and on the others.

    Parameters
    ----------
    {changes}
    atol
        Largest absolute change still counted as no change (see :func:`sign_accuracy`).

    Returns
    -------
    ``{"correct": ..., "wrong": ...}``; a value is NaN when no entry falls in its group.

    Examples
    --------
    >>> mae_by_sign([[1.0, -2.0], [0.5, 3.0]], [[0.2, 1.0], [0.1, 2.0]])
    {'correct': 0.7333333333333334, 'wrong': 3.0}
    """
    observed, predicted = _pair(true, pred)
    match = _sign_match(observed, predicted, atol)
    error = np.abs(observed - predicted)
    return {
        "correct": float(error[match].mean()) if match.any() else float("nan"),
        "wrong": float(error[~match].mean()) if (~match).any() else float("nan"),
    }


@doc_params(changes=_CHANGES)
def mean_rowwise_rmse(true: ArrayLike, pred: ArrayLike) -> float:
    """RMSE of each sample over its genes, averaged over samples (the Open Problems competition score).

    Parameters
    ----------
    {changes}

    Returns
    -------
    The mean over samples of each sample's RMSE; 0 for a perfect prediction.

    Examples
    --------
    >>> mean_rowwise_rmse([[0.0, 0.0], [0.0, 0.0]], [[3.0, 4.0], [1.0, 1.0]])
    2.267766952966369
    """
    observed, predicted = _pair(true, pred)
    return float(np.sqrt(np.mean((observed - predicted) ** 2, axis=1)).mean())


@doc_params(changes=_CHANGES)
def pearson_per_row(true: ArrayLike, pred: ArrayLike) -> np.ndarray:
    """Pearson correlation between observed and predicted changes of each sample, across genes.

    Parameters
    ----------
    {changes}

    Returns
    -------
    One correlation per sample; NaN (no warning) for a sample whose observed or predicted row is constant.

    Examples
    --------
    >>> pearson_per_row([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]], [[1.0, 2.0, 4.0], [0.0, 1.0, 2.0]]).round(3)
    array([0.982,   nan])
    """
    observed, predicted = _pair(true, pred)
    return np.array([_correlation(a, b) for a, b in zip(observed, predicted, strict=True)])


def perturbation_report(
    true: ArrayLike,
    pred: ArrayLike,
    *,
    control_mean: ArrayLike | None = None,
    atol: float = 0.0,
    min_change: float = 0.5,
) -> dict[str, float]:
    """All perturbation metrics at once.

    Parameters
    ----------
    true, pred
        Observed and predicted profiles or changes, samples x genes; no NaN.
    control_mean
        A reference profile (one value per gene, or samples x genes) subtracted from both ``true`` and
        ``pred`` before the row-wise Pearson correlation ``pearson_delta``. For expression profiles pass
        the mean control profile: ``pearson_delta`` is then the usual correlation of predicted and observed
        changes.
        For changes pass their mean over all perturbations (the mean shift): ``pearson_delta`` then measures
        what a model gets right beyond the average effect that every perturbation shares (a model that
        predicts only the mean shift has all-zero deviations, hence NaN).
    atol
        Largest absolute change still counted as no change by the sign metrics.
    min_change
        Smallest absolute observed change (exclusive) scored by ``direction_accuracy``.

    Returns
    -------
    ``sign_accuracy``, ``direction_accuracy`` (:func:`direction_accuracy`), ``mae`` (all entries),
    ``mae_correct_sign``, ``mae_wrong_sign``, ``mean_rowwise_rmse``, ``mean_pearson`` (mean of
    :func:`pearson_per_row`, NaN rows skipped) and, given
    ``control_mean``, ``pearson_delta`` (mean over rows, NaN rows skipped).

    Examples
    --------
    >>> report = perturbation_report([[1.0, -2.0, 0.5]], [[0.5, -1.0, 1.0]], control_mean=[0.5, -0.5, 0.0])
    >>> round(report["sign_accuracy"], 3), round(report["pearson_delta"], 3)
    (1.0, 0.756)
    """
    observed, predicted = _pair(true, pred)
    by_sign = mae_by_sign(observed, predicted, atol=atol)
    report = {
        "sign_accuracy": sign_accuracy(observed, predicted, atol=atol),
        "direction_accuracy": direction_accuracy(observed, predicted, min_change=min_change),
        "mae": float(np.abs(observed - predicted).mean()),
        "mae_correct_sign": by_sign["correct"],
        "mae_wrong_sign": by_sign["wrong"],
        "mean_rowwise_rmse": mean_rowwise_rmse(observed, predicted),
        "mean_pearson": _nanmean(pearson_per_row(observed, predicted)),
    }
    if control_mean is not None:
        reference = _reference(control_mean, observed.shape)
        report["pearson_delta"] = _nanmean(pearson_per_row(observed - reference, predicted - reference))
    return report


def _reference(control_mean: ArrayLike, shape: tuple[int, int]) -> np.ndarray:
    reference = np.asarray(control_mean, dtype=np.float64)
    if reference.shape not in {(shape[1],), shape}:
        raise ValueError(
            f"`control_mean` must have one value per gene ({shape[1]}) or the shape of `true` {shape}, "
            f"got shape {reference.shape}."
        )
    if not np.isfinite(reference).all():
        raise ValueError("`control_mean` holds NaN or infinite values.")
    return reference


def _nanmean(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else float("nan")
