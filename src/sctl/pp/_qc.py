"""Quality control of single cells: drop poor cells and rarely detected genes."""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd
import scanpy as sc
from anndata import AnnData
from scipy import sparse

from sctl._validate import check_anndata, check_finite, get_matrix

logger = logging.getLogger(__name__)

QC_KEY = "sctl_qc"


def qc(
    adata: AnnData,
    *,
    min_genes: int | None = 200,
    min_cells: int | None = 3,
    max_pct_mito: float | None = 10.0,
    mito_prefix: str = "MT-",
    layer: str | None = None,
    copy: bool = False,
) -> AnnData | None:
    """Remove low-quality cells and rarely detected genes, with the thresholds of ATSDP-NET.

    Cells are kept when they express at least ``min_genes`` genes and at most ``max_pct_mito`` percent of
    their counts come from mitochondrial genes; then genes are kept when they are expressed in at least
    ``min_cells`` of the kept cells. The metrics come from :func:`scanpy.pp.calculate_qc_metrics`,
    :func:`scanpy.pp.filter_cells` and :func:`scanpy.pp.filter_genes`, computed on raw counts.

    Parameters
    ----------
    adata
        Cells x genes. The counts are read from ``layer``.
    min_genes
        Fewest expressed genes a cell needs to be kept (``None`` or 0: no filter).
    min_cells
        Fewest kept cells a gene must be expressed in to be kept (``None`` or 0: no filter).
    max_pct_mito
        Highest percentage of mitochondrial counts a cell may have (``None``: no filter).
    mito_prefix
        Prefix of the mitochondrial gene names, matched without regard to case (``"MT-"`` matches human
        ``MT-CO1`` and mouse ``mt-Co1``).
    layer
        Layer holding the raw counts, e.g. ``"counts"`` (``None``: ``adata.X``).
    copy
        Return a filtered copy instead of filtering ``adata`` in place.

    Returns
    -------
    ``None``, or the filtered copy when ``copy=True``. ``adata`` is subset to the kept cells and genes, and

    ``adata.obs["sctl_n_genes"]``, ``adata.obs["sctl_total_counts"]``, ``adata.obs["sctl_pct_mito"]``
        metrics of each kept cell, computed on all genes before filtering;
    ``adata.var["sctl_mito"]``, ``adata.var["sctl_n_cells"]``
        whether a gene is mitochondrial, and in how many kept cells it is expressed;
    ``adata.uns["sctl_qc"]``
        ``params`` and the number of cells and genes before, removed (by each rule) and kept.

    Examples
    --------
    >>> import scanpy as sc
    >>> import sctl
    >>> adata = sc.datasets.pbmc3k()
    >>> sctl.pp.qc(adata)
    >>> adata.uns["sctl_qc"]["n_cells_removed"]  # doctest: +SKIP
    """
    check_anndata(adata)
    _check_thresholds(min_genes, min_cells, max_pct_mito)
    counts = get_matrix(adata, layer)
    what = "`adata.X`" if layer is None else f"`adata.layers[{layer!r}]`"
    _check_counts(counts, what, layer)

    if sparse.issparse(counts) and (counts.data == 0).any():
        counts = counts.copy()  # scanpy drops explicit zeros in place; keep the user's matrix as it is
    mito = _mito_genes(adata.var_names, mito_prefix, max_pct_mito)
    probe = AnnData(counts, var=pd.DataFrame({"sctl_mito": mito}, index=adata.var_names.copy()))
    probe.obs_names = adata.obs_names.copy()
    obs_metrics, _ = sc.pp.calculate_qc_metrics(
        probe, qc_vars=["sctl_mito"], percent_top=None, log1p=False, inplace=False
    )
    n_genes = obs_metrics["n_genes_by_counts"].to_numpy()
    pct_mito = obs_metrics["pct_counts_sctl_mito"].fillna(0.0).to_numpy()

    keep_genes_rule = np.ones(adata.n_obs, dtype=bool)
    if min_genes:
        keep_genes_rule, _ = sc.pp.filter_cells(probe, min_genes=min_genes, inplace=False)
    keep_mito_rule = np.ones(adata.n_obs, dtype=bool) if max_pct_mito is None else pct_mito <= max_pct_mito
    keep_cells = keep_genes_rule & keep_mito_rule
    if not keep_cells.any():
        raise ValueError(
            f"No cell passes the QC thresholds (min_genes={min_genes}, max_pct_mito={max_pct_mito}): the "
            f"cells express a median of {np.median(n_genes):.0f} genes with a median of "
            f"{np.median(pct_mito):.1f} % mitochondrial counts. Loosen the thresholds, or pass `layer=` if "
            f"{what} does not hold counts."
        )

    n_cells_expressing = np.asarray((counts[keep_cells] > 0).sum(axis=0)).ravel()
    keep_genes = np.ones(adata.n_vars, dtype=bool)
    if min_cells:
        keep_genes, _ = sc.pp.filter_genes(probe[keep_cells], min_cells=min_cells, inplace=False)
    if not keep_genes.any():
        raise ValueError(
            f"No gene is expressed in at least min_cells={min_cells} of the {int(keep_cells.sum())} kept "
            f"cells (the most widely expressed gene is in {int(n_cells_expressing.max())}). Lower "
            "`min_cells`."
        )

    summary = {
        "n_cells_before": int(adata.n_obs),
        "n_genes_before": int(adata.n_vars),
        "n_cells_removed": int((~keep_cells).sum()),
        "n_cells_removed_min_genes": int((~keep_genes_rule).sum()),
        "n_cells_removed_max_pct_mito": int((~keep_mito_rule).sum()),
        "n_genes_removed": int((~keep_genes).sum()),
        "n_mito_genes": int(mito.sum()),
    }
    logger.info(
        "qc removed %d of %d cells (%d with < %s genes, %d with > %s %% mitochondrial counts) and %d of %d "
        "genes (expressed in < %s cells)",
        summary["n_cells_removed"],
        summary["n_cells_before"],
        summary["n_cells_removed_min_genes"],
        min_genes,
        summary["n_cells_removed_max_pct_mito"],
        max_pct_mito,
        summary["n_genes_removed"],
        summary["n_genes_before"],
        min_cells,
    )

    adata = adata.copy() if copy else adata
    adata.obs["sctl_n_genes"] = n_genes.astype(np.int64)
    adata.obs["sctl_total_counts"] = obs_metrics["total_counts"].to_numpy(dtype=np.float64)
    adata.obs["sctl_pct_mito"] = pct_mito.astype(np.float64)
    adata.var["sctl_mito"] = mito
    adata.var["sctl_n_cells"] = n_cells_expressing.astype(np.int64)
    adata._inplace_subset_obs(keep_cells)
    adata._inplace_subset_var(keep_genes)
    adata.uns[QC_KEY] = {
        "params": {
            "min_genes": min_genes,
            "min_cells": min_cells,
            "max_pct_mito": max_pct_mito,
            "mito_prefix": mito_prefix,
            "layer": layer,
        },
        **summary,
        "n_cells_kept": int(adata.n_obs),
        "n_genes_kept": int(adata.n_vars),
    }
    return adata if copy else None


