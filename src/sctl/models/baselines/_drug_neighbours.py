"""Estimates for an unseen drug from its structurally nearest training drugs (Tanimoto on Morgan fingerprints)."""

from __future__ import annotations

import numpy as np


def tanimoto(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Tanimoto (Jaccard) similarity between the rows of two 0/1 fingerprint matrices (0 between empty ones)."""
    a, b = ((np.asarray(m) > 0).astype(np.float64) for m in (a, b))
    both = a @ b.T
    either = a.sum(1)[:, None] + b.sum(1)[None, :] - both
    return np.divide(both, either, out=np.zeros_like(both), where=either > 0)


def neighbour_mean(
    similarity: np.ndarray, values: np.ndarray, overall: np.ndarray | float, n_neighbours: int, shrinkage: float
) -> np.ndarray:
    """Similarity-weighted mean of the values of each query's nearest references, shrunk toward ``overall``.

    For query ``i`` and its ``n_neighbours`` references ``k`` of highest similarity ``s_ik`` (each in [0, 1]),
    ``(sum_k s_ik v_k + shrinkage * overall) / (sum_k s_ik + shrinkage)``: a query unlike every reference gets
    about ``overall``; with ``shrinkage=0`` and no similar reference, ``overall`` itself.

    Parameters
    ----------
    similarity
        Queries x references.
    values
        One value (or one row of values) per reference.
    overall
        What the estimate is shrunk toward (a value or a row like those of ``values``).
    n_neighbours
        References averaged per query (all of them if there are fewer).
    shrinkage
        Weight of ``overall`` against the summed similarities of the neighbours.

    Returns
    -------
    One value (or row) per query.
    """
    values = np.asarray(values, dtype=np.float64)
    k = min(n_neighbours, similarity.shape[1])
    nearest = np.argsort(-similarity, axis=1, kind="stable")[:, :k]
    weight = np.take_along_axis(similarity, nearest, axis=1)
    weight = weight.reshape(weight.shape + (1,) * (values.ndim - 1))
    denominator = weight.sum(1) + shrinkage
    estimate = (weight * values[nearest]).sum(1) + shrinkage * np.asarray(overall, dtype=np.float64)
    fallback = np.broadcast_to(np.asarray(overall, dtype=np.float64), estimate.shape)
    return np.where(denominator > 0, estimate / np.where(denominator > 0, denominator, 1.0), fallback)
