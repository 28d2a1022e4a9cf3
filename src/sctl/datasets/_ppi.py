"""Reader of protein-protein interaction edge lists."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sctl._validate import preview
from sctl.datasets._utils import PathLike, check_columns, read_table, report


def _undirected(edges: pd.DataFrame) -> pd.DataFrame:
    """Drop self-loops and keep one row per unordered pair (the largest weight), ``source < target``."""
    edges = edges[edges["source"] != edges["target"]]
    first = np.minimum(edges["source"].to_numpy(), edges["target"].to_numpy())
    second = np.maximum(edges["source"].to_numpy(), edges["target"].to_numpy())
    pairs = pd.DataFrame({"source": first, "target": second, "weight": edges["weight"].to_numpy()})
    pairs = pairs.groupby(["source", "target"], as_index=False, sort=True)["weight"].max()
    return pairs.reset_index(drop=True)


def read_ppi(
    path: PathLike,
    *,
    source: str = "source",
    target: str = "target",
    weight: str | None = "combined_score",
    min_weight: float | None = None,
) -> pd.DataFrame:
    """Read a protein-protein interaction edge list as an undirected, weighted network.

    The table is comma-, tab- or space-separated (optionally gzipped), one edge per row, e.g. STRING's
    ``protein1 protein2 combined_score``. Edges are undirected: ``A-B`` and ``B-A`` are one pair, kept once
    with the largest weight; self-loops are dropped.

    Parameters
    ----------
    path
        The edge list.
    source, target
        Columns holding the two interacting genes or proteins.
    weight
        Column holding the edge weight, or ``None`` to give every edge weight 1.
    min_weight
        Keep only edges with at least this weight (after collapsing pairs). Mind the scale: STRING's
        ``combined_score`` runs 0-1000 in its downloads, 0-1 in some derived files.

    Returns
    -------
    Columns ``source``, ``target`` (``source < target``) and ``weight`` (float).

    Examples
    --------
    >>> net = sctl.datasets.read_ppi("string_example_edges.csv.gz", min_weight=0.4)  # doctest: +SKIP
    """
    table = read_table(path, "edge list", dtype={source: str, target: str})
    check_columns(table, [source, target] + ([weight] if weight is not None else []), "edge list")
    weights = pd.to_numeric(table[weight], errors="coerce") if weight is not None else pd.Series(1.0, index=table.index)
    if weight is not None and (weights.isna() & table[weight].notna()).any():
        raise ValueError(f"Column {weight!r} of the edge list must be numeric. Pass `weight=` to name another column.")
    if not np.isfinite(weights.to_numpy(dtype=np.float64)).all():
        bad = np.flatnonzero(~np.isfinite(weights.to_numpy(dtype=np.float64)))
        raise ValueError(
            f"{len(bad)} edges have a missing or infinite {weight!r} (data rows {preview(bad + 1, 5)}). Fill or drop "
            "them, or pass `weight=None` to give every edge weight 1."
        )
    edges = pd.DataFrame({"source": table[source], "target": table[target], "weight": weights.astype(np.float64)})
    n_rows = len(edges)
    edges = _undirected(edges.dropna(subset=["source", "target"]))
    if edges.empty:
        raise ValueError(
            f"The edge list holds no edge between two different genes ({n_rows} rows). Check the file and the "
            "`source=` / `target=` columns."
        )
    if min_weight is not None:
        kept = edges[edges["weight"] >= min_weight].reset_index(drop=True)
        if kept.empty:
            raise ValueError(
                f"No edge has a weight of at least min_weight={min_weight} (weights run from "
                f"{edges['weight'].min():g} to {edges['weight'].max():g}). Mind the scale of the weights."
            )
        edges = kept
    report(f"Read {len(edges)} undirected edges from {n_rows} rows (self-loops and repeated pairs collapsed).")
    return edges
