"""An ensemble of baselines whose probabilities are averaged: the default of :func:`sctl.tl.predict_response`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Self

import numpy as np

from sctl._validate import preview

from ._base import CLASSIFICATION, REGRESSION, ExpressionBaseline, Task

#: members of :class:`EnsembleBaseline` by default: the two best baselines on the realistic-shift benchmark
DEFAULT_MEMBERS = ("signature", "rf")


class _MeanProbability:
    """Fit every member estimator on the same rows; predict the mean of their probabilities."""

    def __init__(self, estimators: list[Any]) -> None:
        self.estimators = estimators

    def fit(self, X: np.ndarray, y: np.ndarray) -> Self:
        for estimator in self.estimators:
            estimator.fit(X, y)
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return np.mean([estimator.predict_proba(X) for estimator in self.estimators], axis=0)


class EnsembleBaseline(ExpressionBaseline):
    """Average the probabilities of several baselines fitted on the same rows (classification).

    Each member is a baseline of :func:`~sctl.models.baselines.get_baseline` with its own defaults and the
    ensemble's seed. The mean of probabilities ranks like a mean of the members' evidence, and since each member
    returns a probability (the signature score through its Platt fit, the forest as the share of its trees), the
    mean is one too: less extreme than the most confident member. By default the signature score and the random
    forest: a correlation with a dense sensitive-minus-resistant profile, robust to gene-wise platform shifts,
    and a non-linear model of single genes. On the realistic-shift benchmark (``benchmarks/realistic_shift.py``)
    their average ranked cells better than either alone (README).

    Parameters
    ----------
    members
        Names of the baselines averaged (at least two; classifiers only).
    seed
        Seed passed to every member.

    Examples
    --------
    >>> model = EnsembleBaseline(members=("signature", "rf", "logreg")).fit(bulk)  # doctest: +SKIP
    >>> proba = model.predict(cells)  # doctest: +SKIP
    """

    fixed_task: ClassVar[Task] = CLASSIFICATION

    def __init__(self, *, members: Sequence[str] = DEFAULT_MEMBERS, seed: int = 0) -> None:
        from . import BASELINES

        members = tuple(members)
        classifiers = [
            name for name, cls in BASELINES.items() if cls.fixed_task != REGRESSION and cls is not type(self)
        ]
        unknown = [m for m in members if m not in classifiers]
        if unknown or len(members) < 2:
            raise ValueError(
                f"`members` must name at least two classifiers among {preview(classifiers)}, got {preview(members)}."
            )
        super().__init__(seed=seed, members=members)

    def _build_estimator(self, task: Task, y: np.ndarray) -> _MeanProbability:
        from . import get_baseline

        members = [get_baseline(name, seed=self.seed) for name in self.estimator_kwargs["members"]]
        return _MeanProbability([member._build_estimator(task, y) for member in members])
