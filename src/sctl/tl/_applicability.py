"""Where a prediction from a bulk reference can be trusted: the cells' input, their detected genes and their domain.

sctl's own rules (no paper defines them), used by :func:`sctl.tl.predict_response` with ``reference=``:

- the cells must hold log-normalised expression (:func:`check_log_normalised`);
- a cell needs :data:`MIN_DETECTED_GENES` detected shared genes to be scored (:func:`detected_genes`);
- each cell's similarity to the reference (:func:`reference_similarity`) is compared with the similarity of the
  reference lines to each other (:func:`applicability_domain`): a cell far below it resembles no reference line
  and gets no confident call;
- above a size (:data:`sctl.tl._response_stream.LARGE_INPUT_CELLS`), the similarity is approximated at a cost
  linear in the number of cells (:func:`bounded_reference_similarity`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import sparse
from sklearn.decomposition import PCA
from sklearn.neighbors import NearestNeighbors

from sctl._stream import zscore_rows
from sctl._validate import float_dtype, to_dense

if TYPE_CHECKING:
    from sctl.tl._response_stream import CellScan

#: fewest detected (non-zero) shared genes a cell needs to be scored; emptier cells get NaN
MIN_DETECTED_GENES = 20
#: fewest scorable cells for the per-gene standardisation of the cell domain
MIN_CELLS = 20
#: fewer cells scored at once warn that the probabilities are relative to the sample
SMALL_SAMPLE_CELLS = 300
#: largest value accepted as log-normalised (log1p of 1e4-normalised counts reaches ~9; log2 CPM ~20)
LOG_NORMALISED_MAX = 25.0
#: largest value accepted in scaled (z-scored, with negative values) input, unless more cells allow more
SCALED_MAX = 100.0
#: cells averaged with each cell (itself included) before its similarity to the reference is measured
DOMAIN_NEIGHBOURS = 15
#: principal components of the cells in which the neighbours are found
DOMAIN_N_PCS = 30
#: quantile of the reference lines' similarity to their nearest other line that anchors the cutoff
DOMAIN_QUANTILE = 0.05
#: share of that quantile a cell must reach: single-cell sparsity and a change of platform lower a cell's
#: similarity to its own line well below the bulk lines' similarity to each other (calibrated on
#: :func:`sctl.datasets.realistic_tumor`: at most 10 % of their cells fall below it; 67 % of pbmc68k_reduced)
DOMAIN_FACTOR = 0.45
#: large inputs (:func:`bounded_reference_similarity`): cells of the seeded sample the PCA is fitted on
DOMAIN_SAMPLE_CELLS = 20_000
#: large inputs: most cells of one sample among which a cell's neighbours are searched (consecutive scored cells)
DOMAIN_BLOCK_CELLS = 512


@dataclass(frozen=True)
class ValueRange:
    """The largest and smallest finite value of a matrix, and whether all its finite values are integers."""

    largest: float
    smallest: float
    integer: bool


def value_range(X: np.ndarray | sparse.spmatrix, previous: ValueRange | None = None) -> ValueRange | None:
    """The :class:`ValueRange` of ``X`` merged with ``previous`` (that of the rows read before); ``None``: no value.

    Sparse matrices count their stored values; NaN and infinite values are left out.
    """
    values = X.data if sparse.issparse(X) else np.asarray(X)
    finite = values[np.isfinite(values)] if values.size else values
    if finite.size == 0:
        return previous
    integer = (previous is None or previous.integer) and _all_integers(finite)
    largest, smallest = float(finite.max()), float(finite.min())
    if previous is not None:
        largest, smallest = max(largest, previous.largest), min(smallest, previous.smallest)
    return ValueRange(largest, smallest, integer)


def _all_integers(values: np.ndarray) -> bool:
    """Whether every value is an integer; a fraction among the first thousand answers without a full pass."""
    return bool(np.all(np.mod(values[:1000], 1) == 0) and np.all(np.mod(values, 1) == 0))


def check_log_normalised(values: ValueRange | None, n_cells: int, what: str) -> None:
    """Refuse counts and values beyond any log scale; warn on negative (scaled) values.

    Parameters
    ----------
    values
        The :class:`ValueRange` of the cells' expression (:func:`value_range`, of the whole matrix or merged
        chunk by chunk).
    n_cells
        Number of cells (rows) it covers.
    what
        How to name the matrix in the messages, e.g. ``"`adata.X`"``.
    """
    if values is None:  # no value, or only NaN and infinite ones: the model's checks report those
        return
    fix = (
        "sctl expects log-normalised expression; from counts run `sc.pp.normalize_total(adata, target_sum=1e4)` "
        "then `sc.pp.log1p(adata)` (keep the counts in a layer: `adata.layers['counts'] = adata.X.copy()` first)."
    )
    scaled = values.smallest < 0
    # a per-gene z-score over n cells cannot exceed sqrt(n - 1); allow subsets of a larger scaled set
    limit = max(SCALED_MAX, np.sqrt(n_cells)) if scaled else LOG_NORMALISED_MAX
    if values.largest > limit:
        kind = "integers, i.e. raw counts" if values.integer else "beyond any log-normalised or scaled value"
        raise ValueError(f"{what} holds values up to {values.largest:.4g} ({kind}). {fix}")
    if scaled:
        warnings.warn(
            f"{what} holds negative values: it looks scaled (e.g. by `sc.pp.scale`). predict_response z-scores "
            "each cell across the genes and assumes unscaled log-normalised input; pass the log-normalised data "
            "(e.g. `adata.raw.to_adata()` or a layer) for a faithful score.",
            UserWarning,
            stacklevel=5,  # the call of predict_response / screen_drugs
        )


def detected_genes(X: np.ndarray | sparse.spmatrix) -> np.ndarray:
    """Number of non-zero values in each row of ``X``."""
    if sparse.issparse(X):
        return np.asarray((X != 0).sum(axis=1)).ravel()
    return np.count_nonzero(np.asarray(X), axis=1)


def _unit_rows(X: np.ndarray | sparse.spmatrix) -> np.ndarray:
    """Rows z-scored across the columns and divided by ``sqrt(n_columns)``: their dot products are correlations."""
    dense = zscore_rows(to_dense(X, float_dtype(X))).astype(np.float32, copy=False)
    return dense / np.float32(np.sqrt(dense.shape[1]))


def _smooth(cells: np.ndarray, groups: np.ndarray, n_neighbours: int, seed: int) -> np.ndarray:
    """Each cell's profile averaged with its nearest cells of the same group, in PCA space."""
    smoothed = np.empty_like(cells)
    for group in np.unique(groups):
        rows = np.flatnonzero(groups == group)
        k = min(n_neighbours, len(rows))
        n_pcs = min(DOMAIN_N_PCS, len(rows) - 1, cells.shape[1] - 1)
        if k <= 1 or n_pcs < 1:
            smoothed[rows] = cells[rows]
            continue
        embedding = PCA(n_components=n_pcs, random_state=seed).fit_transform(cells[rows])
        search = NearestNeighbors(n_neighbors=k, algorithm="brute").fit(embedding)
        smoothed[rows] = _average(cells[rows], search.kneighbors(embedding, return_distance=False))
    return smoothed


