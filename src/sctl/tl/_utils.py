"""Helpers shared by the verbs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
from anndata import AnnData


def write_per_drug(
    adata: AnnData,
    table: pd.DataFrame,
    model: Any,
    drugs: Sequence[str] | Mapping[str, str] | None,
    key_added: str,
    *,
    copy: bool,
    **params: Any,
) -> AnnData:
    """Write a model's ``table`` (observations x drugs) to ``adata.obsm[key_added]``, its parameters to ``.uns``.

    ``adata.uns[key_added]["params"]`` names the model, its preset, the drugs (the table's columns) and their
    SMILES when ``drugs`` maps names to them, then ``params``. Returns the AnnData written into: a copy of
    ``adata`` when ``copy``.
    """
    adata = adata.copy() if copy else adata
    columns = [str(column) for column in table.columns]
    adata.obsm[key_added] = pd.DataFrame(table.to_numpy(), index=adata.obs_names, columns=columns)
    adata.uns[key_added] = {
        "params": {
            "model": type(model).__name__,
            "preset": getattr(model, "init_params_", {}).get("preset"),
            "drugs": columns,
            "smiles": dict(drugs) if isinstance(drugs, Mapping) else None,
            **params,
        }
    }
    return adata
