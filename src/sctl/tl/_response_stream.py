"""Cells too many to hold at once: one chunked pass that checks and measures them, then chunked scoring (sctl).

Above :data:`LARGE_INPUT_CELLS` cells, :func:`sctl.tl.predict_response` and :func:`sctl.tl.screen_drugs` never
hold the cells as one matrix. :func:`scan_cells` reads them once in row chunks (from disk when backed) and keeps,
exactly, what the rest needs: the range of their values (the log-normalised check), each cell's detected genes,
mean and standard deviation across the shared genes (its row z-score), the per-gene mean and standard deviation
of the model's input over the scored cells (the cells' per-gene z-score), and a seeded sample of cells for the
applicability domain's PCA. A linear model then scores the cells chunk by chunk (:func:`linear_scores`): with
``y = (x - m) / s`` a cell's row z-score and ``mu``, ``sd`` the per-gene statistics,
``((y - mu) / sd - center) @ W = (x @ W') / s - (m / s) * sum(W') + offset`` with ``W' = W / sd``, so a sparse
chunk is never densified.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from sctl._stream import Rows, iter_chunks
from sctl.tl._applicability import DOMAIN_SAMPLE_CELLS, ValueRange, detected_genes, value_range

#: more cells than this take the chunked path; at or below it, the cells are held in memory (exact domain)
LARGE_INPUT_CELLS = 50_000
#: rows read at a time on the chunked path
STREAM_CHUNK = 8192
#: a row whose standard deviation is below this share of its mean is constant: its z-score is 0
_CONSTANT_ROW = 1e-6


@dataclass(frozen=True)
class CellScan:
    """What one chunked pass over the cells (their shared genes) measured; see :func:`scan_cells`.

    Attributes
    ----------
    rows
        The cells' shared genes, read again chunk by chunk to score them.
    genes
        Names of those genes, in order.
    chunk_size
        Rows read at a time.
    values
        Range of the values (``None``: no finite value).
    detected
        Detected (non-zero) shared genes of each cell.
    scored
        Whether each cell has enough detected genes to be scored.
    row_mean, row_sd
        Each cell's mean and (population) standard deviation across the shared genes.
    standardize_rows
        Whether the model's input is the row z-score (else the values as they are).
    gene_mean, gene_sd
        Per-gene mean and standard deviation of the model's input over the scored cells.
    sample
        The rows, as stored, of a seeded sample of the scored cells (at most ``DOMAIN_SAMPLE_CELLS``).
    sample_rows
        Their positions among all cells.
    """

    rows: Rows
    genes: pd.Index
    chunk_size: int
    values: ValueRange | None
    detected: np.ndarray
    scored: np.ndarray
    row_mean: np.ndarray
    row_sd: np.ndarray
    standardize_rows: bool
    gene_mean: np.ndarray
    gene_sd: np.ndarray
    sample: np.ndarray | sparse.spmatrix
    sample_rows: np.ndarray

    @property
    def n_scored(self) -> int:
        """Number of scored cells."""
        return int(self.scored.sum())

    def scored_blocks(self) -> Iterator[tuple[int, np.ndarray | sparse.spmatrix]]:
        """Yield ``(position of the block's first row among the scored cells, scored rows of a chunk)``."""
        first = 0
        for start, block in iter_chunks(self.rows, self.chunk_size):
            keep = self.scored[start : start + block.shape[0]]
            if keep.any():
                yield first, block if keep.all() else block[np.flatnonzero(keep)]
                first += int(keep.sum())

    def coefficients(self, standardize_rows: bool) -> tuple[np.ndarray, np.ndarray]:
        """``(a, b)`` of each scored cell: its row z-score is ``a * x - b``; ``1, 0`` without ``standardize_rows``."""
        return _row_coefficients(self.row_mean[self.scored], self.row_sd[self.scored], standardize_rows)

    def zscored_blocks(self) -> Iterator[tuple[int, np.ndarray]]:
        """:meth:`scored_blocks` with each row z-scored across the shared genes, a new dense float32 array."""
        a, b = self.coefficients(standardize_rows=True)
        for first, block in self.scored_blocks():
            rows = slice(first, first + block.shape[0])
            yield first, _zscored(block, a[rows], b[rows])

    def zscored_sample(self) -> np.ndarray:
        """The rows of :attr:`sample`, each z-scored across the shared genes (dense float32)."""
        rows = self.sample_rows
        a, b = _row_coefficients(self.row_mean[rows], self.row_sd[rows], standardize_rows=True)
        return _zscored(self.sample, a, b)


def scan_cells(
    rows: Rows,
    genes: pd.Index,
    min_detected: int,
    *,
    standardize_rows: bool,
    seed: int,
    chunk_size: int = STREAM_CHUNK,
) -> CellScan:
    """Read the cells once, chunk by chunk, and return their :class:`CellScan`.

    Parameters
    ----------
    rows
        The cells' shared genes (:func:`sctl._stream.rows_of`), backed or in memory.
    genes
        Names of those genes, in order.
    min_detected
        Detected genes a cell needs to be scored.
    standardize_rows
        Whether the model z-scores each cell across the shared genes before the per-gene z-score.
    seed
        Seed of the sample of cells kept for the domain's PCA.
    chunk_size
        Rows read at a time.
    """
    n_obs = rows.n_obs
    detected = np.zeros(n_obs, dtype=np.int64)
    row_mean, row_sd = np.zeros(n_obs), np.zeros(n_obs)
    picked = _sample(n_obs, seed)
    values, moments, sample, sample_rows = None, _Moments(rows.n_vars), [], []
    for start, block in iter_chunks(rows, chunk_size):
        stop = start + block.shape[0]
        values = value_range(block, values)
        detected[start:stop] = detected_genes(block)
        block = block.astype(np.float64)
        row_mean[start:stop], row_sd[start:stop] = _row_mean_sd(block)
        keep = np.flatnonzero(detected[start:stop] >= min_detected)
        a, b = _row_coefficients(row_mean[start + keep], row_sd[start + keep], standardize_rows)
        moments.add(block[keep], a, b)
        chosen = picked[np.searchsorted(picked, start) : np.searchsorted(picked, stop)] - start
        chosen = chosen[detected[start + chosen] >= min_detected]
        sample.append(block[chosen].astype(np.float32))
        sample_rows.append(start + chosen)
    gene_mean, gene_sd = moments.result()
    return CellScan(
        rows=rows,
        genes=genes,
        chunk_size=chunk_size,
        values=values,
        detected=detected,
        scored=detected >= min_detected,
        row_mean=row_mean,
        row_sd=row_sd,
        standardize_rows=standardize_rows,
        gene_mean=gene_mean,
        gene_sd=gene_sd,
        sample=sparse.vstack(sample, format="csr") if sparse.issparse(sample[0]) else np.vstack(sample),
        sample_rows=np.concatenate(sample_rows),
    )


def linear_scores(scan: CellScan, center: np.ndarray, weights: np.ndarray, intercepts: np.ndarray) -> np.ndarray:
    """``(z - center) @ weights + intercepts`` of every scored cell, ``z`` its model input z-scored per gene.

    ``z`` is what :func:`sctl.pp.standardize` makes of the scored cells' (row-z-scored) shared genes; it is never
    formed: each chunk is multiplied as it is stored (sparse stays sparse), in float64.

    Returns
    -------
    Array of shape ``(n_scored, weights.shape[1])``.
    """
    scale = np.where(scan.gene_sd > 0, scan.gene_sd, 1.0)
    scaled_weights = weights / scale[:, None]
    offset = intercepts - (scan.gene_mean / scale + center) @ weights
    column_sums = scaled_weights.sum(axis=0)
    a, b = scan.coefficients(scan.standardize_rows)
    out = np.empty((scan.n_scored, weights.shape[1]))
    for first, block in scan.scored_blocks():
        rows = slice(first, first + block.shape[0])
        out[rows] = np.asarray(block @ scaled_weights) * a[rows, None] - b[rows, None] * column_sums + offset
    return out


def _sample(n_obs: int, seed: int) -> np.ndarray:
    """Sorted positions of at most ``DOMAIN_SAMPLE_CELLS`` cells, drawn without replacement."""
    if n_obs <= DOMAIN_SAMPLE_CELLS:
        return np.arange(n_obs)
    return np.sort(np.random.default_rng(seed).choice(n_obs, DOMAIN_SAMPLE_CELLS, replace=False))


def _zscored(block: np.ndarray | sparse.spmatrix, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a * block - b`` row by row, a new dense float32 array (never a view of the user's matrix)."""
    dense = block.toarray() if sparse.issparse(block) else np.array(block)
    dense = dense.astype(np.float32, copy=False)
    dense *= a.astype(np.float32)[:, None]
    dense -= b.astype(np.float32)[:, None]
    return dense


def _row_mean_sd(block: np.ndarray | sparse.spmatrix) -> tuple[np.ndarray, np.ndarray]:
    """Mean and population standard deviation of each row of a float64 block."""
    n_genes = block.shape[1]
    mean = np.asarray(block.sum(axis=1)).ravel() / n_genes
    squares = block.power(2) if sparse.issparse(block) else np.square(block)
    variance = np.asarray(squares.sum(axis=1)).ravel() / n_genes - mean**2
    return mean, np.sqrt(np.maximum(variance, 0.0))


def _row_coefficients(mean: np.ndarray, sd: np.ndarray, standardize_rows: bool) -> tuple[np.ndarray, np.ndarray]:
    """``(a, b)`` with ``a * x - b`` the row z-score (0 for a constant row), or ``(1, 0)``."""
    if not standardize_rows:
        return np.ones_like(mean), np.zeros_like(mean)
    varies = sd > _CONSTANT_ROW * np.abs(mean)
    a = np.divide(1.0, sd, out=np.zeros_like(sd), where=varies)
    return a, mean * a


class _Moments:
    """Per-column mean and sum of squared deviations of ``a * x - b`` over rows added block by block (float64).

    Blocks are merged with Chan et al.'s pairwise update, as :func:`sctl._stream.column_mean_std` does.
    """

    def __init__(self, n_columns: int) -> None:
        self.n, self.mean, self.m2 = 0, np.zeros(n_columns), np.zeros(n_columns)

    def add(self, block: np.ndarray | sparse.spmatrix, a: np.ndarray, b: np.ndarray) -> None:
        n = block.shape[0]
        if n == 0:
            return
        transposed = block.T
        squares = block.power(2) if sparse.issparse(block) else np.square(block)
        sums = np.asarray(transposed @ a).ravel() - b.sum()
        sums_of_squares = np.asarray(squares.T @ (a * a)).ravel() - 2 * np.asarray(transposed @ (a * b)).ravel()
        sums_of_squares += np.square(b).sum()
        mean = sums / n
        m2 = np.maximum(sums_of_squares - n * mean**2, 0.0)
        delta, merged = mean - self.mean, self.n + n
        self.mean = self.mean + delta * (n / merged)
        self.m2 = self.m2 + m2 + delta**2 * (self.n * n / merged)
        self.n = merged

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and population standard deviation of every column."""
        return self.mean, np.sqrt(self.m2 / max(self.n, 1))
