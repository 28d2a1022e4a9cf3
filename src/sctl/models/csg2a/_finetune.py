"""What fine-tuning CSG²A on ln IC50 fits from the data: training pairs, drug means, robust z-scores, target scaling.

The (cell line, drug) pairs index the expression of the lines and the features of the drugs: no profile is copied
per pair (:cite:t:`bang2025csg2a{section 3.2}` fine-tune on GDSC pairs).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from anndata import AnnData

from sctl._validate import check_response, preview
from sctl.models.csg2a._data import aligned, condition_value, drug_table, embedding_table, robust_fit
from sctl.models.csg2a._drugs import DrugCatalogue, descriptor_range


@dataclass
class TrainingPairs:
    """The data :meth:`sctl.models.CSG2AIC50.train` fits, in the units of the network's input and the head's output.

    Attributes
    ----------
    expression
        Robust z-scored expression of the training lines, lines x genes.
    features
        Feature rows of the training drugs.
    lines, drugs
        Row of each pair's line in ``expression`` and drug in ``features``.
    target
        Each pair's standardised response (minus its drug's mean with a drug offset).
    """

    expression: torch.Tensor
    features: torch.Tensor
    lines: np.ndarray
    drugs: np.ndarray
    target: np.ndarray


@dataclass
class FineTuningData:
    """Everything fine-tuning fits before training: the kept tables, the scalings and the training pairs."""

    fitted: dict[str, Any]
    center: np.ndarray
    scale: np.ndarray
    target: tuple[float, float]
    pairs: TrainingPairs


def prepare(
    adata: AnnData,
    catalogue: DrugCatalogue,
    var_names: pd.Index,
    settings: dict[str, Any],
    *,
    drugs: Sequence[str] | Mapping[str, str] | None,
    pairs: pd.DataFrame | None,
    drug_features: Mapping[str, Any] | pd.DataFrame | None,
) -> FineTuningData:
    """Fit what fine-tuning needs from ``adata`` (its ``response_key`` table and ``layer``, in ``settings``).

    Checks the condition of the assay (``settings["dose"]``, ``settings["time"]``) first.

    ``fitted`` holds the drugs learnt (name -> SMILES), each one's mean response, the RDKit descriptors' range
    over them (with ``clip_features``), the new embeddings and the number of training pairs; the expression is
    robust z-scored with the median and MAD of the training lines and the target standardised with the mean and
    standard deviation of the responses (minus each drug's mean unless ``offset="none"``).
    """
    condition_value(adata[:1], None, settings["dose"], "dose", "µM")
    condition_value(adata[:1], None, settings["time"], "time", "hours")
    new_embeddings = None if drug_features is None else embedding_table(drug_features, catalogue.n_features)
    embeddings = catalogue.with_features(new_embeddings)
    response = check_response(adata, settings["response_key"])
    chosen = drugs if drugs is not None else pair_drugs(pairs, response, adata, embeddings)
    smiles = catalogue.lookup(adata, chosen, embeddings)
    lines, drug_idx, y = training_pairs(response, pairs, list(smiles))
    features = catalogue.featurize(smiles, embeddings)
    drug_means = pd.Series(y).groupby(drug_idx).mean()
    line_codes, line_names = pd.factorize(lines)
    expression = aligned(adata, settings["layer"], var_names)[adata.obs_names.get_indexer(line_names)]
    center, scale = robust_fit(expression)
    shift = np.zeros_like(y) if settings["offset"] == "none" else drug_means.reindex(drug_idx).to_numpy()
    residual = y - shift
    target = (float(residual.mean()), float(residual.std()) or 1.0)
    standardized = (torch.as_tensor(residual, dtype=torch.float32) - target[0]) / target[1]
    fitted = {
        "drugs": smiles,
        "drug_means": {name: float(drug_means[i]) for i, name in enumerate(smiles) if i in drug_means.index},
        "feature_range": descriptor_range(features) if settings["clip_features"] and embeddings is None else None,
        "drug_features": new_embeddings,
        "n_train_pairs": len(y),
    }
    rows = (torch.as_tensor(expression) - torch.as_tensor(center)) / torch.as_tensor(scale)
    return FineTuningData(
        fitted, center, scale, target, TrainingPairs(rows, features, line_codes, drug_idx, standardized.numpy())
    )


def pair_drugs(
    pairs: pd.DataFrame | None, response: pd.DataFrame, bulk: AnnData, embeddings: Mapping[str, Any] | None = None
) -> list[str]:
    """The drugs of ``pairs``, else every drug of the response table with a known SMILES or embedding."""
    if pairs is not None and "drug" in pairs.columns:
        return list(pd.unique(pairs["drug"].astype(str)))
    known = {**drug_table(bulk), **(embeddings or {})}
    return [d for d in response.columns if d in known]


def training_pairs(
    response: pd.DataFrame, pairs: pd.DataFrame | None, drugs: list[str]
) -> tuple[pd.Index, np.ndarray, np.ndarray]:
    """Cell line, drug position (in ``drugs``) and response of each tested training pair."""
    absent = [d for d in drugs if d not in response.columns]
    if absent:
        raise KeyError(
            f"Drug(s) {preview(absent)} are not in the response table (columns: {preview(response.columns)})."
        )
    if pairs is None:
        table = response[drugs].stack().rename("value").reset_index()
        table.columns = ["cell_line", "drug", "value"]
    else:
        missing = [c for c in ("cell_line", "drug") if c not in pairs.columns]
        if missing:
            raise KeyError(f"`pairs` lacks the column(s) {missing}; it needs 'cell_line' and 'drug'.")
        table = pairs.loc[pairs["drug"].astype(str).isin(drugs), ["cell_line", "drug"]].copy()
        unknown = pd.Index(table["cell_line"]).difference(response.index)
        if len(unknown):
            raise KeyError(f"`pairs` names cell lines absent from the response table: {preview(unknown, 5)}.")
        table["value"] = response.to_numpy(np.float64)[
            response.index.get_indexer(table["cell_line"]), response.columns.get_indexer(table["drug"])
        ]
    table = table.dropna(subset=["value"])
    if table.empty:
        raise ValueError("No tested (cell line, drug) pair to fine-tune on.")
    drug_idx = pd.Index(drugs).get_indexer(table["drug"].astype(str))
    return pd.Index(table["cell_line"].astype(str)), drug_idx, table["value"].to_numpy(np.float64)
