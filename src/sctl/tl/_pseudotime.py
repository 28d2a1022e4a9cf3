"""Diffusion pseudotime of the cells and its correlation with the predicted drug response (ATSDP-NET, §3.7)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
import scanpy as sc
from anndata import AnnData
from scipy.stats import spearmanr

from sctl._constants import PSEUDOTIME_KEY, RESPONSE_KEY, RESPONSE_PROBA_KEY
from sctl._docs import doc_params
from sctl._validate import check_anndata, check_obs_key, get_matrix, preview, to_dense

Root = int | str | np.ndarray | pd.Series | tuple[str, str]
_EXTREMES = ("most_sensitive", "most_resistant")
#: default start of the trajectory: the tip of the untreated (control) cells, ``adata.obs["condition"] == "control"``
DEFAULT_ROOT = ("condition", "control")


@doc_params()
def response_pseudotime(
    adata: AnnData,
    *,
    root: Root = DEFAULT_ROOT,
    key: str = RESPONSE_PROBA_KEY,
    genes: Sequence[str] | None = None,
    layer: str | None = None,
    n_dcs: int = 10,
    n_neighbors: int = 15,
    key_added: str = PSEUDOTIME_KEY,
    copy: bool = False,
) -> AnnData | None:
    """Order the cells by diffusion pseudotime and correlate it with the probability of sensitivity.

    As in ATSDP-NET :cite:p:`zhou2025atsdpnet{section 3.7}`, the pseudotime is scanpy's
    diffusion pseudotime :cite:p:`haghverdi2016dpt` on a k-nearest-neighbour graph; its Spearman
    correlation with the predicted probability of sensitivity tells whether the response changes along the
    trajectory, and that of given genes whether they rise or fall with it. Pseudotime is an ordering by
    transcriptional similarity, not treatment time: a correlation is an association, not a cause.

    The paper's trajectory runs from sensitive to resistant cells, the probability of resistance rising with
    pseudotime (a negative ``spearman_rho`` here, as ``key`` is the probability of sensitivity). sctl roots it on
    an annotation independent of the prediction, by default the tip of the untreated cells
    (``adata.obs["condition"] == "control"``); the paper does not say how it chose the root. Rooting on the
    prediction itself (``root="most_sensitive"``) is possible but circular: the root then sits at one end of the
    very score the pseudotime is correlated with, which pulls the correlation away from zero by construction, and
    a warning says so.

    What is missing is computed and written into ``adata`` as scanpy does: ``X_pca`` (:func:`scanpy.pp.pca`),
    the neighbour graph (:func:`scanpy.pp.neighbors`, ``n_neighbors``) and ``X_diffmap``
    (:func:`scanpy.tl.diffmap`). Existing ones are reused.

    Parameters
    ----------
    adata
        Cells x genes with ``adata.obs[key]`` from :func:`sctl.tl.predict_response`.
    root
        Start of the trajectory: ``(column, value)`` of ``adata.obs`` (default ``("condition", "control")``: the
        untreated cells; e.g. ``("sample", "parental")`` or the cells labelled sensitive in the experiment), a
        boolean mask over the cells, a cell's position (int) or name (str). For a label or mask, the root is the
        tip of that group: its cell farthest, in diffusion components, from the centroid of the other cells.
        ``"most_sensitive"`` (highest ``key``, the paper's direction) or ``"most_resistant"`` root on the
        prediction itself, with a warning that the correlation is then circular (as does a label taken from
        ``key`` or from ``obs["sctl_response"]``).
    key
        Column of the probability of sensitivity.
    genes
        Genes whose expression (``layer``, default ``X``) is correlated with the pseudotime.
    layer
        Layer of the expression of ``genes``.
    n_dcs
        Diffusion components used by :func:`scanpy.tl.dpt`.
    n_neighbors
        Neighbours of the graph, when it has to be built.
    key_added
        Pseudotime goes to ``adata.obs[key_added]``, the correlations to ``adata.uns[key_added]``.
    {copy}

    {returns_copy}
    Sets

    ``adata.obs[key_added]``
        diffusion pseudotime in [0, 1] (``inf`` for cells not connected to the root);
    ``adata.uns[key_added]``
        ``params`` (with the root cell and ``circular_root``: whether the root came from the prediction),
        ``spearman_rho`` and ``spearman_pvalue`` of pseudotime vs ``key``
        over the connected cells, and ``genes``, a DataFrame (gene -> ``rho``, ``pvalue``) when ``genes`` is given.

    Examples
    --------
    >>> cells = sctl.datasets.tumor(n_cells=500)
    >>> cells.obs["sctl_response_proba"] = (cells.obs["response"] == "sensitive").astype(float)  # stand-in
    >>> sctl.tl.response_pseudotime(cells, root=("cell_line", cells.obs["cell_line"].iloc[0]), genes=["CDKN2A"])
    >>> cells.uns["sctl_response_pseudotime"]["spearman_rho"]  # doctest: +SKIP
    """
    check_anndata(adata)
    if key not in adata.obs.columns:
        raise KeyError(
            f"No column `adata.obs[{key!r}]`: run `sctl.tl.predict_response(adata, ...)` first, or pass the "
            "column of the probability of sensitivity as `key=`."
        )
    proba = pd.to_numeric(adata.obs[key], errors="raise").to_numpy(dtype=np.float64)
    expression = _gene_matrix(adata, genes, layer) if genes is not None else None
    circular = _is_circular(root, key)
    if circular:
        warnings.warn(
            f"root={root!r} is taken from the predicted response, the very score the pseudotime is correlated "
            "with: the root sits at one end of it by construction, so the correlation is circular (biased away "
            "from zero). Root on an annotation independent of the prediction, e.g. "
            "`root=('condition', 'control')` (the untreated cells), to test the association.",
            UserWarning,
            stacklevel=2,
        )
    root_cell = _root_cell(adata, root, proba)
    adata = adata.copy() if copy else adata
    _ensure_diffmap(adata, n_neighbors)
    if isinstance(root_cell, int):
        iroot = root_cell
    else:
        iroot = _group_tip(adata.obsm["X_diffmap"][:, 1 : n_dcs + 1], root_cell)
    pseudotime = _dpt(adata, iroot, n_dcs)
    adata.obs[key_added] = pseudotime

    finite = np.isfinite(pseudotime)
    if not finite.all():
        warnings.warn(
            f"{int((~finite).sum())} of {adata.n_obs} cells are not connected to the root in the neighbour graph "
            "(pseudotime inf) and are left out of the correlations. Build a denser graph (more `n_neighbors`, "
            "or integrate the samples) so that the cells form one component.",
            UserWarning,
            stacklevel=2,
        )
    rho, pvalue = _spearman(pseudotime[finite], proba[finite])
    adata.uns[key_added] = {
        "params": {
            "key": key,
            "root": str(root) if not isinstance(root, np.ndarray | pd.Series) else "mask",
            "root_cell": str(adata.obs_names[iroot]),
            "root_index": int(iroot),
            "circular_root": circular,
            "n_dcs": int(n_dcs),
            "layer": layer,
        },
        "spearman_rho": float(rho),
        "spearman_pvalue": float(pvalue),
        "n_unreachable": int((~finite).sum()),
    }
    if expression is not None:
        adata.uns[key_added]["genes"] = _gene_correlations(expression, pseudotime, finite)
    return adata if copy else None


def _gene_matrix(adata: AnnData, genes: Sequence[str], layer: str | None) -> pd.DataFrame:
    genes = [genes] if isinstance(genes, str) else list(genes)
    missing = [gene for gene in genes if gene not in adata.var_names]
    if missing:
        raise KeyError(f"Gene(s) {preview(missing)} not in `adata.var_names`.")
    matrix = get_matrix(adata, layer)[:, adata.var_names.get_indexer(genes)]
    return pd.DataFrame(to_dense(matrix, np.float64), columns=genes)


def _ensure_diffmap(adata: AnnData, n_neighbors: int) -> None:
    if "neighbors" not in adata.uns:
        if "X_pca" not in adata.obsm:
            sc.pp.pca(adata, n_comps=max(2, min(50, adata.n_obs - 1, adata.n_vars - 1)))
        sc.pp.neighbors(adata, n_neighbors=min(n_neighbors, adata.n_obs - 1), use_rep="X_pca")
    if "X_diffmap" not in adata.obsm:
        sc.tl.diffmap(adata, n_comps=min(15, adata.n_obs - 2))


def _is_circular(root: Root, key: str) -> bool:
    """Whether the root is chosen from the predicted response (its extremes, or a label made from it)."""
    if isinstance(root, str):
        return root in _EXTREMES
    return isinstance(root, tuple) and len(root) == 2 and root[0] in (key, RESPONSE_KEY)


def _root_cell(adata: AnnData, root: Root, proba: np.ndarray) -> int | np.ndarray:
    """Position of the root cell, or the boolean mask of the group whose tip is the root (checked before any work)."""
    if isinstance(root, str) and root in _EXTREMES:
        return int(np.argmax(proba) if root == "most_sensitive" else np.argmin(proba))
    if isinstance(root, int | np.integer) and not isinstance(root, bool):
        if not -adata.n_obs <= root < adata.n_obs:
            raise IndexError(f"`root={root}` is out of range for {adata.n_obs} cells.")
        return int(root) % adata.n_obs
    if isinstance(root, str):
        if root not in adata.obs_names:
            raise KeyError(
                f"`root={root!r}` is neither {' nor '.join(repr(e) for e in _EXTREMES)} nor a cell name of `adata`."
            )
        return int(adata.obs_names.get_loc(root))
    mask = _label_mask(adata, root) if isinstance(root, tuple) else np.asarray(root)
    if mask.dtype != bool or mask.shape != (adata.n_obs,):
        raise TypeError(f"A root mask must be boolean with one value per cell ({adata.n_obs}).")
    if not mask.any():
        raise ValueError("The root mask / label selects no cell.")
    if mask.all():
        raise ValueError("The root mask / label selects every cell; choose a group of cells to start from.")
    return mask


def _label_mask(adata: AnnData, root: tuple[str, str]) -> np.ndarray:
    """The cells whose ``adata.obs[column]`` equals ``value``, with errors that say how to choose another root."""
    if len(root) != 2:
        raise ValueError(f"A label root is a pair `(column, value)` of `adata.obs`, got {root!r}.")
    column, value = root
    hint = (
        "Pass `root=(column, value)` naming the cells the trajectory starts from (e.g. the untreated or parental "
        "cells), a boolean mask, or a cell."
    )
    if column not in adata.obs.columns and root == DEFAULT_ROOT:
        raise KeyError(
            f"The trajectory starts by default from the untreated cells, `adata.obs['condition'] == 'control'`, "
            f"but `adata.obs` has no column 'condition' (columns: {preview(adata.obs.columns, 8)}). {hint}"
        )
    values = check_obs_key(adata, column, hint=hint).astype(str)
    mask = (values == str(value)).to_numpy()
    if not mask.any():
        raise ValueError(
            f"No cell has `adata.obs[{column!r}] == {value!r}`; its values are {preview(values.unique(), 8)}. {hint}"
        )
    return mask


def _group_tip(components: np.ndarray, mask: np.ndarray) -> int:
    """The cell of ``mask`` farthest from the centroid of the other cells."""
    centroid = components[~mask].mean(axis=0)
    candidates = np.flatnonzero(mask)
    distances = np.linalg.norm(components[candidates] - centroid, axis=1)
    return int(candidates[np.argmax(distances)])


def _dpt(adata: AnnData, iroot: int, n_dcs: int) -> np.ndarray:
    """Run :func:`scanpy.tl.dpt` on a bare AnnData so that the user's ``dpt_pseudotime`` is left alone."""
    bare = AnnData(obs=pd.DataFrame(index=adata.obs_names))
    bare.obsm["X_diffmap"] = adata.obsm["X_diffmap"]
    bare.uns["diffmap_evals"] = adata.uns["diffmap_evals"]
    bare.uns["neighbors"] = adata.uns["neighbors"]
    for name in ("connectivities", "distances"):
        bare.obsp[name] = adata.obsp[adata.uns["neighbors"].get(f"{name}_key", name)]
    bare.uns["iroot"] = iroot
    sc.tl.dpt(bare, n_dcs=min(n_dcs, bare.obsm["X_diffmap"].shape[1] - 1))
    return bare.obs["dpt_pseudotime"].to_numpy(dtype=np.float64)


def _gene_correlations(expression: pd.DataFrame, pseudotime: np.ndarray, finite: np.ndarray) -> pd.DataFrame:
    rows = []
    for gene in expression.columns:
        rho, pvalue = _spearman(pseudotime[finite], expression[gene].to_numpy()[finite])
        rows.append((gene, float(rho), float(pvalue)))
    return pd.DataFrame(rows, columns=["gene", "rho", "pvalue"]).set_index("gene")


def _spearman(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Spearman rho and p-value; NaN when either side is constant or too short."""
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan"), float("nan")
    rho, pvalue = spearmanr(x, y)
    return float(rho), float(pvalue)
