"""scikit-learn estimators behind the :class:`ExpressionBaseline` surface.

Linear models and the SVM standardise each gene on the training rows first (the fitted means and scales are
re-applied to new data); trees do not need it. Classifiers weight the classes ``"balanced"``, so a rare class
is not ignored and a probability of 0.5 separates the classes. XGBoost is optional (``pip install xgboost-cpu``,
or ``pip install "sctl[xgboost]"``) and imported only when :class:`XGBoostBaseline` is fitted.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression, Ridge, RidgeCV
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, SVR
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from sctl.models.baselines._base import CLASSIFICATION, REGRESSION, ExpressionBaseline, Task

#: alphas searched by :class:`RidgeBaseline` (efficient leave-one-out) when no ``alpha`` is given
RIDGE_ALPHAS = np.logspace(-2, 6, 17)


class LogisticBaseline(ExpressionBaseline):
    """L2-regularised logistic regression on standardised genes (classification).

    Defaults: ``C=0.1`` (strong regularisation, suited to many genes and few cell lines),
    ``class_weight="balanced"``, ``max_iter=5000``. Any :class:`~sklearn.linear_model.LogisticRegression`
    argument may be passed to override them.

    Parameters
    ----------
    seed
        Seed of the solver.
    **estimator_kwargs
        Passed to :class:`~sklearn.linear_model.LogisticRegression`.

    Examples
    --------
    >>> model = LogisticBaseline(C=0.05, seed=0).fit(bulk, label_key="sctl_label")  # doctest: +SKIP
    >>> proba = model.predict(cells)  # probability of "sensitive" per cell  # doctest: +SKIP
    """

    fixed_task: ClassVar[Task] = CLASSIFICATION

    def _build_estimator(self, task: Task, y: np.ndarray) -> Pipeline:
        kwargs = {"C": 0.1, "class_weight": "balanced", "max_iter": 5000, **self.estimator_kwargs}
        return make_pipeline(StandardScaler(), LogisticRegression(random_state=self.seed, **kwargs))


class RidgeBaseline(ExpressionBaseline):
    """Ridge regression on standardised genes, for a numeric ``.obs`` column (e.g. one drug's LN_IC50).

    Without ``alpha``, the penalty is chosen among :data:`RIDGE_ALPHAS` by efficient leave-one-out
    cross-validation on the training rows (:class:`~sklearn.linear_model.RidgeCV`); pass ``alpha=`` to fix it.

    Parameters
    ----------
    seed
        Accepted for a uniform surface; ridge regression has no random step.
    **estimator_kwargs
        Passed to :class:`~sklearn.linear_model.Ridge` (with ``alpha``) or
        :class:`~sklearn.linear_model.RidgeCV`.

    Examples
    --------
    >>> bulk.obs["ln_ic50"] = bulk.obsm["ln_ic50"]["Dabrafenib"]  # doctest: +SKIP
    >>> model = RidgeBaseline().fit(bulk, label_key="ln_ic50")  # doctest: +SKIP
    """

    fixed_task: ClassVar[Task] = REGRESSION

    def _build_estimator(self, task: Task, y: np.ndarray) -> Pipeline:
        if "alpha" in self.estimator_kwargs:
            return make_pipeline(StandardScaler(), Ridge(**self.estimator_kwargs))
        return make_pipeline(StandardScaler(), RidgeCV(**{"alphas": RIDGE_ALPHAS, **self.estimator_kwargs}))


class RandomForestBaseline(ExpressionBaseline):
    """Random forest: a classifier for categorical labels, a regressor for numeric ones.

    Defaults: 300 trees, ``max_features="sqrt"`` for both tasks (fast on thousands of genes), balanced class
    weights for classification.

    Parameters
    ----------
    seed
        Seed of the bootstrap and feature sampling.
    **estimator_kwargs
        Passed to :class:`~sklearn.ensemble.RandomForestClassifier` / ``RandomForestRegressor``, e.g.
        ``n_jobs=-1`` (results stay identical for a given seed).

    Examples
    --------
    >>> model = RandomForestBaseline(n_estimators=100, seed=1).fit(bulk)  # doctest: +SKIP
    """

    def _build_estimator(self, task: Task, y: np.ndarray) -> Any:
        kwargs: dict[str, Any] = {"n_estimators": 300, "max_features": "sqrt", "random_state": self.seed}
        if task == CLASSIFICATION:
            return RandomForestClassifier(**{**kwargs, "class_weight": "balanced", **self.estimator_kwargs})
        return RandomForestRegressor(**{**kwargs, **self.estimator_kwargs})


class GradientBoostingBaseline(ExpressionBaseline):
    """Histogram gradient boosting: a classifier for categorical labels, a regressor for numeric ones.

    scikit-learn's defaults (100 iterations, learning rate 0.1, early stopping only above 10,000 rows) plus
    balanced class weights for classification.

    Parameters
    ----------
    seed
        Seed of the random steps (early-stopping split, feature subsampling).
    **estimator_kwargs
        Passed to :class:`~sklearn.ensemble.HistGradientBoostingClassifier` / ``...Regressor``.

    Examples
    --------
    >>> model = GradientBoostingBaseline(learning_rate=0.05).fit(bulk)  # doctest: +SKIP
    """

    def _build_estimator(self, task: Task, y: np.ndarray) -> Any:
        if task == CLASSIFICATION:
            kwargs = {"class_weight": "balanced", **self.estimator_kwargs}
            return HistGradientBoostingClassifier(random_state=self.seed, **kwargs)
        return HistGradientBoostingRegressor(random_state=self.seed, **self.estimator_kwargs)


class DecisionTreeBaseline(ExpressionBaseline):
    """A single CART decision tree: a classifier for categorical labels, a regressor for numeric ones.

    One of the machine-learning comparators of :cite:t:`he2025transfer`, who do not state its settings. sctl's defaults:
    scikit-learn's (grown until the leaves are pure, ``max_features=None``) except ``min_samples_leaf=5``, so
    that leaves hold several training rows and the probabilities are graded rather than 0 or 1, and balanced
    class weights for classification.

    Parameters
    ----------
    seed
        Seed of the tie-breaking among equally good splits.
    **estimator_kwargs
        Passed to :class:`~sklearn.tree.DecisionTreeClassifier` / ``DecisionTreeRegressor``, e.g.
        ``max_depth=4``.

    Examples
    --------
    >>> model = DecisionTreeBaseline(max_depth=4, seed=0).fit(bulk)  # doctest: +SKIP
    """

    def _build_estimator(self, task: Task, y: np.ndarray) -> Any:
        kwargs: dict[str, Any] = {"min_samples_leaf": 5, "random_state": self.seed}
        if task == CLASSIFICATION:
            return DecisionTreeClassifier(**{**kwargs, "class_weight": "balanced", **self.estimator_kwargs})
        return DecisionTreeRegressor(**{**kwargs, **self.estimator_kwargs})


class XGBoostBaseline(ExpressionBaseline):
    """XGBoost gradient-boosted trees: a classifier for categorical labels, a regressor for numeric ones.

    One of the machine-learning comparators of :cite:t:`he2025transfer`, who do not state its settings. sctl's defaults:
    XGBoost's own (100 trees of depth 6, learning rate 0.3, ``tree_method="hist"``), one thread (results do not
    depend on the machine), and for classification ``scale_pos_weight`` = resistant / sensitive training rows,
    XGBoost's counterpart of balanced class weights.

    XGBoost is an optional dependency: ``pip install xgboost-cpu`` (or ``pip install "sctl[xgboost]"``).

    Parameters
    ----------
    seed
        Seed of XGBoost's random steps (row and column subsampling when asked for).
    **estimator_kwargs
        Passed to ``xgboost.XGBClassifier`` / ``xgboost.XGBRegressor``, e.g. ``n_estimators=300``.

    Examples
    --------
    >>> model = XGBoostBaseline(max_depth=3, seed=0).fit(bulk)  # doctest: +SKIP
    """

    def _build_estimator(self, task: Task, y: np.ndarray) -> Any:
        xgboost = _import_xgboost()
        kwargs: dict[str, Any] = {"n_jobs": 1, "random_state": self.seed}
        if task == CLASSIFICATION:
            n_positive = int(y.sum())
            balance = (len(y) - n_positive) / max(n_positive, 1)
            return xgboost.XGBClassifier(**{**kwargs, "scale_pos_weight": balance, **self.estimator_kwargs})
        return xgboost.XGBRegressor(**{**kwargs, **self.estimator_kwargs})


def _import_xgboost() -> Any:
    try:
        import xgboost
    except ImportError as error:
        raise ImportError(
            "The 'xgb' baseline needs XGBoost, an optional dependency: `pip install xgboost-cpu` (or "
            '`pip install "sctl[xgboost]"`), or choose another baseline, e.g. "gb" (gradient boosting of '
            "scikit-learn)."
        ) from error
    return xgboost


class SVMBaseline(ExpressionBaseline):
    """RBF support-vector machine on standardised genes: a classifier for labels, a regressor for numbers.

    Classification probabilities come from Platt scaling fitted on out-of-fold decision values
    (:class:`~sklearn.calibration.CalibratedClassifierCV` with ``method="sigmoid"``, ``ensemble=False`` and
    seeded stratified folds: five, or fewer when the smaller class has fewer rows); the final SVC is fitted on
    all rows. Classes are weighted ``"balanced"``.

    Parameters
    ----------
    seed
        Seed of the calibration folds.
    **estimator_kwargs
        Passed to :class:`~sklearn.svm.SVC` / :class:`~sklearn.svm.SVR`, e.g. ``C=10``.

    Examples
    --------
    >>> model = SVMBaseline(C=1.0).fit(bulk)  # doctest: +SKIP
    """

    max_folds: ClassVar[int] = 5

    def _build_estimator(self, task: Task, y: np.ndarray) -> Pipeline:
        if task == REGRESSION:
            return make_pipeline(StandardScaler(), SVR(**self.estimator_kwargs))
        n_folds = min(self.max_folds, int(np.bincount(y).min()))
        if n_folds < 2:
            raise ValueError(
                "SVMBaseline calibrates its probabilities by cross-validation and needs at least two rows of "
                "each class; label more rows or use `LogisticBaseline`."
            )
        svc = SVC(**{"class_weight": "balanced", **self.estimator_kwargs})
        folds = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=self.seed)
        calibrated = CalibratedClassifierCV(svc, method="sigmoid", cv=folds, ensemble=False)
        return make_pipeline(StandardScaler(), calibrated)
