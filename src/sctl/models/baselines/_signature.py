"""A correlation-to-signature classifier: the simple, strong baseline of the bulk-to-single-cell papers."""

from __future__ import annotations

from typing import ClassVar, Self

import numpy as np
import pandas as pd
from anndata import AnnData
from sklearn.linear_model import LogisticRegression

from sctl.models.baselines._base import CLASSIFICATION, ExpressionBaseline, Task


class _SignatureEstimator:
    """Signature = mean sensitive profile minus mean resistant profile; score = Pearson with the signature."""

    def __init__(self, seed: int = 0, C: float = 1.0) -> None:
        self.seed = seed
        self.C = C

    def fit(self, X: np.ndarray, y: np.ndarray) -> Self:
        self.gene_means_ = X.mean(axis=0)
        self.signature_ = X[y == 1].mean(axis=0) - X[y == 0].mean(axis=0)
        if np.ptp(self.signature_) == 0:
            raise ValueError(
                "The sensitive and resistant training rows have the same mean profile (up to a constant), so "
                "there is no signature to score against. Check the labels or use more informative genes."
            )
        scores = self.score(X)
        self.score_mean_, self.score_scale_ = scores.mean(), scores.std() or 1.0
        self.platt_ = LogisticRegression(C=self.C, class_weight="balanced", random_state=self.seed)
        self.platt_.fit(self._standardized(scores), y)
        return self

    def score(self, X: np.ndarray) -> np.ndarray:
        """Pearson correlation of each gene-centred row with the signature; 0 for a row without variance."""
        centred = X - self.gene_means_
        centred -= centred.mean(axis=1, keepdims=True)
        signature = self.signature_ - self.signature_.mean()
        norms = np.linalg.norm(centred, axis=1) * np.linalg.norm(signature)
        with np.errstate(invalid="ignore", divide="ignore"):
            scores = centred @ signature / norms
        return np.where(norms > 0, np.clip(scores, -1.0, 1.0), 0.0)

    def _standardized(self, scores: np.ndarray) -> np.ndarray:
        return ((scores - self.score_mean_) / self.score_scale_)[:, None]

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return self.platt_.predict_proba(self._standardized(self.score(X)))


class SignatureScore(ExpressionBaseline):
    r"""Score each profile by its correlation with a sensitive-minus-resistant signature (classification).

    Fitting computes, on the labelled training rows,

    1. the gene means :math:`\bar x` (stored, so new data are centred by the *training* means);
    2. the signature :math:`s = \bar x_{\text{sensitive}} - \bar x_{\text{resistant}}` (one per gene);
    3. the score of each training row, :math:`r = \operatorname{corr}(x - \bar x, s)` (Pearson across
       genes; 0 for a row that is constant after centring);
    4. a Platt fit: logistic regression (``C``, balanced class weights) of the labels on the standardised
       training scores, which turns a score into a probability of "sensitive".

    It is the nearest-centroid idea behind the signature scores used as baselines by the bulk-to-single-cell transfer
    papers :cite:p:`he2025transfer,chen2022scdeal`: no hyper-parameter to tune, robust with few cell lines. Since the
    Platt step sees the same rows the signature was built on, training probabilities are optimistic; judge it on
    held-out rows. Use :meth:`score` for the raw graded correlation.

    Parameters
    ----------
    seed
        Seed of the Platt fit (which has no random step; kept for a uniform surface).
    C
        Inverse regularisation of the Platt fit.

    Examples
    --------
    >>> model = SignatureScore().fit(bulk, label_key="sctl_label")  # doctest: +SKIP
    >>> model.signature_.sort_values().tail()  # genes higher in sensitive lines  # doctest: +SKIP
    >>> proba, score = model.predict(cells), model.score(cells)  # doctest: +SKIP
    """

    fixed_task: ClassVar[Task] = CLASSIFICATION

    def __init__(self, *, seed: int = 0, C: float = 1.0) -> None:
        super().__init__(seed=seed, C=C)

    def _build_estimator(self, task: Task, y: np.ndarray) -> _SignatureEstimator:
        return _SignatureEstimator(seed=self.seed, **self.estimator_kwargs)

    @property
    def signature_(self) -> pd.Series:
        """The fitted signature (sensitive minus resistant mean), indexed by gene."""
        self._check_fitted()
        return pd.Series(self.estimator_.signature_, index=self.var_names_, name="signature")

    def score(self, adata: AnnData, *, layer: str | None = None) -> np.ndarray:
        """Correlation of each row of ``adata`` (centred by the training gene means) with the signature.

        Parameters
        ----------
        adata
            Samples x genes holding every training gene; not modified.
        layer
            Layer holding the expression values; ``None`` uses ``adata.X``.

        Returns
        -------
        Scores in [-1, 1], shape ``(n_obs,)``; higher = closer to the sensitive lines.
        """
        self._check_fitted()
        return self._map_rows(self._aligned_matrix(adata, layer), self.estimator_.score)
