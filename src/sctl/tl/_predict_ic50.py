"""Predict ln IC50 of every cell line for a list of drugs with a fine-tuned response model (e.g. CSG²A)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
from anndata import AnnData

from sctl._docs import doc_params
from sctl._validate import check_anndata
from sctl.tl._utils import write_per_drug

IC50_KEY = "sctl_ln_ic50"


@doc_params()
def predict_ic50(
    adata: AnnData,
    model: Any,
    drugs: Sequence[str] | Mapping[str, str] | None = None,
    *,
    layer: str | None = None,
    drug_features: Mapping[str, Any] | pd.DataFrame | None = None,
    key_added: str = IC50_KEY,
    copy: bool = False,
) -> AnnData | None:
    """Predict the ln IC50 of every observation for every drug, into ``adata.obsm[key_added]``.

    Works with any model that predicts ln IC50 (``predicts = "ln_ic50"``) with ``predict(adata, drugs, layer=...)``
    returning observations x drugs, such as :class:`sctl.models.CSG2AIC50`, a :class:`sctl.models.CSG2A`
    fine-tuned on a response table :cite:p:`bang2025csg2a`. A drug never seen in training can be given by its
    SMILES.

    Parameters
    ----------
    adata
        Cell lines (or tumours) x genes with the model's genes; expression from ``layer``.
    model
        A fine-tuned response model, e.g. ``sctl.models.CSG2AIC50.from_pretrained(csg2a, bulk).train()``.
    drugs
        Drug names (whose SMILES the model or ``adata.uns["sctl_drugs"]`` knows) or a mapping name -> SMILES;
        ``None``: the drugs the model was fine-tuned on.
    layer
        Layer with the expression (``None``: the model's default).
    drug_features
        Drug embeddings (name -> vector, or a DataFrame drugs x dimensions) for a model set up with them.
    key_added
        Key of ``adata.obsm`` (and ``adata.uns``) written.
    {copy}

    {returns_copy}
    Sets ``adata.obsm[key_added]`` (DataFrame, observations x drugs, predicted ln IC50) and
    ``adata.uns[key_added]["params"]``.

    Examples
    --------
    >>> ic50 = sctl.models.CSG2AIC50.from_pretrained(csg2a, bulk).train()  # doctest: +SKIP
    >>> sctl.tl.predict_ic50(bulk, ic50, ["Trametinib", "Dasatinib"])  # doctest: +SKIP
    >>> bulk.obsm["sctl_ln_ic50"].head()  # doctest: +SKIP
    """
    check_anndata(adata)
    predicts = getattr(model, "predicts", None)
    if predicts != "ln_ic50":
        hint = (
            " It predicts perturbed profiles: fine-tune it on a response table first, "
            "`sctl.models.CSG2AIC50.from_pretrained(model, bulk).train()`."
            if predicts in ("profile", "delta")
            else ""
        )
        raise TypeError(
            f"`model` must predict ln IC50 (`predicts = 'ln_ic50'`, e.g. a `sctl.models.CSG2AIC50`), got "
            f"{type(model).__name__}.{hint}"
        )
    extra = {} if drug_features is None else {"drug_features": drug_features}
    table = model.predict(adata, drugs, layer=layer, **extra)
    adata = write_per_drug(adata, table, model, drugs, key_added, copy=copy, layer=layer)
    return adata if copy else None