def _average(profiles: np.ndarray, neighbours: np.ndarray) -> np.ndarray:
    """Each row's mean over the rows its row of ``neighbours`` (indices, ``k`` per row) names."""
    k = neighbours.shape[1]
    weights = sparse.csr_matrix(
        (np.full(neighbours.size, 1 / k, dtype=np.float32), neighbours.ravel(), np.arange(0, neighbours.size + 1, k)),
        shape=(len(profiles), len(profiles)),
    )
    return weights @ profiles


def reference_similarity(
    bulk: np.ndarray | sparse.spmatrix,
    cells: np.ndarray | sparse.spmatrix,
    groups: np.ndarray | None = None,
    *,
    n_neighbours: int = DOMAIN_NEIGHBOURS,
    seed: int = 0,
) -> np.ndarray:
    """Correlation of each cell with its most similar reference line, over the shared genes.

    Each cell is first averaged with its ``n_neighbours - 1`` nearest cells (of the same ``groups`` value, in the
    cells' first principal components), which lifts the correlation of sparse single-cell profiles without
    mixing in another sample; then its Pearson correlation with every line is computed and the largest kept.

    Parameters
    ----------
    bulk, cells
        Lines x genes and cells x genes, the same genes in the same order (before any per-gene standardisation).
    groups
        Sample of each cell (``None``: one sample).
    n_neighbours, seed
        Cells averaged per cell (itself included) and seed of the PCA.

    Returns
    -------
    Array of shape ``(n_cells,)`` in [-1, 1].
    """
    groups = np.zeros(cells.shape[0], dtype=int) if groups is None else np.asarray(groups)
    profiles = zscore_rows(to_dense(cells, float_dtype(cells))).astype(np.float32, copy=False)
    profiles = _smooth(profiles, groups, n_neighbours, seed)
    return (_unit_rows(profiles) @ _unit_rows(bulk).T).max(axis=1).astype(np.float64)


