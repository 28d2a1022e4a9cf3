"""Scoring kernels of :func:`sctl.tl.score_states`: ssGSEA and decoupler's methods, cells x genes -> cells x sets.

As in decoupler, each method is a small kernel on a matrix; :func:`sctl.tl.score_states` is the one runner that
checks the AnnData, calls them and writes the results.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from anndata import AnnData
from scipy import sparse
from scipy.stats import rankdata

from sctl._stream import Rows, iter_chunks
from sctl._validate import constant_rows, float_dtype, preview, to_dense

#: decoupler methods that cannot score a cell whose genes all have one value (e.g. an all-zero cell)
NEED_VARYING_CELLS = ("ulm", "zscore", "mlm", "gsva")


def _membership(var_names: pd.Index, net: pd.DataFrame) -> tuple[sparse.csr_matrix, pd.Index]:
    """Genes x sets 0/1 matrix of the network."""
    sources = pd.Index(pd.unique(net["source"]))
    rows = var_names.get_indexer(net["target"])
    cols = sources.get_indexer(net["source"])
    keep = rows >= 0
    data = np.ones(int(keep.sum()))
    member = sparse.csr_matrix((data, (rows[keep], cols[keep])), shape=(len(var_names), len(sources)))
    member.data[:] = 1.0  # a gene listed twice in a set counts once
    return member, sources


def ssgsea(
    X: np.ndarray | sparse.spmatrix,
    var_names: Sequence[str] | pd.Index,
    net: pd.DataFrame,
    *,
    alpha: float = 0.25,
    chunk_size: int = 5000,
) -> pd.DataFrame:
    """Single-sample GSEA enrichment scores :cite:p:`barbie2009ssgsea`, vectorised over samples.

    Parameters
    ----------
    X
        Samples x genes expression (dense or sparse).
    var_names
        Gene names of the columns of ``X``.
    net
        Gene sets as a network with columns ``source`` (set) and ``target`` (gene).
    alpha
        Weight exponent of the ranks (0.25 as in the original method).
    chunk_size
        Samples ranked at once.

    Returns
    -------
    Samples x sets enrichment scores, equal to gseapy's ``ES`` (area under the running sum).

    Examples
    --------
    >>> X = np.arange(12.0).reshape(2, 6)
    >>> net = pd.DataFrame({"source": ["A", "A"], "target": ["g4", "g5"]})
    >>> ssgsea(X, [f"g{i}" for i in range(6)], net).round(2)["A"].tolist()
    [3.01, 3.01]
    """
    var_names = pd.Index(var_names)
    member, sources = _membership(var_names, net)
    n_genes = X.shape[1]
    size = np.asarray(member.sum(axis=0)).ravel()
    if np.any(size >= n_genes):
        raise ValueError("A gene set covers every gene: ssGSEA needs genes outside the set.")
    total = n_genes * (n_genes + 1) / 2.0
    out = np.empty((X.shape[0], len(sources)), dtype=np.float64)
    for start in range(0, X.shape[0], chunk_size):
        block = to_dense(X[start : start + chunk_size], dtype=np.float64)
        ranks = rankdata(block, axis=1)
        weighted = ranks**alpha
        hit = (member.T @ (weighted * ranks).T).T / (member.T @ weighted.T).T
        miss = (total - (member.T @ ranks.T).T) / (n_genes - size)
        out[start : start + chunk_size] = hit - miss
    return pd.DataFrame(out, columns=sources.astype(str))


def _score_backed(
    rows: Rows, adata: AnnData, net: pd.DataFrame, method: str, *, alpha: float, min_genes: int, chunk_size: int
) -> pd.DataFrame:
    """Score a backed matrix ``chunk_size`` cells at a time; each chunk is read, checked finite and scored alone."""
    if method == "gsva":
        raise ValueError(
            "method='gsva' cannot stream a backed AnnData: its kernel densities compare every cell with every other "
            "(memory and time grow with the square of the cells). Load the cells first (`adata = adata.to_memory()`, "
            "after subsetting if they are many), or use a method that scores each cell on its own, e.g. 'ssgsea'."
        )
    parts = []
    for start, block in iter_chunks(rows, chunk_size):
        obs_names = adata.obs_names[start : start + block.shape[0]]
        parts.append(
            _score_block(
                block, adata.var_names, obs_names, net, method, alpha=alpha, min_genes=min_genes, chunk_size=chunk_size
            )
        )
    return pd.concat(parts, ignore_index=True)


def _decoupler_scores(
    X: np.ndarray | sparse.spmatrix, var_names: pd.Index, net: pd.DataFrame, method: str, min_genes: int
) -> pd.DataFrame:
    """Run a decoupler 2 method on a bare AnnData and return its scores, one row per observation in order."""
    import decoupler as dc

    names = pd.Index([f"o{i}" for i in range(X.shape[0])])
    X = X.astype(float_dtype(X))  # integers (numba kernels of gsva fail on them) and float64 as float64
    if method == "gsva":  # a gene constant across cells has no density (zero bandwidth): drop it, as R's GSVA does
        varying = np.ones(X.shape[1], dtype=bool)
        varying[constant_rows(X.T)] = False
        X, var_names = X[:, varying], var_names[varying]
    bare = AnnData(X=X, obs=pd.DataFrame(index=names), var=pd.DataFrame(index=var_names))
    run = getattr(dc.mt, method)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = run(bare, net, tmin=min_genes, empty=False, verbose=False)
    bare = result if isinstance(result, AnnData) else bare
    scores = bare.obsm[f"score_{method}"]
    scores = scores.reindex(index=names, columns=pd.unique(net["source"]))
    return pd.DataFrame(scores.to_numpy(dtype=np.float64), columns=scores.columns.astype(str))


def _check_varying_cells(X: np.ndarray | sparse.spmatrix, obs_names: pd.Index, method: str) -> None:
    """A clear error for the cells ``method`` cannot score (same value for every gene) instead of decoupler's."""
    if method not in NEED_VARYING_CELLS:
        return
    flat = constant_rows(X)
    if len(flat):
        raise ValueError(
            f"{len(flat)} cells have the same value for every gene, as all-zero cells do ("
            f"{preview(obs_names[flat], 5)}), which method={method!r} cannot score. Drop them first, e.g. "
            "`adata = adata[np.ptp(adata.X.toarray(), axis=1) > 0].copy()` or `scanpy.pp.filter_cells(adata, "
            "min_genes=1)`, or use method='ssgsea', 'aucell' or 'viper', which give such cells a defined score."
        )


def _score_block(
    X: np.ndarray | sparse.spmatrix,
    var_names: pd.Index,
    obs_names: pd.Index,
    net: pd.DataFrame,
    method: str,
    *,
    alpha: float,
    min_genes: int,
    chunk_size: int,
) -> pd.DataFrame:
    """Scores of the cells of ``X`` by ``method``, one row per cell in order."""
    if method == "ssgsea":
        return ssgsea(X, var_names, net, alpha=alpha, chunk_size=chunk_size)
    _check_varying_cells(X, obs_names, method)
    return _decoupler_scores(X, var_names, net, method, min_genes)
