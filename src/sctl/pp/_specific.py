"""Split a drug-response table into a line's general sensitivity and its drug-specific response."""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
from anndata import AnnData

from sctl._docs import doc_params
from sctl._validate import check_anndata, check_response

#: fewest tested drugs for a line's general sensitivity (a mean over fewer drugs is mostly the drugs themselves)
MIN_DRUGS = 10


def split_response(response: pd.DataFrame, min_drugs: int = MIN_DRUGS) -> tuple[pd.DataFrame, pd.Series]:
    """Drug-specific response (lines x drugs) and general sensitivity (per line) of a response table.

    Each drug's response is z-scored over the lines tested with it (mean, sample sd); a line's general
    sensitivity is the mean of its z-scores over the drugs it was tested with; the specific response is the
    z-score minus that mean. Lines tested with fewer than ``min_drugs`` drugs get NaN in both.
    """
    values = response.astype(np.float64)
    spread = values.std()
    constant = spread.index[~(spread > 0)]
    if len(constant):
        raise ValueError(
            f"{len(constant)} drugs have fewer than two distinct tested responses ({list(constant[:5])}), so they "
            "cannot be z-scored. Drop them from the table first."
        )
    z = (values - values.mean()) / spread
    general = z.mean(axis=1).where(z.notna().sum(axis=1) >= min_drugs)
    specific = z.sub(general, axis=0)
    return specific, general


@doc_params()
def drug_specific_response(
    adata: AnnData,
    key: str = "ln_ic50",
    *,
    min_drugs: int = MIN_DRUGS,
    key_added: str | None = None,
    general_key_added: str | None = None,
    copy: bool = False,
) -> AnnData | None:
    """Remove each line's general sensitivity from a response table, keeping the drug-specific part.

    Screens such as GDSC share a strong general-sensitivity axis: some lines are sensitive to almost every drug
    (the 40 drugs of :func:`sctl.datasets.gdsc` have z-scored ln IC50 that correlate 0.38 on average, pair by
    pair). Labels from one drug's raw response then carry that axis, and a classifier can score well on one drug by
    learning it while being blind to which drug is given. With ``z[l, d]`` the response of line ``l`` to drug
    ``d`` z-scored over the lines tested with ``d`` (mean, sample sd):

    - general sensitivity ``g[l]`` = mean of ``z[l, d]`` over the drugs ``l`` was tested with (NaN when fewer
      than ``min_drugs``);
    - drug-specific response ``s[l, d] = z[l, d] - g[l]``: how much more (or less) sensitive ``l`` is to ``d``
      than to drugs in general.

    Low values mean sensitive, as for ``"ln_ic50"`` and ``"auc"``. The specific table is a response table like
    the others: ``sctl.tl.predict_response(cells, bulk, drug, key="ln_ic50_specific")`` learns labels from it
    with no other change (sctl). So does the general one, written as a table too (every drug's column holds the
    line's ``g``, NaN where the line was not tested with that drug): labels that are the same for every drug.

    Parameters
    ----------
    adata
        Bulk cell lines x genes with the response table ``adata.obsm[key]`` (cell lines x drugs, NaN = untested).
    key
        Response table, e.g. ``"ln_ic50"`` or ``"auc"``.
    min_drugs
        Fewest drugs a line must be tested with for its general sensitivity (and so its specific responses);
        lines tested with fewer get NaN.
    key_added
        Name of the specific table in ``.obsm``; default ``f"{key}_specific"``.
    general_key_added
        Name of the general table in ``.obsm``; default ``f"{key}_general"``.
    {copy}

    {returns_copy}
    Sets

    ``adata.obsm[key_added]``
        drug-specific response, cell lines x drugs (NaN where untested or too few drugs tested);
    ``adata.obsm[general_key_added]``
        general sensitivity, cell lines x drugs (the line's ``g`` in every tested drug's column);
    ``adata.uns[key_added]["params"]``
        ``key``, ``min_drugs``, ``general_key_added`` and ``n_lines_too_few_drugs``.

    Examples
    --------
    >>> bulk = sctl.datasets.gdsc()
    >>> sctl.pp.drug_specific_response(bulk)
    >>> sctl.pp.binarize_response(bulk, "Dabrafenib", key="ln_ic50_specific")
    """
    check_anndata(adata)
    response = check_response(adata, key)
    if isinstance(min_drugs, bool) or not isinstance(min_drugs, numbers.Integral) or min_drugs < 2:
        raise ValueError(
            f"`min_drugs` must be an integer of at least 2 (a general sensitivity needs several drugs), got "
            f"{min_drugs!r}."
        )
    if response.shape[1] < min_drugs:
        raise ValueError(
            f"`adata.obsm[{key!r}]` holds {response.shape[1]} drugs, fewer than `min_drugs={min_drugs}`: no line "
            "could get a general sensitivity. Lower `min_drugs` or use a table of more drugs."
        )
    key_added = f"{key}_specific" if key_added is None else key_added
    general_key_added = f"{key}_general" if general_key_added is None else general_key_added
    specific, general = split_response(response, min_drugs)
    adata = adata.copy() if copy else adata
    adata.obsm[key_added] = specific
    adata.obsm[general_key_added] = pd.DataFrame({drug: general for drug in response.columns}).where(response.notna())
    adata.uns[key_added] = {
        "params": {
            "key": key,
            "min_drugs": int(min_drugs),
            "general_key_added": general_key_added,
            "n_lines_too_few_drugs": int(general.isna().sum()),
        }
    }
    return adata if copy else None
