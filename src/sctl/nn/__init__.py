"""Torch building blocks shared by sctl's models."""

from sctl._lazy import lazy_exports

# public name -> sub-module holding it (imported on first access, so torch & co. load only when used)
__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "FiLM": "._film",
        "GeneGeneAttention": "._gene_attention",
        "MaskedLinear": "._masked",
        "ResidualBlock": "._film",
        "masked_loss": "._mlp",
        "mlp": "._mlp",
        "mmd": "._mmd",
        "reverse_gradient": "._masked",
    },
)
