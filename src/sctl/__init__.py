"""sctl: drug response of cancer cells, from bulk cell-line screens to single cells, on AnnData.

Namespaces follow scanpy: :mod:`sctl.pp` prepares data, :mod:`sctl.tl` runs analyses and writes results into
the AnnData, :mod:`sctl.pl` plots them. :mod:`sctl.datasets` reads public formats and the real data shipped with
the package, :mod:`sctl.models` holds the models (scvi-tools style) and the baselines, :mod:`sctl.metrics` the
evaluation metrics.
"""

from . import datasets, metrics, models, nn, pl, pp, tl

__version__ = "0.1.0"

__all__ = ["datasets", "metrics", "models", "nn", "pl", "pp", "tl"]
