"""Torch building blocks shared by sctl's models."""

from ._film import FiLM, ResidualBlock
from ._gene_attention import GeneGeneAttention
from ._masked import MaskedLinear, reverse_gradient
from ._mmd import mmd

__all__ = ["FiLM", "GeneGeneAttention", "MaskedLinear", "ResidualBlock", "mmd", "reverse_gradient"]
