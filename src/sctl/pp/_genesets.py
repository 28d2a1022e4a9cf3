"""Gene-set masks and protein-interaction adjacency matrices aligned to a model's genes."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import sparse

from sctl._validate import preview

logger = logging.getLogger(__name__)


def pathway_mask(
    genesets: pd.DataFrame | Mapping[str, Iterable[str]],
    var_names: Sequence[str] | pd.Index,
    *,
    min_genes: int = 10,
    max_genes: int | None = None,
) -> pd.DataFrame:
    """Build the genes x pathways 0/1 mask of a pathway-masked layer.

    Entry ``(g, p)`` is 1 when gene ``g`` belongs to pathway ``p``. In the sparse decoder of :cite:t:`he2025transfer` a
    pathway node connects only to its genes; multiply the weights of such a layer by this mask.

    Parameters
    ----------
    genesets
        A decoupler-style DataFrame with columns ``source`` (set name) and ``target`` (gene), e.g. from
        :func:`decoupler.op.progeny` or a GMT file; or a mapping set name -> genes.
    var_names
        The genes of the model, in order (e.g. ``adata.var_names``).
    min_genes
        Fewest genes of ``var_names`` a set needs to be kept.
    max_genes
        Most genes of ``var_names`` a set may have to be kept (``None``: no limit).

    Returns
    -------
    A ``float32`` DataFrame, index ``var_names``, one column per kept set (in input order).

    Examples
    --------
    >>> import sctl
    >>> sets = {"A": ["g1", "g2", "g3"], "B": ["g3", "g9"]}
    >>> sctl.pp.pathway_mask(sets, ["g1", "g2", "g3"], min_genes=2)
    pathway    A
    g1       1.0
    g2       1.0
    g3       1.0
    """
    var_names = _check_var_names(var_names)
    if min_genes < 1 or (max_genes is not None and max_genes < min_genes):
        raise ValueError(f"Need 1 <= min_genes <= max_genes, got min_genes={min_genes}, max_genes={max_genes}.")
    members = _members(genesets)
    all_sets = pd.unique(members["source"])
    rows = var_names.get_indexer(members["target"])
    members = members.loc[rows >= 0].assign(row=rows[rows >= 0]).drop_duplicates(["source", "row"])
    sizes = members.groupby("source", sort=False).size().reindex(all_sets, fill_value=0)
    keep = sizes >= min_genes
    if max_genes is not None:
        keep &= sizes <= max_genes
    kept = sizes.index[keep]
    bounds = f">= {min_genes}" if max_genes is None else f"{min_genes} to {max_genes}"
    logger.info(
        "pathway_mask kept %d of %d gene sets (%s genes among the %d var_names); dropped %d",
        len(kept),
        len(sizes),
        bounds,
        len(var_names),
        len(sizes) - len(kept),
    )
    if len(kept) == 0:
        if len(sizes) == 0:
            raise ValueError("`genesets` is empty: pass at least one set with its genes.")
        raise ValueError(
            f"No gene set has {bounds} genes among the {len(var_names)} var_names; the largest overlap is "
            f"{int(sizes.max())} genes ({sizes.idxmax()!r}). Lower "
            f"`min_genes`{'' if max_genes is None else ' or raise `max_genes`'}, or check that the sets and "
            "var_names use the same gene identifiers (symbols vs Ensembl ids, case)."
        )
    mask = np.zeros((len(var_names), len(kept)), dtype=np.float32)
    members = members[members["source"].isin(kept)]
    columns = pd.Index(kept).get_indexer(members["source"])
    mask[members["row"].to_numpy(), columns] = 1.0
    return pd.DataFrame(mask, index=var_names, columns=pd.Index(kept, name="pathway"))


def ppi_adjacency(
    edges: pd.DataFrame,
    var_names: Sequence[str] | pd.Index,
    *,
    weight: str | None = "weight",
    self_loops: bool = True,
    symmetric: bool = True,
) -> sparse.csr_matrix:
    """Build the genes x genes adjacency matrix of a protein-interaction network, aligned to ``var_names``.

    Used as the graph prior of CSG2A-style models. Edges with a gene outside ``var_names`` are dropped; an
    edge listed more than once (or in both directions, when ``symmetric``) keeps its largest weight.

    Parameters
    ----------
    edges
        DataFrame with columns ``source`` and ``target`` (gene names) and optionally a weight column.
    var_names
        The genes of the model, in order (e.g. ``adata.var_names``); rows and columns follow it.
    weight
        Column holding the edge weights, e.g. ``"combined_score"`` for STRING. ``None``, or the default
        ``"weight"`` when there is no such column: every edge weighs 1.
    self_loops
        Set the diagonal to 1 (``A + I`` of graph convolutions); ``False`` removes any self-edges instead.
    symmetric
        Add the reverse of every edge (an undirected network).

    Returns
    -------
    A ``float32`` :class:`scipy.sparse.csr_matrix` of shape ``(len(var_names), len(var_names))``.

    Examples
    --------
    >>> import pandas as pd
    >>> import sctl
    >>> edges = pd.DataFrame({"source": ["g1", "g2"], "target": ["g2", "x"], "weight": [0.9, 0.5]})
    >>> sctl.pp.ppi_adjacency(edges, ["g1", "g2", "g3"]).toarray()
    array([[1. , 0.9, 0. ],
           [0.9, 1. , 0. ],
           [0. , 0. , 1. ]], dtype=float32)
    """
    var_names = _check_var_names(var_names)
    _check_columns(edges, "edges")
    weights = _edge_weights(edges, weight)
    source, target = var_names.get_indexer(edges["source"]), var_names.get_indexer(edges["target"])
    genes_found = np.union1d(source[source >= 0], target[target >= 0])
    if len(genes_found) == 0:
        raise ValueError(
            f"No gene of the {len(edges)} edges is among the {len(var_names)} var_names (edges name e.g. "
            f"{preview(edges['source'], 3)}; var_names e.g. {preview(var_names, 3)}). Check that both use "
            "the same gene identifiers (symbols vs Ensembl ids, case)."
        )
    matched = (source >= 0) & (target >= 0)
    rows, cols, values = source[matched], target[matched], weights[matched]
    if not matched.any():
        warnings.warn(
            f"No edge joins two of the var_names ({len(genes_found)} genes appear in edges at all); the "
            "adjacency holds no edge.",
            UserWarning,
            stacklevel=2,
        )
    if symmetric:
        rows, cols, values = np.r_[rows, cols], np.r_[cols, rows], np.r_[values, values]
    table = pd.DataFrame({"row": rows, "col": cols, "value": values})
    table = table[table["row"] != table["col"]].groupby(["row", "col"], sort=True, as_index=False)["value"].max()
    n = len(var_names)
    adjacency = sparse.coo_matrix(
        (table["value"].to_numpy(np.float32), (table["row"].to_numpy(), table["col"].to_numpy())),
        shape=(n, n),
    ).tocsr()
    if self_loops:
        adjacency = (adjacency + sparse.identity(n, dtype=np.float32, format="csr")).tocsr()
    adjacency = sparse.csr_matrix(adjacency, dtype=np.float32)
    adjacency.sort_indices()
    connected = np.unique(np.r_[table["row"].to_numpy(), table["col"].to_numpy()])
    logger.info(
        "ppi_adjacency matched %d of %d edges; %d of %d genes have at least one edge",
        int(matched.sum()),
        len(edges),
        len(connected),
        n,
    )
    return adjacency


def _check_var_names(var_names: Sequence[str] | pd.Index) -> pd.Index:
    var_names = pd.Index(var_names).astype(str)
    if not var_names.is_unique:
        duplicated = var_names[var_names.duplicated()].unique()
        raise ValueError(
            f"`var_names` holds duplicated genes ({preview(duplicated, 5)}). Make them unique first, e.g. "
            "with `adata.var_names_make_unique()`."
        )
    return var_names


def _check_columns(table: pd.DataFrame, name: str) -> None:
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"`{name}` must be a DataFrame with columns 'source' and 'target', got {type(table).__name__}.")
    missing = [column for column in ("source", "target") if column not in table.columns]
    if missing:
        raise KeyError(
            f"`{name}` lacks the column(s) {', '.join(map(repr, missing))}; it has {preview(table.columns)}. "
            "Rename them, e.g. `table.rename(columns={'geneset': 'source', 'genesymbol': 'target'})`."
        )


def _members(genesets: pd.DataFrame | Mapping[str, Iterable[str]]) -> pd.DataFrame:
    if isinstance(genesets, Mapping):
        pairs = [(str(name), str(gene)) for name, genes in genesets.items() for gene in genes]
        return pd.DataFrame(pairs, columns=["source", "target"], dtype=object)
    _check_columns(genesets, "genesets")
    return pd.DataFrame({"source": genesets["source"].astype(str), "target": genesets["target"].astype(str)})


def _edge_weights(edges: pd.DataFrame, weight: str | None) -> np.ndarray:
    if weight is None or (weight == "weight" and weight not in edges.columns):
        return np.ones(len(edges), dtype=np.float64)
    if weight not in edges.columns:
        raise KeyError(
            f"Weight column {weight!r} not found in `edges` (columns: {preview(edges.columns)}). Pass "
            "`weight=None` for an unweighted network."
        )
    values = pd.to_numeric(edges[weight], errors="coerce").to_numpy(dtype=np.float64)
    if not np.isfinite(values).all():
        raise ValueError(
            f"`edges[{weight!r}]` holds {int((~np.isfinite(values)).sum())} missing or non-numeric weights. "
            "Fill or drop those edges first."
        )
    return values