def bounded_reference_similarity(
    bulk: np.ndarray | sparse.spmatrix, cells: CellScan, groups: np.ndarray | None = None, *, seed: int = 0
) -> tuple[np.ndarray, dict[str, Any]]:
    """:func:`reference_similarity` of the scanned cells at a cost linear in their number, chunk by chunk (sctl).

    Three approximations bound the cost: the PCA is fitted once, on the cells' seeded sample
    (:attr:`~sctl.tl._response_stream.CellScan.sample`, at most :data:`DOMAIN_SAMPLE_CELLS`), instead of on
    every sample's cells; a cell's neighbours are searched only among the cells of its sample in its block of
    at most :data:`DOMAIN_BLOCK_CELLS` consecutive scored cells of that sample (within one chunk read); and the
    correlations are computed in float32 one chunk at a time. Files ordered by sample (and within a sample by
    cluster or at random) keep neighbours of the same kind of cell in each block.

    Returns
    -------
    ``(similarity of each scored cell, what was approximated)``.
    """
    groups = np.zeros(cells.n_scored, dtype=int) if groups is None else np.asarray(groups)
    lines = _unit_rows(bulk)
    projection = _sample_pca(cells.zscored_sample(), seed)
    similarity = np.empty(cells.n_scored)
    for first, profiles in cells.zscored_blocks():
        rows = slice(first, first + len(profiles))
        if projection is not None:
            components, shift = projection
            profiles = _smooth_in_blocks(profiles, profiles @ components - shift, groups[rows])
        similarity[rows] = _best_correlation(profiles, lines)
    return similarity, {"pca_cells": int(cells.sample.shape[0]), "neighbour_block_cells": DOMAIN_BLOCK_CELLS}


def _best_correlation(profiles: np.ndarray, lines: np.ndarray) -> np.ndarray:
    """Largest correlation of each row of ``profiles`` (rows of mean 0) with the unit rows ``lines``.

    The rows are divided by their norm after the product, not before: one pass over them fewer.
    """
    norms = np.sqrt(np.einsum("ij,ij->i", profiles, profiles))
    best = (profiles @ lines.T).max(axis=1)
    return np.divide(best, norms, out=np.zeros(len(best)), where=norms > 0)


def _sample_pca(profiles: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray] | None:
    """PCA of row-z-scored profiles as ``(components, shift)``, or ``None`` (too few cells or genes to smooth).

    A profile's embedding is ``profile @ components - shift``. ``profiles`` is centred in place.
    """
    n_pcs = min(DOMAIN_N_PCS, profiles.shape[0] - 1, profiles.shape[1] - 1)
    if min(DOMAIN_NEIGHBOURS, profiles.shape[0]) <= 1 or n_pcs < 1:
        return None
    pca = PCA(n_components=n_pcs, copy=False, random_state=seed).fit(profiles)
    return pca.components_.T.astype(np.float32), (pca.mean_ @ pca.components_.T).astype(np.float32)


