"""The SMILES a drug-structure model reads for each drug name: its own table first, then the AnnData's."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
from anndata import AnnData

from sctl._constants import DRUGS_KEY
from sctl._validate import check_anndata, preview


def drug_smiles(
    adata: AnnData, model: Any = None, drugs: str | Sequence[str] | Mapping[str, str] | None = None
) -> dict[str, str]:
    """Return drug name -> SMILES as a drug-structure model reads them: its own table first, then ``adata``'s.

    A model that embeds drugs from their structure, such as :class:`sctl.models.CSG2A`, knows the SMILES of its
    training and fine-tuning drugs (its ``drug_smiles_``; a drug it embeds by name, from ``drug_features``, maps
    to its own name). Other drugs are looked up in ``adata.uns["sctl_drugs"]["smiles"]`` (the drug table of
    :func:`sctl.datasets.gdsc`). A drug in both keeps the model's SMILES, the one it was trained with.

    Parameters
    ----------
    adata
        AnnData whose drug table ``adata.uns["sctl_drugs"]`` (if any) adds drugs the model does not know.
    model
        A model with a ``drug_smiles_`` table (:class:`sctl.models.CSG2A`); ``None`` or a model without one:
        ``adata``'s table alone.
    drugs
        Drug names to look up, or a mapping drug name -> SMILES (returned as given); ``None``: every known drug.

    Returns
    -------
    A dict drug name -> SMILES, in the order of ``drugs``. A :class:`KeyError` names the drugs without a SMILES.

    Examples
    --------
    >>> model = sctl.models.CSG2A(plate).train(max_epochs=50)  # doctest: +SKIP
    >>> sctl.tl.drug_smiles(plate, model, ["trametinib", "dasatinib"])  # doctest: +SKIP
    {'trametinib': 'CC1=C2C(=C(N(C1=O)C)...', 'dasatinib': 'CC1=NC(=CC(=N1)...'}
    """
    check_anndata(adata)
    if isinstance(drugs, Mapping | pd.Series):
        smiles = {str(k): str(v) for k, v in dict(drugs).items()}
        if not smiles:
            raise ValueError("`drugs` is empty: name at least one drug.")
        return smiles
    known = {**_adata_table(adata), **getattr(model, "drug_smiles_", {})}
    if drugs is None:
        return known
    names = [drugs] if isinstance(drugs, str) else [str(d) for d in drugs]
    if not names:
        raise ValueError("`drugs` is empty: name at least one drug.")
    if len(set(names)) < len(names):
        raise ValueError(f"`drugs` names a drug twice: {preview(pd.Index(names)[pd.Index(names).duplicated()])}.")
    missing = [name for name in names if name not in known]
    if missing:
        raise KeyError(
            f"No SMILES known for {preview(missing)}: pass the drugs as a mapping drug name -> SMILES, or add them to "
            f"`adata.uns[{DRUGS_KEY!r}]['smiles']`."
        )
    return {name: known[name] for name in names}


def _adata_table(adata: AnnData) -> dict[str, str]:
    table = adata.uns.get(DRUGS_KEY)
    if isinstance(table, pd.DataFrame) and "smiles" in table.columns:
        return {str(k): v for k, v in table["smiles"].dropna().items()}
    return {}
