"""Conversions and checks shared by the metric functions."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from sctl._constants import RESISTANT, SENSITIVE

ArrayLike = Sequence | np.ndarray | pd.Series | pd.Categorical


def as_float(values: ArrayLike, name: str) -> np.ndarray:
    """Return ``values`` as a 1-D float array, raising when they are not numeric or hold NaN / inf."""
    try:
        array = np.asarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as error:
        raise TypeError(f"`{name}` must be numeric, got values such as {list(values)[:3]!r}.") from error
    _check_finite(array, name)
    return array


def as_float_2d(values: ArrayLike, name: str) -> np.ndarray:
    """Return ``values`` as a 2-D float array (samples x genes); 1-D input becomes one row."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2:
        raise ValueError(f"`{name}` must be a samples x genes matrix, got an array of shape {array.shape}.")
    _check_finite(array, name)
    return array


def _check_finite(array: np.ndarray, name: str) -> None:
    bad = ~np.isfinite(array)
    if bad.any():
        raise ValueError(
            f"`{name}` holds {int(bad.sum())} NaN or infinite values. "
            "Drop those samples first (metrics are only defined on finite values)."
        )


def check_same_length(a: np.ndarray, b: np.ndarray, names: tuple[str, str]) -> None:
    """Raise a :class:`ValueError` when two 1-D arrays differ in length."""
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"`{names[0]}` has {a.shape[0]} values but `{names[1]}` has {b.shape[0]}; pair them up.")


def check_same_shape(a: np.ndarray, b: np.ndarray, names: tuple[str, str]) -> None:
    """Raise a :class:`ValueError` when two arrays differ in shape."""
    if a.shape != b.shape:
        raise ValueError(
            f"`{names[0]}` has shape {a.shape} but `{names[1]}` has shape {b.shape}; "
            "both must be samples x genes in the same order."
        )


def is_label_like(values: ArrayLike) -> bool:
    """Return whether ``values`` are labels (bool, strings or categorical) rather than numbers."""
    if isinstance(values, pd.Categorical | pd.Series) and isinstance(values.dtype, pd.CategoricalDtype):
        return True
    array = np.asarray(values)
    return array.dtype == bool or array.dtype.kind in "OUS"


def as_binary(values: ArrayLike, name: str) -> np.ndarray:
    """Return labels as a 0/1 integer array with 1 = sensitive.

    Accepts 0/1 numbers, booleans, or the strings ``"sensitive"`` / ``"resistant"`` (plain or categorical).
    """
    if is_label_like(values):
        series = pd.Series(np.asarray(values, dtype=object))
        if series.isna().any():
            raise ValueError(
                f"`{name}` holds {int(series.isna().sum())} missing labels. Keep the labelled samples only, "
                'e.g. `mask = adata.obs["sctl_label"].notna()`.'
            )
        if all(isinstance(v, bool | np.bool_) for v in series):
            return series.to_numpy(dtype=np.int64)
        text = series.astype(str)
        unknown = sorted(set(text) - {SENSITIVE, RESISTANT})
        if unknown:
            raise ValueError(
                f"`{name}` must hold {SENSITIVE!r} / {RESISTANT!r}, booleans or 0 / 1, found {unknown[:5]}."
            )
        return (text == SENSITIVE).to_numpy(dtype=np.int64)
    array = as_float(values, name)
    if not np.isin(array, (0.0, 1.0)).all():
        raise ValueError(
            f"`{name}` must hold 0 / 1 (1 = sensitive), booleans or {SENSITIVE!r} / {RESISTANT!r}, "
            f"found values such as {np.unique(array[~np.isin(array, (0.0, 1.0))])[:5].tolist()}."
        )
    return array.astype(np.int64)
