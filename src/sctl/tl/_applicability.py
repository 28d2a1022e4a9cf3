"""Where a prediction from a bulk reference can be trusted: the cells' input, their detected genes and their domain.

sctl's own rules (no paper defines them), used by :func:`sctl.tl.predict_response` with ``reference=``:

- the cells must hold log-normalised expression (:func:`check_log_normalised`);
- a cell needs :data:`MIN_DETECTED_GENES` detected shared genes to be scored (:func:`detected_genes`);
- each cell's similarity to the reference (:func:`reference_similarity`) is compared with the similarity of the
  reference lines to each other (:func:`applicability_domain`): a cell far below it resembles no reference line
  and gets no confident call.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.decomposition import PCA
from sklearn.neighbors import NearestNeighbors

from .._stream import zscore_rows
from .._validate import float_dtype, to_dense

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


def check_log_normalised(X: np.ndarray | sparse.spmatrix, what: str) -> None:
    """Refuse counts and values beyond any log scale; warn on negative (scaled) values.

    Parameters
    ----------
    X
        The cells' expression matrix (dense or sparse).
    what
        How to name ``X`` in the messages, e.g. ``"`adata.X`"``.
    """
    values = X.data if sparse.issparse(X) else np.asarray(X)
    if values.size == 0:
        return
    finite = values[np.isfinite(values)]  # NaN and infinite values are the model's checks to report
    if finite.size == 0:
        return
    largest, smallest = float(finite.max()), float(finite.min())
    fix = (
        "sctl expects log-normalised expression; from counts run `sc.pp.normalize_total(adata, target_sum=1e4)` "
        "then `sc.pp.log1p(adata)` (keep the counts in a layer: `adata.layers['counts'] = adata.X.copy()` first)."
    )
    scaled = smallest < 0
    # a per-gene z-score over n cells cannot exceed sqrt(n - 1); allow subsets of a larger scaled set
    limit = max(SCALED_MAX, np.sqrt(X.shape[0])) if scaled else LOG_NORMALISED_MAX
    if largest > limit:
        integer = bool(np.all(np.mod(finite, 1) == 0))
        kind = "integers, i.e. raw counts" if integer else "beyond any log-normalised or scaled value"
        raise ValueError(f"{what} holds values up to {largest:.4g} ({kind}). {fix}")
    if scaled:
        warnings.warn(
            f"{what} holds negative values: it looks scaled (e.g. by `sc.pp.scale`). predict_response z-scores "
            "each cell across the genes and assumes unscaled log-normalised input; pass the log-normalised data "
            "(e.g. `adata.raw.to_adata()` or a layer) for a faithful score.",
            UserWarning,
            stacklevel=3,
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
        neighbours = search.kneighbors(embedding, return_distance=False)
        weights = sparse.csr_matrix(
            (
                np.full(neighbours.size, 1 / k, dtype=np.float32),
                neighbours.ravel(),
                np.arange(0, neighbours.size + 1, k),
            ),
            shape=(len(rows), len(rows)),
        )
        smoothed[rows] = weights @ cells[rows]
    return smoothed


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


def reference_null(bulk: np.ndarray | sparse.spmatrix) -> np.ndarray:
    """Correlation of each reference line with its most similar OTHER line, over the given genes."""
    lines = _unit_rows(bulk)
    similarity = lines @ lines.T
    np.fill_diagonal(similarity, -np.inf)
    return similarity.max(axis=1).astype(np.float64)


def applicability_domain(
    bulk: np.ndarray | sparse.spmatrix,
    cells: np.ndarray | sparse.spmatrix,
    groups: np.ndarray | None = None,
    *,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Similarity of each cell to the reference, whether it lies in the reference's domain, and the parameters.

    A cell is in the domain when its :func:`reference_similarity` reaches :data:`DOMAIN_FACTOR` times the
    :data:`DOMAIN_QUANTILE` quantile of :func:`reference_null`, the reference lines' similarity to their nearest
    other line on the same genes.

    Returns
    -------
    ``(similarity, in_domain, params)``; ``params`` holds the cutoff and how it was reached.
    """
    similarity = reference_similarity(bulk, cells, groups, seed=seed)
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
    return similarity, similarity >= cutoff, params
