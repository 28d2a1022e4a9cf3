"""Models: deep models in the scvi-tools style (one sub-package each) and the baselines they are compared with."""

from . import baselines

__all__ = ["baselines"]
