"""Ridge regression of a drug-response table split into each line's general sensitivity and drug-specific response."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any, Self

import numpy as np
import pandas as pd
from anndata import AnnData
from scipy import linalg
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression

from sctl._constants import SENSITIVE
from sctl._stream import map_rows, rows_of
from sctl._validate import check_anndata, check_finite, check_response, check_var_names, get_matrix, preview, to_dense
from sctl.pp._specific import MIN_DRUGS, split_response

#: ridge penalty per gene: the penalty is ``alpha * n_genes`` on rows z-scored over their genes (their squared norm)
ALPHA = 5.0
#: weight of the drug-specific part in the predicted response (1: one ridge regression of the drug's response)
SPECIFIC_WEIGHT = 1.25


class DecomposedRidge:
    r"""Predict every drug's response as a line's general sensitivity plus its drug-specific response (sctl).

    Drug screens such as GDSC share a strong general-sensitivity axis: some lines are sensitive to almost every drug.
    A classifier of one drug's sensitive and resistant lines learns that axis and cannot tell which drug a
    sub-population resists. This model writes each tested response as the sum the table supports
    (:func:`sctl.pp.drug_specific_response`): with :math:`z_{ld}` the response of line :math:`l` to drug
    :math:`d` z-scored over the lines tested with :math:`d`, :math:`g_l` the line's mean :math:`z` over the drugs
    (general sensitivity) and :math:`s_{ld} = z_{ld} - g_l` (drug-specific response),

    .. math:: \hat z_d(x) = \hat g(x) + w \, \hat s_d(x),

    each part a ridge regression on the expression profile :math:`x` (kernel form, one linear solve per part,
    penalty ``alpha`` times the number of genes), fitted on every tested line: the continuous response, not only
    the extremes. With :math:`w = 1` the sum equals one ridge regression of :math:`z_d` on the same lines (both
    parts are linear) and the split only keeps the two parts (:meth:`predict_parts`), so that a sub-population can
    be read as generally resistant or resistant to one drug. The specific part is weaker in expression than the
    general one and the shared penalty shrinks it more; ``specific_weight`` :math:`w > 1` gives it back weight,
    which tells two drugs apart on the same cells better and ranks cells that differ only in general sensitivity
    a little worse (the trade-off and the measurement behind the default are in the methods page). With fewer
    than ``min_drugs`` drugs in the table there is no general part (:math:`\hat g = 0`, :math:`\hat s_d`
    regresses :math:`z_d`).

    Probabilities come from a logistic fit (Platt) of each drug's labelled lines (``labels``, e.g. the bottom /
    top 30 % from :func:`sctl.pp.binarize_response`) on their leave-one-out predictions :math:`-\hat z_d`, so the
    calibration never sees a line's own fit. The model's input is expression already on one scale with the
    reference (:func:`sctl.tl.predict_response` aligns the genes and standardises each domain first).

    Parameters
    ----------
    alpha
        Ridge penalty per gene.
    specific_weight
        Weight :math:`w` of the drug-specific part in the predicted response; 1 is one ridge regression of each
        drug's z-scored response.
    min_drugs
        Fewest drugs a line must be tested with to have a general sensitivity (as
        :func:`sctl.pp.drug_specific_response`).

    Examples
    --------
    >>> bulk = sctl.datasets.gdsc()
    >>> model = DecomposedRidge().fit(bulk, "ln_ic50", drugs=["Dabrafenib", "Docetaxel"])
    >>> proba = model.predict(bulk)  # lines x drugs, probability of "sensitive"
    >>> general, specific = model.predict_parts(bulk)  # predicted z: general per line, specific per drug
    """

    def __init__(
        self, *, alpha: float = ALPHA, specific_weight: float = SPECIFIC_WEIGHT, min_drugs: int = MIN_DRUGS
    ) -> None:
        self.alpha = _positive(alpha, "alpha", "the ridge penalty per gene")
        self.specific_weight = _positive(specific_weight, "specific_weight", "the weight of the drug-specific part")
        self.min_drugs = min_drugs

    def __repr__(self) -> str:
        return f"{type(self).__name__}(alpha={self.alpha:g}, specific_weight={self.specific_weight:g})"

    def fit(
        self,
        adata: AnnData,
        key: str = "ln_ic50",
        *,
        drugs: Sequence[str] | None = None,
        labels: pd.DataFrame | None = None,
        layer: str | None = None,
    ) -> Self:
        """Fit the general part on every drug of ``adata.obsm[key]`` and a specific part per drug of ``drugs``.

        Parameters
        ----------
        adata
            Cell lines x genes with the response table ``adata.obsm[key]`` (lines x drugs, low = sensitive, NaN =
            untested). Not modified.
        key
            The response table.
        drugs
            Drugs to predict (columns of the table); ``None``: all.
        labels
            Lines x drugs of ``"sensitive"`` / ``"resistant"`` (anything else unlabelled) for the probability
            calibration; ``None``: the bottom / top 30 % of each drug's tested lines.
        layer
            Layer holding the expression; ``None`` uses ``X``.

        Returns
        -------
        The fitted model (``self``), with ``drugs_``, ``var_names_``, ``key_`` and ``has_general_`` set.
        """
        check_anndata(adata)
        response = check_response(adata, key).astype(np.float64)
        drugs = list(response.columns) if drugs is None else list(drugs)
        missing = [drug for drug in drugs if drug not in response.columns]
        if missing:
            raise ValueError(
                f"{preview(missing)} not in `adata.obsm[{key!r}]` ({response.shape[1]} drugs, e.g. "
                f"{preview(list(response.columns))}). Pick drugs of the table."
            )
        X = np.asarray(to_dense(get_matrix(adata, layer), np.float64), dtype=np.float64)
        check_finite(X, f"the reference's expression ({'X' if layer is None else f'layer {layer!r}'})")
        specific, general = _parts(response, self.min_drugs)
        self.has_general_ = bool(general.notna().any())
        self.mean_ = X.mean(axis=0)
        X = X - self.mean_
        ridge = _KernelRidge(X, self.alpha * X.shape[1])
        self.general_ = ridge.fit(general.to_numpy())
        labels = _default_labels(response[drugs]) if labels is None else labels
        self.specific_, self.calibration_ = {}, {}
        for drug in drugs:
            part = ridge.fit(specific[drug].to_numpy())
            loo = self.specific_weight * part.loo + (self.general_.loo_at(part.rows) if self.has_general_ else 0.0)
            self.specific_[drug] = part
            self.calibration_[drug] = _calibrate(-loo, labels[drug].to_numpy()[part.rows], drug)
        self.drugs_ = drugs
        self.var_names_ = adata.var_names.copy()
        self.key_ = key
        return self

    def predict_parts(self, adata: AnnData, *, layer: str | None = None) -> tuple[pd.Series, pd.DataFrame]:
        """Predicted general sensitivity (per row) and drug-specific responses (rows x drugs), in z units.

        Low values mean sensitive; the specific parts are weighted by ``specific_weight``, as they enter the
        prediction: their sum per drug is the predicted response (:meth:`predict_response`).
        """
        weights = self._weights()
        rows = self._rows(adata, layer)
        values = map_rows(
            rows, lambda _, block: (block - self.mean_) @ weights, 10_000, np.float64, (0, weights.shape[1])
        )
        values = values + self._intercepts()
        general = pd.Series(values[:, 0], index=adata.obs_names, name="general")
        return general, pd.DataFrame(values[:, 1:], index=adata.obs_names, columns=self.drugs_)

    def predict_response(self, adata: AnnData, *, layer: str | None = None) -> pd.DataFrame:
        """Predicted response, general + specific part, rows x drugs (z units; low = sensitive)."""
        general, specific = self.predict_parts(adata, layer=layer)
        return specific.add(general, axis=0)

    def predict(self, adata: AnnData, *, layer: str | None = None) -> pd.DataFrame:
        """Probability that each row is sensitive to each drug, rows x drugs."""
        return self.to_probability(self.predict_response(adata, layer=layer))

    def to_probability(self, response: pd.DataFrame) -> pd.DataFrame:
        """Predicted responses (rows x drugs, as :meth:`predict_response` returns them) as probabilities."""
        return response.apply(lambda column: self.calibration_[column.name](-column.to_numpy()))

    def linear_parts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(center, weights, intercepts)``: the parts of a row ``x`` are ``(x - center) @ weights + intercepts``.

        Column 0 is the general part, then one column per drug of ``drugs_`` (as :meth:`predict_parts` gives
        them): what a chunked scorer needs (:func:`sctl.tl.predict_response` above its large-input size).
        """
        return self.mean_, self._weights(), self._intercepts()

    def proba_from_parts(self, parts: np.ndarray) -> np.ndarray:
        """:meth:`to_probability` of the parts' sums, parts laid out as :meth:`linear_parts` gives them (an array).

        One drug at a time: no rows x drugs table of responses is formed.
        """
        proba = np.empty((parts.shape[0], len(self.drugs_)))
        for i, drug in enumerate(self.drugs_):  # one drug at a time: no second rows x drugs array
            proba[:, i] = self.calibration_[drug](-(parts[:, i + 1] + parts[:, 0]))
        return proba

    def _weights(self) -> np.ndarray:
        if not hasattr(self, "drugs_"):
            raise NotFittedError(f"This {type(self).__name__} is not fitted yet; call `fit(bulk, key)` first.")
        specific = (self.specific_weight * self.specific_[d].weights for d in self.drugs_)
        return np.column_stack([self.general_.weights, *specific])

    def _intercepts(self) -> np.ndarray:
        specific = (self.specific_weight * self.specific_[d].intercept for d in self.drugs_)
        return np.asarray([self.general_.intercept, *specific])

    def _rows(self, adata: AnnData, layer: str | None) -> Any:
        check_anndata(adata)
        check_var_names(adata, self.var_names_, "the fitted reference")
        return rows_of(adata, layer, self.var_names_)


