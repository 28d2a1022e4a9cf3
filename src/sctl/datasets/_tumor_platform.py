"""Measurement of simulated cells on "another platform": counts, library sizes, dropout and a gene panel."""

from __future__ import annotations

import numpy as np

# log-rate of a gene in a line = _Z_SCALE * z-score + per-gene platform offset ~ N(0, platform_shift**2)
_Z_SCALE = 1.2
_TARGET_SUM = 1e4
_DROPOUT_SLOPE = 2.0


def _sample_counts(
    cell_z: np.ndarray,
    rng: np.random.Generator,
    *,
    platform_shift: float,
    library_size: float,
    library_sd: float,
    dispersion: float,
    dropout: float,
    dropout_midpoint: float | None,
) -> np.ndarray:
    """Negative-binomial counts around each cell's expression, with platform offsets, library sizes and dropout."""
    log_rate = _Z_SCALE * cell_z + rng.normal(0.0, platform_shift, size=cell_z.shape[1])
    proportions = np.exp(log_rate - log_rate.max(axis=1, keepdims=True))
    proportions /= proportions.sum(axis=1, keepdims=True)
    library = rng.lognormal(np.log(library_size), library_sd, size=len(cell_z))
    mean = library[:, None] * proportions
    counts = rng.poisson(rng.gamma(dispersion, mean / dispersion)).astype(np.float32)
    if dropout > 0:
        counts[rng.random(counts.shape, dtype=np.float32) < dropout] = 0
    if dropout_midpoint is not None:
        # expression-dependent dropout: half the counts of a gene of mean `dropout_midpoint` are lost, fewer above
        lost = 1.0 / (1.0 + (mean / dropout_midpoint) ** _DROPOUT_SLOPE)
        counts[rng.random(counts.shape) < lost] = 0
    return counts


def _log_normalize(counts: np.ndarray) -> np.ndarray:
    totals = np.maximum(counts.sum(axis=1, keepdims=True), 1.0)
    return np.log1p(counts / totals * _TARGET_SUM).astype(np.float32)


def _panel(lognorm: np.ndarray, n_genes: int | None) -> np.ndarray:
    """Indices, in gene order, of the ``n_genes`` most variable genes (all genes when ``None``)."""
    if n_genes is None or n_genes >= lognorm.shape[1]:
        return np.arange(lognorm.shape[1])
    if n_genes < 1:
        raise ValueError(f"`n_genes` must be a positive number of genes or None (all), got {n_genes}.")
    return np.sort(np.argsort(-lognorm.var(axis=0), kind="stable")[:n_genes])
