"""The data of :func:`sctl.tl.evaluate_response`: inputs prepared once per call, and the tidy tables of scores."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from anndata import AnnData

from sctl import pp
from sctl._constants import LABEL_KEY, RESISTANT, RESPONSE_CATEGORIES, SENSITIVE
from sctl._stream import zscore_rows
from sctl._validate import check_drug, check_obs_key, float_dtype, get_matrix, preview, to_dense
from sctl.metrics import classification_report

#: metrics of every setting, in the order of the tables (the keys of :func:`sctl.metrics.classification_report`)
METRICS = ("precision", "recall", "f1", "auroc", "ap", "accuracy")


@dataclass(frozen=True)
class EvaluationData:
    """What every method of :func:`sctl.tl.evaluate_response` learns from and scores, prepared once per call.

    Attributes
    ----------
    lines
        Every reference line: profiles z-scored across the genes (those shared with the cells, when cells are given)
        when ``standardize_rows``, then every gene z-scored over all lines (label-free); each line's label in
        ``obs["sctl_label"]`` (NaN: left unlabelled by the rule) and the response table in ``obsm[key]``.
    labelled
        The labelled lines of ``lines``: those the bulk folds split, train on and score.
    bulk
        The reference as given (its genes shared with the cells, when cells are given and ``standardize_rows``).
    cells
        The cells' expression, z-scored profile by profile across the reference's genes when ``standardize_rows``;
        ``None`` without cells.
    raw_cells
        The cells' expression as given (read from ``layer`` into ``X``), for the methods that standardise cells
        themselves; ``None`` without cells.
    """

    lines: AnnData
    labelled: AnnData
    bulk: AnnData
    cells: AnnData | None = None
    raw_cells: AnnData | None = None


def evaluation_data(
    adata: AnnData,
    reference: AnnData | None,
    drug: str,
    *,
    key: str,
    label_rule: dict[str, Any],
    layers: tuple[str | None, str | None],
    min_shared: float | int,
    standardize_rows: bool,
    min_per_class: int,
) -> EvaluationData:
    """The reference lines standardised and labelled once, and the cells when ``reference`` is given.

    With ``reference=None``, ``adata`` is the bulk reference (read from ``layers[0]``).
    """
    layer, reference_layer = layers
    bulk, bulk_layer = (adata, layer) if reference is None else (reference, reference_layer)
    if reference is not None and standardize_rows:  # profiles are z-scored over the genes the cells share
        bulk = pp.align_genes(bulk, adata, min_shared=min_shared)[0]
    lines = _standardized_lines(bulk, drug, key, label_rule, bulk_layer, min_per_class, standardize_rows)
    labelled = lines[lines.obs[LABEL_KEY].notna().to_numpy()].copy()
    if reference is None:
        return EvaluationData(lines, labelled, bulk)
    cells = _light(adata, layer, labelled.var_names, standardize_rows)
    return EvaluationData(lines, labelled, bulk, cells, _light(adata, layer, bulk.var_names, standardize_rows=False))


def _standardized_lines(
    bulk: AnnData,
    drug: str,
    key: str,
    label_rule: dict[str, Any],
    layer: str | None,
    min_per_class: int,
    standardize_rows: bool,
) -> AnnData:
    """Every line, z-scored gene by gene over all lines, labels in ``obs["sctl_label"]``, the table in ``obsm``."""
    from sctl.models._transfer._data import MIN_PER_CLASS, _check_enough_labels

    X = get_matrix(bulk, layer)
    X = zscore_rows(to_dense(X, float_dtype(X))) if standardize_rows else X.copy()
    work = AnnData(X, obs=pd.DataFrame(index=bulk.obs_names.copy()), var=pd.DataFrame(index=bulk.var_names))
    if key in bulk.obsm:
        work.obsm[key] = bulk.obsm[key]
    pp.binarize_response(work, drug, key=key, **label_rule)
    counts = work.obs[LABEL_KEY].value_counts()
    fewest = min(int(counts.get(c, 0)) for c in RESPONSE_CATEGORIES)
    needed = max(min_per_class, MIN_PER_CLASS)
    if fewest < needed:
        raise ValueError(
            f"Drug {drug!r} leaves too few labelled lines to evaluate ({counts.to_dict()}; each class needs at "
            f"least {needed}: {MIN_PER_CLASS} for any method, one per fold). Lower `n_folds`, widen the rule "
            "(`k=0.5` or `label_method='median'`) or choose a drug tested on more lines."
        )
    _check_enough_labels(work.obs[LABEL_KEY], drug, needed, response=check_drug(work, drug, key))
    pp.standardize(work)
    return work


def _light(adata: AnnData, layer: str | None, genes: pd.Index, standardize_rows: bool) -> AnnData:
    """Expression and names of ``adata`` only, so that nothing of the user's AnnData is copied or touched.

    With ``standardize_rows``: restricted to the reference's ``genes`` and z-scored profile by profile across them.
    """
    light = AnnData(
        get_matrix(adata, layer), obs=pd.DataFrame(index=adata.obs_names), var=pd.DataFrame(index=adata.var_names)
    )
    if not standardize_rows:
        return light
    light = light[:, light.var_names.isin(genes)]
    light = light[:, genes[genes.isin(light.var_names)]]
    return AnnData(zscore_rows(to_dense(light.X, float_dtype(light.X))), obs=light.obs.copy(), var=light.var.copy())


def cell_truth(adata: AnnData, truth_key: str) -> pd.Series:
    """The cells' known labels as 1.0 (sensitive), 0.0 (resistant) or NaN (unknown)."""
    values = check_obs_key(adata, truth_key, hint="Pass `truth_key=` naming the cells' known labels.")
    text = values.astype(object)
    known = text.dropna()
    if known.isin(RESPONSE_CATEGORIES).all():
        numeric = text.map({SENSITIVE: 1.0, RESISTANT: 0.0})
    elif known.map(lambda v: v in (0, 1)).all():  # 0 / 1 and booleans
        numeric = text.map(lambda v: np.nan if pd.isna(v) else float(v))
    else:
        raise ValueError(
            f"`adata.obs[{truth_key!r}]` must hold 'sensitive' / 'resistant', 0 / 1 or booleans (NaN = unknown); "
            f"found e.g. {preview(known.unique(), 5)}."
        )
    numeric = numeric.astype(np.float64)
    if numeric.dropna().nunique() < 2:
        raise ValueError(f"`adata.obs[{truth_key!r}]` needs both sensitive and resistant cells to score a transfer.")
    return numeric


