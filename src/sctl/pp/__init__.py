"""Preprocessing: AnnData in, AnnData out.

Quality control, gene alignment, standardisation with stored parameters, response labels, class balancing,
leakage-free splits, drug features, pathway masks and protein-interaction adjacency.
"""

from ._align import align_genes
from ._balance import balance
from ._drugs import featurize_drugs
from ._genesets import pathway_mask, ppi_adjacency
from ._labels import binarize_response
from ._qc import qc
from ._split import iter_folds, split
from ._standardize import standardize

__all__ = [
    "align_genes",
    "balance",
    "binarize_response",
    "featurize_drugs",
    "iter_folds",
    "pathway_mask",
    "ppi_adjacency",
    "qc",
    "split",
    "standardize",
]
