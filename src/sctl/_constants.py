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

# keys written by the verbs
LABEL_KEY = "sctl_label"
FOLD_KEY = "sctl_fold"
SPLIT_KEY = "sctl_split"
STANDARDIZE_KEY = "sctl_standardize"
RESPONSE_KEY = "sctl_response"
RESPONSE_PROBA_KEY = "sctl_response_proba"
