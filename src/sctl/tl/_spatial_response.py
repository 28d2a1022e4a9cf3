"""Do sensitive and resistant cells cluster in tissue space? Spatial statistics of the response call (squidpy)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd
from anndata import AnnData
from scipy import sparse

from sctl._constants import RESPONSE_KEY, SENSITIVE
from sctl._docs import doc_params
from sctl._validate import check_anndata, preview

SPATIAL_RESPONSE_KEY = "sctl_spatial_response"
Graph = Literal["knn", "radius", "delaunay", "grid"]
_GRAPHS = ("knn", "radius", "delaunay", "grid")
_INSTALL = 'pip install "sctl[spatial]"'


@doc_params()
def spatial_response(
    adata: AnnData,
    *,
    key: str = RESPONSE_KEY,
    spatial_key: str = "spatial",
    sensitive: str = SENSITIVE,
    library_key: str | None = None,
    graph: Graph = "knn",
    n_neighs: int = 6,
    radius: float | None = None,
    n_perms: int = 1000,
    interval: int | np.ndarray = 50,
    co_occurrence_max_cells: int | None = 20_000,
    seed: int = 0,
    key_added: str = SPATIAL_RESPONSE_KEY,
    copy: bool = False,
) -> AnnData | None:
    """Test whether predicted sensitive and resistant cells cluster in tissue space.

    GRIP-Lung's discussion names spatial transcriptomics as the way to see intratumour heterogeneity of response;
    neither it nor ATSDP-NET defines a spatial test, so sctl uses the standard ones, computed with squidpy
    :cite:p:`palla2022squidpy`:

    1. **Spatial graph**: the neighbours of every cell from its coordinates ``adata.obsm[spatial_key]``
       (squidpy's ``spatial_neighbors``; ``graph="knn"``: the ``n_neighs`` nearest cells, ``"radius"``: the
       cells within ``radius``, ``"delaunay"``: the Delaunay triangulation, ``"grid"``: Visium-like spot grids).
       The graph is made symmetric (``i`` and ``j`` are neighbours when either lists the other).
    2. **Neighbourhood enrichment** (:func:`squidpy.gr.nhood_enrichment`): for every pair of calls, the z-score
       of the number of edges joining them against ``n_perms`` label permutations.
    3. **Co-occurrence** (:func:`squidpy.gr.co_occurrence`): ``p(call_i | call_j within d) / p(call_i)`` for
       growing distances ``d``; above 1 at short distances means ``i`` is found near ``j`` more than by chance.
       Its cost grows with the square of the number of cells, so at most ``co_occurrence_max_cells`` cells
       (a seeded random subset) are used.
    4. **Statistics a reader can quote**: every cell's fraction of sensitive neighbours, and the global
       sensitive-sensitive join count :cite:p:`cliff1981spatial`: the number of graph edges joining
       two sensitive cells, against ``n_perms`` seeded permutations of the calls (within each library when
       ``library_key`` is given), giving a z-score and a one-sided permutation p-value
       ``(1 + #{perm >= observed}) / (1 + n_perms)``. A large positive z (small p) means the sensitive cells
       form patches; z near 0, that they are scattered as if at random.

    Requires the ``spatial`` extra (``pip install "sctl[spatial]"``); squidpy is imported only when this
    function runs. squidpy runs on a bare copy of the calls and coordinates, so it leaves none of its own keys
    in ``adata``; everything is written under ``key_added``.

    Parameters
    ----------
    adata
        Cells (or spots) with coordinates in ``adata.obsm[spatial_key]`` and the call in ``adata.obs[key]``.
    key
        Column of the response call, from :func:`sctl.tl.predict_response`; any categorical column works (for
        instance true labels), with ``sensitive`` among its values.
    spatial_key
        Key of the coordinates in ``adata.obsm`` (n_cells x 2).
    sensitive
        The value of ``adata.obs[key]`` that marks sensitive cells.
    library_key
        Column of ``adata.obs`` naming the tissue section of each cell: graphs are built per section and the
        permutations shuffle calls within sections; co-occurrence is computed per section on a common distance
        grid and averaged, weighted by the cells of each section.
    graph
        How neighbours are defined: ``"knn"``, ``"radius"``, ``"delaunay"`` or ``"grid"``.
    n_neighs
        Neighbours per cell for ``"knn"`` and ``"grid"``.
    radius
        Distance cut-off for ``"radius"`` (required there) and, optionally, to prune long ``"delaunay"`` edges.
    n_perms
        Permutations of the neighbourhood enrichment and of the join count.
    interval
        Distances of the co-occurrence: a number of thresholds (squidpy picks the range) or the thresholds.
    co_occurrence_max_cells
        Cells used for the co-occurrence at most (``None``: all).
    seed
        Seed of the permutations and of the co-occurrence subset.
    key_added
        Prefix of every key written.
    {copy}

    {returns_copy}
    Sets

    ``adata.obsp[f"{key_added}_connectivities"]``, ``adata.obsp[f"{key_added}_distances"]``
        the spatial graph as squidpy builds it (before symmetrisation);
    ``adata.obs[f"{key_added}_sensitive_fraction"]``
        each cell's fraction of sensitive neighbours in the symmetric graph (NaN for a cell without neighbours);
    ``adata.uns[key_added]``
        ``params``; ``join_count``, a dict with ``observed`` (sensitive-sensitive edges), ``expected`` and
        ``std`` (mean and standard deviation over the permutations), ``zscore``, ``pvalue``, ``n_edges``,
        ``n_sensitive``, ``n_cells``; ``nhood_enrichment``, a dict with ``zscore`` and ``count`` (DataFrames,
        call x call); ``co_occurrence``, a dict with ``occ`` (array call x call x distance, entry ``[i, j, d]``
        is ``p(i | j within interval[d + 1]) / p(i)``), ``interval`` and ``categories``.

    Examples
    --------
    >>> sctl.tl.predict_response(cells, model)  # doctest: +SKIP
    >>> sctl.tl.spatial_response(cells, spatial_key="spatial")  # doctest: +SKIP
    >>> cells.uns["sctl_spatial_response"]["join_count"]["zscore"]  # doctest: +SKIP
    """
    check_anndata(adata)
    calls = _calls(adata, key, sensitive)
    coords = _coordinates(adata, spatial_key)
    libraries = _libraries(adata, library_key)
    _check_params(graph, n_neighs, radius, n_perms, co_occurrence_max_cells)
    sq = _import_squidpy()

    bare = AnnData(obs=pd.DataFrame({"call": calls}, index=adata.obs_names.astype(str)))
    bare.obsm["spatial"] = coords
    if libraries is not None:
        bare.obs["library"] = libraries
    if "spatial" in adata.uns and graph == "grid":  # Visium metadata, read by squidpy's grid builder
        bare.uns["spatial"] = adata.uns["spatial"]
    connectivities, distances = _spatial_graph(sq, bare, graph, n_neighs, radius, libraries is not None)
    bare.obsp["graph_connectivities"] = connectivities

    with np.errstate(invalid="ignore", divide="ignore"):  # z is NaN where no permutation changes a count
        enrichment = sq.gr.nhood_enrichment(
            bare,
            "call",
            library_key="library" if libraries is not None else None,
            connectivity_key="graph",
            n_perms=n_perms,
            seed=seed,
            copy=True,
            show_progress_bar=False,
        )
    categories = list(calls.cat.categories)
    rng = np.random.default_rng(seed)
    occ, thresholds = _co_occurrence(sq, bare, interval, co_occurrence_max_cells, rng)
    is_sensitive = (calls == sensitive).to_numpy()
    adjacency = _symmetric(connectivities)
    join = _join_count(adjacency, is_sensitive, libraries, n_perms, rng)

    adata = adata.copy() if copy else adata
    adata.obsp[f"{key_added}_connectivities"] = connectivities
    adata.obsp[f"{key_added}_distances"] = distances
    adata.obs[f"{key_added}_sensitive_fraction"] = _neighbour_fraction(adjacency, is_sensitive)
    zscore, count = _enrichment_arrays(enrichment)
    adata.uns[key_added] = {
        "params": {
            "key": key,
            "spatial_key": spatial_key,
            "sensitive": sensitive,
            "library_key": library_key,
            "graph": graph,
            "n_neighs": int(n_neighs),
            "radius": None if radius is None else float(radius),
            "n_perms": int(n_perms),
            "co_occurrence_max_cells": co_occurrence_max_cells,
            "seed": int(seed),
        },
        "join_count": join,
        "nhood_enrichment": {
            "zscore": pd.DataFrame(zscore, index=categories, columns=categories),
            "count": pd.DataFrame(count, index=categories, columns=categories),
        },
        "co_occurrence": {"occ": occ, "interval": thresholds, "categories": categories},
    }
    return adata if copy else None


def _import_squidpy() -> Any:
    try:
        import squidpy as sq
    except ImportError as error:
        raise ImportError(
            f"`sctl.tl.spatial_response` needs squidpy, which is not installed: `{_INSTALL}` "
            "(or `pip install squidpy`)."
        ) from error
    return sq


def _calls(adata: AnnData, key: str, sensitive: str) -> pd.Series:
    if key not in adata.obs.columns:
        raise KeyError(
            f"No response call `adata.obs[{key!r}]`: run `sctl.tl.predict_response(adata, model)` first, or pass "
            "the column of the sensitive / resistant call as `key=`."
        )
    calls = adata.obs[key]
    missing = int(calls.isna().sum())
    if missing:
        raise ValueError(
            f"{missing} of {adata.n_obs} cells have no call in `adata.obs[{key!r}]`: keep the called cells, "
            f"e.g. `adata = adata[adata.obs[{key!r}].notna()].copy()`."
        )
    calls = pd.Series(pd.Categorical(calls.astype(str)), index=adata.obs_names.astype(str))
    categories = list(calls.cat.categories)
    if sensitive not in categories:
        raise ValueError(
            f"No cell is called {sensitive!r} in `adata.obs[{key!r}]` (values: {preview(categories)}): pass the "
            "value that marks sensitive cells as `sensitive=`."
        )
    if len(categories) < 2:
        raise ValueError(
            f"Every cell is called {sensitive!r} in `adata.obs[{key!r}]`: spatial clustering needs two calls."
        )
    return calls


def _coordinates(adata: AnnData, spatial_key: str) -> np.ndarray:
    if spatial_key not in adata.obsm:
        raise KeyError(
            f"No spatial coordinates `adata.obsm[{spatial_key!r}]` (obsm keys: {preview(adata.obsm.keys()) or 'none'})."
            f" Add them as an array of n_cells x 2 (x, y), e.g. `adata.obsm[{spatial_key!r}] = "
            "adata.obs[['x', 'y']].to_numpy()`, or pass the key that holds them as `spatial_key=`."
        )
    coords = np.asarray(adata.obsm[spatial_key], dtype=np.float64)
    if coords.ndim != 2 or coords.shape[1] < 2:
        raise ValueError(
            f"`adata.obsm[{spatial_key!r}]` must be n_cells x 2 coordinates (x, y), got shape {coords.shape}."
        )
    if not np.isfinite(coords).all():
        raise ValueError(f"`adata.obsm[{spatial_key!r}]` holds NaN or infinite coordinates: drop those cells first.")
    return coords[:, :2]


def _libraries(adata: AnnData, library_key: str | None) -> pd.Categorical | None:
    if library_key is None:
        return None
    if library_key not in adata.obs.columns:
        raise KeyError(f"`library_key={library_key!r}` is not a column of `adata.obs`.")
    return pd.Categorical(adata.obs[library_key].astype(str))


def _check_params(graph: str, n_neighs: int, radius: float | None, n_perms: int, max_cells: int | None) -> None:
    if graph not in _GRAPHS:
        raise ValueError(f"`graph` must be one of {', '.join(map(repr, _GRAPHS))}, got {graph!r}.")
    if graph == "radius" and radius is None:
        raise ValueError('`graph="radius"` needs `radius=` (a distance in the units of the coordinates).')
    if n_neighs < 1:
        raise ValueError(f"`n_neighs` must be at least 1, got {n_neighs}.")
    if n_perms < 1:
        raise ValueError(f"`n_perms` must be at least 1, got {n_perms}.")
    if max_cells is not None and max_cells < 2:
        raise ValueError(f"`co_occurrence_max_cells` must be at least 2 (or None), got {max_cells}.")


def _spatial_graph(
    sq: Any, bare: AnnData, graph: str, n_neighs: int, radius: float | None, per_library: bool
) -> tuple[sparse.csr_matrix, sparse.csr_matrix]:
    """Connectivities and distances from squidpy's graph builders (the per-mode functions of squidpy >= 1.8)."""
    common: dict[str, Any] = {"spatial_key": "spatial", "copy": True}
    if per_library:
        common["library_key"] = "library"
    options: dict[str, Any] = {
        "knn": {"n_neighs": n_neighs},
        "radius": {"radius": radius},
        "delaunay": {"radius": radius},
        "grid": {"n_neighs": n_neighs},
    }[graph]
    builder = getattr(sq.gr, f"spatial_neighbors_{graph}", None)
    if builder is not None:
        result = builder(bare, **common, **options)
    else:  # squidpy < 1.8: one function with a coordinate type
        legacy: dict[str, Any] = {
            "knn": {"coord_type": "generic", "n_neighs": n_neighs},
            "radius": {"coord_type": "generic", "radius": radius},
            "delaunay": {"coord_type": "generic", "delaunay": True, "radius": radius},
            "grid": {"coord_type": "grid", "n_neighs": n_neighs},
        }[graph]
        result = sq.gr.spatial_neighbors(bare, **common, **legacy)
    connectivities, distances = (
        (result.connectivities, result.distances) if hasattr(result, "connectivities") else tuple(result)
    )
    return sparse.csr_matrix(connectivities), sparse.csr_matrix(distances)


def _symmetric(connectivities: sparse.spmatrix) -> sparse.csr_matrix:
    """Binary symmetric adjacency without self-loops."""
    adjacency = (connectivities != 0).astype(np.float64)
    adjacency = ((adjacency + adjacency.T) > 0).astype(np.float64).tocsr()
    adjacency.setdiag(0.0)
    adjacency.eliminate_zeros()
    return adjacency


def _neighbour_fraction(adjacency: sparse.csr_matrix, is_sensitive: np.ndarray) -> np.ndarray:
    degree = np.asarray(adjacency.sum(axis=1)).ravel()
    sensitive = adjacency @ is_sensitive.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(degree > 0, sensitive / degree, np.nan)


def _join_count(
    adjacency: sparse.csr_matrix,
    is_sensitive: np.ndarray,
    libraries: pd.Categorical | None,
    n_perms: int,
    rng: np.random.Generator,
    chunk: int = 100,
) -> dict[str, float]:
    """Sensitive-sensitive join count ``s^T A s / 2`` against label permutations (within libraries)."""
    labels = is_sensitive.astype(np.float64)
    observed = float(labels @ (adjacency @ labels)) / 2.0
    groups = (
        [np.arange(len(labels))]
        if libraries is None
        else [np.flatnonzero(libraries.codes == code) for code in range(len(libraries.categories))]
    )
    permuted = np.empty(n_perms)
    for start in range(0, n_perms, chunk):
        size = min(chunk, n_perms - start)
        block = np.repeat(labels[:, None], size, axis=1)
        for members in groups:
            block[members] = rng.permuted(block[members], axis=0)  # each column shuffled on its own
        permuted[start : start + size] = np.einsum("ij,ij->j", block, adjacency @ block) / 2.0
    expected, std = float(permuted.mean()), float(permuted.std())
    return {
        "observed": observed,
        "expected": expected,
        "std": std,
        "zscore": (observed - expected) / std if std > 0 else float("nan"),
        "pvalue": float((1 + np.sum(permuted >= observed)) / (1 + n_perms)),
        "n_edges": float(adjacency.nnz / 2),
        "n_sensitive": float(labels.sum()),
        "n_cells": float(len(labels)),
    }


def _co_occurrence(
    sq: Any, bare: AnnData, interval: int | np.ndarray, max_cells: int | None, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Co-occurrence of the calls (squidpy), per library on a common distance grid, averaged by library size."""
    n_categories = len(bare.obs["call"].cat.categories)
    subset = bare
    if max_cells is not None and bare.n_obs > max_cells:
        subset = bare[np.sort(rng.choice(bare.n_obs, size=max_cells, replace=False))]
    if "library" in subset.obs:
        parts = [subset[subset.obs["library"] == name] for name in subset.obs["library"].cat.categories]
        parts = [part for part in parts if part.n_obs > 2]
    else:
        parts = [subset]
    if not parts:
        raise ValueError("Co-occurrence needs at least 3 cells per tissue section; every section has fewer.")
    parts.sort(key=lambda part: -part.n_obs)
    thresholds = None if np.ndim(interval) == 0 else np.sort(np.asarray(interval, dtype=np.float64))
    total = None
    weights = None
    for part in parts:
        occ, thresholds = _co_occurrence_part(sq, part, interval if thresholds is None else thresholds, n_categories)
        weight = np.where(np.isfinite(occ), part.n_obs, 0.0)
        total = np.where(np.isfinite(occ), occ, 0.0) * weight + (0.0 if total is None else total)
        weights = weight + (0.0 if weights is None else weights)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(weights > 0, total / weights, np.nan), np.asarray(thresholds, dtype=np.float64)


def _co_occurrence_part(
    sq: Any, part: AnnData, interval: int | np.ndarray, n_categories: int
) -> tuple[np.ndarray, np.ndarray]:
    """Co-occurrence of one section, padded to every call (a section may lack one)."""
    calls = part.obs["call"]
    present = [c for c in calls.cat.categories if (calls == c).any()]
    local = AnnData(
        obs=pd.DataFrame({"call": pd.Categorical(calls.astype(str), categories=present)}, index=part.obs_names)
    )
    local.obsm["spatial"] = np.asarray(part.obsm["spatial"])
    occ, thresholds = sq.gr.co_occurrence(local, "call", spatial_key="spatial", interval=interval, copy=True)
    full = np.full((n_categories, n_categories, occ.shape[2]), np.nan)
    index = [list(calls.cat.categories).index(c) for c in present]
    full[np.ix_(index, index)] = occ
    return full, thresholds


def _enrichment_arrays(result: Any) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(result, Mapping):
        return np.asarray(result["zscore"]), np.asarray(result["count"])
    if hasattr(result, "zscore"):
        return np.asarray(result.zscore), np.asarray(result.counts)
    zscore, count = result  # squidpy < 1.8 returns a tuple
    return np.asarray(zscore), np.asarray(count)
