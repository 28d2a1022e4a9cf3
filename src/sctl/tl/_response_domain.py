"""What :func:`sctl.tl.predict_response` does around a method: the cells' checks, scorable cells, and their domain."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from anndata import AnnData
from scipy import sparse

from sctl import pp
from sctl._constants import IN_DOMAIN_KEY, LABEL_KEY, REFERENCE_SIMILARITY_KEY, UNCERTAIN
from sctl._stream import describe, rows_of
from sctl._validate import check_obs_key, check_response, check_unique_var_names
from sctl.models._transfer._data import MIN_PER_CLASS, _check_enough_labels
from sctl.tl import _response_stream
from sctl.tl._applicability import (
    MIN_CELLS,
    MIN_DETECTED_GENES,
    SMALL_SAMPLE_CELLS,
    applicability_domain,
    check_log_normalised,
    detected_genes,
    value_range,
)
from sctl.tl._response_methods import ResponseTask
from sctl.tl._response_stream import CellScan, scan_cells

logger = logging.getLogger(__name__)

#: rows of the cells read at a time (backed files are never loaded whole)
READ_CHUNK = 4096

#: share of scored cells outside the reference's domain above which the call warns (below it, cells are only flagged:
#: semi-synthetic tumours of held-out lines had 0-10 % outside, scanpy's pbmc68k_reduced 67 %)
OUTSIDE_WARNING_FRACTION = 0.2


def learn_within_domain(
    cells: AnnData,
    reference: AnnData,
    task: ResponseTask,
    batch_key: str | None,
    learn: Callable[[AnnData], tuple[np.ndarray, dict[str, Any]]],
    drugs: Sequence[str],
    learn_streamed: Callable[[CellScan], tuple[np.ndarray, dict[str, Any]]] | None = None,
) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, Any]]:
    """Check the cells, score those with enough detected genes, and place every cell in the reference's domain.

    ``learn(scored cells)`` returns their probabilities, of shape ``(n_scored,)`` or ``(n_scored, n_drugs)``, and
    the method's parameters; every drug of ``drugs`` must have enough labelled reference lines. Returns the
    probabilities of all cells (NaN rows for cells not scored), the domain columns and the parameters.

    Above :data:`~sctl.tl._response_stream.LARGE_INPUT_CELLS` cells, the cells are never held whole: they are
    checked and measured in one chunked pass (:func:`~sctl.tl._response_stream.scan_cells`), scored by
    ``learn_streamed(scan)`` when given (else ``learn`` gets the scored cells, loaded), and placed in the domain
    at bounded cost (:func:`~sctl.tl._applicability.applicability_domain`).
    """
    batches = None if batch_key is None else check_obs_key(cells, batch_key).astype(str).to_numpy()
    for drug in drugs:
        check_labels(reference, drug, task.key, task.label_rule)
    shared = _shared_genes(reference, cells, task.min_shared)
    if cells.n_obs > _response_stream.LARGE_INPUT_CELLS:
        scored, proba_scored, params, domain_input = _learn_chunked(cells, shared, task, learn, learn_streamed)
    else:
        scored, proba_scored, params, domain_input = _learn_in_memory(cells, shared, task, learn)
    bulk_matrix = _shared_matrix(reference, task.layers[1], shared)
    groups = None if batches is None else batches[scored]
    similarity_scored, in_domain_scored, domain_params = applicability_domain(
        bulk_matrix, domain_input, groups, seed=task.seed
    )
    _warn_small_sample(int(scored.sum()), batch_key, groups)
    proba = _on_all_cells(proba_scored, scored, np.nan)
    similarity = _on_all_cells(similarity_scored, scored, np.nan)
    in_domain = _on_all_cells(in_domain_scored, scored, False)
    n_outside = int(scored.sum() - in_domain_scored.sum())
    message = (
        f"{n_outside} of {int(scored.sum())} scored cells ({n_outside / scored.sum():.0%}) resemble no "
        f"reference line: `obs[{REFERENCE_SIMILARITY_KEY!r}]` below {domain_params['cutoff']:.3f}. Their "
        f"probabilities are kept but they are called {UNCERTAIN!r}, and `obs[{IN_DOMAIN_KEY!r}]` is False."
    )
    if n_outside > OUTSIDE_WARNING_FRACTION * scored.sum():  # a sample the reference cannot judge
        warnings.warn(message, UserWarning, stacklevel=3)
    elif n_outside:  # a few outliers, as any tumour has: flagged per cell, not worth a warning
        logger.info(message)
    params = {
        **params,
        "batch_key": batch_key,
        "min_detected_genes": MIN_DETECTED_GENES,
        "n_cells_scored": int(scored.sum()),
        "n_cells_too_few_genes": int((~scored).sum()),
        "domain": {**domain_params, "n_in_domain": int(in_domain.sum()), "n_outside": n_outside},
    }
    return proba, {REFERENCE_SIMILARITY_KEY: similarity, IN_DOMAIN_KEY: in_domain}, params


def _learn_in_memory(
    cells: AnnData, shared: pd.Index, task: ResponseTask, learn: Callable[[AnnData], tuple[np.ndarray, dict[str, Any]]]
) -> tuple[np.ndarray, np.ndarray, dict[str, Any], Any]:
    """Check and score the cells held in memory: ``(scored mask, their probabilities, params, their matrix)``."""
    what = describe(task.layers[0])
    cell_matrix = _shared_matrix(cells, task.layers[0], shared)
    shared_what = f"{what} (its {len(shared)} genes shared with the reference)"
    check_log_normalised(value_range(cell_matrix), cell_matrix.shape[0], shared_what)
    scored = _scorable_cells(detected_genes(cell_matrix), _min_detected(len(shared)), what)
    proba, params = learn(_load(cells, scored))
    return scored, proba, params, cell_matrix[scored]


def _learn_chunked(
    cells: AnnData,
    shared: pd.Index,
    task: ResponseTask,
    learn: Callable[[AnnData], tuple[np.ndarray, dict[str, Any]]],
    learn_streamed: Callable[[CellScan], tuple[np.ndarray, dict[str, Any]]] | None,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any], CellScan]:
    """:func:`_learn_in_memory` on a large input, read in chunks: the last item is the cells' scan."""
    what = describe(task.layers[0])
    needed = _min_detected(len(shared))
    scan = scan_cells(
        rows_of(cells, task.layers[0], shared),
        shared,
        needed,
        standardize_rows=True if task.standardize_rows is None else task.standardize_rows,
        seed=task.seed,
        chunk_size=_response_stream.STREAM_CHUNK,
    )
    check_log_normalised(scan.values, cells.n_obs, f"{what} (its {len(shared)} genes shared with the reference)")
    scored = _scorable_cells(scan.detected, needed, what)
    proba, params = learn(_load(cells, scored)) if learn_streamed is None else learn_streamed(scan)
    params["large_input"] = {
        "above_n_cells": _response_stream.LARGE_INPUT_CELLS,
        "cells_scored_in_chunks": learn_streamed is not None,
        "chunk_size": _response_stream.STREAM_CHUNK,
    }
    return scored, proba, params, scan


