"""Turn a continuous drug response (LN_IC50, AUC) into sensitive / resistant labels."""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any

import numpy as np
import pandas as pd
from anndata import AnnData

from sctl._constants import LABEL_KEY, RESISTANT, RESPONSE_CATEGORIES, SENSITIVE
from sctl._docs import doc_params
from sctl._validate import check_anndata, check_drug, check_two_classes

METHODS = ("extremes", "median", "threshold")


@doc_params()
def binarize_response(
    adata: AnnData,
    drug: str,
    key: str = "ln_ic50",
    *,
    method: str = "extremes",
    k: float = 0.3,
    threshold: float | None = None,
    key_added: str = LABEL_KEY,
    copy: bool = False,
) -> AnnData | None:
    """Label each cell line sensitive or resistant to ``drug`` from its response.

    Low LN_IC50 and low AUC both mean sensitive. The rules, applied to the lines tested with ``drug``:

    ``"extremes"`` :cite:p:`he2025transfer`
        rank the lines by response; the ``floor(k * n)`` lowest are ``"sensitive"``, the ``floor(k * n)``
        highest ``"resistant"``, the lines in between stay unlabelled (NaN). Ties are broken by the order of
        ``adata.obs_names``, so the counts are exact.
    ``"median"``
        below the median: ``"sensitive"``; at or above it: ``"resistant"``.
    ``"threshold"``
        below ``threshold``: ``"sensitive"``; at or above it: ``"resistant"``.

    Parameters
    ----------
    adata
        Bulk AnnData of cell lines with the response table ``adata.obsm[key]`` (cell lines x drugs, NaN =
        untested).
    drug
        Drug to label, a column of ``adata.obsm[key]``.
    key
        Response table: ``"ln_ic50"`` or ``"auc"``.
    method
        ``"extremes"``, ``"median"`` or ``"threshold"``, see above.
    k
        Fraction of the tested lines labelled at each end by ``"extremes"``, in (0, 0.5].
    threshold
        Response below which a line is sensitive; required by ``"threshold"``, on the scale of ``key``
        (e.g. ``np.log(1.0)`` for IC50 = 1 µM).
    key_added
        Labels go to ``adata.obs[key_added]``, parameters to ``adata.uns[key_added]["params"]``.
    {copy}

    {returns_copy}
    Sets

    ``adata.obs[key_added]``
        categorical with categories ``["resistant", "sensitive"]``; NaN for untested and unlabelled lines;
    ``adata.uns[key_added]["params"]``
        ``drug``, ``key``, ``method``, ``k``, ``threshold``, the cutoffs used (``sensitive_cutoff``: highest
        response labelled sensitive, ``resistant_cutoff``: lowest labelled resistant), ``n_sensitive``,
        ``n_resistant``, ``n_unlabelled`` (tested, between the cutoffs) and ``n_untested``.

    Examples
    --------
    >>> import sctl
    >>> bulk = sctl.datasets.gdsc()
    >>> sctl.pp.binarize_response(bulk, "Dabrafenib", k=0.3)
    >>> bulk.obs["sctl_label"].value_counts()  # doctest: +SKIP
    """
    check_anndata(adata)
    response = check_drug(adata, drug, key).astype(np.float64)
    if method not in METHODS:
        raise ValueError(f"Unknown labelling method {method!r}; choose one of {', '.join(map(repr, METHODS))}.")
    if method == "extremes":
        _check_k(k)
    if method == "threshold" and threshold is None:
        raise ValueError(
            "method='threshold' needs `threshold=`, the response below which a line is sensitive, on the "
            f"scale of {key!r} (e.g. `threshold=np.log(1.0)` for IC50 = 1 µM). Or use method='extremes' or "
            "'median'."
        )
    if method != "threshold" and threshold is not None:
        warnings.warn(
            f"`threshold` is used only by method='threshold' and is ignored by method={method!r}.",
            UserWarning,
            stacklevel=2,
        )

    tested = response.dropna()
    labels = _label(tested, method, k, threshold).reindex(response.index)
    check_two_classes(labels, what=f"labels of {drug!r} (method={method!r}, {len(tested)} tested lines)")

    adata = adata.copy() if copy else adata
    adata.obs[key_added] = pd.Categorical(labels.to_numpy(), categories=list(RESPONSE_CATEGORIES))
    adata.uns[key_added] = {"params": _params(response, labels, drug, key, method, k, threshold)}
    return adata if copy else None


def _check_k(k: float) -> None:
    if isinstance(k, bool) or not isinstance(k, numbers.Real) or not 0 < k <= 0.5:
        raise ValueError(
            f"`k` is the fraction of tested lines labelled at each end and must lie in (0, 0.5], got {k!r} "
            "(e.g. k=0.3 labels the lowest 30 % sensitive and the highest 30 % resistant)."
        )


def _label(tested: pd.Series, method: str, k: float, threshold: float | None) -> pd.Series:
    """Labels of the tested lines only (NaN in the middle for ``"extremes"``)."""
    labels = pd.Series(np.nan, index=tested.index, dtype=object)
    if method == "extremes":
        n_end = math.floor(k * len(tested) + 1e-9)
        order = np.argsort(tested.to_numpy(), kind="stable")
        if n_end:
            labels.iloc[order[:n_end]] = SENSITIVE
            labels.iloc[order[-n_end:]] = RESISTANT
        return labels
    cutoff = float(np.median(tested)) if method == "median" else float(threshold)
    labels[:] = np.where(tested.to_numpy() < cutoff, SENSITIVE, RESISTANT)
    return labels


def _params(
    response: pd.Series,
    labels: pd.Series,
    drug: str,
    key: str,
    method: str,
    k: float,
    threshold: float | None,
) -> dict[str, Any]:
    sensitive, resistant = response[labels == SENSITIVE], response[labels == RESISTANT]
    return {
        "drug": drug,
        "key": key,
        "method": method,
        "k": float(k),
        "threshold": None if threshold is None else float(threshold),
        "median": float(response.median()) if method == "median" else None,
        "sensitive_cutoff": float(sensitive.max()),
        "resistant_cutoff": float(resistant.min()),
        "n_sensitive": len(sensitive),
        "n_resistant": len(resistant),
        "n_unlabelled": int(response.notna().sum()) - len(sensitive) - len(resistant),
        "n_untested": int(response.isna().sum()),
    }