def _check_thresholds(min_genes: int | None, min_cells: int | None, max_pct_mito: float | None) -> None:
    for name, value in (("min_genes", min_genes), ("min_cells", min_cells)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0):
            raise ValueError(f"`{name}` must be a non-negative integer or None, got {value!r}.")
    if max_pct_mito is not None and not 0 <= max_pct_mito <= 100:
        raise ValueError(
            f"`max_pct_mito` is a percentage and must lie in [0, 100], got {max_pct_mito!r} (e.g. 10 for 10 "
            "%; None to skip the mitochondrial filter)."
        )


def _check_counts(counts: np.ndarray | sparse.spmatrix, what: str, layer: str | None) -> None:
    check_finite(counts, what)
    values = counts.data if sparse.issparse(counts) else np.asarray(counts).ravel()
    if values.size and values.min() < 0:
        raise ValueError(
            f"{what} holds negative values, so it is not raw counts (it may be scaled). Pass `layer=` "
            "naming the layer with the raw counts, e.g. `layer='counts'`."
        )
    sample = values[:100_000]
    if sample.size and not np.allclose(sample, np.round(sample)):
        hint = "" if layer is not None else " Pass `layer='counts'` if the raw counts are in a layer."
        warnings.warn(
            f"{what} does not look like raw counts (it holds non-integer values); the mitochondrial "
            f"percentage is meant for counts.{hint}",
            UserWarning,
            stacklevel=3,
        )


def _mito_genes(var_names: pd.Index, prefix: str, max_pct_mito: float | None) -> np.ndarray:
    mito = np.asarray(var_names.str.upper().str.startswith(prefix.upper()), dtype=bool)
    if max_pct_mito is not None and not mito.any():
        warnings.warn(
            f"No gene name starts with {prefix!r}, so the mitochondrial filter removes nothing. Check "
            "`mito_prefix` and the gene identifiers (Ensembl ids carry no 'MT-' prefix), or pass "
            "`max_pct_mito=None` to skip it.",
            UserWarning,
            stacklevel=3,
        )
    return mito