def _min_detected(n_genes: int) -> int:
    """Detected shared genes a cell needs to be scored: ``MIN_DETECTED_GENES``, or half the genes of a small panel."""
    return min(MIN_DETECTED_GENES, max(2, n_genes // 2))


def _load(cells: AnnData, scored: np.ndarray) -> AnnData:
    """The scored cells for a method: ``cells`` itself when all are scored, else their subset in memory."""
    if scored.all():
        return cells
    return cells[scored].to_memory() if cells.isbacked else cells[scored].copy()


def _on_all_cells(values: np.ndarray, scored: np.ndarray, fill: float | bool) -> np.ndarray:
    """``values`` of the scored cells spread over all cells, ``fill`` elsewhere (``values`` itself if all scored)."""
    values = np.asarray(values)
    if scored.all():
        return values
    out = np.full((len(scored), *values.shape[1:]), fill, dtype=values.dtype)
    out[scored] = values
    return out


def check_labels(reference: AnnData, drug: str, key: str, label_rule: dict[str, Any]) -> None:
    """Every method trains on at least ``MIN_PER_CLASS`` lines of each class, separated by their response."""
    check_response(reference, key)
    table = AnnData(obs=pd.DataFrame(index=reference.obs_names.copy()), obsm={key: reference.obsm[key]})
    pp.binarize_response(table, drug, key=key, key_added=LABEL_KEY, **label_rule)  # a table only: nothing copied
    _check_enough_labels(table.obs[LABEL_KEY], drug, MIN_PER_CLASS, response=table.obsm[key][drug])


def _shared_genes(reference: AnnData, cells: AnnData, min_shared: float | int) -> pd.Index:
    """The reference genes also in ``cells``; too few raise :func:`sctl.pp.align_genes`' error."""
    from sctl.pp._align import _required_count

    check_unique_var_names(reference, "reference")
    check_unique_var_names(cells)
    shared = reference.var_names[reference.var_names.isin(cells.var_names)]
    if len(shared) == 0 or len(shared) < _required_count(min_shared, reference.n_vars):
        pp.align_genes(reference, cells, min_shared=min_shared)  # raises, naming the counts and the fix
    return shared


def _shared_matrix(adata: AnnData, layer: str | None, genes: pd.Index) -> Any:
    """The ``genes`` columns of ``adata``'s expression (backed or not), read in row chunks, as stored (dense/sparse).

    Non-finite values are left for the model's own checks to report.
    """
    rows = rows_of(adata, layer, genes)
    blocks = []
    for start in range(0, rows.n_obs, READ_CHUNK):
        block = rows.X[start : start + READ_CHUNK]
        block = block if sparse.issparse(block) else np.asarray(block)
        blocks.append(block if rows.columns is None else block[:, rows.columns])
    return sparse.vstack(blocks, format="csr") if sparse.issparse(blocks[0]) else np.vstack(blocks)


def _scorable_cells(detected: np.ndarray, needed: int, what: str) -> np.ndarray:
    """Mask of the cells with at least ``needed`` ``detected`` shared genes; warn about the others."""
    scored = detected >= needed
    n_empty = int((~scored).sum())
    if scored.sum() < MIN_CELLS:
        raise ValueError(
            f"Only {int(scored.sum())} of {len(scored)} cells have at least {needed} detected (non-zero) "
            f"shared genes in {what}; predict_response standardises each gene over the cells scored together and "
            f"needs at least {MIN_CELLS} of them. Score the cells together with the rest of their sample."
        )
    if n_empty:
        warnings.warn(
            f"{n_empty} of {len(scored)} cells have fewer than {needed} detected shared genes in {what} "
            f"(empty or near-empty): they are not scored (probability NaN, call {UNCERTAIN!r}).",
            UserWarning,
            stacklevel=5,
        )
    return scored


def _warn_small_sample(n_scored: int, batch_key: str | None, groups: np.ndarray | None) -> None:
    """Warn when the cells scored together are too few to stand for more than their own sample."""
    if n_scored >= SMALL_SAMPLE_CELLS:
        return
    samples = "" if groups is None else f" ({len(np.unique(groups))} value(s) of `obs[{batch_key!r}]`)"
    warnings.warn(
        f"Only {n_scored} cells are scored together{samples}. Each gene is standardised over the cells scored "
        "together, so the probabilities are relative to this sample: a sample of one homogeneous group (e.g. "
        "only resistant cells) is spread around the middle. Score it with other samples in one call "
        "(`batch_key=` names the samples), so that all are compared on one scale.",
        UserWarning,
        stacklevel=4,
    )