class _RidgePart:
    """One fitted ridge regression: gene weights, intercept, the rows it was fitted on and their leave-one-out fits."""

    def __init__(self, weights: np.ndarray, intercept: float, rows: np.ndarray, loo: np.ndarray) -> None:
        self.weights, self.intercept, self.rows, self.loo = weights, intercept, rows, loo

    def loo_at(self, rows: np.ndarray) -> np.ndarray:
        """Leave-one-out fits at ``rows`` (indices of the training matrix); rows it was not fitted on get its fit."""
        position = {row: i for i, row in enumerate(self.rows)}
        return np.asarray([self.loo[position[row]] if row in position else self.intercept for row in rows])


class _KernelRidge:
    """Ridge regressions of any target on the same lines, in kernel form, the penalised kernel inverted once.

    A target known on a subset ``S`` of the lines (untested pairs are NaN) needs ``(K_SS + penalty I)^-1``; with
    ``A = (K + penalty I)^-1`` of all lines and ``M`` the lines left out, block inversion gives it as
    ``A_SS - A_SM A_MM^-1 A_MS``: one small solve per target instead of a factorisation.
    """

    def __init__(self, X: np.ndarray, penalty: float) -> None:
        self.X = X
        self.inverse = linalg.inv(X @ X.T + penalty * np.eye(X.shape[0]), overwrite_a=True)

    def fit(self, target: np.ndarray) -> _RidgePart:
        known = np.isfinite(target)
        rows, left_out = np.flatnonzero(known), np.flatnonzero(~known)
        if rows.size == 0:  # no general part: predicts 0
            return _RidgePart(np.zeros(self.X.shape[1]), 0.0, rows, np.zeros(0))
        y = target[rows]
        intercept = float(y.mean())
        inverse = self.inverse[np.ix_(rows, rows)]
        dual, diagonal = inverse @ (y - intercept), np.diag(inverse).copy()
        if left_out.size:
            across = self.inverse[np.ix_(rows, left_out)]
            solved = linalg.solve(self.inverse[np.ix_(left_out, left_out)], across.T, assume_a="pos")
            dual -= across @ (solved @ (y - intercept))
            diagonal -= np.einsum("ij,ji->i", across, solved)
        # leave-one-out residual of kernel ridge: dual coefficient / diagonal of the inverse
        return _RidgePart(self.X[rows].T @ dual, intercept, rows, y - dual / diagonal)


