"""Pathway and gene-set activities per observation with decoupler, from shipped or user networks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from anndata import AnnData

from sctl._constants import PATHWAYS_KEY
from sctl._docs import doc_params
from sctl._validate import check_anndata, check_finite, check_unique_var_names, closest, get_matrix, preview
from sctl.datasets import genesets, progeny

#: shipped resources accepted by name: name -> loader of a decoupler network (source, target[, weight])
RESOURCES: dict[str, Callable[[], pd.DataFrame]] = {
    "progeny": progeny,
    "go_bp": lambda: genesets("go_bp"),
    "reactome": lambda: genesets("reactome"),
}


def _methods() -> dict[str, Any]:
    import decoupler as dc  # here, not at the top: decoupler takes seconds to import

    return {method.name: method for method in dc.mt._methods}


@doc_params()
def score_pathways(
    adata: AnnData,
    *,
    net: str | pd.DataFrame = "progeny",
    method: str = "ulm",
    layer: str | None = None,
    tmin: int = 5,
    key_added: str = PATHWAYS_KEY,
    copy: bool = False,
    **kwargs: Any,
) -> AnnData | None:
    """Score the activity of pathways or gene sets in every observation with decoupler.

    A thin, checked front to decoupler 2 :cite:p:`badia2022decoupler`:
    the network is a shipped resource chosen by name or any decoupler-style DataFrame, ``method`` is any
    decoupler method. The default, the univariate linear model (``"ulm"``) with the PROGENy footprints
    :cite:p:`schubert2018progeny`, is what decoupler recommends for pathway activities; gene-set
    collections suit ``"aucell"`` :cite:p:`aibar2017scenic` or ``"ulm"`` alike. Scores are the numbers decoupler
    returns, in a DataFrame (observations x sources) that keeps the observation names.

    The scores make compact, interpretable features for the models: build an AnnData from them and train
    on it as on genes, e.g.
    ``feats = anndata.AnnData(bulk.obsm["sctl_pathways"], obs=bulk.obs, obsm=bulk.obsm)`` (``.obsm`` brings
    the response tables along), then ``sctl.pp.standardize(feats)`` and
    ``RidgeBaseline().fit(feats, label_key=...)``. Score cells with the same ``net`` and ``method`` so that
    the columns match.

    Parameters
    ----------
    adata
        Observations x genes: log-normalised cells, or bulk expression (e.g. :func:`sctl.datasets.gdsc`).
    net
        ``"progeny"`` (:func:`sctl.datasets.progeny`, 14 signed pathways, top 500 genes), ``"go_bp"`` or
        ``"reactome"`` (:func:`sctl.datasets.genesets`), or a DataFrame with columns ``source``, ``target``
        and optionally ``weight``.
    method
        A decoupler method: ``"ulm"``, ``"mlm"``, ``"aucell"``, ``"zscore"``, ``"waggr"``, ``"viper"``,
        ``"gsva"``, ``"gsea"``, ``"ora"``, ``"udt"``, ``"mdt"``.
    {layer}
    tmin
        Sources with fewer targets among the genes of ``adata`` are dropped.
    key_added
        Scores go to ``adata.obsm[key_added]``, adjusted p-values (methods that test) to
        ``adata.obsm[f"{key_added}_padj"]``.
    {copy}
    **kwargs
        Passed to the decoupler method, e.g. ``n_up=`` for ``"aucell"``.

    {returns_copy}
    Sets

    ``adata.obsm[key_added]``
        DataFrame, observations x sources (pathways or sets); observations decoupler skips because they have
        no expression at all get NaN;
    ``adata.obsm[f"{key_added}_padj"]``
        DataFrame of adjusted p-values, for methods that test (``ulm``, ``mlm``, ...);
    ``adata.uns[key_added]["params"]``
        ``net`` (name, or ``"custom"``), ``method``, ``layer``, ``tmin``, ``n_sources``, ``n_genes_used`` and
        the method's reference.

    Examples
    --------
    >>> import sctl
    >>> bulk = sctl.datasets.gdsc()
    >>> sctl.tl.score_pathways(bulk, net="progeny", method="ulm")
    >>> bulk.obsm["sctl_pathways"].shape
    (919, 14)
    """
    check_anndata(adata)
    methods = _methods()
    if method not in methods:
        raise ValueError(
            f"Unknown decoupler method {method!r}.{closest(method, methods)} Choose one of {preview(sorted(methods))}."
        )
    network, net_name = _resolve_net(net)
    matrix = get_matrix(adata, layer)
    check_finite(matrix, "`adata.X`" if layer is None else f"`adata.layers[{layer!r}]`")
    check_unique_var_names(adata)
    n_genes = _check_overlap(network, adata.var_names, tmin)

    data = AnnData(matrix, obs=pd.DataFrame(index=adata.obs_names), var=pd.DataFrame(index=adata.var_names))
    result = methods[method](data, network, tmin=tmin, verbose=False, **kwargs)
    data = result if isinstance(result, AnnData) else data  # decoupler drops empty observations into a copy
    scores = data.obsm[f"score_{method}"].reindex(adata.obs_names).astype(np.float64)
    padj = data.obsm.get(f"padj_{method}")

    adata = adata.copy() if copy else adata
    adata.obsm[key_added] = scores
    if padj is not None:
        adata.obsm[f"{key_added}_padj"] = padj.reindex(adata.obs_names).astype(np.float64)
    adata.uns[key_added] = {
        "params": {
            "net": net_name,
            "method": method,
            "layer": layer,
            "tmin": tmin,
            "n_sources": int(scores.shape[1]),
            "n_genes_used": n_genes,
            "reference": methods[method].reference,
            **{k: v for k, v in kwargs.items() if isinstance(v, str | int | float | bool)},
        }
    }
    return adata if copy else None


def _resolve_net(net: str | pd.DataFrame) -> tuple[pd.DataFrame, str]:
    if isinstance(net, str):
        if net not in RESOURCES:
            raise ValueError(
                f"Unknown network {net!r}.{closest(net, RESOURCES)} Shipped resources: {preview(RESOURCES)}; "
                "or pass a DataFrame with columns 'source', 'target' (and optionally 'weight')."
            )
        return RESOURCES[net](), net
    if not isinstance(net, pd.DataFrame):
        raise TypeError(f"`net` must be a resource name or a DataFrame, got {type(net).__name__}.")
    missing = {"source", "target"} - set(net.columns)
    if missing:
        raise ValueError(
            f"`net` lacks the column(s) {preview(sorted(missing))} (it has {preview(net.columns)}). Rename them, "
            "e.g. `net.rename(columns={'pathway': 'source', 'gene': 'target'})`."
        )
    if net.duplicated(subset=["source", "target"]).any():
        raise ValueError(
            "`net` repeats some (source, target) pairs; keep one each with "
            "`net.drop_duplicates(subset=['source', 'target'])`."
        )
    return net, "custom"


def _check_overlap(net: pd.DataFrame, genes: pd.Index, tmin: int) -> int:
    in_data = net["target"].isin(genes)
    sizes = net.loc[in_data].groupby("source").size()
    if not (sizes >= tmin).any():
        raise ValueError(
            f"No source of the network has at least `tmin={tmin}` targets among the {len(genes)} genes of "
            f"`adata` (largest overlap: {int(sizes.max()) if len(sizes) else 0}; network genes e.g. "
            f"{preview(net['target'].unique(), 3)}, data genes e.g. {preview(genes, 3)}). Check the gene "
            "identifiers, or lower `tmin`."
        )
    return int(net.loc[in_data, "target"].nunique())