def cell_folds(truth: pd.Series, n_folds: int) -> AnnData:
    """The cells' names and labels (NaN = unknown), to be split into stratified folds by :func:`sctl.pp.split`."""
    labels = truth.map({1.0: SENSITIVE, 0.0: RESISTANT})
    counts = labels.value_counts()
    fewest = min(int(counts.get(c, 0)) for c in RESPONSE_CATEGORIES)
    if isinstance(n_folds, bool) or not isinstance(n_folds, int | np.integer) or n_folds < 2 or fewest < n_folds:
        raise ValueError(
            f"protocol='cells_cv' needs an integer `n_folds` of at least 2 and no more than the labelled cells of "
            f"each class ({counts.to_dict()}); got n_folds={n_folds!r}. Lower `n_folds` or label more cells."
        )
    return AnnData(obs=pd.DataFrame({LABEL_KEY: labels.to_numpy(dtype=object)}, index=truth.index.copy()))


def score(
    truth: np.ndarray,
    proba: np.ndarray,
    setting: str,
    method: str,
    seed: int,
    fold: int,
    names: pd.Index,
    threshold: float,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The metrics of one fold (or transfer) as raw scores, and its predictions."""
    report = classification_report(truth, proba, threshold=threshold)
    scores = pd.DataFrame(
        {
            "setting": setting,
            "method": method,
            "seed": seed,
            "fold": fold,
            "metric": list(METRICS),
            "value": [report[m] for m in METRICS],
        }
    )
    predictions = pd.DataFrame(
        {
            "setting": setting,
            "method": method,
            "seed": seed,
            "fold": fold,
            "obs_name": np.asarray(names, dtype=str),
            "truth": truth.astype(np.int64),
            "proba": proba,
        }
    )
    return scores, predictions


def summarize(scores: pd.DataFrame) -> pd.DataFrame:
    """Mean, sample standard deviation and count of raw scores per setting, method and metric.

    Parameters
    ----------
    scores
        ``adata.uns["sctl_evaluate_response"]["scores"]`` (columns ``setting``, ``method``, ``metric``,
        ``value``).

    Returns
    -------
    Columns ``setting``, ``method``, ``metric``, ``mean``, ``std``, ``n``; methods and metrics in their first
    order of appearance.

    Examples
    --------
    >>> scores = pd.DataFrame({"setting": "bulk_cv", "method": "rf", "metric": "auroc", "value": [0.8, 0.9]})
    >>> summarize(scores)["mean"].round(2).tolist()
    [0.85]
    """
    order = {c: pd.unique(scores[c]) for c in ("setting", "method", "metric")}
    grouped = scores.groupby(["setting", "method", "metric"], sort=False)["value"]
    table = grouped.agg(mean="mean", std="std", n="count").reset_index()
    for column, values in order.items():
        table[column] = pd.Categorical(table[column], categories=values)
    table = table.sort_values(["setting", "method", "metric"]).reset_index(drop=True)
    for column in order:
        table[column] = table[column].astype(str)
    table["n"] = table["n"].astype(np.int64)
    return table
