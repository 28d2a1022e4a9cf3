"""Feature-wise linear modulation (FiLM) and the residual MLP block it conditions."""

from __future__ import annotations

import torch
from torch import nn


class FiLM(nn.Module):
    """Feature-wise linear modulation: ``gamma(c) * h + beta(c)`` :cite:p:`perez2018film`.

    A small network maps the condition ``c`` (e.g. concatenated cell-line and drug embeddings) to one scale
    ``gamma`` and one shift ``beta`` per hidden feature. ``gamma`` is parameterised as ``1 + delta`` so that
    the block starts close to the identity, which keeps early training of conditional generators stable.

    Parameters
    ----------
    n_condition
        Size of the condition vector.
    n_features
        Number of hidden features that are modulated.
    n_hidden
        Hidden units of the modulation network; ``0`` maps the condition linearly.

    Examples
    --------
    >>> film = FiLM(n_condition=8, n_features=16)
    >>> film(torch.zeros(4, 16), torch.zeros(4, 8)).shape
    torch.Size([4, 16])
    """

    def __init__(self, n_condition: int, n_features: int, n_hidden: int = 0):
        super().__init__()
        if n_hidden > 0:
            self.net = nn.Sequential(nn.Linear(n_condition, n_hidden), nn.ReLU(), nn.Linear(n_hidden, 2 * n_features))
        else:
            self.net = nn.Linear(n_condition, 2 * n_features)
        self.n_features = n_features

    def forward(self, h: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        """Return ``h`` modulated by ``condition``; both are ``(batch, features)``."""
        delta_gamma, beta = self.net(condition).chunk(2, dim=-1)
        return (1.0 + delta_gamma) * h + beta


class ResidualBlock(nn.Module):
    """Two fully connected layers with ReLU and a skip connection :cite:p:`he2016resnet`: ``h + f(h)``.

    Parameters
    ----------
    n_features
        Width of the block (input = output).
    dropout
        Dropout rate between the two layers.

    Examples
    --------
    >>> ResidualBlock(32)(torch.zeros(2, 32)).shape
    torch.Size([2, 32])
    """

    def __init__(self, n_features: int, dropout: float = 0.0):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(n_features, n_features),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(n_features, n_features),
        )
        self.act = nn.ReLU()

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """Return ``relu(h + f(h))``."""
        return self.act(h + self.net(h))