def _smooth_in_blocks(profiles: np.ndarray, embedding: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """:func:`_smooth` with neighbours searched within blocks of consecutive rows of the same group."""
    smoothed = np.empty_like(profiles)
    for group in np.unique(groups):
        rows = np.flatnonzero(groups == group)
        for block in np.array_split(rows, -(-len(rows) // DOMAIN_BLOCK_CELLS)):
            k = min(DOMAIN_NEIGHBOURS, len(block))
            if k <= 1:
                smoothed[block] = profiles[block]
                continue
            points = embedding[block]
            squared = np.einsum("ij,ij->i", points, points)
            distance = squared[:, None] - 2 * points @ points.T + squared[None, :]
            smoothed[block] = _average(profiles[block], np.argpartition(distance, k - 1, axis=1)[:, :k])
    return smoothed


def reference_null(bulk: np.ndarray | sparse.spmatrix) -> np.ndarray:
    """Correlation of each reference line with its most similar OTHER line, over the given genes."""
    lines = _unit_rows(bulk)
    similarity = lines @ lines.T
    np.fill_diagonal(similarity, -np.inf)
    return similarity.max(axis=1).astype(np.float64)


def applicability_domain(
    bulk: np.ndarray | sparse.spmatrix,
    cells: np.ndarray | sparse.spmatrix | CellScan,
    groups: np.ndarray | None = None,
    *,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Similarity of each cell to the reference, whether it lies in the reference's domain, and the parameters.

    A cell is in the domain when its :func:`reference_similarity` reaches :data:`DOMAIN_FACTOR` times the
    :data:`DOMAIN_QUANTILE` quantile of :func:`reference_null`, the reference lines' similarity to their nearest
    other line on the same genes.

    Above :data:`~sctl.tl._response_stream.LARGE_INPUT_CELLS` cells, :func:`sctl.tl.predict_response` passes
    the chunked scan of the cells instead of their matrix, and the similarity is
    :func:`bounded_reference_similarity`: PCA fitted on a seeded sample of at most :data:`DOMAIN_SAMPLE_CELLS`
    cells, neighbours searched within blocks of at most :data:`DOMAIN_BLOCK_CELLS` consecutive cells of the same
    sample, correlations in float32 chunk by chunk. The cutoff is unchanged; ``params["approximation"]`` records
    what was approximated (absent on the exact path).

    Parameters
    ----------
    bulk
        Lines x shared genes.
    cells
        Cells x the same genes, or the :class:`~sctl.tl._response_stream.CellScan` of a large input (its scored
        cells).
    groups
        Sample of each cell (``None``: one sample).
    seed
        Seed of the PCA.

    Returns
    -------
    ``(similarity, in_domain, params)``; ``params`` holds the cutoff and how it was reached.
    """
    approximation = None
    if sparse.issparse(cells) or isinstance(cells, np.ndarray):
        similarity = reference_similarity(bulk, cells, groups, seed=seed)
    else:
        similarity, approximation = bounded_reference_similarity(bulk, cells, groups, seed=seed)
    null_quantile = float(np.quantile(reference_null(bulk), DOMAIN_QUANTILE))
    cutoff = DOMAIN_FACTOR * null_quantile
    params = {
        "similarity": "Pearson correlation with the nearest reference line, each cell averaged with its "
        f"{DOMAIN_NEIGHBOURS - 1} nearest cells of its sample (PCA, {DOMAIN_N_PCS} components)",
        "null_quantile": DOMAIN_QUANTILE,
        "null_similarity": null_quantile,
        "factor": DOMAIN_FACTOR,
        "cutoff": cutoff,
        "n_neighbours": DOMAIN_NEIGHBOURS,
    }
    if approximation is not None:
        params["approximation"] = approximation
    return similarity, similarity >= cutoff, params
