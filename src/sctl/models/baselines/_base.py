"""The surface shared by the expression-based baselines: ``fit(adata, label_key)``, ``predict(adata)``."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar, Literal, Self

import numpy as np
import pandas as pd
from anndata import AnnData
from scipy import sparse
from sklearn.exceptions import NotFittedError

from sctl._constants import LABEL_KEY, RESISTANT, SENSITIVE
from sctl._stream import Rows, describe, map_rows, rows_of
from sctl._validate import (
    check_anndata,
    check_finite,
    check_obs_key,
    check_two_classes,
    check_var_names,
    get_matrix,
    preview,
    to_dense,
)

Task = Literal["classification", "regression"]
CLASSIFICATION: Task = "classification"
REGRESSION: Task = "regression"


class ExpressionBaseline(ABC):
    """Base class of the baselines that predict a response from expression profiles.

    Subclasses say which task they solve (``fixed_task``; ``None`` = chosen from the labels at fit time) and
    build their scikit-learn estimator in :meth:`_build_estimator`. This class reads the AnnData, keeps the
    labelled rows, checks the inputs, remembers the genes and aligns new data to them.

    Parameters
    ----------
    seed
        Seed of every random step (same seed, same numbers).
    **estimator_kwargs
        Passed to the underlying estimator, overriding sctl's defaults.

    Examples
    --------
    >>> import sctl
    >>> model = sctl.models.baselines.LogisticBaseline(seed=0)
    >>> model.fit(bulk, label_key="sctl_label")  # doctest: +SKIP
    >>> proba = model.predict(cells)  # doctest: +SKIP
    """

    fixed_task: ClassVar[Task | None] = None
    #: rows densified at a time in :meth:`predict`, which bounds memory on large (sparse) single-cell data
    chunk_size: ClassVar[int] = 10_000

    def __init__(self, *, seed: int = 0, **estimator_kwargs: Any) -> None:
        if "random_state" in estimator_kwargs:
            raise ValueError(f"Pass `seed=` to {type(self).__name__} instead of `random_state=`.")
        self.seed = seed
        self.estimator_kwargs = dict(estimator_kwargs)
        self.task: Task | None = self.fixed_task

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in {"seed": self.seed, **self.estimator_kwargs}.items())
        return f"{type(self).__name__}({params})"

    @abstractmethod
    def _build_estimator(self, task: Task, y: np.ndarray) -> Any:
        """Return an unfitted estimator with ``fit`` and ``predict_proba`` (classification) or ``predict``."""

    # ------------------------------------------------------------------ fit
    def fit(self, adata: AnnData, label_key: str = LABEL_KEY, *, layer: str | None = None) -> Self:
        """Fit on the rows of ``adata`` whose label is not NaN.

        Parameters
        ----------
        adata
            Samples (e.g. cell lines) x genes. Not modified.
        label_key
            Column of ``adata.obs`` with the target: categorical / string labels (``"sensitive"`` /
            ``"resistant"`` from :func:`sctl.pp.binarize_response`) for classification, numbers (e.g. the
            LN_IC50 of one drug) for regression. Rows where it is NaN are ignored.
        layer
            Layer holding the expression values; ``None`` uses ``adata.X``. Dense or sparse.

        Returns
        -------
        The fitted model (``self``), with ``var_names_``, ``classes_`` (``None`` for regression), ``task``,
        ``label_key_``, ``n_train_`` and ``estimator_`` set.

        Examples
        --------
        >>> sctl.pp.binarize_response(bulk, "Dabrafenib")  # doctest: +SKIP
        >>> model = LogisticBaseline().fit(bulk, label_key="sctl_label")  # doctest: +SKIP
        """
        check_anndata(adata)
        labels = check_obs_key(
            adata,
            label_key,
            hint="Label the samples first, e.g. with `sctl.pp.binarize_response(adata, drug)`.",
        )
        task = self._resolve_task(labels, label_key)
        labelled = labels.notna().to_numpy()
        if labelled.sum() < 2:
            raise ValueError(
                f"Only {int(labelled.sum())} rows have a label in `adata.obs[{label_key!r}]`; "
                "a model needs at least two labelled rows."
            )
        _check_unique_genes(adata)
        X = _select_rows(get_matrix(adata, layer), labelled)
        check_finite(X, describe(layer))
        y, classes = _encode_target(labels[labelled], task, label_key)
        estimator = self._build_estimator(task, y)
        estimator.fit(to_dense(X, np.float64), y)

        self.task = task
        self.estimator_ = estimator
        self.classes_ = classes
        self.label_key_ = label_key
        self.n_train_ = int(labelled.sum())
        self.var_names_ = pd.Index(adata.var_names.copy())
        return self

    def _resolve_task(self, labels: pd.Series, label_key: str) -> Task:
        numeric = _is_numeric(labels)
        if self.fixed_task == CLASSIFICATION and numeric and not _is_zero_one(labels):
            raise ValueError(
                f"{type(self).__name__} is a classifier but `adata.obs[{label_key!r}]` holds continuous "
                "numbers. Turn them into labels with `sctl.pp.binarize_response`, or use `RidgeBaseline` "
                "for regression."
            )
        if self.fixed_task == REGRESSION and not numeric:
            raise ValueError(
                f"{type(self).__name__} is a regressor but `adata.obs[{label_key!r}]` is not numeric "
                f"(dtype {labels.dtype}). Give it a numeric column, e.g. "
                "`adata.obs['ln_ic50'] = adata.obsm['ln_ic50'][drug]`, or use `LogisticBaseline` for labels."
            )
        if self.fixed_task is not None:
            return self.fixed_task
        return REGRESSION if numeric else CLASSIFICATION

    # -------------------------------------------------------------- predict
    def predict(self, adata: AnnData, *, layer: str | None = None) -> np.ndarray:
        """Predict every row of ``adata``.

        Parameters
        ----------
        adata
            Samples x genes, on the same scale as the training data. It must hold every training gene; its
            genes are reordered to the training order (extra genes are ignored). Not modified. May be opened
            with ``anndata.read_h5ad(path, backed="r")``: it is read ``chunk_size`` rows at a time.
        layer
            Layer holding the expression values; ``None`` uses ``adata.X``.

        Returns
        -------
        Array of shape ``(n_obs,)``: the probability of the positive class (``classes_[1]``, i.e.
        ``"sensitive"``) for classifiers, the predicted value for regressors.

        Examples
        --------
        >>> proba = model.predict(cells)  # doctest: +SKIP
        >>> calls = np.where(proba >= 0.5, "sensitive", "resistant")  # doctest: +SKIP
        """
        self._check_fitted()
        return self._map_rows(self._aligned_matrix(adata, layer), self._predict_dense)

    def _map_rows(self, rows: Rows, func: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """Apply ``func`` to dense float64 chunks of ``chunk_size`` rows, read one at a time, and join them."""
        return map_rows(rows, lambda _, block: func(block), self.chunk_size, np.float64)

    def _predict_dense(self, X: np.ndarray) -> np.ndarray:
        if self.task == CLASSIFICATION:
            return np.asarray(self.estimator_.predict_proba(X)[:, 1], dtype=np.float64)
        return np.asarray(self.estimator_.predict(X), dtype=np.float64).reshape(-1)

    def _check_fitted(self) -> None:
        if not hasattr(self, "var_names_"):
            raise NotFittedError(f"This {type(self).__name__} is not fitted yet: call .fit(adata) first.")

    def _aligned_matrix(self, adata: AnnData, layer: str | None) -> Rows:
        """Return the expression of ``adata`` (nothing read yet; backed files stay on disk) in the training order."""
        check_anndata(adata)
        check_var_names(adata, self.var_names_, what=f"this {type(self).__name__}")
        if not adata.var_names.equals(self.var_names_):
            _check_unique_genes(adata)
        return rows_of(adata, layer, self.var_names_)


def _select_rows(X: np.ndarray | sparse.spmatrix, mask: np.ndarray) -> np.ndarray | sparse.spmatrix:
    if mask.all():
        return X
    rows = np.flatnonzero(mask)
    return X.tocsr()[rows] if sparse.issparse(X) else np.asarray(X)[rows]


def _check_unique_genes(adata: AnnData) -> None:
    if not adata.var_names.is_unique:
        duplicated = adata.var_names[adata.var_names.duplicated()].unique()
        raise ValueError(
            f"`adata.var_names` holds {len(duplicated)} duplicated genes ({preview(duplicated, 5)}). "
            "Make them unique first, e.g. with `adata.var_names_make_unique()`."
        )


def _is_numeric(labels: pd.Series) -> bool:
    dtype = labels.dtype
    return (
        pd.api.types.is_numeric_dtype(dtype)
        and not pd.api.types.is_bool_dtype(dtype)
        and not isinstance(dtype, pd.CategoricalDtype)
    )


def _is_zero_one(labels: pd.Series) -> bool:
    return bool(labels.dropna().isin([0, 1]).all())


def _encode_target(labels: pd.Series, task: Task, label_key: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Return the target as numbers, plus the two classes (negative, positive) for classification."""
    if task == REGRESSION:
        return labels.to_numpy(dtype=np.float64), None
    check_two_classes(labels, what=f"labels in `adata.obs[{label_key!r}]`")
    classes = _ordered_classes(labels, label_key)
    return (labels == classes[1]).to_numpy(dtype=np.int64), classes


def _ordered_classes(labels: pd.Series, label_key: str) -> np.ndarray:
    """Order the two classes as (negative, positive): sensitive, True or 1 is positive when present."""
    present = list(pd.unique(labels))
    if len(present) > 2:
        raise ValueError(
            f"`adata.obs[{label_key!r}]` holds {len(present)} classes ({preview(present, 5)}); the baselines "
            "are binary. Keep two classes, e.g. sensitive / resistant from `sctl.pp.binarize_response`."
        )
    if isinstance(labels.dtype, pd.CategoricalDtype):
        order = [c for c in labels.cat.categories if c in present]
    else:
        order = sorted(present, key=str)
    positives = [c for c in order if _is_positive(c)]
    if len(positives) == 1:
        return np.array([next(c for c in order if c != positives[0]), positives[0]], dtype=object)
    if RESISTANT in order:
        return np.array([RESISTANT, next(c for c in order if c != RESISTANT)], dtype=object)
    return np.array(order, dtype=object)


def _is_positive(label: object) -> bool:
    """Return whether a label names the positive class: ``"sensitive"``, ``True`` or ``1``."""
    return label == SENSITIVE if isinstance(label, str) else bool(label == 1)
