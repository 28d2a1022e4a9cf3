"""Per-gene change of every profile from its basal (matched control) profile."""

from __future__ import annotations

import numpy as np
from anndata import AnnData

from sctl._docs import doc_params
from sctl._validate import check_anndata, check_finite, get_matrix, to_dense
from sctl.pp._controls import BASAL_KEY, DELTA_KEY

KINDS = ("difference", "log2fc")


@doc_params()
def log_fold_change(
    adata: AnnData,
    *,
    basal_layer: str = BASAL_KEY,
    kind: str = "difference",
    layer: str | None = None,
    pseudocount: float = 1.0,
    key_added: str = DELTA_KEY,
    copy: bool = False,
) -> AnnData | None:
    """Store each profile's per-gene change from its basal profile in ``adata.layers[key_added]``.

    ``kind="difference"`` subtracts the basal profile: for data already on a log scale (L1000 level 3,
    log-normalised counts) this *is* the log fold change. ``kind="log2fc"`` computes
    ``log2((x + pseudocount) / (basal + pseudocount))`` for data on a linear scale (counts, TPM).

    Parameters
    ----------
    adata
        Profiles x genes with the basal profiles of :func:`sctl.pp.match_controls` in
        ``adata.layers[basal_layer]``.
    basal_layer
        Layer with the basal profiles.
    kind
        ``"difference"`` (log-scale data) or ``"log2fc"`` (linear-scale, non-negative data).
    layer
        Layer with the expression values; ``None`` uses ``adata.X``. It must be on the scale of the basal layer.
    pseudocount
        Added to both profiles before the ratio of ``"log2fc"``.
    key_added
        Layer that receives the changes; parameters go to ``adata.uns[key_added]["params"]``.
    {copy}

    {returns_copy}

    Examples
    --------
    {plate_with_delta}
    >>> plate.layers["sctl_delta"].shape
    (377, 978)
    """
    check_anndata(adata)
    if kind not in KINDS:
        raise ValueError(f"Unknown `kind` {kind!r}; choose 'difference' (log-scale data) or 'log2fc' (linear scale).")
    if basal_layer not in adata.layers:
        raise KeyError(
            f"No basal profiles in `adata.layers[{basal_layer!r}]`. Compute them first with "
            "`sctl.pp.match_controls(adata, control='DMSO')` (or name the layer with `basal_layer=`)."
        )
    X = to_dense(get_matrix(adata, layer), np.float64)
    basal = to_dense(adata.layers[basal_layer], np.float64)
    check_finite(X, "the expression values")
    check_finite(basal, f"`adata.layers[{basal_layer!r}]`")
    if kind == "difference":
        delta = X - basal
    else:
        if (X < 0).any() or (basal < 0).any():
            raise ValueError(
                "kind='log2fc' needs non-negative, linear-scale values (counts, TPM); these hold negative values. "
                "For log-scale data use kind='difference'."
            )
        if pseudocount <= 0:
            raise ValueError(f"`pseudocount` must be positive, got {pseudocount}.")
        delta = np.log2((X + pseudocount) / (basal + pseudocount))
    adata = adata.copy() if copy else adata
    adata.layers[key_added] = delta.astype(np.float32)
    adata.uns[key_added] = {
        "params": {"basal_layer": basal_layer, "kind": kind, "layer": layer, "pseudocount": pseudocount}
    }
    return adata if copy else None
