"""Classification metrics for sensitive / resistant calls.

Every function takes the true labels first. Labels may be 0 / 1 (1 = sensitive), booleans (``True`` =
sensitive), or the strings ``"sensitive"`` / ``"resistant"`` (plain or categorical, as written by
:func:`sctl.pp.binarize_response`). The positive class is always *sensitive*.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from sctl._constants import RESISTANT, SENSITIVE
from sctl._docs import doc_params
from sctl.metrics._utils import ArrayLike, as_binary, as_float, check_same_length, is_label_like

#: the Parameters sections of the metrics of calls and of the metrics of scores
_INPUTS = {
    "calls": """
        Parameters
        ----------
        y_true
            True labels: 0 / 1, booleans or ``"sensitive"`` / ``"resistant"``.
        y_pred
            Predicted labels (same forms as ``y_true``) or probabilities of *sensitive*.
        threshold
            Probabilities at or above it are called sensitive (ignored for labels).
        """,
    "scores": """
        Parameters
        ----------
        y_true
            True labels: 0 / 1, booleans or ``"sensitive"`` / ``"resistant"``; both classes must occur.
        y_score
            Scores or probabilities of *sensitive* (higher = more sensitive); no NaN.
        """,
}


def _calls(y_pred: ArrayLike, threshold: float) -> np.ndarray:
    """Turn labels or probabilities into 0 / 1 calls; probabilities >= ``threshold`` are sensitive."""
    if is_label_like(y_pred):
        return as_binary(y_pred, "y_pred")
    return (as_float(y_pred, "y_pred") >= threshold).astype(np.int64)


def _paired_calls(y_true: ArrayLike, y_pred: ArrayLike, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    truth, calls = as_binary(y_true, "y_true"), _calls(y_pred, threshold)
    check_same_length(truth, calls, ("y_true", "y_pred"))
    if truth.size == 0:
        raise ValueError("`y_true` is empty; metrics need at least one sample.")
    return truth, calls


def _confusion(y_true: ArrayLike, y_pred: ArrayLike, threshold: float) -> tuple[int, int, int, int]:
    """Return true positives, false positives, false negatives and true negatives."""
    truth, calls = _paired_calls(y_true, y_pred, threshold)
    tp = int(np.sum((truth == 1) & (calls == 1)))
    fp = int(np.sum((truth == 0) & (calls == 1)))
    fn = int(np.sum((truth == 1) & (calls == 0)))
    tn = int(np.sum((truth == 0) & (calls == 0)))
    return tp, fp, fn, tn


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator else 0.0


def _paired_scores(y_true: ArrayLike, y_score: ArrayLike, metric: str) -> tuple[np.ndarray, np.ndarray]:
    truth, score = as_binary(y_true, "y_true"), as_float(y_score, "y_score")
    check_same_length(truth, score, ("y_true", "y_score"))
    n_sensitive = int(truth.sum())
    if n_sensitive in (0, truth.size):
        only = SENSITIVE if n_sensitive else RESISTANT
        raise ValueError(
            f"{metric} needs both {SENSITIVE!r} and {RESISTANT!r} samples in `y_true`, found only {only!r} "
            f"({truth.size} samples). Evaluate on a set that holds both classes, e.g. a stratified split."
        )
    return truth, score


@doc_params(**_INPUTS)
def accuracy(y_true: ArrayLike, y_pred: ArrayLike, *, threshold: float = 0.5) -> float:
    """Fraction of samples whose call matches the truth.

    {calls}

    Returns
    -------
    Accuracy in [0, 1].

    Examples
    --------
    >>> accuracy(["sensitive", "resistant", "sensitive"], [0.9, 0.6, 0.2])
    0.3333333333333333
    """
    tp, fp, fn, tn = _confusion(y_true, y_pred, threshold)
    return _ratio(tp + tn, tp + fp + fn + tn)


@doc_params(**_INPUTS)
def precision(y_true: ArrayLike, y_pred: ArrayLike, *, threshold: float = 0.5) -> float:
    """Fraction of the samples called sensitive that are sensitive: TP / (TP + FP).

    Also called the positive predictive value.

    {calls}

    Returns
    -------
    Precision in [0, 1]; 0.0 when no sample is called sensitive (as scikit-learn does with ``zero_division=0``).

    Examples
    --------
    >>> precision([1, 0, 1, 0], [0.9, 0.8, 0.4, 0.1])
    0.5
    """
    tp, fp, _, _ = _confusion(y_true, y_pred, threshold)
    return _ratio(tp, tp + fp)


@doc_params(**_INPUTS)
def recall(y_true: ArrayLike, y_pred: ArrayLike, *, threshold: float = 0.5) -> float:
    """Fraction of the sensitive samples that are called sensitive: TP / (TP + FN).

    Also called sensitivity or the true positive rate.

    {calls}

    Returns
    -------
    Recall in [0, 1]; 0.0 when no sample is sensitive.

    Examples
    --------
    >>> recall(["sensitive", "sensitive", "resistant"], [0.9, 0.2, 0.7])
    0.5
    """
    tp, _, fn, _ = _confusion(y_true, y_pred, threshold)
    return _ratio(tp, tp + fn)


@doc_params(**_INPUTS)
def f1(y_true: ArrayLike, y_pred: ArrayLike, *, threshold: float = 0.5) -> float:
    """Harmonic mean of precision and recall: 2 TP / (2 TP + FP + FN).

    {calls}

    Returns
    -------
    F1 score in [0, 1]; 0.0 when there is no true positive.

    Examples
    --------
    >>> f1([1, 0, 1, 1], [1, 1, 0, 1])
    0.6666666666666666
    """
    tp, fp, fn, _ = _confusion(y_true, y_pred, threshold)
    return _ratio(2 * tp, 2 * tp + fp + fn)


@doc_params(**_INPUTS)
def auroc(y_true: ArrayLike, y_score: ArrayLike) -> float:
    """Area under the ROC curve: the chance that a sensitive sample scores above a resistant one.

    Ties between a sensitive and a resistant sample count one half.

    {scores}

    Returns
    -------
    AUROC in [0, 1]; 0.5 is chance.

    Examples
    --------
    >>> auroc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.75
    """
    truth, score = _paired_scores(y_true, y_score, "AUROC")
    return float(roc_auc_score(truth, score))


@doc_params(**_INPUTS)
def average_precision(y_true: ArrayLike, y_score: ArrayLike) -> float:
    r"""Average precision: the mean of the precision at the rank of each sensitive sample.

    Computed as scikit-learn does, :math:`\sum_n (R_n - R_{n-1}) P_n` over the distinct score thresholds, so
    tied scores enter together.

    {scores}

    Returns
    -------
    Average precision in [0, 1]; a random ranking scores the fraction of sensitive samples.

    Examples
    --------
    >>> average_precision(["sensitive", "resistant", "sensitive"], [0.9, 0.2, 0.1])
    0.8333333333333333
    """
    truth, score = _paired_scores(y_true, y_score, "Average precision")
    return float(average_precision_score(truth, score))


def classification_report(y_true: ArrayLike, y_score: ArrayLike, *, threshold: float = 0.5) -> dict[str, float]:
    """All classification metrics at once.

    Parameters
    ----------
    y_true
        True labels: 0 / 1, booleans or ``"sensitive"`` / ``"resistant"``; both classes must occur.
    y_score
        Probabilities of *sensitive*.
    threshold
        Probabilities at or above it are called sensitive for accuracy, precision, recall and F1.

    Returns
    -------
    ``{"accuracy", "precision", "recall", "f1", "auroc", "ap"}`` as floats.

    Examples
    --------
    >>> report = classification_report([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> report["accuracy"], report["auroc"]
    (0.75, 0.75)
    """
    return {
        "accuracy": accuracy(y_true, y_score, threshold=threshold),
        "precision": precision(y_true, y_score, threshold=threshold),
        "recall": recall(y_true, y_score, threshold=threshold),
        "f1": f1(y_true, y_score, threshold=threshold),
        "auroc": auroc(y_true, y_score),
        "ap": average_precision(y_true, y_score),
    }