def _positive(value: Any, name: str, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
        raise ValueError(f"`{name}` must be a positive number ({what}), got {value!r}.")
    return float(value)


def _parts(response: pd.DataFrame, min_drugs: int) -> tuple[pd.DataFrame, pd.Series]:
    """Specific responses and general sensitivity; no general part when the table holds too few drugs."""
    if response.shape[1] >= min_drugs:
        return split_response(response, min_drugs)
    z = (response - response.mean()) / response.std()
    return z, pd.Series(np.nan, index=response.index)


def _default_labels(response: pd.DataFrame, k: float = 0.3) -> pd.DataFrame:
    low, high = response.quantile(k), response.quantile(1 - k)
    labels = pd.DataFrame(None, index=response.index, columns=response.columns, dtype=object)
    return labels.mask(response.le(low), SENSITIVE).mask(response.ge(high), "resistant")


def _calibrate(score: np.ndarray, labels: np.ndarray, drug: str) -> Any:
    """Logistic map from a score to the probability of "sensitive", fitted on the labelled lines."""
    known = pd.notna(labels) & np.isin(labels, [SENSITIVE, "resistant"])
    y = labels[known] == SENSITIVE
    if y.all() or not y.any():
        raise ValueError(f"Drug {drug!r} has no labelled lines of both classes to calibrate its probabilities.")
    center, scale = score[known].mean(), score[known].std() or 1.0
    logistic = LogisticRegression(class_weight="balanced").fit(((score[known] - center) / scale)[:, None], y)
    return lambda values: logistic.predict_proba(((np.asarray(values) - center) / scale)[:, None])[:, 1]
