"""Preprocessing: AnnData in, AnnData out.

Quality control, gene alignment, standardisation with stored parameters, response labels, class balancing,
leakage-free splits, drug features, pathway masks, protein-interaction adjacency, control matching, fold
changes and differential-expression tables.
"""

from sctl._lazy import lazy_exports

# public name -> sub-module holding it (imported on first access, so torch & co. load only when used)
__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "align_genes": "._align",
        "balance": "._balance",
        "binarize_response": "._labels",
        "curate_labels": "._curate_labels",
        "de_to_anndata": "._de_table",
        "drug_specific_response": "._specific",
        "featurize_drugs": "._drugs",
        "harmonize": "._harmonize",
        "iter_folds": "._split",
        "log_fold_change": "._fold_change",
        "match_controls": "._controls",
        "pathway_mask": "._genesets",
        "ppi_adjacency": "._genesets",
        "qc": "._qc",
        "read_de_table": "._de_table",
        "split": "._split",
        "standardize": "._standardize",
    },
)
