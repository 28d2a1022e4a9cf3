"""Restrict two AnnData objects to their shared genes, in one order."""

from __future__ import annotations

import logging
import numbers
import warnings

import pandas as pd
from anndata import AnnData

from sctl._constants import MIN_SHARED_GENES, SMALL_PANEL_GENES
from sctl._validate import check_anndata, check_unique_var_names, get_matrix, preview

logger = logging.getLogger(__name__)

ALIGN_KEY = "sctl_align_genes"


def align_genes(
    reference: AnnData,
    query: AnnData,
    *,
    min_shared: float | int = MIN_SHARED_GENES,
    layer: str | None = None,
) -> tuple[AnnData, AnnData]:
    """Return copies of ``reference`` and ``query`` restricted to their shared genes, in reference order.

    A model trained on ``reference`` (e.g. bulk cell lines) can then be applied to ``query`` (e.g. single
    cells) column by column. Neither input is modified. A backed input (``anndata.read_h5ad(path, backed="r")``)
    is read from disk for the shared genes only; the outputs are in memory.

    Parameters
    ----------
    reference
        AnnData whose gene order is kept (e.g. the bulk cell lines a model is trained on).
    query
        AnnData to align to it (e.g. single cells).
    min_shared
        Fewest shared genes accepted: a number of genes (int; at most all the reference's genes are asked for)
        or a fraction of the reference's genes (float in (0, 1]). Fewer raise a :class:`ValueError`. The default,
        500 genes, accepts the highly-variable-gene panels single-cell data often come as (1,400 of 6,000
        reference genes is plenty for every method of :func:`sctl.tl.predict_response`). A partial overlap warns
        with the counts, and says so when fewer than 1,000 genes are left; the number used is logged (INFO).
    layer
        If given, ``X`` of both outputs is taken from ``.layers[layer]`` of each input (e.g. ``"counts"``);
        by default ``X`` is kept. All layers are kept either way.

    Returns
    -------
    ``(reference, query)``: new AnnData objects with the same ``var_names``. Each records the overlap in
    ``.uns["sctl_align_genes"]`` (``params``, ``n_shared``, ``n_reference``, ``n_query``, and ``input``: the
    argument it comes from, ``"reference"`` or ``"query"``, which :func:`sctl.pp.standardize` names in its
    errors).

    Examples
    --------
    >>> import sctl
    >>> bulk = sctl.datasets.gdsc()
    >>> cells = sctl.datasets.tumor(drug="Dabrafenib")
    >>> bulk, cells = sctl.pp.align_genes(bulk, cells)
    >>> (bulk.var_names == cells.var_names).all()
    True
    """
    check_anndata(reference, "reference")
    check_anndata(query, "query")
    check_unique_var_names(reference, "reference")
    check_unique_var_names(query, "query")
    n_required = _required_count(min_shared, reference.n_vars)

    shared = reference.var_names[reference.var_names.isin(query.var_names)]
    if len(shared) == 0:
        raise ValueError(
            _no_overlap_message(reference.var_names, query.var_names) + _names_column_hint(reference, query)
        )
    if len(shared) < n_required:
        raise ValueError(
            f"Only {len(shared):,} of {reference.n_vars:,} reference genes are found in the query, fewer "
            f"than `min_shared={min_shared}` ({n_required:,} genes). Check that both use the same gene "
            "identifiers (symbols vs Ensembl ids, case) and that the query holds all its measured genes, not only "
            "highly variable ones (e.g. `adata.raw.to_adata()`); else lower `min_shared`, at the cost of "
            f"predictions that rest on fewer genes.{_names_column_hint(reference, query, len(shared))}"
        )
    missing = reference.var_names.difference(query.var_names, sort=False)
    if len(missing):
        small = (
            f" That is a small panel (fewer than {SMALL_PANEL_GENES:,} genes): predictions rest on few genes, so "
            "give the query all its measured genes (not only highly variable ones) if it has more."
            if len(shared) < SMALL_PANEL_GENES
            else ""
        )
        warnings.warn(
            f"{len(shared):,} of {reference.n_vars:,} reference genes found in query; {len(missing):,} "
            f"missing (e.g. {preview(missing, 5)}). The outputs keep only the {len(shared):,} shared genes.{small}",
            UserWarning,
            stacklevel=2,
        )
    logger.info(
        "align_genes uses %d shared genes (of the reference's %d); dropped %d of the query's %d genes",
        len(shared),
        reference.n_vars,
        query.n_vars - len(shared),
        query.n_vars,
    )

    summary = {
        "params": {"min_shared": min_shared, "layer": layer},
        "n_shared": len(shared),
        "n_reference": int(reference.n_vars),
        "n_query": int(query.n_vars),
    }
    return _subset(reference, shared, layer, summary, "reference"), _subset(query, shared, layer, summary, "query")


