"""Baselines that every deep model is reported beside.

Expression-based models share one surface (:class:`ExpressionBaseline`)::

    model = get_baseline("logreg", seed=0).fit(bulk, label_key="sctl_label")
    proba = model.predict(cells)  # probability of "sensitive", one per cell

- :class:`LogisticBaseline` (``"logreg"``), :class:`SignatureScore` (``"signature"``): classification;
- :class:`RidgeBaseline` (``"ridge"``): regression on a numeric ``.obs`` column;
- :class:`RandomForestBaseline` (``"rf"``), :class:`GradientBoostingBaseline` (``"gb"``),
  :class:`SVMBaseline` (``"svm"``), :class:`DecisionTreeBaseline` (``"dt"``), :class:`XGBoostBaseline`
  (``"xgb"``, needs the optional ``xgboost-cpu``): classification for categorical labels, regression for numeric
  ones.

A model of every drug at once: :class:`DecomposedRidge` (``method="decomposed_ridge"`` of
:func:`sctl.tl.predict_response`, its default) predicts each drug's response as a line's general sensitivity plus
its drug-specific response.

Naive predictors over (cell line, drug) pairs ignore expression: :class:`DrugMean`, :class:`CellLineMean`,
:class:`MeanEffects`.

Naive predictors of drug-induced changes ``Δx`` (the baselines of :func:`sctl.tl.evaluate_perturbation`, by
:data:`PERTURBATION_BASELINES` name): :class:`ZeroChange`, :class:`MeanShift`, :class:`PerDrugMean`,
:class:`NearestDrugs` (unseen drugs from their structurally nearest training drugs), :class:`RidgeCondition`.
"""

from __future__ import annotations

from typing import Any

from sctl._validate import closest
from sctl.models.baselines import _perturbation
from sctl.models.baselines._base import ExpressionBaseline
from sctl.models.baselines._decomposed import DecomposedRidge
from sctl.models.baselines._naive import CellLineMean, DrugMean, MeanEffects, NaivePredictor
from sctl.models.baselines._perturbation import MeanShift, NearestDrugs, PerDrugMean, RidgeCondition, ZeroChange
from sctl.models.baselines._signature import SignatureScore
from sctl.models.baselines._sklearn import (
    DecisionTreeBaseline,
    GradientBoostingBaseline,
    LogisticBaseline,
    RandomForestBaseline,
    RidgeBaseline,
    SVMBaseline,
    XGBoostBaseline,
)

#: name -> class of every expression-based baseline, as accepted by :func:`get_baseline`
BASELINES: dict[str, type[ExpressionBaseline]] = {
    "logreg": LogisticBaseline,
    "ridge": RidgeBaseline,
    "rf": RandomForestBaseline,
    "gb": GradientBoostingBaseline,
    "svm": SVMBaseline,
    "dt": DecisionTreeBaseline,
    "xgb": XGBoostBaseline,
    "signature": SignatureScore,
}

#: name -> class of every perturbation baseline, as named in :func:`sctl.tl.evaluate_perturbation` and
#: :class:`sctl.models.PerturbationEnsemble` (``"zero_change"``, ``"mean_shift"``, ``"per_drug_mean"``,
#: ``"nearest_drugs"``, ``"ridge"``)
PERTURBATION_BASELINES = _perturbation.PERTURBATION_BASELINES


def get_baseline(name: str, **kwargs: Any) -> ExpressionBaseline:
    """Return a new, unfitted baseline by name.

    Parameters
    ----------
    name
        A key of :data:`BASELINES`: ``"logreg"``, ``"ridge"``, ``"rf"``, ``"gb"``, ``"svm"``, ``"dt"``,
        ``"xgb"`` (needs ``pip install xgboost-cpu``), ``"signature"``.
    **kwargs
        Passed to the class, e.g. ``seed=0`` or estimator arguments such as ``C=0.5``.

    Returns
    -------
    The baseline instance.

    Examples
    --------
    >>> get_baseline("rf", seed=1, n_estimators=50)
    RandomForestBaseline(seed=1, n_estimators=50)
    """
    if name not in BASELINES:
        raise ValueError(
            f"Unknown baseline {name!r}.{closest(name, BASELINES)} Valid names: {', '.join(map(repr, BASELINES))}."
        )
    return BASELINES[name](**kwargs)


__all__ = [
    "BASELINES",
    "PERTURBATION_BASELINES",
    "CellLineMean",
    "DecisionTreeBaseline",
    "DecomposedRidge",
    "DrugMean",
    "ExpressionBaseline",
    "GradientBoostingBaseline",
    "LogisticBaseline",
    "MeanEffects",
    "MeanShift",
    "NaivePredictor",
    "NearestDrugs",
    "PerDrugMean",
    "RandomForestBaseline",
    "RidgeBaseline",
    "RidgeCondition",
    "SVMBaseline",
    "SignatureScore",
    "XGBoostBaseline",
    "ZeroChange",
    "get_baseline",
]
