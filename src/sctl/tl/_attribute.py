"""Attribute a transfer model's predictions to pathways or genes with integrated gradients (captum)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch
from anndata import AnnData

from sctl._docs import doc_params
from sctl._validate import check_anndata

ATTRIBUTION_KEY = "sctl_attribution"
METHODS = ("integrated_gradients",)
BY = ("pathway", "gene")
#: rows attributed at once: captum evaluates ``rows x n_steps`` interpolated inputs together
ROWS_AT_ONCE = 256


@doc_params()
def attribute(
    adata: AnnData,
    model: Any,
    *,
    by: str = "pathway",
    method: str = "integrated_gradients",
    layer: str | None = None,
    n_steps: int = 50,
    key_added: str = ATTRIBUTION_KEY,
    copy: bool = False,
) -> AnnData | None:
    """Integrated-gradient attribution of each cell's predicted sensitivity to pathways or genes.

    Integrated gradients :cite:p:`sundararajan2017ig` (computed with captum) integrate the gradient of
    the logit of sensitivity along the straight path from a baseline to the input; per cell, the attributions
    sum to ``logit(input) - logit(baseline)``. As in :cite:t:`he2025transfer`, features are
    then ranked by their mean absolute attribution over the cells.

    ``by="pathway"`` attributes the classifier of a :class:`sctl.models.PathwayTransfer` to the units of its
    shared code (one per pathway of its masked decoder, then the free units); the baseline is the code of the
    average cell (an all-zero z-scored profile). ``by="gene"`` attributes the whole model (any transfer model,
    e.g. :class:`sctl.models.ATSDPNet`) to the z-scored input genes, against the average cell.

    Parameters
    ----------
    adata
        Cells x genes, as given to ``model.predict`` (raw log-normalised values; z-scored here per gene).
    model
        A trained :class:`~sctl.models.PathwayTransfer` or :class:`~sctl.models.ATSDPNet`.
    by
        ``"pathway"`` or ``"gene"``.
    method
        ``"integrated_gradients"``.
    {layer}
    n_steps
        Steps of the integral's Riemann approximation.
    key_added
        Where results go, see below.
    {copy}

    {returns_copy}
    Sets

    ``adata.obsm[key_added]``
        DataFrame, cells x pathways (or genes), the attribution to the logit of sensitivity;
    ``adata.uns[key_added]``
        ``params`` and ``ranking``: DataFrame of ``mean_abs`` and ``mean`` attribution per feature, sorted by
        ``mean_abs`` (largest first).

    Examples
    --------
    >>> sctl.tl.attribute(cells, model, by="pathway")  # doctest: +SKIP
    >>> cells.uns["sctl_attribution"]["ranking"].head(12)  # doctest: +SKIP
    """
    check_anndata(adata)
    if by not in BY:
        raise ValueError(f"`by` must be one of {BY}, got {by!r}.")
    if method not in METHODS:
        raise ValueError(f"Unknown attribution method {method!r}; choose one of {METHODS}.")
    if not hasattr(model, "_input_matrix") or not hasattr(model, "module"):
        raise TypeError(
            f"`model` must be a trained sctl transfer model (PathwayTransfer, ATSDPNet), got {type(model).__name__}."
        )
    model._check_trained()
    X, domain = model._input_matrix(adata, layer, True)
    values, names = _integrated_gradients(model, X, domain, by, n_steps)
    table = pd.DataFrame(values, index=adata.obs_names.copy(), columns=pd.Index(names, name=by))
    ranking = pd.DataFrame({"mean_abs": np.abs(values).mean(0), "mean": values.mean(0)}, index=table.columns)
    ranking = ranking.sort_values("mean_abs", ascending=False, kind="stable")

    adata = adata.copy() if copy else adata
    adata.obsm[key_added] = table
    adata.uns[key_added] = {
        "params": {
            "by": by,
            "method": method,
            "model": type(model).__name__,
            "layer": layer,
            "n_steps": n_steps,
            "target": "logit of sensitivity",
            "baseline": "average cell (zero z-scores)",
        },
        "ranking": ranking,
    }
    return adata if copy else None


def _integrated_gradients(model: Any, X: np.ndarray, domain: np.ndarray, by: str, n_steps: int):
    """Integrated gradients of every row, ``ROWS_AT_ONCE`` rows at a time (captum holds ``rows x n_steps`` inputs)."""
    from captum.attr import IntegratedGradients

    module = model.module
    module.eval()
    device = next(module.parameters()).device
    if by == "gene":
        names = list(model.var_names)
        ig = IntegratedGradients(lambda inputs, dom: module.predict_logits(inputs, dom))

        def attribute_rows(x: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
            return ig.attribute(x, baselines=torch.zeros_like(x), additional_forward_args=(d,), n_steps=n_steps)

    else:
        if not hasattr(module, "logits_from_code") or getattr(model, "mask_", None) is None:
            raise ValueError(
                f"`by='pathway'` needs a model with a pathway-masked decoder (PathwayTransfer with "
                f"pathway_decoder=True); {type(model).__name__} has none. Use `by='gene'`."
            )
        names = list(model.latent_names)
        ig = IntegratedGradients(module.logits_from_code)
        with torch.no_grad():  # the code of an all-zero profile in the first row's domain, the same for every chunk
            zero = torch.zeros((1, X.shape[1]), dtype=torch.float32, device=device)
            reference = module.encode(zero, torch.as_tensor(domain[:1], device=device))

        def attribute_rows(x: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
            with torch.no_grad():
                code = module.encode(x, d)
            return ig.attribute(code, baselines=reference.expand_as(code), n_steps=n_steps)

    out = np.empty((len(X), len(names)), dtype=np.float32)
    for start in range(0, len(X), ROWS_AT_ONCE):
        x = torch.as_tensor(X[start : start + ROWS_AT_ONCE], device=device)
        d = torch.as_tensor(domain[start : start + ROWS_AT_ONCE], device=device)
        out[start : start + len(x)] = attribute_rows(x, d).detach().cpu().numpy()
    return out, names
