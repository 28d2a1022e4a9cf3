"""sctl: drug response of cancer cells, from bulk cell-line screens to single cells, on AnnData.

Namespaces follow scanpy: :mod:`sctl.pp` prepares data, :mod:`sctl.tl` runs analyses and writes results into
the AnnData, :mod:`sctl.pl` plots them. :mod:`sctl.datasets` reads public formats and the real data shipped with
the package, :mod:`sctl.models` holds the models (scvi-tools style) and the baselines, :mod:`sctl.metrics` the
evaluation metrics.
"""

from sctl._lazy import lazy_exports

__version__ = "0.2.0"

# the namespaces are imported on first access (``sctl.pp``), so ``import sctl`` takes well under a second
__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {name: f".{name}" for name in ("datasets", "metrics", "models", "nn", "pl", "pp", "tl")},
)
