"""Torch modules of CSG²A: chemical condition encoder, gene-gene attention network and the ln IC50 head."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from sctl.nn._gene_attention import GeneGeneAttention

DOSE_SCALE = 100.0  # µM, as in the paper
TIME_SCALE = 72.0  # hours, as in the paper
SCALINGS = ("gene", "scalar")


class ChemicalConditionEncoder(nn.Module):
    """Chemical condition encoder (CCE): drug structure, dose and time to one value per gene.

    ``D = MLP([s, (d / 100 µM) W_dose, (t / 72 h) W_time])`` with ``W_dose, W_time`` in R^{1 x 2}
    :cite:p:`bang2025csg2a{appendix A.1}`. ``s`` are RDKit features of the SMILES (standardised with the
    stored centre and scale), not the pretrained Molecule Attention Transformer of the paper.

    Parameters
    ----------
    n_drug_features
        Length of the drug feature vector.
    n_genes
        Output size (one value per gene).
    n_hidden
        Hidden units of the MLP; ``0``: one linear layer to the genes followed by ReLU and dropout (the
        authors' code).
    n_dose_time
        Size of each of the dose and time expansions (2 in the paper).
    dropout
        Dropout after the hidden layer.
    bias
        Whether the linear layers have biases (the paper removes them).

    Examples
    --------
    >>> cce = ChemicalConditionEncoder(10, 6)
    >>> cce(torch.rand(3, 10), torch.full((3,), 10.0), torch.full((3,), 24.0)).shape
    torch.Size([3, 6])
    """

    def __init__(
        self,
        n_drug_features: int,
        n_genes: int,
        n_hidden: int = 128,
        n_dose_time: int = 2,
        dropout: float = 0.1,
        bias: bool = False,
    ) -> None:
        super().__init__()
        self.register_buffer("feature_center", torch.zeros(n_drug_features))
        self.register_buffer("feature_scale", torch.ones(n_drug_features))
        self.dose = nn.Linear(1, n_dose_time, bias=bias)
        self.time = nn.Linear(1, n_dose_time, bias=bias)
        n_in = n_drug_features + 2 * n_dose_time
        if n_hidden:
            layers = [nn.Linear(n_in, n_hidden, bias=bias), nn.ReLU(), nn.Dropout(dropout)]
            layers.append(nn.Linear(n_hidden, n_genes, bias=bias))
        else:
            layers = [nn.Linear(n_in, n_genes, bias=bias), nn.ReLU(), nn.Dropout(dropout)]
        self.mlp = nn.Sequential(*layers)

    def forward(self, features: torch.Tensor, dose: torch.Tensor, time: torch.Tensor) -> torch.Tensor:
        """Condition vector ``(batch, n_genes)``; ``dose`` in µM and ``time`` in hours, shape ``(batch,)``."""
        features = (features - self.feature_center) / self.feature_scale
        dose = self.dose(dose.unsqueeze(-1) / DOSE_SCALE)
        time = self.time(time.unsqueeze(-1) / TIME_SCALE)
        return self.mlp(torch.cat([features, dose, time], dim=-1))


class CSG2AModule(nn.Module):
    """CSG²A network: predicts the perturbed profile from the basal profile and the chemical condition.

    ``h = GeneGeneAttention(g0, D)`` (attention-weighted first layer), then layer norm, ReLU, dropout and a
    linear output layer (as in the authors' code). With ``residual`` the output is added to ``g0``, so the
    network starts from "no change" and learns the drug-induced change.

    Parameters
    ----------
    n_genes, n_drug_features
        Number of genes and length of the drug feature vector.
    n_hidden
        Size ``h`` of the per-gene attention representation.
    n_condition_hidden
        Hidden units of the condition encoder.
    adjacency
        PPI prior, ``n_genes x n_genes`` (SciPy sparse, dense or torch sparse), or ``None`` for the identity.
    prior
        ``"sparse"`` (edge list, ``O(E)`` per sample) or ``"dense"`` (``O(N_gene^2)``) storage of the prior.
    attention
        ``"full"`` (all gene pairs, the paper) or ``"ppi"`` (scores only on the prior's edges and the diagonal).
    dropout
        Dropout rate.
    bias
        Whether the layers have biases (the paper removes them).
    residual
        Predict ``g0 + f(g0, D)`` instead of ``f(g0, D)`` (the paper).
    use_prior
        Add the prior to the attention scores (``False``: the paper's ablation without the PPI prior).

    Examples
    --------
    >>> module = CSG2AModule(6, 10)
    >>> out = module(torch.randn(2, 6), torch.rand(2, 10), torch.ones(2), torch.ones(2))
    >>> tuple(out["predicted"].shape)  # two samples x six genes
    (2, 6)
    """

    def __init__(
        self,
        n_genes: int,
        n_drug_features: int,
        *,
        n_hidden: int = 16,
        n_condition_hidden: int = 128,
        adjacency: Any = None,
        prior: str = "sparse",
        attention: str = "full",
        dropout: float = 0.1,
        bias: bool = False,
        residual: bool = True,
        use_prior: bool = True,
    ) -> None:
        super().__init__()
        self.residual = residual
        self.register_buffer("input_center", torch.zeros(n_genes))
        self.register_buffer("input_scale", torch.ones(n_genes))
        self.encoder = ChemicalConditionEncoder(
            n_drug_features, n_genes, n_condition_hidden, dropout=dropout, bias=bias
        )
        self.attention = GeneGeneAttention(
            n_genes, n_hidden, adjacency, prior=prior, attention=attention, use_prior=use_prior
        )
        self.norm = nn.LayerNorm(n_genes, bias=bias)
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(n_genes, n_genes, bias=bias)

    def forward(
        self, basal: torch.Tensor, features: torch.Tensor, dose: torch.Tensor, time: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """``predicted`` profile and ``condition`` vector, both standardised, shape ``(batch, n_genes)``."""
        condition = self.encoder(features, dose, time)
        hidden = self.dropout(torch.relu(self.norm(self.attention(basal, condition))))
        change = self.output(hidden)
        return {"predicted": basal + change if self.residual else change, "condition": condition}

    def remove_biases(self) -> None:
        """Set every bias of the network to zero and freeze it (the fine-tuning recipe of the paper)."""
        for name, parameter in self.named_parameters():
            if name.endswith("bias"):
                with torch.no_grad():
                    parameter.zero_()
                parameter.requires_grad_(False)


class IC50Head(nn.Module):
    """Fine-tuning head: learnable scaling of the basal input and a regressor to ln IC50.

    The scaling layer ``g0' = (g0 - mu) / sigma`` has a learnable ``mu`` and ``sigma`` (started at 0 and 1), one
    pair for all genes (``scaling="scalar"``, the paper's two latent variables) or one per gene
    (``scaling="gene"``), aligning the new data with the pretraining space; the :class:`CSG2AModule` then predicts
    the perturbed profile, and projections of the scaled basal profile, the predicted profile and the
    condition vector (as in the authors' code) are concatenated and regressed to the standardised ln IC50.

    Parameters
    ----------
    n_genes
        Number of genes.
    n_projection
        Units of each of the three projections.
    n_hidden
        Hidden units of the regressor: one layer, or one per entry of a sequence.
    dropout
        Dropout rate.
    scaling
        ``"gene"`` (one ``mu``, ``sigma`` per gene) or ``"scalar"`` (one of each).

    Examples
    --------
    >>> head = IC50Head(6)
    >>> head.output(torch.randn(2, 6), torch.randn(2, 6), torch.randn(2, 6)).shape
    torch.Size([2])
    """

    def __init__(
        self,
        n_genes: int,
        n_projection: int = 64,
        n_hidden: int | Sequence[int] = 32,
        dropout: float = 0.1,
        scaling: str = "gene",
    ) -> None:
        super().__init__()
        if scaling not in SCALINGS:
            raise ValueError(f"`scaling` must be one of {SCALINGS}, got {scaling!r}.")
        n_scale = n_genes if scaling == "gene" else 1
        # robust z-scoring of the fine-tuning lines and standardisation of the target, fitted on the training data
        self.register_buffer("bulk_center", torch.zeros(n_genes))
        self.register_buffer("bulk_scale", torch.ones(n_genes))
        self.register_buffer("target", torch.tensor([0.0, 1.0]))
        self.mu = nn.Parameter(torch.zeros(n_scale))
        self.log_sigma = nn.Parameter(torch.zeros(n_scale))
        self.projections = nn.ModuleList(
            [nn.Sequential(nn.Linear(n_genes, n_projection), nn.ReLU(), nn.Dropout(dropout)) for _ in range(3)]
        )
        sizes = [3 * n_projection, *([n_hidden] if isinstance(n_hidden, int) else n_hidden)]
        layers: list[nn.Module] = []
        for n_in, n_out in itertools.pairwise(sizes):
            layers += [nn.Linear(n_in, n_out), nn.ReLU(), nn.Dropout(dropout)]
        self.regressor = nn.Sequential(*layers, nn.Linear(sizes[-1], 1))

    def set_scalings(self, center: np.ndarray, scale: np.ndarray, target: tuple[float, float]) -> None:
        """Store the training lines' robust z-scoring and the target's mean and standard deviation."""
        self.bulk_center.copy_(torch.as_tensor(center))
        self.bulk_scale.copy_(torch.as_tensor(scale))
        self.target.copy_(torch.tensor(target))

    def standardize(self, expression: torch.Tensor) -> torch.Tensor:
        """Robust z-scores of basal profiles with the fine-tuning lines' median and MAD."""
        return (expression - self.bulk_center) / self.bulk_scale

    def scale(self, basal: torch.Tensor) -> torch.Tensor:
        """The scaling layer ``(g0 - mu) / sigma``."""
        return (basal - self.mu) * torch.exp(-self.log_sigma)

    def output(self, basal: torch.Tensor, predicted: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        """Standardised ln IC50 of each sample, shape ``(batch,)``."""
        parts = [project(x) for project, x in zip(self.projections, (basal, predicted, condition), strict=True)]
        return self.regressor(torch.cat(parts, dim=-1)).squeeze(-1)

    def ln_ic50(self, standardized: torch.Tensor) -> torch.Tensor:
        """Natural-log IC50 from the head's standardised output."""
        return standardized * self.target[1] + self.target[0]


def ic50_forward(
    module: CSG2AModule,
    head: IC50Head,
    basal: torch.Tensor,
    features: torch.Tensor,
    dose: torch.Tensor,
    time: torch.Tensor,
) -> torch.Tensor:
    """Standardised ln IC50 from the (robust z-scored) basal profile through the scaling layer and frozen network."""
    scaled = head.scale(basal)
    out = module(scaled, features, dose, time)
    return head.output(scaled, out["predicted"], out["condition"])


class CSG2AIC50Module(nn.Module):
    """The fine-tuned CSG²A: the pretrained network (frozen by default) behind the scaling layer, and the head.

    Parameters
    ----------
    network
        The pretrained :class:`CSG2AModule`, its biases removed :cite:p:`bang2025csg2a{section 3.2}`.
    head
        The :class:`IC50Head`.

    Examples
    --------
    >>> module = CSG2AIC50Module(CSG2AModule(6, 10), IC50Head(6))
    >>> module(torch.randn(2, 6), torch.rand(2, 10), torch.full((2,), 10.0), torch.full((2,), 72.0)).shape
    torch.Size([2])
    """

    def __init__(self, network: CSG2AModule, head: IC50Head) -> None:
        super().__init__()
        self.network, self.head = network, head

    def forward(
        self, expression: torch.Tensor, features: torch.Tensor, dose: torch.Tensor, time: torch.Tensor
    ) -> torch.Tensor:
        """Natural-log IC50 of each sample from its basal expression (in the units of the fine-tuning data)."""
        standardized = ic50_forward(self.network, self.head, self.head.standardize(expression), features, dose, time)
        return self.head.ln_ic50(standardized)


def build_network(n_genes: int, n_drug_features: int, params: dict[str, Any], adjacency: Any = None) -> CSG2AModule:
    """The :class:`CSG2AModule` of a model's settings (``CSG2A.init_params_``), its weights drawn with their seed."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(params["seed"])
        network = CSG2AModule(
            n_genes,
            n_drug_features,
            n_hidden=params["n_hidden"],
            n_condition_hidden=params["n_condition_hidden"],
            adjacency=adjacency,
            prior=params["prior"],
            attention=params["attention"],
            dropout=params["dropout"],
            bias=params["bias"],
            residual=params["residual"],
            use_prior=params["ppi_weights"] != "zero",
        )
    return network.eval()
