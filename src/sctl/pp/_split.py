"""Leakage-free cross-validation folds over (cell line, drug) pairs or labelled observations."""

from __future__ import annotations

import logging
import numbers
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
from anndata import AnnData

from sctl._constants import SPLIT_KEY
from sctl._docs import doc_params
from sctl._validate import check_anndata, check_obs_key, check_response, check_two_classes, preview

logger = logging.getLogger(__name__)

PAIR_SCHEMES = ("mixed", "cell_blind", "drug_blind", "disjoint", "tissue_blind")
SCHEMES = (*PAIR_SCHEMES, "stratified")


@doc_params()
def split(
    adata: AnnData,
    scheme: str = "mixed",
    *,
    n_folds: int = 5,
    seed: int = 0,
    key: str = "ln_ic50",
    label_key: str | None = None,
    tissue_key: str = "tissue",
    key_added: str = SPLIT_KEY,
    copy: bool = False,
) -> AnnData | None:
    """Assign cross-validation folds so that nothing leaks from training to test data.

    Pair schemes split the tested (cell line, drug) pairs of ``adata.obsm[key]``:

    ``"mixed"``
        pairs at random: a line and a drug may be seen in training, only the pair is new;
    ``"cell_blind"``
        whole cell lines: no line appears in two folds (new patients);
    ``"drug_blind"``
        whole drugs: no drug appears in two folds (new compounds);
    ``"disjoint"``
        lines and drugs are each assigned to a fold, and a pair belongs to fold ``f`` only when both its line
        and its drug are in ``f``. The other pairs get fold ``-1``: they are never tested, but
        :func:`sctl.pp.iter_folds` uses them for training whenever neither their line nor their drug is in the
        test fold. About ``1 / n_folds`` of the pairs are tested;
    ``"tissue_blind"``
        whole tissues (``adata.obs[tissue_key]``): no tissue appears in two folds.

    ``"stratified"`` splits the labelled observations of a single-drug task (e.g. from
    :func:`sctl.pp.binarize_response`) with the class proportions kept in every fold
    (:class:`sklearn.model_selection.StratifiedKFold`).

    Groups (lines, drugs, tissues) are taken in a random order and each is put into the fold with the fewest
    pairs so far, so folds are of similar size. The same ``seed`` gives the same folds.

    Parameters
    ----------
    adata
        Bulk AnnData of cell lines with the response table ``adata.obsm[key]`` (cell lines x drugs, NaN =
        untested); for ``"stratified"``, any AnnData with labels in ``adata.obs[label_key]``.
    scheme
        One of ``"mixed"``, ``"cell_blind"``, ``"drug_blind"``, ``"disjoint"``, ``"tissue_blind"``,
        ``"stratified"``.
    n_folds
        Number of folds, at least 2 and at most the number of groups.
    seed
        Random seed.
    key
        Response table of the pair schemes: ``"ln_ic50"`` or ``"auc"``.
    label_key
        Column of ``adata.obs`` with the class labels; required by ``"stratified"``, ignored otherwise.
    tissue_key
        Column of ``adata.obs`` with the tissue of each line, for ``"tissue_blind"``.
    key_added
        Where the folds go, see Returns.
    {copy}

    {returns_copy}
    Sets ``adata.uns[key_added]["params"]`` (scheme, n_folds, seed, key, label_key, tissue_key) and
    ``["fold_sizes"]`` (number of test pairs or observations per fold), and

    pair schemes: ``adata.uns[key_added]["pairs"]``
        a DataFrame with one row per tested pair: ``cell_line``, ``drug``, ``<key>`` (the response) and
        ``fold`` (0 to ``n_folds - 1``; ``-1`` for pairs never tested under ``"disjoint"``, which also adds
        the folds of the line and of the drug, ``line_fold`` and ``drug_fold``);
    ``"stratified"``: ``adata.obs[key_added]``
        the fold of each observation, ``-1`` for unlabelled ones.

    Iterate over the folds with :func:`sctl.pp.iter_folds`.

    Examples
    --------
    >>> import sctl
    >>> bulk = sctl.datasets.gdsc()
    >>> sctl.pp.split(bulk, "cell_blind", n_folds=5, seed=0)
    >>> for train, test in sctl.pp.iter_folds(bulk):
    ...     pairs = bulk.uns["sctl_split"]["pairs"]
    ...     train_pairs, test_pairs = pairs.iloc[train], pairs.iloc[test]
    """
    check_anndata(adata)
    if scheme not in SCHEMES:
        raise ValueError(f"Unknown split scheme {scheme!r}; choose one of {', '.join(map(repr, SCHEMES))}.")
    if isinstance(n_folds, bool) or not isinstance(n_folds, numbers.Integral) or n_folds < 2:
        raise ValueError(f"`n_folds` must be an integer of at least 2, got {n_folds!r}.")
    n_folds = int(n_folds)
    params: dict[str, Any] = {
        "scheme": scheme,
        "n_folds": n_folds,
        "seed": seed,
        "key": key,
        "label_key": label_key,
        "tissue_key": tissue_key,
    }
    rng = np.random.default_rng(seed)

    if scheme == "stratified":
        folds = _stratified_folds(adata, label_key, n_folds, seed)
        adata = adata.copy() if copy else adata
        adata.obs[key_added] = folds
        adata.uns[key_added] = {"params": params, "fold_sizes": _fold_sizes(folds, n_folds)}
        return adata if copy else None

    if label_key is not None:
        warnings.warn(
            f"`label_key` is used only by scheme='stratified' and is ignored by scheme={scheme!r}.",
            UserWarning,
            stacklevel=2,
        )
    pairs = _pairs(check_response(adata, key), key)
    if pairs.empty:
        raise ValueError(f"`adata.obsm[{key!r}]` holds no tested pair (every value is NaN); nothing to split.")
    entry = _assign_pairs(adata, pairs, scheme, n_folds, rng, tissue_key)
    adata = adata.copy() if copy else adata
    adata.uns[key_added] = {"params": params, **entry}
    return adata if copy else None


