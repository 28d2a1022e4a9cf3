"""Naive predictors over (cell line, drug) pairs: the bar every response model must clear (as in drevalpy).

They ignore expression entirely and predict a response from the means of the training table. What they
predict for a drug or cell line absent from training is exactly what they measure under blind splits:

- :class:`DrugMean`: the drug's mean; an unseen drug gets the global mean. Under a cell-line-blind split it
  is the score of knowing only how potent each drug is.
- :class:`CellLineMean`: the cell line's mean; an unseen cell line gets the global mean. Under a drug-blind
  split it is the score of knowing only how sensitive each line is overall.
- :class:`MeanEffects`: global mean + drug effect + cell-line effect (additive two-way model); an unseen drug
  contributes no drug effect and an unseen cell line no cell-line effect, so an unseen drug is predicted from
  the cell line's effect alone, an unseen line from the drug's, and a pair where both are unseen gets the
  global mean.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Self

import numpy as np
import pandas as pd
from anndata import AnnData
from sklearn.exceptions import NotFittedError

from sctl._validate import check_anndata, check_response, preview

CELL_LINE = "cell_line"
DRUG = "drug"
PAIR_COLUMNS = (CELL_LINE, DRUG)


class NaivePredictor(ABC):
    """Base class: fit on the observed entries of a response table, predict (cell line, drug) pairs.

    Examples
    --------
    >>> model = MeanEffects().fit(bulk, "ln_ic50")  # doctest: +SKIP
    >>> model.predict(pd.DataFrame({"cell_line": ["A"], "drug": ["d1"]}))  # doctest: +SKIP
    """

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def fit(self, adata: AnnData, key: str = "ln_ic50", *, pairs: pd.DataFrame | None = None) -> Self:
        """Fit on the observed entries of ``adata.obsm[key]`` (cell lines x drugs).

        Parameters
        ----------
        adata
            Bulk AnnData whose ``.obsm[key]`` is a DataFrame (index = ``obs_names``, columns = drugs,
            NaN = untested). Not modified.
        key
            Response table to learn, e.g. ``"ln_ic50"`` or ``"auc"``.
        pairs
            Training entries as a DataFrame with columns ``cell_line`` and ``drug`` (e.g. the training part
            of a split). Each must be a tested entry of the table. ``None`` uses every tested entry.

        Returns
        -------
        The fitted predictor (``self``), with ``global_mean_``, ``key_`` and ``n_train_`` set.

        Examples
        --------
        >>> train = pd.DataFrame({"cell_line": ["A", "B"], "drug": ["d1", "d1"]})  # doctest: +SKIP
        >>> model = DrugMean().fit(bulk, "ln_ic50", pairs=train)  # doctest: +SKIP
        """
        check_anndata(adata)
        lines, drugs, values = _training_entries(check_response(adata, key), pairs, key)
        self.global_mean_ = float(values.mean())
        self._fit_entries(lines, drugs, values)
        self.key_ = key
        self.n_train_ = int(values.size)
        return self

    def predict(self, pairs: pd.DataFrame) -> np.ndarray:
        """Predict the response of each (cell line, drug) pair.

        Parameters
        ----------
        pairs
            DataFrame with columns ``cell_line`` and ``drug``. Names unseen in training fall back as the
            class documentation says.

        Returns
        -------
        One predicted response per row of ``pairs``.

        Examples
        --------
        >>> model.predict(pd.DataFrame({"cell_line": ["C"], "drug": ["d1"]}))  # doctest: +SKIP
        """
        if not hasattr(self, "global_mean_"):
            raise NotFittedError(f"This {type(self).__name__} is not fitted yet: call .fit(adata) first.")
        lines, drugs = _pair_columns(pairs)
        return self._predict_pairs(lines, drugs)

    @abstractmethod
    def _fit_entries(self, lines: pd.Index, drugs: pd.Index, values: np.ndarray) -> None: ...

    @abstractmethod
    def _predict_pairs(self, lines: pd.Index, drugs: pd.Index) -> np.ndarray: ...


class DrugMean(NaivePredictor):
    """Predict the drug's mean response over its training cell lines; an unseen drug gets the global mean.

    Attributes after fit: ``drug_means_`` (Series indexed by drug) and ``global_mean_``.

    Examples
    --------
    >>> model = DrugMean().fit(bulk, "ln_ic50", pairs=train_pairs)  # doctest: +SKIP
    >>> model.predict(test_pairs)  # doctest: +SKIP
    """

    def _fit_entries(self, lines: pd.Index, drugs: pd.Index, values: np.ndarray) -> None:
        self.drug_means_ = _group_means(drugs, values, DRUG)

    def _predict_pairs(self, lines: pd.Index, drugs: pd.Index) -> np.ndarray:
        return _lookup(self.drug_means_, drugs, self.global_mean_)


class CellLineMean(NaivePredictor):
    """Predict the cell line's mean response over its training drugs; an unseen line gets the global mean.

    Attributes after fit: ``cell_line_means_`` (Series indexed by cell line) and ``global_mean_``.

    Examples
    --------
    >>> model = CellLineMean().fit(bulk, "ln_ic50")  # doctest: +SKIP
    """

    def _fit_entries(self, lines: pd.Index, drugs: pd.Index, values: np.ndarray) -> None:
        self.cell_line_means_ = _group_means(lines, values, CELL_LINE)

    def _predict_pairs(self, lines: pd.Index, drugs: pd.Index) -> np.ndarray:
        return _lookup(self.cell_line_means_, lines, self.global_mean_)


class MeanEffects(NaivePredictor):
    """Additive model: response = global mean + drug effect + cell-line effect.

    The effects are the least-squares fit on the training entries, found by alternating passes (each drug
    effect is the mean residual of its entries given the cell-line effects, then the reverse) until no effect
    moves by more than ``tol``. Both sets of effects are then centred to mean zero over the training entries,
    which leaves every training prediction unchanged and makes ``global_mean_`` the training mean. On a fully
    observed table the prediction is drug mean + cell-line mean - grand mean.

    An unseen drug has effect 0 (prediction = global mean + cell-line effect), an unseen cell line likewise.

    Parameters
    ----------
    max_iter
        Most alternating passes.
    tol
        Stop when no effect changes by more than this between passes.

    Attributes after fit: ``global_mean_``, ``drug_effects_``, ``cell_line_effects_`` (Series), ``n_iter_``.

    Examples
    --------
    >>> model = MeanEffects().fit(bulk, "ln_ic50", pairs=train_pairs)  # doctest: +SKIP
    >>> model.drug_effects_.sort_values().head()  # the most potent drugs  # doctest: +SKIP
    """

    def __init__(self, *, max_iter: int = 200, tol: float = 1e-9) -> None:
        self.max_iter = max_iter
        self.tol = tol

    def __repr__(self) -> str:
        return f"MeanEffects(max_iter={self.max_iter}, tol={self.tol})"

    def _fit_entries(self, lines: pd.Index, drugs: pd.Index, values: np.ndarray) -> None:
        line_codes, line_names = pd.factorize(lines)
        drug_codes, drug_names = pd.factorize(drugs)
        mu = values.mean()
        line_effect = np.zeros(len(line_names))
        drug_effect = np.zeros(len(drug_names))
        self.n_iter_ = 0
        while self.n_iter_ < self.max_iter:
            self.n_iter_ += 1
            new_drug = _code_means(drug_codes, values - mu - line_effect[line_codes], len(drug_names))
            new_line = _code_means(line_codes, values - mu - new_drug[drug_codes], len(line_names))
            change = max(np.abs(new_drug - drug_effect).max(), np.abs(new_line - line_effect).max())
            drug_effect, line_effect = new_drug, new_line
            if change <= self.tol:
                break
        drug_shift, line_shift = drug_effect[drug_codes].mean(), line_effect[line_codes].mean()
        self.global_mean_ = float(mu + drug_shift + line_shift)
        self.drug_effects_ = pd.Series(drug_effect - drug_shift, index=drug_names, name="drug_effect")
        self.cell_line_effects_ = pd.Series(line_effect - line_shift, index=line_names, name="cell_line_effect")

    def _predict_pairs(self, lines: pd.Index, drugs: pd.Index) -> np.ndarray:
        return (
            self.global_mean_ + _lookup(self.drug_effects_, drugs, 0.0) + _lookup(self.cell_line_effects_, lines, 0.0)
        )


# ----------------------------------------------------------------------------------------------- helpers
def _pair_columns(pairs: pd.DataFrame) -> tuple[pd.Index, pd.Index]:
    """Return the cell-line and drug columns of ``pairs``, checking its shape."""
    if not isinstance(pairs, pd.DataFrame):
        raise TypeError(f"`pairs` must be a DataFrame with columns {list(PAIR_COLUMNS)}, got {type(pairs).__name__}.")
    missing = [c for c in PAIR_COLUMNS if c not in pairs.columns]
    if missing:
        raise KeyError(
            f"`pairs` lacks the column(s) {missing}; it needs {list(PAIR_COLUMNS)} "
            f"(found {preview(pairs.columns) or 'none'})."
        )
    if pairs[list(PAIR_COLUMNS)].isna().any().any():
        raise ValueError("`pairs` holds missing cell-line or drug names; drop those rows.")
    return pd.Index(pairs[CELL_LINE]), pd.Index(pairs[DRUG])


def _training_entries(
    response: pd.DataFrame, pairs: pd.DataFrame | None, key: str
) -> tuple[pd.Index, pd.Index, np.ndarray]:
    """Return the cell line, drug and value of each training entry."""
    values = _numeric_table(response, key)
    if pairs is None:
        rows, cols = np.nonzero(~np.isnan(values))
    else:
        rows, cols = _pair_positions(response, pairs, key)
        untested = np.isnan(values[rows, cols])
        if untested.any():
            raise ValueError(
                f"{int(untested.sum())} of the {rows.size} training pairs are untested (NaN) in "
                f"`adata.obsm[{key!r}]`. Keep only the tested pairs, or pass `pairs=None` to use every "
                "tested entry."
            )
    if rows.size == 0:
        raise ValueError(f"`adata.obsm[{key!r}]` has no tested entry to learn from.")
    return response.index[rows], response.columns[cols], values[rows, cols]


def _numeric_table(response: pd.DataFrame, key: str) -> np.ndarray:
    try:
        values = response.to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise TypeError(f"`adata.obsm[{key!r}]` must hold numbers (NaN for untested entries).") from error
    if np.isinf(values).any():
        raise ValueError(f"`adata.obsm[{key!r}]` holds infinite values; replace them with NaN or finite values.")
    return values


def _pair_positions(response: pd.DataFrame, pairs: pd.DataFrame, key: str) -> tuple[np.ndarray, np.ndarray]:
    lines, drugs = _pair_columns(pairs)
    if pairs.duplicated(subset=list(PAIR_COLUMNS)).any():
        raise ValueError("`pairs` lists some (cell line, drug) pairs more than once; drop the duplicates.")
    for axis, names in (("index", response.index), ("columns", response.columns)):
        if not names.is_unique:
            raise ValueError(f"The {axis} of `adata.obsm[{key!r}]` hold duplicated names; make them unique.")
    rows, cols = response.index.get_indexer(lines), response.columns.get_indexer(drugs)
    for positions, names, what in ((rows, lines, "cell lines"), (cols, drugs, "drugs")):
        if (positions < 0).any():
            unknown = names[positions < 0].unique()
            raise KeyError(
                f"`pairs` names {len(unknown)} {what} absent from `adata.obsm[{key!r}]` ({preview(unknown, 5)})."
            )
    return rows, cols


def _group_means(names: pd.Index, values: np.ndarray, name: str) -> pd.Series:
    return pd.Series(values).groupby(np.asarray(names), sort=False).mean().rename_axis(name).rename("mean")


def _code_means(codes: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(codes, weights=values, minlength=n) / np.bincount(codes, minlength=n)


def _lookup(table: pd.Series, names: pd.Index, default: float) -> np.ndarray:
    return table.reindex(names).fillna(default).to_numpy(dtype=np.float64)
