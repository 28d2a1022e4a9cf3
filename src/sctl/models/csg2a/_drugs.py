"""The drugs a CSG²A model knows: SMILES by name, precomputed embeddings, their features and ln IC50 offsets.

CSG²A :cite:p:`bang2025csg2a` describes a drug by its structure, so any drug with a SMILES (or an embedding, for a
model set up with ``drug_features``) can be asked about, seen in training or not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from anndata import AnnData

from sctl._validate import preview
from sctl.models.baselines._drug_neighbours import neighbour_mean, tanimoto
from sctl.models.csg2a._data import drug_table, embedding_table, featurize

#: RDKit descriptors at the start of a drug's feature row (the Morgan bits follow)
N_DESCRIPTORS = 13
#: drugs asked for by name (one or several) or as a mapping name -> SMILES
DrugNames = str | Sequence[str] | Mapping[str, str]


@dataclass(frozen=True)
class DrugCatalogue:
    """Drug names a model can translate to SMILES or embeddings, and the features it computes from them.

    Parameters
    ----------
    n_bits
        Length of the Morgan fingerprint of RDKit features.
    smiles
        Drug name -> SMILES known by name (the setup's mapping, then the fine-tuning drugs).
    embeddings
        Drug name -> vector for a model set up with ``drug_features``; ``None``: RDKit features of the SMILES.

    Examples
    --------
    >>> drugs = DrugCatalogue(64, {"aspirin": "CC(=O)OC1=CC=CC=C1C(=O)O"})
    >>> drugs.featurize(drugs.lookup(AnnData(), ["aspirin"]), None).shape
    torch.Size([1, 77])
    """

    n_bits: int
    smiles: Mapping[str, str] = field(default_factory=dict)
    embeddings: Mapping[str, list[float]] | None = None

    @classmethod
    def from_setup(cls, n_bits: int, setup: Mapping[str, Any]) -> DrugCatalogue:
        """The drugs of a ``CSG2A.setup_anndata`` (its SMILES mapping and embeddings)."""
        return cls(n_bits, dict(setup.get("smiles") or {}), setup.get("drug_features"))

    @property
    def n_features(self) -> int:
        """Length of a drug's feature vector: the embeddings', else RDKit's descriptors and Morgan bits."""
        return len(next(iter(self.embeddings.values()))) if self.embeddings else N_DESCRIPTORS + self.n_bits

    def extended(self, smiles: Mapping[str, str], embeddings: Mapping[str, list[float]] | None) -> DrugCatalogue:
        """A catalogue with more named drugs (e.g. those of fine-tuning) and embeddings."""
        table = None if self.embeddings is None else {**self.embeddings, **(embeddings or {})}
        return DrugCatalogue(self.n_bits, {**self.smiles, **smiles}, table)

    def with_features(self, drug_features: Mapping[str, Any] | pd.DataFrame | None) -> dict[str, list[float]] | None:
        """The known embeddings and ``drug_features`` (checked); ``None`` for a model of RDKit features."""
        if self.embeddings is None:
            if drug_features is not None:
                raise ValueError(
                    "This model embeds drugs from RDKit features of their SMILES; `drug_features` needs a model set "
                    "up with them (`CSG2A.setup_anndata(adata, drug_key=..., drug_features=...)`)."
                )
            return None
        more = {} if drug_features is None else embedding_table(drug_features, self.n_features)
        return {**self.embeddings, **more}

    def lookup(self, adata: AnnData, drugs: DrugNames, embeddings: Mapping[str, Any] | None = None) -> dict[str, str]:
        """Drug name -> SMILES for the requested drugs, from a mapping, the known drugs or ``adata``'s drug table.

        With ``embeddings`` (a model set up with ``drug_features``) a drug with an embedding maps to its own name.
        """
        if isinstance(drugs, Mapping | pd.Series):
            return {str(k): v for k, v in dict(drugs).items()}
        if isinstance(drugs, str):
            drugs = [drugs]
        known = {**self.smiles, **drug_table(adata), **{name: name for name in embeddings or {}}}
        missing = [d for d in drugs if d not in known]
        if missing:
            what = "embedding or SMILES" if embeddings is not None else "SMILES"
            raise KeyError(
                f"No {what} known for {preview(missing)}. Pass `drugs=` as a mapping drug name -> SMILES, add them "
                "to `adata.uns['sctl_drugs']['smiles']`"
                + (", or pass `drug_features={name: vector}`." if embeddings is not None else ".")
            )
        if not drugs:
            raise ValueError("`drugs` is empty: name at least one drug.")
        return {d: known[d] for d in drugs}

    def featurize(self, smiles: Mapping[str, str], embeddings: Mapping[str, Any] | None) -> torch.Tensor:
        """Feature rows of the named drugs, in mapping order (see :func:`sctl.models.csg2a._data.featurize`)."""
        return featurize(smiles, self.n_bits, embeddings)


def descriptor_range(features: torch.Tensor) -> list[list[float]]:
    """Lowest and highest value of each RDKit descriptor over the drugs of ``features``."""
    descriptors = features[:, :N_DESCRIPTORS]
    return [descriptors.amin(0).tolist(), descriptors.amax(0).tolist()]


def clip_descriptors(features: torch.Tensor, feature_range: Sequence[Sequence[float]] | None) -> torch.Tensor:
    """``features`` with each RDKit descriptor clipped to ``feature_range`` (``None``: unchanged)."""
    if feature_range is None:
        return features
    low, high = (torch.tensor(bound, dtype=features.dtype) for bound in feature_range)
    features = features.clone()
    features[:, :N_DESCRIPTORS] = torch.minimum(torch.maximum(features[:, :N_DESCRIPTORS], low), high)
    return features


def drug_offsets(
    drugs: DrugCatalogue,
    smiles: Mapping[str, str],
    features: torch.Tensor,
    embeddings: Mapping[str, Any] | None,
    settings: Mapping[str, Any],
    fitted: Mapping[str, Any],
) -> np.ndarray:
    """The ln IC50 offset of each drug of ``smiles``: its fine-tuning mean, or an estimate from the training drugs.

    A drug is known when its name and SMILES are those of a training drug (``fitted["drugs"]``, with a mean in
    ``fitted["drug_means"]``). Otherwise ``settings["offset"]="mean"`` gives the mean of the known drugs' means
    ``m``; ``"neighbours"`` gives ``(sum_k s_k m_k + shrinkage * m) / (sum_k s_k + shrinkage)`` over the
    ``n_neighbours`` training drugs ``k`` of highest Tanimoto similarity ``s_k`` of the Morgan fingerprints (with
    embeddings: their cosine similarity, negative values set to 0), ``shrinkage`` and ``n_neighbours`` from
    ``settings``. ``"none"``: zeros, the head predicts the whole ln IC50 as in the paper.
    """
    mode, means, trained = settings["offset"], fitted["drug_means"], fitted["drugs"]
    if mode == "none" or not means:
        return np.zeros(len(smiles))
    names = list(means)
    values = np.array([means[name] for name in names])
    overall = float(values.mean())
    known = [name in means and trained.get(name) == value for name, value in smiles.items()]
    out = np.array([means[name] if hit else overall for name, hit in zip(smiles, known, strict=True)])
    unseen = [j for j, hit in enumerate(known) if not hit]
    if mode == "neighbours" and unseen:
        reference = drugs.featurize({n: trained[n] for n in names}, embeddings).numpy()
        if embeddings is None:
            similarity = tanimoto(features[unseen, N_DESCRIPTORS:].numpy(), reference[:, N_DESCRIPTORS:])
        else:
            similarity = np.clip(_cosine(features[unseen].numpy(), reference), 0.0, 1.0)
        out[unseen] = neighbour_mean(similarity, values, overall, settings["n_neighbours"], settings["shrinkage"])
    return out


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity of every row of ``a`` with every row of ``b``."""
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return a @ b.T


def fit_descriptor_scaling(encoder: torch.nn.Module, features: torch.Tensor) -> None:
    """Standardise the RDKit descriptors over the training drugs in ``encoder``; Morgan bits stay as they are."""
    descriptors = features[:, :N_DESCRIPTORS]
    encoder.feature_center.zero_()
    encoder.feature_scale.fill_(1.0)
    encoder.feature_center[:N_DESCRIPTORS] = descriptors.mean(0)
    std = descriptors.std(0, unbiased=False) if len(descriptors) > 1 else torch.zeros(N_DESCRIPTORS)
    encoder.feature_scale[:N_DESCRIPTORS] = torch.where(std > 0, std, descriptors.abs().mean(0).clamp_min(1.0))
