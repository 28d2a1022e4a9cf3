"""GeneGeneAttention: the sparse prior and the PPI-restricted attention against their dense definitions."""

import numpy as np
import pytest
import torch
from scipy import sparse

from sctl.nn import GeneGeneAttention

N = 12


@pytest.fixture
def asymmetric() -> sparse.csr_matrix:
    """A directed graph (A != A^T, so a wrong transpose in the backward pass shows) with self-loops."""
    matrix = sparse.random(N, N, density=0.2, random_state=1, format="csr", dtype=np.float32)
    return (matrix + sparse.identity(N, dtype=np.float32)).tocsr()


def _grad(layer, basal, condition, upstream):
    basal = basal.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(layer(basal, condition), basal, upstream)
    return grad


def test_sparse_prior_matches_dense_forward_and_backward(asymmetric):
    torch.manual_seed(0)
    assert (asymmetric != asymmetric.T).nnz > 0
    sparse_layer = GeneGeneAttention(N, 3, asymmetric)
    dense_layer = GeneGeneAttention(N, 3, asymmetric, prior="dense")
    dense_layer.load_state_dict(sparse_layer.state_dict())  # edge list -> matrix: the same weights
    assert sparse_layer.n_edges == dense_layer.n_edges == asymmetric.nnz
    np.testing.assert_allclose(sparse_layer.prior_matrix().numpy(), asymmetric.toarray())
    basal, condition, upstream = torch.randn(4, N), torch.randn(4, N), torch.randn(4, N)
    torch.testing.assert_close(sparse_layer(basal, condition), dense_layer(basal, condition))
    torch.testing.assert_close(
        _grad(sparse_layer, basal, condition, upstream), _grad(dense_layer, basal, condition, upstream)
    )
    torch.testing.assert_close(
        sparse_layer.prior_product(basal), basal @ torch.as_tensor(asymmetric.toarray()).T, atol=1e-6, rtol=1e-5
    )


def test_ppi_attention_equals_its_masked_map(asymmetric):
    torch.manual_seed(0)
    layer = GeneGeneAttention(N, 3, asymmetric, attention="ppi")
    basal, condition, upstream = torch.randn(4, N), torch.randn(4, N), torch.randn(4, N)
    weights = layer.weights(basal, condition)
    mask = torch.as_tensor(asymmetric.toarray() != 0) | torch.eye(N, dtype=torch.bool)
    assert torch.count_nonzero(weights[:, ~mask]) == 0
    full = GeneGeneAttention(N, 3, asymmetric)
    full.load_state_dict(layer.state_dict())  # same weights, all pairs
    torch.testing.assert_close(weights, torch.where(mask, full.weights(basal, condition), 0.0))

    def by_map(b):
        return torch.einsum("bij,bj->bi", layer.weights(b, condition), b)

    torch.testing.assert_close(layer(basal, condition), by_map(basal), atol=1e-5, rtol=1e-5)
    b = basal.clone().requires_grad_(True)
    (dense_grad,) = torch.autograd.grad(by_map(b), b, upstream)
    torch.testing.assert_close(_grad(layer, basal, condition, upstream), dense_grad, atol=1e-4, rtol=1e-4)


def test_inputs_and_old_weights(asymmetric):
    torch_sparse = torch.as_tensor(asymmetric.toarray()).to_sparse_csr()
    from_torch = GeneGeneAttention(N, 3, torch_sparse)
    from_dense = GeneGeneAttention(N, 3, asymmetric.toarray())
    assert torch.equal(from_torch.prior_index, from_dense.prior_index)
    identity = GeneGeneAttention(N, 3)
    assert identity.n_edges == N
    # weights saved before the sparse prior: a dense ``adjacency`` buffer; loads into any layer
    old = {"w_gene": from_dense.w_gene.detach(), "w_comp": from_dense.w_comp.detach()}
    old["adjacency"] = torch.as_tensor(asymmetric.toarray())
    identity.load_state_dict(old)
    assert identity.n_edges == asymmetric.nnz
    basal = torch.randn(2, N)
    torch.testing.assert_close(identity(basal, basal), from_dense(basal, basal))
    with pytest.raises(ValueError, match="must be 12 x 12"):
        GeneGeneAttention(N, 3, np.eye(N + 1))
    with pytest.raises(ValueError, match="Unknown prior"):
        GeneGeneAttention(N, 3, prior="csr")
