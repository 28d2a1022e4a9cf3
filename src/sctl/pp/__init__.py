"""Preprocessing: AnnData in, AnnData out.

Quality control, gene alignment, standardisation with stored parameters, response labels, class balancing,
leakage-free splits, drug features, pathway masks, protein-interaction adjacency, control matching, fold
changes and differential-expression tables.
"""

from ._align import align_genes
from ._balance import balance
from ._controls import match_controls
from ._curate_labels import curate_labels
from ._de_table import de_to_anndata, read_de_table
from ._drugs import featurize_drugs
from ._fold_change import log_fold_change
from ._genesets import pathway_mask, ppi_adjacency
from ._harmonize import harmonize
from ._labels import binarize_response
from ._qc import qc
from ._specific import drug_specific_response
from ._split import iter_folds, split
from ._standardize import standardize

__all__ = [
    "align_genes",
    "balance",
    "binarize_response",
    "curate_labels",
    "de_to_anndata",
    "drug_specific_response",
    "featurize_drugs",
    "harmonize",
    "iter_folds",
    "log_fold_change",
    "match_controls",
    "pathway_mask",
    "ppi_adjacency",
    "qc",
    "read_de_table",
    "split",
    "standardize",
]
