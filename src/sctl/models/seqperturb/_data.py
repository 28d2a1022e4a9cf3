"""SeqPerturb's condition columns: the id and SMILES columns found by name, the SMILES-length token, error hints."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import pandas as pd
from anndata import AnnData

SMILES_LENGTH_KEY = "sctl_smiles_length"
#: columns ``setup_anndata`` looks for when ``drug_id_key`` / ``smiles_key`` are left at ``"auto"``
DRUG_ID_COLUMNS = ("sm_lincs_id", "pert_id", "compound_id", "drug_id")
SMILES_COLUMNS = ("SMILES", "smiles", "canonical_smiles")


def auto_column(
    adata: AnnData, key: str | None, candidates: Sequence[str], what: str, named: set[str | None]
) -> str | None:
    """``key``, or for ``"auto"`` the first of ``candidates`` in ``adata.obs`` (a warning when there is none).

    A candidate already ``named`` as another token (e.g. in ``extra_keys``) counts as found: it is not added twice.
    """
    if key != "auto":
        return key
    if any(column in named for column in candidates):
        return None
    found = next((column for column in candidates if column in adata.obs.columns), None)
    if found is None:
        warnings.warn(
            f"No {what} column ({', '.join(candidates)}) in `adata.obs`: the model gets fewer than the five tokens "
            "of Ali et al. (cell type, compound, id, SMILES, SMILES length). Name the column, or pass None to leave "
            "the token out knowingly.",
            UserWarning,
            stacklevel=4,  # the caller of setup_anndata, through its renamed-arguments wrapper
        )
    return found


def smiles_length(smiles: pd.Series) -> pd.Series:
    """The length of each SMILES string, as a label (a categorical token)."""
    return smiles.astype(str).str.len().astype(str)


def unseen_hint(key: str, setup: dict[str, Any]) -> str:
    """What to use instead when the value of condition ``key`` is unknown to the model (compounds: CSG2A)."""
    if key in (setup.get("drug_key"), setup.get("drug_id_key"), setup.get("smiles_key")):
        return (
            " SeqPerturb embeds compounds by label and cannot predict an unseen one; a structure-based model such as "
            "`sctl.models.CSG2A` (Bang, Koo & Kim 2025), which embeds a new compound from its SMILES, can."
        )
    return ""
