"""Balance the classes of the labelled observations with synthetic or repeated samples."""

from __future__ import annotations

import copy as copy_module

import numpy as np
import pandas as pd
from anndata import AnnData

from sctl._constants import LABEL_KEY
from sctl._validate import check_anndata, check_finite, check_obs_key, check_two_classes, get_matrix, to_dense

METHODS = ("smote", "oversample")
BALANCE_KEY = "sctl_balance"
SYNTHETIC_KEY = "sctl_synthetic"


def balance(
    adata: AnnData,
    *,
    label_key: str = LABEL_KEY,
    method: str = "smote",
    layer: str | None = None,
    seed: int = 0,
    k_neighbors: int = 5,
) -> AnnData:
    """Return a new AnnData of the labelled observations with every class as large as the largest.

    ``"smote"`` adds synthetic observations, each between a minority observation and one of its
    ``k_neighbors`` nearest neighbours of the same class (:class:`imblearn.over_sampling.SMOTE`);
    ``"oversample"`` repeats minority observations drawn at random
    (:class:`imblearn.over_sampling.RandomOverSampler`). Balance training data only, after splitting,
    so that no synthetic observation mixes training and test samples.

    Parameters
    ----------
    adata
        Observations x genes with labels in ``adata.obs[label_key]`` (NaN = unlabelled, left out), e.g. from
        :func:`sctl.pp.binarize_response`. Not modified.
    label_key
        Column of ``adata.obs`` holding the class labels.
    method
        ``"smote"`` or ``"oversample"``.
    layer
        Layer to read the values from (``None``: ``adata.X``). It becomes ``X`` of the result.
    seed
        Random seed; the result is the same for the same seed.
    k_neighbors
        Neighbours used by SMOTE; every class needs more than ``k_neighbors`` observations.

    Returns
    -------
    A new AnnData: the labelled observations of ``adata`` (first, in their order, with their ``obs``) followed
    by the new ones, which are named ``"sctl_synthetic-0"``, ``"sctl_synthetic-1"``, ..., carry their label in
    ``obs[label_key]`` and NaN in the other columns. ``X`` is dense ``float32``; ``var`` and ``uns`` are
    copied, layers and ``obsm`` are not. ``obs["sctl_synthetic"]`` marks the new observations and
    ``uns["sctl_balance"]`` holds ``params`` and the class counts before and after.

    Examples
    --------
    >>> import sctl
    >>> bulk = sctl.datasets.gdsc()
    >>> sctl.pp.binarize_response(bulk, "Dabrafenib", method="median")
    >>> balanced = sctl.pp.balance(bulk, method="smote", seed=0)
    >>> balanced.obs["sctl_label"].value_counts()  # doctest: +SKIP
    """
    check_anndata(adata)
    if method not in METHODS:
        raise ValueError(f"Unknown balancing method {method!r}; choose one of {', '.join(map(repr, METHODS))}.")
    labels = check_obs_key(adata, label_key, hint="Create labels first, e.g. with `sctl.pp.binarize_response`.")
    labelled = labels.notna().to_numpy()
    check_two_classes(labels, what=f"labels in `adata.obs[{label_key!r}]`")
    what = "`adata.X`" if layer is None else f"`adata.layers[{layer!r}]`"
    values = get_matrix(adata, layer)[labelled]
    check_finite(values, what)
    values = to_dense(values, np.float32)
    y = labels[labelled].to_numpy()
    y = y.astype(str) if y.dtype == object else y
    before = pd.Series(y).value_counts()

    sampler = _sampler(method, seed, k_neighbors, before)
    x_res, y_res = sampler.fit_resample(values, y)
    n_new = len(y_res) - len(y)

    obs = _obs(adata.obs.loc[labelled], label_key, y_res[len(y) :], n_new)
    out = AnnData(np.asarray(x_res, dtype=np.float32), obs=obs, var=adata.var.copy())
    out.uns = copy_module.deepcopy(dict(adata.uns))
    out.uns[BALANCE_KEY] = {
        "params": {
            "label_key": label_key,
            "method": method,
            "layer": layer,
            "seed": seed,
            "k_neighbors": k_neighbors,
        },
        "counts_before": {str(c): int(n) for c, n in before.items()},
        "counts_after": {str(c): int(n) for c, n in pd.Series(y_res).value_counts().items()},
        "n_synthetic": int(n_new),
    }
    return out


def _sampler(method: str, seed: int, k_neighbors: int, counts: pd.Series):
    from imblearn.over_sampling import SMOTE, RandomOverSampler

    if method == "oversample":
        return RandomOverSampler(random_state=seed)
    if isinstance(k_neighbors, bool) or not isinstance(k_neighbors, int | np.integer) or k_neighbors < 1:
        raise ValueError(f"`k_neighbors` must be a positive integer, got {k_neighbors!r}.")
    smallest, n_smallest = counts.idxmin(), int(counts.min())
    if n_smallest <= k_neighbors:
        raise ValueError(
            f"SMOTE with k_neighbors={k_neighbors} needs more than {k_neighbors} samples per class, but "
            f"class {smallest!r} has {n_smallest}. Use `method='oversample'`, or a smaller `k_neighbors` "
            f"(at most {n_smallest - 1})."
        )
    return SMOTE(k_neighbors=k_neighbors, random_state=seed)


def _obs(obs: pd.DataFrame, label_key: str, new_labels: np.ndarray, n_new: int) -> pd.DataFrame:
    names = _unique_names(obs.index, n_new)
    new = pd.DataFrame(index=pd.Index(names, dtype=object), columns=obs.columns, dtype=object)
    new[label_key] = new_labels
    combined = pd.concat([obs.astype(object), new]) if n_new else obs.astype(object)
    for column in obs.columns:
        combined[column] = _restore_dtype(combined[column], obs[column])
    combined[SYNTHETIC_KEY] = np.r_[np.zeros(len(obs), dtype=bool), np.ones(n_new, dtype=bool)]
    combined.index = combined.index.astype(str)
    return combined


def _restore_dtype(column: pd.Series, original: pd.Series) -> pd.Series:
    if isinstance(original.dtype, pd.CategoricalDtype):
        return pd.Series(pd.Categorical(column, categories=original.cat.categories), index=column.index)
    if pd.api.types.is_numeric_dtype(original.dtype) and not pd.api.types.is_bool_dtype(original.dtype):
        return pd.to_numeric(column).astype(np.float64)
    return column


def _unique_names(existing: pd.Index, n: int) -> list[str]:
    names, i, taken = [], 0, set(existing.astype(str))
    while len(names) < n:
        name = f"{SYNTHETIC_KEY}-{i}"
        if name not in taken:
            names.append(name)
        i += 1
    return names
