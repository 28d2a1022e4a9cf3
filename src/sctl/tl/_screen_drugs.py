"""Screen every drug of a bulk reference on every cell, and rank the drugs for each group of cells."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
from anndata import AnnData
from natsort import natsorted

from sctl._constants import IN_DOMAIN_KEY, MIN_SHARED_GENES
from sctl._validate import check_anndata, check_drug, check_obs_key, check_response, preview
from sctl.tl._response_domain import check_labels, learn_within_domain
from sctl.tl._response_methods import (
    DECOMPOSED,
    DEFAULT_METHOD,
    MULTIDRUG,
    ResponseTask,
    learn_response,
    screen_decomposed,
    screen_multidrug,
    stream_decomposed,
)
from sctl.tl._response_stream import CellScan

logger = logging.getLogger(__name__)

SCREEN_KEY = "sctl_drug_screen"
#: fewest trusted (scored, in-domain) cells a group needs for its row of the table to be trusted
MIN_GROUP_CELLS = 10
#: smallest share of a group's cells inside the reference's domain for its row to be trusted
MIN_GROUP_IN_DOMAIN = 0.8


def screen_drugs(
    adata: AnnData,
    reference: AnnData,
    drugs: Sequence[str] | None = None,
    *,
    groupby: str | None = None,
    method: str = DEFAULT_METHOD,
    key: str = "ln_ic50",
    label_method: str = "extremes",
    k: float = 0.3,
    label_threshold: float | None = None,
    layer: str | None = None,
    reference_layer: str | None = None,
    batch_key: str | None = None,
    threshold: float = 0.5,
    min_shared: float | int = MIN_SHARED_GENES,
    seed: int = 0,
    model_kwargs: dict[str, Any] | None = None,
    train_kwargs: dict[str, Any] | None = None,
    key_added: str = SCREEN_KEY,
    copy: bool = False,
) -> AnnData | None:
    """Score every drug of the reference on every cell: an in-silico drug screen (sctl).

    Each drug is learnt as :func:`sctl.tl.predict_response` learns one (same steps, checks and applicability
    domain), but the cells are checked and placed in the reference's domain once, and the default method,
    ``"decomposed_ridge"`` (:class:`~sctl.models.baselines.DecomposedRidge`), fits every drug at once: a
    line's general sensitivity plus each drug's specific response. Its two parts are kept, so a sub-population
    that resists the top drug can be read as resistant in general or to that drug only. Any other method of
    :func:`~sctl.tl.predict_response` is trained once per drug.

    Above 50,000 cells (in memory or backed), the cells are read in chunks as :func:`~sctl.tl.predict_response`
    reads them: the default method scores every drug at once, chunk by chunk, and the domain takes its
    bounded-cost path; any other method loads the scored cells.

    With ``groupby`` (clusters, samples, patients), the drugs are ranked for each group by the mean probability of
    its trusted cells (scored and inside the reference's domain), beside the fraction called sensitive and the
    drug-specific score of the group: its mean probability minus that of the other groups' cells (positive: the
    drug suits this group more than the rest). A row is flagged ``trusted = False`` when the group has fewer than
    10 trusted cells or fewer than 80 % of its cells inside the domain: the reference cannot judge it.

    Parameters
    ----------
    adata
        Cells x genes, log-normalised (as for :func:`sctl.tl.predict_response`).
    reference
        Bulk cell lines x genes with the response table ``reference.obsm[key]``, e.g. :func:`sctl.datasets.gdsc`.
    drugs
        Drugs to screen (columns of the table). ``None``: every drug with at least 5 labelled lines of each class
        under the label rule (the others are listed in a warning and in the parameters).
    groupby
        Column of ``adata.obs`` whose groups get a ranked table of drugs (cells with no group, NaN, are in none).
    method
        A method of :func:`sctl.tl.predict_response`; ``"decomposed_ridge"`` by default.
    key, label_method, k, label_threshold
        Response table and the rule that labels its lines (:func:`sctl.pp.binarize_response`).
    layer, reference_layer
        Layers holding the expression of ``adata`` and ``reference`` (``None``: ``X``).
    batch_key
        Column of ``adata.obs`` naming each cell's sample (see :func:`sctl.tl.predict_response`).
    threshold
        Probability at or above which a cell counts as sensitive in ``fraction_sensitive``.
    min_shared
        Fewest genes shared with the reference.
    seed
        Seed of the methods and of the domain's PCA.
    model_kwargs, train_kwargs
        Passed to the method, as in :func:`sctl.tl.predict_response`.
    key_added
        Prefix of the keys written.
    copy
        Return a modified copy instead of writing into ``adata``.

    Returns
    -------
    ``None``, or the copy when ``copy=True``. Sets

    ``adata.obsm[key_added]``
        cells x drugs DataFrame of probabilities of sensitivity (NaN for cells not scored);
    ``adata.obs[f"{key_added}_general"]``, ``adata.obsm[f"{key_added}_specific"]``
        ``"decomposed_ridge"`` only: each cell's predicted general sensitivity and drug-specific sensitivity
        (cells x drugs), in z units of the reference's response, higher = more sensitive;
    ``adata.obs["sctl_reference_similarity"]``, ``adata.obs["sctl_in_domain"]``
        the applicability domain, as :func:`sctl.tl.predict_response` writes it;
    ``adata.uns[key_added]``
        ``params`` (drugs, skipped drugs, method, label rule, domain) and, with ``groupby``, ``groups``: a table
        with one row per group and drug (``group``, ``drug``, ``rank``, ``mean_probability``,
        ``fraction_sensitive``, ``specific_score``, ``n_cells``, ``n_uncertain``, ``trusted``), best drug
        first within each group.

    Examples
    --------
    >>> import sctl
    >>> bulk = sctl.datasets.gdsc()
    >>> cells = sctl.datasets.realistic_tumor(["Trametinib", "Olaparib"], mode="drug_pair", n_cells=300)
    >>> sctl.tl.screen_drugs(cells, bulk, groupby="subpopulation")
    >>> cells.obsm["sctl_drug_screen"].shape
    (300, 40)
    >>> table = cells.uns["sctl_drug_screen"]["groups"]
    >>> table[table["rank"] <= 3]  # doctest: +SKIP
    """
    check_anndata(adata)
    reference = check_anndata(reference, "reference")
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"`threshold` must lie strictly between 0 and 1, got {threshold}.")
    groups = None if groupby is None else group_column(adata, groupby)
    task = ResponseTask(
        drug="",
        key=key,
        label_rule={"method": label_method, "k": k, "threshold": label_threshold},
        layers=(layer, reference_layer),
        min_shared=min_shared,
        standardize_rows=None,
        seed=seed,
        model_kwargs=model_kwargs,
        train_kwargs=train_kwargs,
    )
    drugs, skipped = _screened_drugs(reference, drugs, task)
    task = replace(task, drug=drugs[0])
    parts: list[tuple[Any, Any]] = []  # general and specific sensitivity, of the decomposed ridge

    def learn(scored: AnnData) -> tuple[np.ndarray, dict[str, Any]]:
        if method == DECOMPOSED:
            proba, (general, specific), params = screen_decomposed(scored, reference, task, drugs)
            parts.append((-general, -specific))
            return proba.to_numpy(), params
        if method == MULTIDRUG:  # one network of every drug, trained once
            proba, params = screen_multidrug(scored, reference, task, drugs)
            return proba.to_numpy(), params
        columns, params = [], {}
        for drug in drugs:
            proba, params = learn_response(scored, reference, replace(task, drug=drug), method)
            columns.append(proba)
        return np.column_stack(columns), params

    def learn_streamed(scan: CellScan) -> tuple[np.ndarray, dict[str, Any]]:
        proba, values, params = stream_decomposed(scan, reference, task, drugs)
        sensitivity = np.negative(values, out=values)  # in place: higher = more sensitive
        parts.append((sensitivity[:, 0], sensitivity[:, 1:]))
        return proba, params

    streamed = learn_streamed if method == DECOMPOSED else None
    # the drugs' labels were checked by _screened_drugs: no drug to check again
    proba, domain, params = learn_within_domain(adata, reference, task, batch_key, learn, [], streamed)
    adata = adata.copy() if copy else adata
    screen = pd.DataFrame(proba, index=adata.obs_names, columns=drugs)
    adata.obsm[key_added] = screen
    if parts:
        _write_parts(adata, key_added, parts[0], ~np.isnan(proba[:, 0]))
    for column, values in domain.items():
        adata.obs[column] = values
    params = {k: v for k, v in params.items() if k not in ("drug", "n_reference_sensitive", "n_reference_resistant")}
    uns: dict[str, Any] = {
        "params": {
            **params,
            "method": method,
            "drugs": drugs,
            "skipped_drugs": skipped,
            "groupby": groupby,
            "threshold": threshold,
        }
    }
    if groups is not None:
        uns["groups"] = rank_groups(screen, groups, domain[IN_DOMAIN_KEY], threshold)
    adata.uns[key_added] = uns
    return adata if copy else None


def _screened_drugs(reference: AnnData, drugs: Sequence[str] | None, task: ResponseTask) -> tuple[list[str], list[str]]:
    """The drugs to screen and, when none are named, those left out for too few labelled lines."""
    table = check_response(reference, task.key)
    if drugs is not None:
        drugs = [drugs] if isinstance(drugs, str) else list(drugs)
        for drug in drugs:  # the error of predict_response for a drug the reference lacks
            check_drug(reference, drug, task.key)
        if not drugs or len(set(drugs)) != len(drugs):
            raise ValueError(f"`drugs` must name distinct drugs, got {drugs!r}.")
        for drug in drugs:  # a named drug without enough labelled lines is an error, not a skip
            check_labels(reference, drug, task.key, task.label_rule)
        return drugs, []
    kept, skipped = [], []
    for drug in table.columns:
        try:
            check_labels(reference, drug, task.key, task.label_rule)
            kept.append(str(drug))
        except ValueError:
            skipped.append(str(drug))
    if not kept:
        raise ValueError(
            f"No drug of `reference.obsm[{task.key!r}]` has 5 labelled lines of each class under the label rule; "
            "use a larger reference or a wider rule (`k=0.5`)."
        )
    if skipped:
        warnings.warn(
            f"{len(skipped)} drug(s) have too few labelled lines to learn and are not screened: {preview(skipped)}.",
            UserWarning,
            stacklevel=3,
        )
    return kept, skipped


def _write_parts(adata: AnnData, key_added: str, parts: tuple[Any, Any], scored: np.ndarray) -> None:
    """Each cell's general and drug-specific sensitivity (NaN for cells not scored)."""
    general, specific = (np.asarray(part) for part in parts)
    if not scored.all():
        general, specific = _spread(general, scored), _spread(specific, scored)
    adata.obs[f"{key_added}_general"] = general
    adata.obsm[f"{key_added}_specific"] = pd.DataFrame(
        specific, index=adata.obs_names, columns=adata.obsm[key_added].columns
    )


