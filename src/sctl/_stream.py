"""Row-chunked reading of an expression matrix: in memory (dense / sparse) or backed on disk (``backed="r"``).

Prediction on a large single-cell file must not load, densify or copy the whole matrix. The helpers here read
``chunk_size`` rows at a time, select (and reorder) the model's genes in each chunk, check it is finite and
hand it on dense. :func:`column_mean_std` computes the per-gene mean and standard deviation over all rows in
one such pass (float64 accumulators, sparse-aware), so a z-score on the cells' own domain takes two passes and
never the whole matrix.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from anndata import AnnData
from scipy import sparse

from sctl._docs import doc_params
from sctl._validate import check_finite, float_dtype, get_matrix


@dataclass(frozen=True)
class Rows:
    """A matrix to read in row chunks, with the columns to keep (in order) and a name for error messages.

    Attributes
    ----------
    X
        Dense or sparse array, or a backed dataset (:class:`h5py.Dataset`, anndata's backed CSR dataset): any
        object whose ``X[start:stop]`` returns the rows as a NumPy array or a SciPy sparse matrix.
    columns
        Positions of the columns to keep, in the wanted order; ``None`` keeps every column as it is.
    what
        How to name the matrix in errors, e.g. ``"`adata.X`"``.
    standardize_rows
        Z-score every row across the kept columns as it is read (:func:`zscore_rows`); blocks are then dense.
    """

    X: Any
    columns: np.ndarray | None = None
    what: str = "`adata.X`"
    standardize_rows: bool = False

    @property
    def n_obs(self) -> int:
        """Number of rows."""
        return int(self.X.shape[0])

    @property
    def n_vars(self) -> int:
        """Number of columns after selection."""
        return int(self.X.shape[1] if self.columns is None else len(self.columns))


def describe(layer: str | None) -> str:
    """Name ``adata.X`` or ``adata.layers[layer]`` for an error message."""
    return "`adata.X`" if layer is None else f"`adata.layers[{layer!r}]`"


@doc_params()
def rows_of(adata: AnnData, layer: str | None = None, var_names: Any | None = None) -> Rows:
    """Return the expression of ``adata`` (backed or not) as :class:`Rows`, its genes ordered as ``var_names``.

    Nothing is read yet: a backed matrix stays on disk. Sparse in-memory matrices other than CSR are converted
    to CSR (row slicing of CSC / COO is slow); that is a sparse copy, never a dense one.

    Parameters
    ----------
    adata
        Any AnnData, e.g. from ``anndata.read_h5ad(path, backed="r")``; it must hold every gene of
        ``var_names`` (checked by the caller).
    {layer}
    var_names
        Genes to keep, in order; ``None`` keeps every gene.
    """
    X = get_matrix(adata, layer)
    if sparse.issparse(X) and X.format != "csr":
        X = X.tocsr()
    columns = None
    if var_names is not None and not adata.var_names.equals(var_names):
        columns = adata.var_names.get_indexer(var_names)
    return Rows(X, columns, describe(layer))


def check_chunk_size(chunk_size: int) -> int:
    """Return ``chunk_size`` as an int, raising a :class:`ValueError` unless it is a positive integer."""
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int | np.integer) or chunk_size < 1:
        raise ValueError(f"`chunk_size` must be a positive integer, got {chunk_size!r}.")
    return int(chunk_size)


def read_rows(rows: Rows, start: int, stop: int) -> np.ndarray | sparse.spmatrix:
    """Read rows ``start:stop`` of ``rows`` (columns selected, finite-checked), dense or sparse as stored."""
    block = rows.X[start:stop]
    if not sparse.issparse(block):
        block = np.asarray(block)
    if rows.columns is not None:
        block = block[:, rows.columns]
    check_finite(block, rows.what, first_row=start)
    if rows.standardize_rows:
        return zscore_rows(block.toarray() if sparse.issparse(block) else block)
    return block


def iter_chunks(rows: Rows, chunk_size: int) -> Iterator[tuple[int, np.ndarray | sparse.spmatrix]]:
    """Yield ``(start, block)`` for consecutive blocks of at most ``chunk_size`` rows, dense or sparse as stored."""
    chunk_size = check_chunk_size(chunk_size)
    for start in range(0, rows.n_obs, chunk_size):
        yield start, read_rows(rows, start, min(start + chunk_size, rows.n_obs))


def iter_dense(rows: Rows, chunk_size: int, dtype: type = np.float32) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(start, dense block of dtype)`` for consecutive blocks of at most ``chunk_size`` rows."""
    for start, block in iter_chunks(rows, chunk_size):
        dense = block.toarray() if sparse.issparse(block) else block
        yield start, dense.astype(dtype, copy=False)


def map_rows(
    rows: Rows,
    func: Callable[[int, np.ndarray], np.ndarray],
    chunk_size: int,
    dtype: type = np.float32,
    empty_shape: tuple[int, ...] = (0,),
) -> np.ndarray:
    """Apply ``func(start, dense block)`` to each block of rows and join the results along the first axis."""
    out = [func(start, block) for start, block in iter_dense(rows, chunk_size, dtype)]
    return np.concatenate(out) if out else np.empty(empty_shape, dtype=np.float64)


def _block_moments(block: np.ndarray | sparse.spmatrix) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean and sum of squared deviations of one block, in float64."""
    n = block.shape[0]
    if sparse.issparse(block):
        block = block.astype(np.float64)
        mean = np.asarray(block.sum(axis=0)).ravel() / n
        sumsq = np.asarray(block.multiply(block).sum(axis=0)).ravel()
        return mean, np.maximum(sumsq - n * mean**2, 0.0)
    mean = block.mean(axis=0, dtype=np.float64)
    return mean, np.square(block - mean).sum(axis=0)


def column_mean_std(rows: Rows, chunk_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (population) standard deviation of every column over all rows, in one chunked pass.

    Blocks are merged with the pairwise update of :cite:t:`chan1982variance` in float64, so the result matches
    ``X.mean(0, dtype=float64)`` / ``X.std(0, dtype=float64)`` to rounding without holding ``X``.

    Returns
    -------
    Two float64 arrays of length ``rows.n_vars``.
    """
    n_total, mean, m2 = 0, np.zeros(rows.n_vars), np.zeros(rows.n_vars)
    for _, block in iter_chunks(rows, chunk_size):
        n = block.shape[0]
        block_mean, block_m2 = _block_moments(block)
        delta = block_mean - mean
        merged = n_total + n
        mean = mean + delta * (n / merged)
        m2 = m2 + block_m2 + delta**2 * (n_total * n / merged)
        n_total = merged
    if n_total == 0:
        return mean, m2
    return mean, np.sqrt(m2 / n_total)


def zscore_params(mean: np.ndarray, std: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Float32 center and scale of a per-column z-score; constant columns get scale 1 (they become 0)."""
    center = mean.astype(np.float32)
    scale = std.astype(np.float32)
    scale[scale == 0] = 1.0
    return center, scale


def zscore_rows(X: np.ndarray) -> np.ndarray:
    """Return every row of ``X`` centred and scaled across its columns, as float32 (constant rows become 0).

    The profile-wise z-score of the GDSC expression sctl ships: it removes what a profile's overall level and
    spread owe to its sample (library size and detection rate of a cell, array intensity of a bulk sample).
    NaN and infinite values are left where they are (the other values of their row z-scored without them), for
    the caller's finiteness check to count.
    """
    X = np.asarray(X)
    out = X.astype(float_dtype(X))  # integers and float64 (huge counts) keep their precision until the end
    bad = ~np.isfinite(out)
    if bad.any():
        return _zscore_rows_around(out, bad)
    out -= out.mean(axis=1, keepdims=True)
    largest = np.abs(out).max(axis=1, keepdims=True, initial=0.0)
    largest[largest == 0] = 1.0  # a constant row: all zeros after centring
    out /= largest  # in [-1, 1], so squaring cannot overflow whatever the input's magnitude
    scale = np.sqrt(np.square(out).mean(axis=1, keepdims=True))
    scale[scale == 0] = 1.0
    out /= scale
    return out.astype(np.float32, copy=False)


def _zscore_rows_around(out: np.ndarray, bad: np.ndarray) -> np.ndarray:
    """:func:`zscore_rows` on the finite values of each row; the NaN / infinite ones stay as they are, where they are.

    One NaN then stays one NaN (instead of a whole row of them), so that the check that follows counts the
    user's values.
    """
    kept = out[bad]
    out[bad] = 0.0
    n = np.maximum(out.shape[1] - bad.sum(axis=1, keepdims=True), 1)
    out -= out.sum(axis=1, keepdims=True) / n
    out[bad] = 0.0
    largest = np.abs(out).max(axis=1, keepdims=True, initial=0.0)
    largest[largest == 0] = 1.0
    out /= largest
    scale = np.sqrt(np.square(out).sum(axis=1, keepdims=True) / n)
    scale[scale == 0] = 1.0
    out /= scale
    out[bad] = kept
    return out.astype(np.float32, copy=False)


def zscore_block(block: np.ndarray, center: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Return ``(block - center) / scale`` as a new float32 array (``block`` is not modified)."""
    out = np.subtract(block, center, dtype=np.float32)
    out /= scale
    return out
