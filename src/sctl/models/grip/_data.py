"""GRIP's inputs: the scaling fitted on the training rows, the encoded conditions, the data to rebuild a save on."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from anndata import AnnData

from sctl._validate import get_matrix, to_dense
from sctl.models._conditions import aligned_matrix, condition_values, dose_values, encode, placeholder_adata
from sctl.models.grip._module import CELL_KEY, DRUG_KEY

NEW_DRUG_HINT = (
    " GRIP embeds drugs by identity and cannot predict an unseen compound; a structure-based model such as "
    "`sctl.models.CSG2A` (Bang, Koo & Kim 2025), which embeds a new compound from its SMILES, can."
)


def fitted_scaling(adata: AnnData, setup: dict[str, Any], train_idx: np.ndarray, separate: bool) -> dict[str, Any]:
    """Gene (and dose) scaling fitted on the rows ``train_idx``: the keyword arguments of ``GRIPModule.set_scaling``.

    The treated profiles' per-gene mean and standard deviation scale input and output; with ``separate`` the basal
    profiles get their own. The log dose is standardised when the model has a dose.
    """
    rows = np.sort(np.asarray(train_idx))
    treated = _mean_std(to_dense(get_matrix(adata, setup["layer"]), np.float64)[rows])
    scaling = {"gene_mean": treated[0], "gene_std": treated[1]}
    if separate:
        basal = _mean_std(to_dense(adata.layers[setup["basal_layer"]], np.float64)[rows])
        scaling.update(basal_mean=basal[0], basal_std=basal[1])
    dose_stats = np.array([0.0, 1.0])
    if setup["dose_key"] is not None:
        log_dose = np.log10(dose_values(adata, setup["dose_key"], None)[rows] + 1e-3)
        dose_stats = np.array([log_dose.mean(), max(log_dose.std(), 1e-3)])
    scaling["dose_stats"] = dose_stats
    return {name: torch.as_tensor(value, dtype=torch.float32) for name, value in scaling.items()}


def _mean_std(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-gene mean and standard deviation, the latter floored at 1 % of its median (at least 1e-3)."""
    std = X.std(0)
    return X.mean(0), np.maximum(std, max(1e-3, 0.01 * float(np.median(std))))


def model_inputs(
    adata: AnnData,
    setup: dict[str, Any],
    known: dict[str, list[str]],
    var_names: Sequence[str],
    overrides: dict[str, Any],
) -> tuple[np.ndarray, dict[str, torch.Tensor | None]]:
    """The basal profiles of ``adata`` and the conditions of each row, encoded for ``GRIPModule.predict_profiles``.

    ``known`` holds the model's cell lines and drugs (under ``CELL_KEY`` / ``DRUG_KEY``); ``overrides`` the values
    of ``drug``, ``dose`` and ``cell_line`` given in place of ``adata.obs`` (``None``: read from ``adata.obs``).
    """
    basal = aligned_matrix(adata, setup["basal_layer"], var_names, "GRIP")
    drug_values = condition_values(adata, setup["drug_key"], overrides["drug"], "drug")
    drugs = encode(drug_values, known[DRUG_KEY], "drug", NEW_DRUG_HINT)
    if setup["cell_line_key"] is None and overrides["cell_line"] is None:
        cells = np.zeros(adata.n_obs, dtype=np.int64)
    else:
        values = condition_values(adata, setup["cell_line_key"], overrides["cell_line"], "cell_line")
        cells = encode(values, known[CELL_KEY], "cell line")
    doses = None
    if setup["dose_key"] is not None:
        doses = torch.as_tensor(dose_values(adata, setup["dose_key"], overrides["dose"]))
    return basal, {"cell": torch.as_tensor(cells), "drug": torch.as_tensor(drugs), "dose": doses}


def saved_model_data(meta: dict[str, Any]) -> AnnData:
    """A placeholder AnnData with the genes, categories and fields of a saved GRIP (``model.json``), to build it on."""
    setup = meta["setup"]
    categorical = {setup["drug_key"]: meta["categories"][DRUG_KEY]}
    if setup["cell_line_key"] is not None:
        categorical[setup["cell_line_key"]] = meta["categories"][CELL_KEY]
    numeric = [setup["dose_key"]] if setup["dose_key"] is not None else []
    layers = [name for name in (setup["basal_layer"], setup["layer"]) if name is not None]
    return placeholder_adata(meta["var_names"], categorical, numeric, layers)