def _spread(values: np.ndarray, scored: np.ndarray) -> np.ndarray:
    """Values of the scored cells on all cells, NaN elsewhere."""
    out = np.full((len(scored), *values.shape[1:]), np.nan)
    out[scored] = values
    return out


def group_column(adata: AnnData, groupby: str) -> pd.Series:
    """``adata.obs[groupby]``, refused when it is missing or names no group."""
    groups = check_obs_key(adata, groupby)
    if groups.isna().all():
        raise ValueError(f"`adata.obs[{groupby!r}]` holds no group (every value is missing); pass a column of groups.")
    return groups


def rank_groups(screen: pd.DataFrame, groups: pd.Series, in_domain: np.ndarray, threshold: float) -> pd.DataFrame:
    """One row per group and drug, ranked by the mean probability of the group's trusted cells.

    Parameters
    ----------
    screen
        Cells x drugs probabilities (NaN: not scored).
    groups
        Group of each cell (NaN: in no group).
    in_domain
        Whether each cell lies in the reference's domain.
    threshold
        Probability at or above which a cell counts as sensitive.

    Returns
    -------
    The table described in :func:`screen_drugs`.
    """
    trusted = screen.notna().all(axis=1).to_numpy() & np.asarray(in_domain, dtype=bool)
    values = screen.to_numpy()
    rows = []
    labels = groups.astype(str).where(groups.notna()).to_numpy()
    for group in _group_order(groups):
        member = labels == group
        mine, rest = member & trusted, ~member & trusted
        mean = values[mine].mean(axis=0) if mine.any() else np.full(screen.shape[1], np.nan)
        other = values[rest].mean(axis=0) if rest.any() else np.full(screen.shape[1], np.nan)
        fraction = (values[mine] >= threshold).mean(axis=0) if mine.any() else np.full(screen.shape[1], np.nan)
        ok = mine.sum() >= MIN_GROUP_CELLS and mine.sum() >= MIN_GROUP_IN_DOMAIN * member.sum()
        frame = pd.DataFrame(
            {
                "group": group,
                "drug": screen.columns,
                "mean_probability": mean,
                "fraction_sensitive": fraction,
                "specific_score": mean - other,
                "n_cells": int(mine.sum()),
                "n_uncertain": int(member.sum() - mine.sum()),
                "trusted": bool(ok),
            }
        )
        frame["rank"] = frame["mean_probability"].rank(ascending=False, method="first").fillna(len(frame)).astype(int)
        rows.append(frame.sort_values("rank", kind="stable"))
    columns = ["group", "drug", "rank", "mean_probability", "fraction_sensitive", "specific_score"]
    return pd.concat(rows, ignore_index=True)[[*columns, "n_cells", "n_uncertain", "trusted"]]


def _group_order(groups: pd.Series) -> list[str]:
    """The groups present, as text, in their own order: a categorical's categories, else natural order (2 before 10)."""
    present = groups.dropna()
    if isinstance(groups.dtype, pd.CategoricalDtype):
        present = set(present)
        return [str(group) for group in groups.cat.categories if group in present]
    return natsorted({str(group) for group in present})
