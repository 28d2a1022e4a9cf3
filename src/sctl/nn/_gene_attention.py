"""Condition-specific gene-gene attention used as the weights of a linear layer (CSG²A, Bang, Koo & Kim 2025)."""

from __future__ import annotations

import math

import torch
from torch import nn


class GeneGeneAttention(nn.Module):
    """Gene-gene attention scores plus a protein-interaction prior, used as the weights of a linear layer.

    Each gene ``i`` gets a condition-specific representation ``Q_i = g0_i * W_gene[i] + D_i * W_comp[i]``
    (``W_gene, W_comp`` in R^{N_gene x h}: one expansion vector per gene), from its basal expression ``g0_i``
    and the per-gene condition value ``D_i``. The weights of the layer are
    ``A = Q Q^T / sqrt(h) + A_PPI`` and its output is ``A g0`` (Bang, Koo & Kim 2025, ICML workshop on
    multi-modal foundation models, appendix A.1; the ``1 / sqrt(h)`` follows the authors' code).

    The forward pass never builds ``A``: ``A g0 = Q (Q^T g0) / sqrt(h) + A_PPI g0`` costs ``O(N_gene h)`` per
    sample plus the ``N_gene^2`` product with the fixed prior. :meth:`weights` materialises the map, which
    costs ``O(N_gene^2 h)`` time and ``N_gene^2`` memory per sample.

    Parameters
    ----------
    n_genes
        Number of genes ``N_gene``.
    n_hidden
        Size ``h`` of the per-gene representation.
    adjacency
        Prior ``A_PPI``, a dense ``n_genes x n_genes`` tensor (e.g. from :func:`sctl.pp.ppi_adjacency`); ``None``
        uses the identity.

    Examples
    --------
    >>> layer = GeneGeneAttention(5, 4)
    >>> out = layer(torch.randn(2, 5), torch.randn(2, 5))
    >>> out.shape, layer.weights(torch.randn(2, 5), torch.randn(2, 5)).shape
    (torch.Size([2, 5]), torch.Size([2, 5, 5]))
    """

    def __init__(self, n_genes: int, n_hidden: int, adjacency: torch.Tensor | None = None) -> None:
        super().__init__()
        self.n_hidden = int(n_hidden)
        self.w_gene = nn.Parameter(torch.randn(n_genes, n_hidden))
        self.w_comp = nn.Parameter(torch.randn(n_genes, n_hidden))
        prior = torch.eye(n_genes) if adjacency is None else torch.as_tensor(adjacency, dtype=torch.float32)
        if prior.shape != (n_genes, n_genes):
            raise ValueError(f"`adjacency` must be {n_genes} x {n_genes}, got {tuple(prior.shape)}.")
        self.register_buffer("adjacency", prior.clone())

    def representation(self, basal: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        """``Q`` of shape ``(batch, n_genes, h)``."""
        return basal.unsqueeze(-1) * self.w_gene + condition.unsqueeze(-1) * self.w_comp

    def weights(self, basal: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        """The attention-informed weights ``Q Q^T / sqrt(h) + A_PPI``, shape ``(batch, n_genes, n_genes)``."""
        q = self.representation(basal, condition)
        return q @ q.transpose(1, 2) / math.sqrt(self.n_hidden) + self.adjacency

    def forward(self, basal: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        """``A g0`` of shape ``(batch, n_genes)``, without building ``A``."""
        q = self.representation(basal, condition)
        projected = torch.einsum("bgh,bg->bh", q, basal)
        attended = torch.einsum("bgh,bh->bg", q, projected) / math.sqrt(self.n_hidden)
        return attended + basal @ self.adjacency.T
