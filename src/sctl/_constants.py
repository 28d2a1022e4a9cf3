"""Names of the AnnData fields sctl reads and writes, in one place.

Everything sctl writes into a user's AnnData starts with ``sctl_``. Verbs record their parameters under
``adata.uns[key]["params"]``.
"""

from typing import NamedTuple


class _RegistryKeys(NamedTuple):
    X_KEY: str = "X"
    LABELS_KEY: str = "labels"
    DOMAIN_KEY: str = "domain"
    BATCH_KEY: str = "batch"


REGISTRY_KEYS = _RegistryKeys()

# response matrices of a bulk AnnData: ``adata.obsm[key]`` is a DataFrame, cell lines x drugs, NaN = untested
RESPONSE_KEYS = ("ln_ic50", "auc")
# drug annotations of a bulk AnnData: ``adata.uns[DRUGS_KEY]`` is a DataFrame indexed by drug name
DRUGS_KEY = "sctl_drugs"

# labels written by :func:`sctl.pp.binarize_response`
SENSITIVE = "sensitive"
RESISTANT = "resistant"
RESPONSE_CATEGORIES = (RESISTANT, SENSITIVE)

# fewest genes a reference and a query must share by default (:func:`sctl.pp.align_genes`), and the panel size
# below which the alignment warns that predictions rest on few genes
MIN_SHARED_GENES = 500
SMALL_PANEL_GENES = 1000

# keys written by the verbs
LABEL_KEY = "sctl_label"
FOLD_KEY = "sctl_fold"
SPLIT_KEY = "sctl_split"
STANDARDIZE_KEY = "sctl_standardize"
RESPONSE_KEY = "sctl_response"
RESPONSE_PROBA_KEY = "sctl_response_proba"

# keys written by the interpretation verbs (:func:`sctl.tl.score_states`, :func:`sctl.tl.response_gene_scores`,
# :func:`sctl.tl.response_pseudotime`)
STATES_KEY = "sctl_states"
EFFECTIVE_SCORE_KEY = "sctl_effective_score"
INEFFECTIVE_SCORE_KEY = "sctl_ineffective_score"
RESISTANCE_INDEX_KEY = "sctl_resistance_index"
STATE_CALL_KEY = "sctl_state_call"
STATE_CALLS = ("effective", "ineffective")
GENE_SCORES_KEY = "sctl_response_gene_scores"
SENSITIVE_SCORE_KEY = "sctl_sensitive_score"
RESISTANT_SCORE_KEY = "sctl_resistant_score"
PSEUDOTIME_KEY = "sctl_response_pseudotime"

# keys written by the patient-transfer and label-curation verbs (:func:`sctl.pp.harmonize`,
# :func:`sctl.tl.evaluate_patients`, :func:`sctl.pp.curate_labels`, :func:`sctl.tl.score_pathways`)
HARMONIZE_KEY = "sctl_harmonize"
EVALUATE_PATIENTS_KEY = "sctl_evaluate_patients"
CURATED_LABEL_KEY = "sctl_curated_label"
CURATION_REASON_KEY = "sctl_curation_reason"
INTRINSIC_RESISTANT = "intrinsically_resistant"
NORMAL_CELL = "normal"
PATHWAYS_KEY = "sctl_pathways"

# applicability domain of :func:`sctl.tl.predict_response` with a reference: each cell's similarity to its nearest
# reference line, whether it lies in the reference's domain, and the call of cells sctl cannot judge
REFERENCE_SIMILARITY_KEY = "sctl_reference_similarity"
IN_DOMAIN_KEY = "sctl_in_domain"
UNCERTAIN = "uncertain"
