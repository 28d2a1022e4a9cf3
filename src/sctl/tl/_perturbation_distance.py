"""Zero-shot drug sensitivity: how far a perturbation model moves each basal profile (CSG²A, appendix C.2)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from anndata import AnnData
from scipy import stats

from sctl._docs import doc_params
from sctl._validate import check_anndata, check_response, preview
from sctl.tl._utils import write_per_drug

DISTANCE_KEY = "sctl_perturbation_distance"


@doc_params()
def perturbation_distance(
    adata: AnnData,
    model: Any,
    drugs: Sequence[str] | Mapping[str, str],
    *,
    dose: float | None = None,
    time: float | None = None,
    layer: str | None = None,
    standardize: bool = True,
    sensitivity: str | pd.DataFrame | None = None,
    drug_features: Mapping[str, Any] | pd.DataFrame | None = None,
    key_added: str = DISTANCE_KEY,
    copy: bool = False,
) -> AnnData | None:
    """Euclidean distance between each basal profile and its predicted perturbed profile, per drug.

    The zero-shot test of :cite:t:`bang2025csg2a{appendix C.2}`: a model pretrained on perturbation profiles only
    predicts each cell line's profile after treatment (10 µM, 72 h in the paper); sensitive lines (low ln IC50)
    should move further than resistant ones. No response enters the distances.

    With ``sensitivity`` (measured ln IC50, cell lines x drugs) the paper's statistics are computed on the
    (line, drug) pairs with both a distance and a response: each pair is *sensitive* when its ln IC50 lies below
    its cell line's mean over these drugs, *resistant* when above; a one-sided t-test asks whether sensitive
    pairs lie further from their basal profile (Welch's test: sctl, the paper does not name the variant); and
    within each cell line the Pearson correlation of distance and ln IC50 is computed (the paper reports the
    share of negative ones) beside the pooled correlation.

    Parameters
    ----------
    adata
        Cell lines (or samples) x genes with the model's genes; expression from ``layer``.
    model
        A pretrained model with ``perturbation_distance(adata, drugs, dose=, time=, layer=, standardize=)``,
        such as :class:`sctl.models.CSG2A`.
    drugs
        Drug names whose SMILES (or embeddings) are known to the model or ``adata.uns["sctl_drugs"]``, or a
        mapping name -> SMILES; drugs never seen work.
    dose, time
        Treatment dose (µM) and time (hours); both required.
    {layer}
    standardize
        Robust z-score the profiles over the observations of ``adata`` first (the paper's GDSC input).
    sensitivity
        Measured responses: a key of ``adata.obsm`` (e.g. ``"ln_ic50"``) or a DataFrame, cell lines x drugs;
        ``None``: distances only.
    drug_features
        Drug embeddings for a model set up with ``drug_features``.
    key_added
        Key of ``adata.obsm`` (and ``adata.uns``) written.
    {copy}

    {returns_copy}
    Sets ``adata.obsm[key_added]`` (DataFrame, observations x drugs) and
    ``adata.uns[key_added]["params"]``; with ``sensitivity`` also ``adata.uns[key_added]["zero_shot"]``
    (``t_statistic``, ``pvalue``, ``n_sensitive``, ``n_resistant``, ``mean_distance_sensitive`` / ``_resistant``,
    ``pearson`` pooled, ``n_lines``, ``n_negative``, ``share_negative``) and the per-line correlations in
    ``adata.obs[key_added + "_pearson"]`` (NaN for lines with fewer than 3 pairs).

    Examples
    --------
    >>> sctl.tl.perturbation_distance(bulk, model, drugs, dose=10.0, time=72.0, sensitivity="ln_ic50")  # doctest: +SKIP
    >>> bulk.uns["sctl_perturbation_distance"]["zero_shot"]["pvalue"]  # doctest: +SKIP
    """
    check_anndata(adata)
    if dose is None or time is None:
        raise ValueError("`perturbation_distance` needs the condition: pass both `dose=` (µM) and `time=` (hours).")
    if not hasattr(model, "perturbation_distance"):
        raise TypeError(f"`model` must have a `perturbation_distance` method (e.g. CSG2A), got {type(model).__name__}.")
    extra = {} if drug_features is None else {"drug_features": drug_features}
    table = model.perturbation_distance(
        adata, drugs, dose=dose, time=time, layer=layer, standardize=standardize, **extra
    )
    table.columns = [str(c) for c in table.columns]
    response = None if sensitivity is None else _response(adata, sensitivity, table)
    adata = write_per_drug(
        adata,
        table,
        model,
        drugs,
        key_added,
        copy=copy,
        dose=float(dose),
        time=float(time),
        layer=layer,
        standardize=standardize,
        sensitivity=sensitivity if isinstance(sensitivity, str) else None if sensitivity is None else "table",
    )
    if response is not None:
        summary, per_line = zero_shot_statistics(table, response)
        adata.uns[key_added]["zero_shot"] = summary
        adata.obs[f"{key_added}_pearson"] = per_line.reindex(adata.obs_names).to_numpy()
    return adata if copy else None


def zero_shot_statistics(distance: pd.DataFrame, response: pd.DataFrame) -> tuple[dict[str, Any], pd.Series]:
    """The paper's zero-shot statistics (appendix C.2) from distances and responses, both lines x drugs.

    Returns the summary (see :func:`perturbation_distance`) and the per-line Pearson correlations.

    Examples
    --------
    >>> d = pd.DataFrame([[3.0, 1.0, 2.0], [2.5, 0.5, 1.0]], index=["a", "b"], columns=["x", "y", "z"])
    >>> r = pd.DataFrame([[-1.0, 2.0, 0.5], [-2.0, 1.0, 0.0]], index=["a", "b"], columns=["x", "y", "z"])
    >>> summary, per_line = zero_shot_statistics(d, r)
    >>> summary["share_negative"], summary["n_sensitive"]
    (1.0, 2)
    """
    dist, resp = distance.to_numpy(np.float64), response.to_numpy(np.float64)
    resp = np.where(np.isfinite(dist), resp, np.nan)
    line_mean = np.nanmean(np.where(np.isfinite(resp), resp, np.nan), axis=1, keepdims=True)
    sensitive, resistant = dist[resp < line_mean], dist[resp > line_mean]
    if len(sensitive) < 2 or len(resistant) < 2:
        raise ValueError(
            "The zero-shot t-test needs at least 2 sensitive and 2 resistant (line, drug) pairs; give more drugs or "
            "cell lines with responses."
        )
    test = stats.ttest_ind(sensitive, resistant, equal_var=False, alternative="greater")
    per_line = {}
    for name, d, r in zip(distance.index, dist, resp, strict=True):
        keep = np.isfinite(d) & np.isfinite(r)
        ok = keep.sum() >= 3 and np.ptp(d[keep]) > 0 and np.ptp(r[keep]) > 0
        per_line[name] = float(stats.pearsonr(d[keep], r[keep])[0]) if ok else np.nan
    per_line = pd.Series(per_line, dtype=np.float64)
    both = np.isfinite(dist) & np.isfinite(resp)
    scored = per_line.dropna()
    summary = {
        "t_statistic": float(test.statistic),
        "pvalue": float(test.pvalue),
        "n_sensitive": len(sensitive),
        "n_resistant": len(resistant),
        "mean_distance_sensitive": float(sensitive.mean()),
        "mean_distance_resistant": float(resistant.mean()),
        "pearson": float(stats.pearsonr(dist[both], resp[both])[0]),
        "n_lines": len(scored),
        "n_negative": int((scored < 0).sum()),
        "share_negative": float((scored < 0).mean()) if len(scored) else float("nan"),
    }
    return summary, per_line


def _response(adata: AnnData, sensitivity: str | pd.DataFrame, distance: pd.DataFrame) -> pd.DataFrame:
    """The responses aligned to the distances (lines x drugs); NaN where untested."""
    if isinstance(sensitivity, str):
        table = check_response(adata, sensitivity)
    elif isinstance(sensitivity, pd.DataFrame):
        table = sensitivity
    else:
        raise TypeError("`sensitivity` must be a key of adata.obsm or a DataFrame cell lines x drugs.")
    table = table.copy()
    table.index, table.columns = table.index.astype(str), table.columns.astype(str)
    missing = [d for d in distance.columns if d not in table.columns]
    if missing:
        raise KeyError(f"`sensitivity` has no column for drug(s) {preview(missing)}; name the drugs as its columns.")
    aligned = table.reindex(index=distance.index.astype(str), columns=distance.columns).apply(
        pd.to_numeric, errors="coerce"
    )
    aligned.index = distance.index
    return aligned
