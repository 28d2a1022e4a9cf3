"""Condition-specific gene-gene attention used as the weights of a linear layer (CSG²A, :cite:t:`bang2025csg2a`)."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import torch
from scipy import sparse
from torch import nn

PRIORS = ("sparse", "dense")
ATTENTIONS = ("full", "ppi")


class GeneGeneAttention(nn.Module):
    """Gene-gene attention scores plus a protein-interaction prior, used as the weights of a linear layer.

    Each gene ``i`` gets a condition-specific representation ``Q_i = g0_i * W_gene[i] + D_i * W_comp[i]``
    (``W_gene, W_comp`` in R^{N_gene x h}: one expansion vector per gene), from its basal expression ``g0_i``
    and the per-gene condition value ``D_i``. The weights of the layer are
    ``A = Q Q^T / sqrt(h) + A_PPI`` and its output is ``A g0`` :cite:p:`bang2025csg2a{appendix A.1}`; the
    ``1 / sqrt(h)`` follows the authors' code.

    Cost per sample, with ``E`` the number of prior edges (self-loops included):

    - ``attention="full"`` (the paper): every gene pair has a score. The scores are used as weights without a
      softmax, so ``A_Q = Q Q^T`` has rank ``h`` and the forward pass never builds it:
      ``A_Q g0 = Q (Q^T g0) / sqrt(h)`` costs ``O(N_gene h)``;
    - ``attention="ppi"`` (an option, not in the paper): scores only on the prior's edges and on the diagonal
      (mask ``M``). ``sum_j M_ij (Q_i . Q_j) g0_j = Q_i . (M (Q * g0))_i`` is one sparse product: ``O(E h)``
      time, ``O(N_gene h)`` memory. Sparser maps, not a faster layer: ``E > N_gene``;
    - the prior ``A_PPI g0``: ``prior="sparse"`` (default) keeps the prior as a row-sorted edge list and
      multiplies by it as a CSR matrix, ``O(E)``;
      ``prior="dense"`` keeps the ``N_gene x N_gene`` matrix, ``O(N_gene^2)`` time and memory, and gives the
      same numbers up to rounding.

    :meth:`weights` materialises the map, ``O(N_gene^2 h)`` time and ``N_gene^2`` memory per sample by nature.

    Parameters
    ----------
    n_genes
        Number of genes ``N_gene``.
    n_hidden
        Size ``h`` of the per-gene representation.
    adjacency
        Prior ``A_PPI``: a ``n_genes x n_genes`` SciPy sparse matrix (e.g. from :func:`sctl.pp.ppi_adjacency`),
        a dense array or tensor, or a torch sparse tensor; ``None`` uses the identity.
    prior
        ``"sparse"`` (edge list) or ``"dense"`` (matrix) storage of the prior.
    attention
        ``"full"`` (all gene pairs, the paper) or ``"ppi"`` (the prior's edges and the diagonal only).
    use_prior
        Add ``A_PPI`` to the scores; ``False`` leaves it out (``A = A_Q``, the paper's ablation without the prior)
        while ``attention="ppi"`` still restricts the scores to the prior's edges.

    Examples
    --------
    >>> layer = GeneGeneAttention(5, 4)
    >>> out = layer(torch.randn(2, 5), torch.randn(2, 5))
    >>> out.shape, layer.weights(torch.randn(2, 5), torch.randn(2, 5)).shape
    (torch.Size([2, 5]), torch.Size([2, 5, 5]))
    >>> ring = sparse.diags([1.0, 1.0, 1.0], [-1, 0, 1], shape=(5, 5))
    >>> GeneGeneAttention(5, 4, ring, attention="ppi").attention_index.shape
    torch.Size([2, 13])
    """

    def __init__(
        self,
        n_genes: int,
        n_hidden: int,
        adjacency: Any = None,
        *,
        prior: str = "sparse",
        attention: str = "full",
        use_prior: bool = True,
    ) -> None:
        super().__init__()
        if prior not in PRIORS:
            raise ValueError(f"Unknown prior {prior!r}; choose one of {PRIORS}.")
        if attention not in ATTENTIONS:
            raise ValueError(f"Unknown attention {attention!r}; choose one of {ATTENTIONS}.")
        self.n_genes, self.n_hidden = int(n_genes), int(n_hidden)
        self.prior, self.attention, self.use_prior = prior, attention, bool(use_prior)
        self.w_gene = nn.Parameter(torch.randn(n_genes, n_hidden))
        self.w_comp = nn.Parameter(torch.randn(n_genes, n_hidden))
        index, weight = _edge_list(adjacency, self.n_genes)
        if prior == "sparse":
            self.register_buffer("prior_index", index)
            self.register_buffer("prior_weight", weight)
        else:
            self.register_buffer("adjacency", _to_dense(index, weight, self.n_genes))
        if attention == "ppi":
            self.register_buffer("attention_index", _with_diagonal(index, weight, self.n_genes))
        self._index_structures()

    @property
    def n_edges(self) -> int:
        """Number of non-zero entries of the prior (self-loops included)."""
        if self.prior == "sparse":
            return int(self.prior_weight.numel())
        return int(torch.count_nonzero(self.adjacency))

    def representation(self, basal: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        """``Q`` of shape ``(batch, n_genes, h)``."""
        return basal.unsqueeze(-1) * self.w_gene + condition.unsqueeze(-1) * self.w_comp

    def prior_matrix(self) -> torch.Tensor:
        """The prior ``A_PPI`` as a dense ``n_genes x n_genes`` tensor (``N_gene^2`` memory)."""
        if self.prior == "dense":
            return self.adjacency
        return _to_dense(self.prior_index, self.prior_weight, self.n_genes)

    def prior_product(self, basal: torch.Tensor) -> torch.Tensor:
        """``A_PPI g0`` of shape ``(batch, n_genes)``: ``O(E)`` per sample with the sparse prior."""
        if self.prior == "dense":
            return basal @ self.adjacency.T
        return self._sparse_product("prior", self.prior_weight.to(basal.dtype), basal.T).T

    def weights(self, basal: torch.Tensor, condition: torch.Tensor, include_prior: bool = True) -> torch.Tensor:
        """The attention-informed weights ``A_Q + A_PPI``, shape ``(batch, n_genes, n_genes)``.

        ``include_prior=False`` (or a layer without the prior) gives the drug- and profile-dependent ``A_Q`` alone.
        """
        q = self.representation(basal, condition)
        if self.attention == "full":
            scores = q @ q.transpose(1, 2) / math.sqrt(self.n_hidden)
        else:
            rows, cols = self.attention_index
            scores = q.new_zeros(len(q), self.n_genes, self.n_genes)
            scores[:, rows, cols] = self._edge_scores(q, rows, cols)
        return scores + self.prior_matrix() if include_prior and self.use_prior else scores

    def forward(self, basal: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        """``A g0`` of shape ``(batch, n_genes)``, without building ``A``."""
        q = self.representation(basal, condition)
        if self.attention == "full":
            projected = torch.einsum("bgh,bg->bh", q, basal)
            attended = torch.einsum("bgh,bh->bg", q, projected) / math.sqrt(self.n_hidden)
        else:  # sum_j M_ij (Q_i . Q_j) g0_j = Q_i . (M (Q * g0))_i: one sparse product, no per-edge tensor
            batch, n_genes, n_hidden = q.shape
            values = (q * basal.unsqueeze(-1)).permute(1, 0, 2).reshape(n_genes, batch * n_hidden)
            ones = q.new_ones(self.attention_index.shape[1])
            neighbours = self._sparse_product("attention", ones, values).reshape(n_genes, batch, n_hidden)
            attended = (q * neighbours.permute(1, 0, 2)).sum(-1) / math.sqrt(self.n_hidden)
        return attended + self.prior_product(basal) if self.use_prior else attended

    def _sparse_product(self, name: str, values: torch.Tensor, dense: torch.Tensor) -> torch.Tensor:
        """``S @ dense`` for the sparse matrix ``name`` (``"prior"`` or ``"attention"``) with entries ``values``."""
        cols = getattr(self, f"{name}_index")[1]
        crow, t_crow, t_cols, t_order = (
            getattr(self, f"_{name}_{part}") for part in ("crow", "t_crow", "t_cols", "t_order")
        )
        return _SparseProduct.apply(dense, crow, cols, values, t_crow, t_cols, values[t_order])

    def _index_structures(self) -> None:
        """CSR row pointers of the sparse matrices and of their transposes (not saved: rebuilt from the edges)."""
        for name in ("prior", "attention"):
            index = self._buffers.get(f"{name}_index")
            if index is None:
                continue
            rows, cols = index
            t_order = torch.argsort(cols * self.n_genes + rows)
            parts = {
                "crow": _row_pointers(rows, self.n_genes),
                "t_crow": _row_pointers(cols, self.n_genes),
                "t_cols": rows[t_order],
                "t_order": t_order,
            }
            for part, value in parts.items():
                self.register_buffer(f"_{name}_{part}", value, persistent=False)

    def _edge_scores(self, q: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
        """``Q_i . Q_j / sqrt(h)`` of every listed pair, shape ``(batch, n_pairs)``."""
        return (q[:, rows] * q[:, cols]).sum(-1) / math.sqrt(self.n_hidden)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        """Accept the edge list of any size and the dense ``adjacency`` of models saved before the sparse prior."""
        dense_key, index_key, weight_key = prefix + "adjacency", prefix + "prior_index", prefix + "prior_weight"
        if self.prior == "sparse" and dense_key in state_dict:
            index, weight = _edge_list(state_dict.pop(dense_key), self.n_genes)
            state_dict[index_key], state_dict[weight_key] = index, weight
        elif self.prior == "dense" and index_key in state_dict:
            index, weight = state_dict.pop(index_key), state_dict.pop(weight_key)
            state_dict[dense_key] = _to_dense(index, weight, self.n_genes)
        if self.prior == "sparse" and index_key in state_dict:
            self.prior_index = torch.empty_like(state_dict[index_key])
            self.prior_weight = torch.empty_like(state_dict[weight_key])
        attention_key = prefix + "attention_index"
        if self.attention == "ppi":
            if attention_key not in state_dict:  # saved with full attention: restrict to the saved prior's edges
                prior = state_dict.get(index_key, state_dict.get(dense_key))
                index, weight = (
                    (prior, state_dict[weight_key]) if index_key in state_dict else _edge_list(prior, self.n_genes)
                )
                state_dict[attention_key] = _with_diagonal(index, weight, self.n_genes)
            self.attention_index = torch.empty_like(state_dict[attention_key])
        else:
            state_dict.pop(attention_key, None)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self._index_structures()


def _edge_list(adjacency: Any, n_genes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Row-sorted ``(2, E)`` indices and ``(E,)`` weights of the non-zero entries; the identity for ``None``."""
    if adjacency is None:
        diagonal = torch.arange(n_genes)
        return torch.stack([diagonal, diagonal]), torch.ones(n_genes)
    if isinstance(adjacency, torch.Tensor):
        adjacency = adjacency.detach().cpu()
        if adjacency.layout != torch.strided:  # torch sparse COO / CSR
            adjacency = adjacency.to_sparse_coo().coalesce()
            rows, cols = adjacency.indices().numpy()
            matrix = sparse.coo_matrix((adjacency.values().numpy(), (rows, cols)), shape=tuple(adjacency.shape))
        else:
            matrix = sparse.coo_matrix(adjacency.numpy())
    else:
        matrix = sparse.coo_matrix(adjacency)
    if matrix.shape != (n_genes, n_genes):
        raise ValueError(f"`adjacency` must be {n_genes} x {n_genes}, got {tuple(matrix.shape)}.")
    matrix = sparse.csr_matrix(matrix, dtype=np.float32)
    matrix.sum_duplicates()
    matrix.eliminate_zeros()
    matrix.sort_indices()
    rows = np.repeat(np.arange(n_genes), np.diff(matrix.indptr))
    index = torch.as_tensor(np.stack([rows, matrix.indices]).astype(np.int64))
    return index, torch.as_tensor(matrix.data.astype(np.float32))


class _SparseProduct(torch.autograd.Function):
    """``S @ dense`` with ``S`` in CSR; the backward multiplies by the stored CSR of ``S^T``.

    torch's own backward of a CSR product transposes ``S`` on every call; here the transpose's structure is
    computed once per layer (why: ``docs/methods/csg2a.md``, implementation notes).
    """

    @staticmethod
    def forward(ctx, dense, crow, cols, values, t_crow, t_cols, t_values):
        ctx.save_for_backward(t_crow, t_cols, t_values)
        return _csr(crow, cols, values, len(crow) - 1) @ dense.contiguous()  # a strided view is far slower

    @staticmethod
    def backward(ctx, grad):
        t_crow, t_cols, t_values = ctx.saved_tensors
        return _csr(t_crow, t_cols, t_values, len(t_crow) - 1) @ grad.contiguous(), None, None, None, None, None, None


def _csr(crow: torch.Tensor, cols: torch.Tensor, values: torch.Tensor, n_genes: int) -> torch.Tensor:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return torch.sparse_csr_tensor(crow, cols, values, size=(n_genes, n_genes), check_invariants=False)


def _row_pointers(rows: torch.Tensor, n_genes: int) -> torch.Tensor:
    crow = torch.zeros(n_genes + 1, dtype=torch.long, device=rows.device)
    crow[1:] = torch.bincount(rows, minlength=n_genes).cumsum(0)
    return crow


def _to_dense(index: torch.Tensor, weight: torch.Tensor, n_genes: int) -> torch.Tensor:
    dense = torch.zeros(n_genes, n_genes, dtype=weight.dtype, device=weight.device)
    return dense.index_put_((index[0], index[1]), weight, accumulate=True)


def _with_diagonal(index: torch.Tensor, weight: torch.Tensor, n_genes: int) -> torch.Tensor:
    """The prior's edges (non-zero weight) and every ``(i, i)``, row-sorted, without duplicates."""
    keep = index[:, weight != 0]
    diagonal = torch.arange(n_genes, device=index.device)
    pairs = torch.cat([keep, torch.stack([diagonal, diagonal])], dim=1)
    flat = torch.unique(pairs[0] * n_genes + pairs[1])  # sorted: row-major order
    return torch.stack([flat // n_genes, flat % n_genes])
