"""Input checks shared by :mod:`sctl.pp`, :mod:`sctl.tl` and :mod:`sctl.models`.

Every check raises an error that says what is wrong and how to fix it. Nothing here modifies its input.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
from anndata import AnnData
from scipy import sparse


def check_anndata(adata: object, name: str = "adata") -> AnnData:
    """Raise a :class:`TypeError` unless ``adata`` is an :class:`~anndata.AnnData`."""
    if not isinstance(adata, AnnData):
        raise TypeError(
            f"`{name}` must be an AnnData, got {type(adata).__name__}. "
            "Build one with `anndata.AnnData(X, obs=..., var=...)` or read one with `scanpy.read_h5ad`."
        )
    return adata


def closest(name: str, choices: Iterable[str], n: int = 3) -> str:
    """Return a ``" Did you mean ...?"`` hint naming the closest choices, or ``""``."""
    matches = difflib.get_close_matches(str(name), [str(c) for c in choices], n=n, cutoff=0.6)
    return f" Did you mean {', '.join(repr(m) for m in matches)}?" if matches else ""


def preview(values: Sequence | Iterable, n: int = 10) -> str:
    """Return the first ``n`` values as a readable comma-separated string."""
    values = list(values)
    head = ", ".join(repr(str(v)) for v in values[:n])
    return head + (f", ... ({len(values)} in all)" if len(values) > n else "")


def get_matrix(adata: AnnData, layer: str | None = None) -> np.ndarray | sparse.spmatrix:
    """Return ``adata.X`` or ``adata.layers[layer]``, naming the available layers when ``layer`` is missing."""
    if layer is None:
        if adata.X is None:
            raise ValueError("`adata.X` is empty. Pass `layer=` to name the layer that holds the expression values.")
        return adata.X
    if layer not in adata.layers:
        available = preview(adata.layers.keys()) or "none"
        raise KeyError(
            f"Layer {layer!r} not found in `adata.layers` (available: {available}).{closest(layer, adata.layers)} "
            "Pass `layer=None` to use `adata.X`."
        )
    return adata.layers[layer]


def to_dense(X: np.ndarray | sparse.spmatrix, dtype: type = np.float32) -> np.ndarray:
    """Return ``X`` as a dense array of ``dtype`` (a copy when it is sparse or of another dtype)."""
    X = X.toarray() if sparse.issparse(X) else np.asarray(X)
    return X.astype(dtype, copy=False)


def check_finite(
    X: np.ndarray | sparse.spmatrix,
    what: str = "`adata.X`",
    *,
    first_row: int = 0,
    obs_names: Sequence | None = None,
    var_names: Sequence | None = None,
) -> None:
    """Raise a :class:`ValueError` when ``X`` holds NaN or infinite values, with their count and a fix.

    For a matrix (observations x genes) the message also gives the number of observations and genes affected
    and where the first bad value is: its observation and gene names when ``obs_names`` and ``var_names`` are
    given, else its row (``first_row`` is the row of ``X[0]`` in the whole matrix, when ``X`` is a chunk of it).
    """
    values = X.data if sparse.issparse(X) else np.asarray(X)
    if not np.issubdtype(values.dtype, np.number):
        raise TypeError(f"{what} must be numeric, got dtype {values.dtype}.")
    bad = ~np.isfinite(values)
    if bad.any():
        n_nan = int(np.isnan(values).sum())
        where = ""
        if sparse.issparse(X) or values.ndim == 2:  # observations x genes: how many of each, and the first
            coo = sparse.coo_matrix(X) if sparse.issparse(X) else None
            rows, columns = (coo.row[bad], coo.col[bad]) if coo is not None else np.nonzero(bad)
            first = np.lexsort((columns, rows))[0]
            row, column = int(rows[first]), int(columns[first])
            position = (
                f"observation {str(obs_names[row])!r}, gene {str(var_names[column])!r}"
                if obs_names is not None and var_names is not None
                else f"row {first_row + row}"
            )
            where = (
                f", in {len(np.unique(rows))} observation(s) and {len(np.unique(columns))} gene(s) "
                f"(the first: {position})"
            )
        raise ValueError(
            f"{what} contains {n_nan} NaN and {int(bad.sum()) - n_nan} infinite values{where}. "
            "Impute or drop them first, e.g. drop the affected genes with "
            "`adata = adata[:, np.isfinite(adata.X).all(axis=0)].copy()`."
        )


def float_dtype(X: np.ndarray | sparse.spmatrix) -> type:
    """The float type to compute on ``X`` in without losing precision: float32 only for float32 (or smaller) input.

    Integers (e.g. counts near the int32 limit, where float32 keeps only 24 bits and nearby values collapse) and
    float64 values (possibly beyond float32's range, ~3.4e38) are computed in float64.
    """
    dtype = np.dtype(X.dtype)
    return np.float32 if dtype.kind == "f" and dtype.itemsize <= 4 else np.float64


def check_unique_var_names(adata: AnnData, name: str = "adata") -> None:
    """Raise a :class:`ValueError` naming the duplicated genes when ``adata.var_names`` are not unique."""
    if not adata.var_names.is_unique:
        duplicated = adata.var_names[adata.var_names.duplicated()].unique()
        raise ValueError(
            f"`{name}.var_names` are not unique: {len(duplicated)} duplicated gene names (e.g. "
            f"{preview(duplicated, 5)}), so genes cannot be matched by name. Make them unique first with "
            f"`{name}.var_names_make_unique()`, or aggregate the duplicates."
        )


def constant_rows(X: np.ndarray | sparse.spmatrix) -> np.ndarray:
    """Indices of the rows of ``X`` whose values are all equal (e.g. all-zero cells)."""
    if X.shape[1] == 0:
        return np.arange(X.shape[0])
    if sparse.issparse(X):  # max / min over the implicit zeros too
        X = sparse.csr_matrix(X)
        upper, lower = X.max(axis=1).toarray().ravel(), X.min(axis=1).toarray().ravel()
        return np.flatnonzero(upper == lower)
    return np.flatnonzero(np.ptp(np.asarray(X), axis=1) == 0)


def drop_unused_categories(adata: AnnData, keys: Iterable[str | None]) -> None:
    """Remove the unused levels of categorical ``adata.obs`` columns in place, so that no empty class is registered.

    A level without observations (left by subsetting, or added by hand) would otherwise become a class of its own:
    a drug a model accepts although it never saw it.
    """
    for key in keys:
        if key is None or key not in adata.obs.columns:
            continue
        column = adata.obs[key]
        if isinstance(column.dtype, pd.CategoricalDtype) and len(column.cat.categories) > column.nunique():
            adata.obs[key] = column.cat.remove_unused_categories()


def check_obs_key(adata: AnnData, key: str, hint: str = "") -> pd.Series:
    """Return ``adata.obs[key]``, raising a :class:`KeyError` that names the columns when it is missing."""
    if key not in adata.obs.columns:
        raise KeyError(
            f"Column {key!r} not found in `adata.obs`.{closest(key, adata.obs.columns)} "
            f"Available columns: {preview(adata.obs.columns) or 'none'}. {hint}".rstrip()
        )
    return adata.obs[key]


def check_response(adata: AnnData, key: str) -> pd.DataFrame:
    """Return the response matrix ``adata.obsm[key]`` (cell lines x drugs) as a DataFrame."""
    if key not in adata.obsm:
        raise KeyError(
            f"No response matrix `adata.obsm[{key!r}]` (available: {preview(adata.obsm.keys()) or 'none'}). "
            "Load one with `sctl.datasets.read_gdsc_response` or `sctl.datasets.gdsc()`."
        )
    response = adata.obsm[key]
    if not isinstance(response, pd.DataFrame):
        raise TypeError(
            f"`adata.obsm[{key!r}]` must be a DataFrame with drug names as columns, got {type(response).__name__}."
        )
    return response


def check_drug(adata: AnnData, drug: str, key: str = "ln_ic50") -> pd.Series:
    """Return the response of every cell line to ``drug``; name the known drugs when it is not in the table."""
    response = check_response(adata, key)
    if drug not in response.columns:
        raise KeyError(
            f"Drug {drug!r} is not in the response table `adata.obsm[{key!r}]`.{closest(drug, response.columns)} "
            f"Known drugs ({response.shape[1]}): {preview(sorted(response.columns))}."
        )
    return response[drug]


def check_two_classes(labels: Sequence | np.ndarray | pd.Series, what: str = "labels") -> None:
    """Raise a :class:`ValueError` when ``labels`` (NaN ignored) hold fewer than two classes."""
    labels = pd.Series(labels).dropna()
    classes = labels.unique()
    if len(classes) < 2:
        found = f"only {classes[0]!r} ({len(labels)} samples)" if len(classes) else "no labelled samples"
        raise ValueError(
            f"The {what} need two classes to train a classifier, found {found}. "
            "Use another label rule (e.g. `sctl.pp.binarize_response(..., method='median')`) or more samples."
        )


def check_var_names(adata: AnnData, var_names: Sequence[str] | pd.Index, what: str = "the model") -> None:
    """Raise a :class:`ValueError` unless ``adata`` has every gene of ``var_names``."""
    missing = pd.Index(var_names).difference(adata.var_names)
    if len(missing):
        raise ValueError(
            f"`adata` lacks {len(missing)} of the {len(var_names)} genes {what} was trained on "
            f"(e.g. {preview(missing, 5)}). Align the genes first with `sctl.pp.align_genes(reference, adata)`."
        )


def is_mudata(data: object) -> bool:
    """Return whether ``data`` is a :class:`~mudata.MuData` (without importing mudata when it is not loaded)."""
    import sys

    mudata = sys.modules.get("mudata")
    return mudata is not None and isinstance(data, mudata.MuData)


def resolve_modality(data: object, mod: str | None = None, name: str = "adata", mod_name: str = "mod") -> AnnData:
    """Return the AnnData to work on: ``data`` itself, or its modality ``mod`` when ``data`` is a MuData.

    Parameters
    ----------
    data
        An :class:`~anndata.AnnData` or a :class:`~mudata.MuData`.
    mod
        Modality of the MuData to use. May be omitted when the MuData has a single modality; must be omitted
        (``None``) for an AnnData.
    name, mod_name
        Names of the two arguments in the caller, used in the error messages.

    Returns
    -------
    The AnnData itself, or ``data.mod[mod]`` (a view into the MuData, not a copy: writing to it writes to the
    MuData).
    """
    if not is_mudata(data):
        if mod is not None:
            raise TypeError(
                f"`{mod_name}={mod!r}` names a modality, but `{name}` is a {type(data).__name__}, not a MuData. "
                f"Pass `{mod_name}=None` with an AnnData."
            )
        return check_anndata(data, name)
    modalities = list(data.mod.keys())
    if mod is None:
        if len(modalities) != 1:
            raise ValueError(
                f"`{name}` is a MuData with {len(modalities)} modalities ({preview(modalities) or 'none'}): "
                f"name the one to use with `{mod_name}=...`."
            )
        mod = modalities[0]
    if mod not in data.mod:
        raise KeyError(
            f"Modality {mod!r} not found in `{name}`.{closest(mod, modalities)} "
            f"Available modalities: {preview(modalities) or 'none'}."
        )
    return data.mod[mod]


def pull_obs_columns(mdata: object, modality: AnnData, columns: Sequence[str]) -> None:
    """Copy ``columns`` of a modality's ``obs`` to ``mdata.obs`` as ``"{mod}:{column}"`` (``MuData.pull_obs``).

    Only these columns are pulled, so ``mdata.obs`` is the same whatever mudata's ``pull_on_update`` option.
    """
    if not columns:
        return
    mod = next(name for name, value in mdata.mod.items() if value is modality)
    mdata.pull_obs(columns=list(columns), mods=[mod])