def _subset(adata: AnnData, genes: pd.Index, layer: str | None, summary: dict, argument: str) -> AnnData:
    if layer is not None:
        get_matrix(adata, layer)  # raises a KeyError naming the layers when it is missing
    view = adata[:, genes]
    out = view.to_memory() if adata.isbacked else view.copy()  # backed: read only the shared genes from disk
    if layer is not None:
        out.X = out.layers[layer].copy()
    out.uns[ALIGN_KEY] = {**summary, "params": dict(summary["params"]), "input": argument}
    return out


def _required_count(min_shared: float | int, n_reference: int) -> int:
    if isinstance(min_shared, bool) or not isinstance(min_shared, numbers.Real):
        raise TypeError(f"`min_shared` must be a fraction (float) or a number of genes (int), got {min_shared!r}.")
    if not isinstance(min_shared, numbers.Integral):
        if not 0.0 < min_shared <= 1.0:
            raise ValueError(
                "`min_shared` as a float is a fraction of the reference's genes and must lie in (0, 1], "
                f"got {min_shared}. Pass an int for a number of genes."
            )
        return max(1, round(min_shared * n_reference))
    if min_shared < 1:
        raise ValueError(f"`min_shared` as an int is a number of genes and must be at least 1, got {min_shared}.")
    return min(int(min_shared), n_reference)


def _no_overlap_message(reference: pd.Index, query: pd.Index) -> str:
    hint = ""
    if reference.str.upper().isin(query.str.upper()).any():
        hint = " Some names match when case is ignored: harmonise the case (e.g. `var_names.str.upper()`)."
    elif _looks_ensembl(reference) != _looks_ensembl(query):
        hint = " One side looks like Ensembl ids and the other like gene symbols: map them to one kind first."
    return (
        f"No gene is shared by the reference ({len(reference):,} genes, e.g. {preview(reference, 3)}) and "
        f"the query ({len(query):,} genes, e.g. {preview(query, 3)}). Check the gene identifiers: symbols "
        f"vs Ensembl ids, case, version suffixes such as '.1'.{hint}"
    )


def _names_column_hint(reference: AnnData, query: AnnData, n_shared: int = 0) -> str:
    """Name the column of ``query.var`` whose gene names match more reference genes than ``var_names`` do.

    Data from portals such as CELLxGENE index genes by Ensembl id and keep the symbols in a column
    (``feature_name``, ``gene_symbols``, ...).
    """
    best, n_best = None, n_shared
    for column in query.var.columns:
        values = query.var[column]
        if values.dtype.kind in "OSU" or isinstance(values.dtype, pd.CategoricalDtype):
            n_found = int(reference.var_names.isin(values.astype(str)).sum())
            if n_found > n_best:
                best, n_best = column, n_found
    if best is None:
        return ""
    return (
        f" The query's `var[{best!r}]` names {n_best:,} of the reference genes: use it as the gene names, e.g. "
        f"`adata.var_names = adata.var[{best!r}].astype(str); adata.var_names_make_unique()`."
    )


def _looks_ensembl(names: pd.Index) -> bool:
    return bool(names.astype(str).str.match(r"^ENS[A-Z]*G\d+").mean() > 0.5)
