"""A plain ReLU network, and a loss over the entries of a partly observed target."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import pairwise

import torch
from torch import nn


def mlp(sizes: Sequence[int], dropout: float = 0.0) -> nn.Sequential:
    """ReLU network through ``sizes`` (no activation after the last layer), with dropout after each hidden layer.

    Parameters
    ----------
    sizes
        Widths of the input, the hidden layers and the output, in order.
    dropout
        Dropout rate after each hidden ReLU (``0``: no dropout layer).

    Examples
    --------
    >>> import torch
    >>> net = mlp([10, 8, 2], dropout=0.1)
    >>> net(torch.zeros(3, 10)).shape
    torch.Size([3, 2])
    """
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(pairwise(sizes)):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers += [nn.ReLU(), nn.Dropout(dropout)] if dropout > 0 else [nn.ReLU()]
    return nn.Sequential(*layers)


def masked_loss(
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], prediction: torch.Tensor, target: torch.Tensor
) -> torch.Tensor:
    """``loss`` over the entries whose target is not NaN (0 with a gradient when there are none).

    Unlabelled rows (cells beside labelled bulk lines) and untested pairs (a drug never tried on a line) carry NaN
    targets and add nothing.

    Parameters
    ----------
    loss
        Mean loss of matching predictions and targets, e.g. :func:`torch.nn.functional.mse_loss` or
        :func:`torch.nn.functional.binary_cross_entropy_with_logits`.
    prediction, target
        Tensors of one shape; NaN in ``target`` marks a missing entry.

    Examples
    --------
    >>> import torch
    >>> import torch.nn.functional as F
    >>> masked_loss(F.mse_loss, torch.tensor([1.0, 5.0]), torch.tensor([0.0, float("nan")]))
    tensor(1.)
    """
    keep = ~torch.isnan(target)
    if not keep.any():
        return prediction.sum() * 0.0
    return loss(prediction[keep], target[keep])
