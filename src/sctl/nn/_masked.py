"""Linear layers with a fixed connectivity mask (pathway-masked decoders) and gradient reversal."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class MaskedLinear(nn.Linear):
    """A linear layer whose weight is multiplied by a fixed 0/1 mask: ``y = x (W ⊙ M)ᵀ + b``.

    With the genes x pathways mask of :func:`sctl.pp.pathway_mask` (transposed) and one input unit per pathway, each
    latent unit can only reconstruct the genes of its pathway: the sparse, knowledge-guided decoder of
    :cite:t:`he2025transfer`, in the tradition of visible neural networks and VEGA :cite:p:`seninge2021vega`. The mask
    is a buffer, so it is saved with the weights.

    Parameters
    ----------
    mask
        Array of shape ``(out_features, in_features)``; non-zero entries are kept connections.
    bias
        Learn an additive bias.

    Examples
    --------
    >>> import torch
    >>> layer = MaskedLinear(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
    >>> layer(torch.zeros(4, 2)).shape
    torch.Size([4, 3])
    """

    def __init__(self, mask: torch.Tensor | np.ndarray, bias: bool = True) -> None:
        mask = torch.as_tensor(np.asarray(mask), dtype=torch.float32)
        if mask.ndim != 2:
            raise ValueError(f"`mask` must be 2-D (out_features, in_features), got shape {tuple(mask.shape)}.")
        super().__init__(mask.shape[1], mask.shape[0], bias=bias)
        self.register_buffer("mask", (mask != 0).float())
        with torch.no_grad():
            self.weight.mul_(self.mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the masked linear map."""
        return nn.functional.linear(x, self.weight * self.mask, self.bias)


class _ReverseGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, scale: float) -> torch.Tensor:
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return -ctx.scale * grad, None


def reverse_gradient(x: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """Identity forward, gradient times ``-scale`` backward (domain-adversarial training, :cite:t:`ganin2015dann`).

    Examples
    --------
    >>> import torch
    >>> x = torch.ones(2, requires_grad=True)
    >>> reverse_gradient(x, 0.5).sum().backward()
    >>> x.grad.tolist()
    [-0.5, -0.5]
    """
    return _ReverseGrad.apply(x, scale)