def iter_folds(adata: AnnData, key_added: str = SPLIT_KEY) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield the ``(train, test)`` positions of each fold written by :func:`sctl.pp.split`.

    For pair schemes the positions index the rows of ``adata.uns[key_added]["pairs"]`` (use ``.iloc``); for
    ``"stratified"`` they index the observations of ``adata``. Training never shares a cell line
    (``"cell_blind"``), a drug (``"drug_blind"``), a tissue (``"tissue_blind"``), or either (``"disjoint"``)
    with the test fold; unlabelled observations (fold ``-1``) are in neither set.

    Parameters
    ----------
    adata
        AnnData split by :func:`sctl.pp.split`.
    key_added
        The ``key_added`` given to :func:`sctl.pp.split`.

    Yields
    ------
    ``(train, test)``: sorted integer arrays of positions, one pair per fold, in fold order.

    Examples
    --------
    >>> import sctl
    >>> bulk = sctl.datasets.gdsc()
    >>> sctl.pp.split(bulk, "drug_blind", n_folds=3)
    >>> [len(test) for _, test in sctl.pp.iter_folds(bulk)]  # doctest: +SKIP
    """
    check_anndata(adata)
    entry = adata.uns.get(key_added)
    if not isinstance(entry, dict) or "params" not in entry:
        raise KeyError(
            f"No folds found in `adata.uns[{key_added!r}]`. Assign them first with `sctl.pp.split(adata, "
            "...)`" + ("" if key_added == SPLIT_KEY else f" and `key_added={key_added!r}`") + "."
        )
    scheme, n_folds = entry["params"]["scheme"], int(entry["params"]["n_folds"])
    if scheme == "stratified":
        folds = check_obs_key(adata, key_added).to_numpy()
        for fold in range(n_folds):
            yield np.flatnonzero((folds >= 0) & (folds != fold)), np.flatnonzero(folds == fold)
        return
    pairs = entry["pairs"]
    for fold in range(n_folds):
        if scheme == "disjoint":
            line_fold, drug_fold = pairs["line_fold"].to_numpy(), pairs["drug_fold"].to_numpy()
            test = (line_fold == fold) & (drug_fold == fold)
            train = (line_fold != fold) & (drug_fold != fold)
        else:
            test = pairs["fold"].to_numpy() == fold
            train = ~test
        yield np.flatnonzero(train), np.flatnonzero(test)


def _pairs(response: pd.DataFrame, key: str) -> pd.DataFrame:
    values = response.to_numpy(dtype=np.float64, na_value=np.nan)
    rows, cols = np.nonzero(~np.isnan(values))
    return pd.DataFrame(
        {
            "cell_line": response.index.astype(str)[rows],
            "drug": response.columns.astype(str)[cols],
            key: values[rows, cols],
        }
    )


def _assign_pairs(
    adata: AnnData, pairs: pd.DataFrame, scheme: str, n_folds: int, rng: np.random.Generator, tissue_key: str
) -> dict[str, Any]:
    if scheme == "mixed":
        _check_enough(len(pairs), n_folds, "tested pairs")
        order = rng.permutation(len(pairs))
        fold = np.empty(len(pairs), dtype=np.int64)
        fold[order] = np.arange(len(pairs)) % n_folds
        pairs["fold"] = fold
    elif scheme == "cell_blind":
        pairs["fold"] = _group_folds(pairs["cell_line"].to_numpy(), n_folds, rng, "cell lines")
    elif scheme == "drug_blind":
        pairs["fold"] = _group_folds(pairs["drug"].to_numpy(), n_folds, rng, "drugs")
    elif scheme == "tissue_blind":
        pairs["fold"] = _group_folds(_pair_tissues(adata, pairs, tissue_key), n_folds, rng, "tissues")
    else:
        return _disjoint(pairs, n_folds, rng)
    return {"pairs": pairs, "fold_sizes": _fold_sizes(pairs["fold"].to_numpy(), n_folds)}


def _disjoint(pairs: pd.DataFrame, n_folds: int, rng: np.random.Generator) -> dict[str, Any]:
    line_fold = _group_folds(pairs["cell_line"].to_numpy(), n_folds, rng, "cell lines")
    drug_fold = _group_folds(pairs["drug"].to_numpy(), n_folds, rng, "drugs")
    pairs["fold"] = np.where(line_fold == drug_fold, line_fold, -1)
    pairs["line_fold"] = line_fold
    pairs["drug_fold"] = drug_fold
    n_excluded = int((pairs["fold"] == -1).sum())
    logger.warning(
        "split(scheme='disjoint'): %d of %d pairs (%.0f %%) pair a line and a drug of different folds; "
        "they get fold -1, are never tested, and train the folds that hold neither their line nor their "
        "drug.",
        n_excluded,
        len(pairs),
        100 * n_excluded / len(pairs),
    )
    return {
        "pairs": pairs,
        "fold_sizes": _fold_sizes(pairs["fold"].to_numpy(), n_folds),
        "n_excluded": n_excluded,
    }


def _group_folds(groups: np.ndarray, n_folds: int, rng: np.random.Generator, what: str) -> np.ndarray:
    """Fold of each pair: groups in random order, each into the fold with the fewest pairs so far."""
    names, codes, sizes = np.unique(groups, return_inverse=True, return_counts=True)
    _check_enough(len(names), n_folds, what)
    group_fold = np.empty(len(names), dtype=np.int64)
    load = np.zeros(n_folds, dtype=np.int64)
    for group in rng.permutation(len(names)):
        target = int(np.argmin(load))
        group_fold[group] = target
        load[target] += sizes[group]
    return group_fold[codes]


def _pair_tissues(adata: AnnData, pairs: pd.DataFrame, tissue_key: str) -> np.ndarray:
    tissue = check_obs_key(adata, tissue_key, hint="Pass `tissue_key=` naming the column with each line's tissue.")
    tissue = pd.Series(tissue.to_numpy(), index=adata.obs_names.astype(str))
    per_pair = tissue.reindex(pairs["cell_line"]).to_numpy()
    missing = pd.isna(per_pair)
    if missing.any():
        lines = pairs.loc[missing, "cell_line"].unique()
        raise ValueError(
            f"{len(lines)} tested cell lines have no tissue in `adata.obs[{tissue_key!r}]` (e.g. "
            f"{preview(lines, 5)}). Fill them, e.g. with 'unknown', or drop those lines before splitting."
        )
    return per_pair.astype(str)


def _stratified_folds(adata: AnnData, label_key: str | None, n_folds: int, seed: int) -> np.ndarray:
    from sklearn.model_selection import StratifiedKFold

    if label_key is None:
        raise ValueError(
            "scheme='stratified' needs `label_key=`, the column of `adata.obs` with the class labels, e.g. "
            "'sctl_label' from `sctl.pp.binarize_response`."
        )
    labels = check_obs_key(adata, label_key, hint="Create labels first, e.g. with `sctl.pp.binarize_response`.")
    check_two_classes(labels, what=f"labels in `adata.obs[{label_key!r}]`")
    labelled = np.flatnonzero(labels.notna().to_numpy())
    y = labels.iloc[labelled].astype(str).to_numpy()
    counts = pd.Series(y).value_counts()
    if counts.min() < n_folds:
        raise ValueError(
            f"n_folds={n_folds} is more than the {counts.min()} observations of class {counts.idxmin()!r}, "
            f"so some folds would have none. Lower `n_folds` to at most {counts.min()} or label more "
            "observations."
        )
    folds = np.full(adata.n_obs, -1, dtype=np.int64)
    splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    for fold, (_, test) in enumerate(splitter.split(np.zeros((len(y), 1)), y)):
        folds[labelled[test]] = fold
    return folds


def _check_enough(n_groups: int, n_folds: int, what: str) -> None:
    if n_folds > n_groups:
        raise ValueError(
            f"n_folds={n_folds} is more than the {n_groups} {what} available to split, so some folds would "
            f"be empty. Lower `n_folds` to at most {n_groups}."
        )


def _fold_sizes(folds: np.ndarray, n_folds: int) -> list[int]:
    return [int((folds == fold).sum()) for fold in range(n_folds)]
