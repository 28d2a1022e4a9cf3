"""Zero-shot drug sensitivity: how far a perturbation model moves each basal profile (CSG²A, appendix C.2)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
from anndata import AnnData

from .._validate import check_anndata

DISTANCE_KEY = "sctl_perturbation_distance"


def perturbation_distance(
    adata: AnnData,
    model: Any,
    drugs: Sequence[str] | Mapping[str, str],
    *,
    dose: float | None = None,
    time: float | None = None,
    layer: str | None = None,
    standardize: bool = True,
    key_added: str = DISTANCE_KEY,
    copy: bool = False,
) -> AnnData | None:
    """Euclidean distance between each basal profile and its predicted perturbed profile, per drug.

    The zero-shot test of Bang, Koo & Kim (2025): a model pretrained on perturbation profiles only predicts
    each cell line's profile after treatment (10 µM, 72 h in the paper); sensitive lines (low ln IC50) move
    further than resistant ones, so a larger distance suggests greater sensitivity. No response data are used.

    Parameters
    ----------
    adata
        Cell lines (or samples) x genes with the model's genes; expression from ``layer``.
    model
        A pretrained model with ``perturbation_distance(adata, drugs, dose=, time=, layer=, standardize=)``,
        such as :class:`sctl.models.CSG2A`.
    drugs
        Drug names whose SMILES are known (to the model or ``adata.uns["sctl_drugs"]``) or a mapping name ->
        SMILES; drugs never seen work.
    dose, time
        Treatment dose (µM) and time (hours); both required.
    layer
        Layer with the expression (``None``: ``X``).
    standardize
        Robust z-score the profiles over the observations of ``adata`` first (the paper's GDSC input).
    key_added
        Key of ``adata.obsm`` (and ``adata.uns``) written.
    copy
        Return a copy instead of writing into ``adata``.

    Returns
    -------
    ``None`` or the copy. Sets ``adata.obsm[key_added]`` (DataFrame, observations x drugs) and
    ``adata.uns[key_added]["params"]``.

    Examples
    --------
    >>> sctl.tl.perturbation_distance(bulk, model, ["Trametinib"], dose=10.0, time=72.0)  # doctest: +SKIP
    """
    check_anndata(adata)
    if dose is None or time is None:
        raise ValueError("`perturbation_distance` needs the condition: pass both `dose=` (µM) and `time=` (hours).")
    if not hasattr(model, "perturbation_distance"):
        raise TypeError(f"`model` must have a `perturbation_distance` method (e.g. CSG2A), got {type(model).__name__}.")
    table = model.perturbation_distance(adata, drugs, dose=dose, time=time, layer=layer, standardize=standardize)
    adata = adata.copy() if copy else adata
    adata.obsm[key_added] = pd.DataFrame(
        table.to_numpy(), index=adata.obs_names, columns=[str(c) for c in table.columns]
    )
    adata.uns[key_added] = {
        "params": {
            "model": type(model).__name__,
            "drugs": [str(c) for c in table.columns],
            "smiles": dict(drugs) if isinstance(drugs, Mapping) else None,
            "dose": float(dose),
            "time": float(time),
            "layer": layer,
            "standardize": standardize,
        }
    }
    return adata if copy else None
