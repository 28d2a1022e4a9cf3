"""Test whether predicted drug responses separate patients who responded from those who did not."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from anndata import AnnData
from scipy import stats

from sctl._constants import EVALUATE_PATIENTS_KEY
from sctl._validate import check_anndata, check_obs_key, preview

ALL_DRUGS = "all"
RESPONDER_STATUS = ("non-responder", "responder")
RESULT_COLUMNS = (
    "drug",
    "status",
    "n_responders",
    "n_non_responders",
    "median_responders",
    "median_non_responders",
    "auroc",
    "statistic",
    "pvalue",
    "qvalue",
    "pvalue_ttest",
)


def evaluate_patients(
    adata: AnnData,
    *,
    prediction_key: str = "sctl_predicted_ln_ic50",
    response_key: str = "response",
    drug_key: str | None = None,
    higher_is_sensitive: bool = False,
    responder: str | bool | Sequence[str] = "responder",
    min_responders: int = 3,
    min_non_responders: int = 3,
    key_added: str = EVALUATE_PATIENTS_KEY,
) -> pd.DataFrame:
    """Per drug, test that responders got more favourable predictions than non-responders (one-sided).

    The patient-level check of CSG²A :cite:p:`bang2025csg2a{section 4.4 and appendix C.5}`: a model trained on
    cell lines predicts each treated patient's IC50; responders should have lower predicted IC50s than
    non-responders (clinical responses as curated by :cite:t:`ding2016clinical`). For each drug
    with at least ``min_responders`` responders and ``min_non_responders`` non-responders this reports the
    one-sided Mann-Whitney U test (rank-based, so free of the normality a t-test assumes with tens of
    patients), the paper's one-sided Welch t-test for comparison, the AUROC of the prediction for
    responder status and Benjamini-Hochberg q-values over the tested drugs. Drugs with too few patients are
    kept in the table with ``status`` saying why they were skipped.

    Two layouts are read:

    - long: one row per (patient, drug) pair, ``adata.obs[prediction_key]`` numbers,
      ``adata.obs[response_key]`` the clinical response and ``adata.obs[drug_key]`` the drug (``drug_key=None``:
      one drug, reported as ``"all"``);
    - wide: ``adata.obsm[prediction_key]`` and ``adata.obsm[response_key]`` DataFrames, patients x drugs
      (NaN = not treated), e.g. predictions of several drugs for the same patients.

    Parameters
    ----------
    adata
        Patients (or patient-drug pairs) x genes.
    prediction_key
        ``.obs`` column (long) or ``.obsm`` DataFrame (wide) of predictions: a predicted LN_IC50 (low =
        sensitive) or a probability of sensitivity (then set ``higher_is_sensitive=True``).
    response_key
        ``.obs`` column (long) or ``.obsm`` DataFrame (wide) of the observed clinical response; NaN = unknown.
    drug_key
        ``.obs`` column naming the drug of each row (long layout only).
    higher_is_sensitive
        ``False`` (IC50, AUC): responders are expected to have *lower* predictions; ``True`` (probability of
        sensitivity from :func:`sctl.tl.predict_response`): *higher*.
    responder
        Value(s) of the response that count as responding, e.g. ``["Complete Response", "Partial Response"]``
        or ``True`` for a boolean column. Every other known value is a non-responder.
    min_responders, min_non_responders
        Fewest responders / non-responders a drug needs to be tested.
    key_added
        The table goes to ``adata.uns[key_added]["results"]``, the parameters to ``["params"]``.

    Returns
    -------
    One row per drug (tested drugs first, by p-value): ``drug``, ``status`` (``"tested"`` or why it was
    skipped), ``n_responders``, ``n_non_responders``, the median prediction of each group, ``auroc`` (the
    probability that a random responder is predicted more sensitive than a random non-responder; 0.5 =
    chance), ``statistic`` (Mann-Whitney U of responders vs non-responders), ``pvalue`` (one-sided), ``qvalue``
    (Benjamini-Hochberg over the tested drugs) and ``pvalue_ttest`` (one-sided Welch t-test).

    Examples
    --------
    >>> import numpy as np, pandas as pd, anndata as ad
    >>> import sctl
    >>> rng = np.random.default_rng(0)
    >>> response = ["responder"] * 10 + ["progressive"] * 10
    >>> patients = ad.AnnData(obs=pd.DataFrame({"response": response}, index=[f"p{i}" for i in range(20)]))
    >>> patients.obs["sctl_predicted_ln_ic50"] = np.r_[rng.normal(-1, 1, 10), rng.normal(1, 1, 10)]
    >>> table = sctl.tl.evaluate_patients(patients)
    >>> bool(table.loc[0, "pvalue"] < 0.05)
    True
    """
    check_anndata(adata)
    _check_minimum(min_responders, "min_responders")
    _check_minimum(min_non_responders, "min_non_responders")
    pairs = patient_table(adata, prediction_key, response_key, drug_key, responder)
    rows = [
        _test_drug(drug, group, higher_is_sensitive, min_responders, min_non_responders)
        for drug, group in pairs.groupby("drug", sort=True, observed=True)
    ]
    table = pd.DataFrame(rows, columns=list(RESULT_COLUMNS))
    tested = table["status"].eq("tested")
    if not tested.any():
        counts = "; ".join(
            f"{r.drug}: {r.n_responders} responders, {r.n_non_responders} non-responders" for r in table.itertuples()
        )
        raise ValueError(
            f"No drug has at least {min_responders} responders and {min_non_responders} non-responders "
            f"({counts}). Check `responder=` (responder values: {preview(_responder_values(responder))}), "
            "pool drugs, or lower `min_responders` / `min_non_responders`."
        )
    table.loc[tested, "qvalue"] = stats.false_discovery_control(table.loc[tested, "pvalue"].to_numpy(float))
    table = pd.concat([table[tested].sort_values("pvalue", kind="stable"), table[~tested]], ignore_index=True)
    adata.uns[key_added] = {
        "params": {
            "prediction_key": prediction_key,
            "response_key": response_key,
            "drug_key": drug_key,
            "higher_is_sensitive": higher_is_sensitive,
            "responder": _responder_values(responder),
            "min_responders": min_responders,
            "min_non_responders": min_non_responders,
            "test": "one-sided Mann-Whitney U",
        },
        "results": table,
    }
    return table


def patient_table(
    adata: AnnData,
    prediction_key: str,
    response_key: str,
    drug_key: str | None,
    responder: Any,
) -> pd.DataFrame:
    """Long table ``drug``, ``prediction``, ``responder`` (bool) of the patients with both values known."""
    if prediction_key in adata.obsm:
        table = _wide_table(adata, prediction_key, response_key)
    else:
        hint = "Pass the `.obs` column (or `.obsm` DataFrame) of the predictions as `prediction_key=`."
        prediction = check_obs_key(adata, prediction_key, hint)
        response = check_obs_key(adata, response_key, "Pass the column of clinical responses as `response_key=`.")
        drug = ALL_DRUGS if drug_key is None else check_obs_key(adata, drug_key, "Name the drug column.")
        table = pd.DataFrame({"drug": drug, "prediction": prediction, "response": response}, index=adata.obs_names)
    if not pd.api.types.is_numeric_dtype(table["prediction"]):
        raise TypeError(
            f"The predictions `{prediction_key}` must be numbers (a predicted LN_IC50 or a probability), got "
            f"dtype {table['prediction'].dtype}."
        )
    table = table.dropna(subset=["prediction", "response"])
    values = set(_responder_values(responder))
    table["responder"] = table["response"].map(lambda v: v in values or str(v) in values).astype(bool)
    table["drug"] = table["drug"].astype(str)
    return table


def _wide_table(adata: AnnData, prediction_key: str, response_key: str) -> pd.DataFrame:
    predictions = adata.obsm[prediction_key]
    if response_key not in adata.obsm:
        raise KeyError(
            f"`adata.obsm[{prediction_key!r}]` holds the predictions (wide layout, patients x drugs), so the "
            f"responses must be an `.obsm` DataFrame too; `adata.obsm[{response_key!r}]` not found "
            f"(available: {preview(adata.obsm.keys()) or 'none'})."
        )
    responses = adata.obsm[response_key]
    if not isinstance(predictions, pd.DataFrame) or not isinstance(responses, pd.DataFrame):
        raise TypeError(
            f"`adata.obsm[{prediction_key!r}]` and `adata.obsm[{response_key!r}]` must be DataFrames with drug "
            "names as columns."
        )
    shared = predictions.columns.intersection(responses.columns)
    if len(shared) == 0:
        raise ValueError(
            f"No drug is both predicted ({preview(predictions.columns)}) and observed "
            f"({preview(responses.columns)}). Name the columns of both tables by drug."
        )
    long = predictions[shared].stack(future_stack=True).rename("prediction").to_frame()
    long["response"] = responses[shared].stack(future_stack=True)
    long.index = long.index.set_names(["patient", "drug"])
    return long.reset_index(level="drug")


def _test_drug(
    drug: str, group: pd.DataFrame, higher_is_sensitive: bool, min_responders: int, min_non_responders: int
) -> dict[str, Any]:
    sign = 1.0 if higher_is_sensitive else -1.0
    favourable = sign * group["prediction"].to_numpy(float)  # larger = predicted more sensitive
    is_responder = group["responder"].to_numpy()
    n_resp, n_non = int(is_responder.sum()), int((~is_responder).sum())
    row: dict[str, Any] = {
        "drug": drug,
        "n_responders": n_resp,
        "n_non_responders": n_non,
        "median_responders": float(np.median(sign * favourable[is_responder])) if n_resp else np.nan,
        "median_non_responders": float(np.median(sign * favourable[~is_responder])) if n_non else np.nan,
    }
    if n_resp < min_responders or n_non < min_non_responders:
        row["status"] = (
            f"skipped: {n_resp} responders (min {min_responders}), {n_non} non-responders (min {min_non_responders})"
        )
        return row
    test = stats.mannwhitneyu(favourable[is_responder], favourable[~is_responder], alternative="greater")
    welch = stats.ttest_ind(favourable[is_responder], favourable[~is_responder], equal_var=False, alternative="greater")
    row.update(
        status="tested",
        auroc=float(test.statistic) / (n_resp * n_non),
        statistic=float(test.statistic),
        pvalue=float(test.pvalue),
        pvalue_ttest=float(welch.pvalue),
    )
    return row


def _responder_values(responder: Any) -> list:
    if isinstance(responder, str | bool | np.bool_ | int):
        return [responder]
    return list(responder)


def _check_minimum(value: int, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer (e.g. 3), got {value!r}.")
