"""Put query profiles (e.g. patient tumours) on the scale of a reference (e.g. GDSC cell lines) with ComBat."""

from __future__ import annotations

import warnings

import anndata as ad
import numpy as np
import pandas as pd
import scanpy as sc
from anndata import AnnData

from sctl._constants import HARMONIZE_KEY
from sctl._validate import check_anndata, check_finite, check_obs_key, preview, to_dense
from sctl.pp._align import align_genes
from sctl.pp._standardize import standardize

METHODS = ("combat",)
_BATCH = "_sctl_batch"
_REFERENCE_BATCH = "reference"


def harmonize(
    reference: AnnData,
    query: AnnData,
    *,
    batch_key: str | None = None,
    method: str = "combat",
    by: str | None = None,
    robust_z: bool = True,
    correct_reference: bool = False,
    min_shared: float | int = 0.5,
) -> tuple[AnnData, AnnData]:
    """Remove the batch effect between a query (e.g. patients) and a reference (e.g. cell lines) with ComBat.

    The transfer step of CSG²A :cite:p:`bang2025csg2a{section 4.4 and appendix A.5}`: before a model trained
    on GDSC cell lines predicts TCGA patients, both are batch-corrected with ComBat :cite:p:`johnson2007combat`
    per cancer type, then converted to robust z-scores. Steps:

    1. keep the genes shared by both (:func:`sctl.pp.align_genes`);
    2. run :func:`scanpy.pp.combat` on the concatenation, with one batch for the reference and one per
       query batch (``batch_key``), separately within each group of ``by`` (e.g. the cancer type). No
       response and no covariate enters the fit, so nothing about the outcome leaks into the correction;
    3. unless ``correct_reference=True``, map everything back onto the reference's own scale: ComBat moves
       each batch by a per-gene affine map, so the inverse of the reference's map is applied to both. The
       reference keeps its values and the query lands on them (the "reference batch" ComBat of
       :cite:t:`zhang2018combat`); a model already trained on the reference applies as it is;
    4. with ``robust_z=True``, express both on robust z-scores, ``(x - median) / (1.4826 * MAD)`` per gene,
       with the median and MAD fitted on the (returned) reference and re-applied to the query
       (:func:`sctl.pp.standardize` ``method="robust"``), so the query never shapes its own scaling.

    Genes that do not vary within some batch cannot be scaled by ComBat; they are only shifted so that the
    query's mean matches the reference's (counted in ``n_genes_location_only``). Neither input is modified.

    Parameters
    ----------
    reference
        Samples x genes the model is (or will be) trained on, e.g. :func:`sctl.datasets.gdsc`. ``X`` holds
        the expression values (e.g. log2 FPKM or z-scores, the same kind of values as the query's).
    query
        Samples x genes to harmonise, e.g. patient tumours.
    batch_key
        Column of ``query.obs`` that splits the query into batches (e.g. cohort or sequencing centre); each
        gets its own correction. ``None``: the query is one batch. The reference is always one batch.
    method
        Batch-correction method; ``"combat"`` (:func:`scanpy.pp.combat`) is the only one so far.
    by
        Column present in both ``reference.obs`` and ``query.obs`` (e.g. ``"tcga_type"``) within whose groups
        ComBat runs separately, as CSG²A does per cancer type. Every query group needs reference samples;
        reference samples of groups absent from the query are left as they are.
    robust_z
        Convert both outputs to robust z-scores fitted on the reference (step 4). ``False`` returns the
        ComBat-corrected values.
    correct_reference
        Return the reference ComBat-corrected too (both on the pooled scale, as in the paper) instead of
        mapping the query onto the reference's unchanged values.
    min_shared
        Fewest shared genes accepted, as in :func:`sctl.pp.align_genes`: a fraction of the reference's genes
        (float) or a number of genes (int).

    Returns
    -------
    ``(reference, query)``: new AnnData objects restricted to the shared genes, in the reference's order, with
    float32 ``X`` on one scale. Both carry ``.uns["sctl_harmonize"]`` with ``params``, ``n_genes`` (shared),
    ``n_reference_genes``, ``n_query_genes``, ``n_genes_location_only``, ``batches`` (samples per batch) and
    ``groups``; with ``robust_z`` also the ``.var["sctl_center"]`` / ``["sctl_scale"]`` and
    ``.uns["sctl_standardize"]`` of :func:`sctl.pp.standardize`.

    Examples
    --------
    >>> import sctl
    >>> bulk = sctl.datasets.gdsc()
    >>> lines, patients = bulk[:800].copy(), bulk[800:].copy()
    >>> patients.X = 2.0 * patients.X + 1.0  # a batch effect
    >>> lines, patients = sctl.pp.harmonize(lines, patients)
    >>> lines.obs["y"] = lines.obsm["ln_ic50"]["Cisplatin"]
    >>> model = sctl.models.baselines.RidgeBaseline().fit(lines, label_key="y")
    >>> predicted_ln_ic50 = model.predict(patients)
    """
    check_anndata(reference, "reference")
    check_anndata(query, "query")
    if method not in METHODS:
        raise ValueError(f"Unknown harmonisation method {method!r}; choose one of {preview(METHODS)}.")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the overlap is recorded below instead
        ref, qry = align_genes(reference, query, min_shared=min_shared)
    ref_values = to_dense(ref.X, np.float64)
    qry_values = to_dense(qry.X, np.float64)
    check_finite(ref_values, "`reference.X`")
    check_finite(qry_values, "`query.X`")
    query_batches = _query_batches(query, batch_key)
    ref_groups, qry_groups = _groups(reference, query, by)

    ref_out, qry_out = ref_values.copy(), qry_values.copy()
    location_only = np.zeros(ref.n_vars, dtype=bool)
    for group in pd.unique(qry_groups):
        ref_rows, qry_rows = np.flatnonzero(ref_groups == group), np.flatnonzero(qry_groups == group)
        ref_out[ref_rows], qry_out[qry_rows], fixed = _combat_group(
            ref_values[ref_rows],
            qry_values[qry_rows],
            query_batches[qry_rows],
            correct_reference=correct_reference,
            where="" if by is None else f" in group {by}={str(group)!r}",
        )
        location_only |= fixed

    ref.X, qry.X = ref_out.astype(np.float32), qry_out.astype(np.float32)
    if robust_z:
        standardize(ref, method="robust")
        standardize(qry, reference=ref)
    summary = {
        "params": {
            "batch_key": batch_key,
            "method": method,
            "by": by,
            "robust_z": robust_z,
            "correct_reference": correct_reference,
            "min_shared": min_shared,
        },
        "n_genes": int(ref.n_vars),
        "n_reference_genes": int(reference.n_vars),
        "n_query_genes": int(query.n_vars),
        "n_genes_location_only": int(location_only.sum()),
        "batches": {_REFERENCE_BATCH: int(ref.n_obs), **pd.Series(query_batches).value_counts().to_dict()},
        "groups": sorted(str(g) for g in pd.unique(qry_groups)) if by is not None else None,
    }
    for adata in (ref, qry):
        adata.uns[HARMONIZE_KEY] = {**summary, "params": dict(summary["params"])}
    return ref, qry


def _query_batches(query: AnnData, batch_key: str | None) -> np.ndarray:
    if batch_key is None:
        return np.full(query.n_obs, "query", dtype=object)
    batches = check_obs_key(query, batch_key, "Pass the column that names the query's batches, or None.")
    if batches.isna().any():
        raise ValueError(
            f"`query.obs[{batch_key!r}]` has {int(batches.isna().sum())} missing values; give every sample a "
            "batch (e.g. `.cat.add_categories('unknown').fillna('unknown')`)."
        )
    return ("query:" + batches.astype(str)).to_numpy(dtype=object)


def _groups(reference: AnnData, query: AnnData, by: str | None) -> tuple[np.ndarray, np.ndarray]:
    if by is None:
        return np.zeros(reference.n_obs, dtype=object), np.zeros(query.n_obs, dtype=object)
    hint = "`by` must name a column present in both `reference.obs` and `query.obs` (e.g. the cancer type)."
    ref_groups = check_obs_key(reference, by, hint).astype(object).to_numpy()
    qry_groups = check_obs_key(query, by, hint).astype(object).to_numpy()
    if pd.isna(qry_groups).any():
        raise ValueError(f"`query.obs[{by!r}]` has missing values; every query sample needs a group.")
    missing = sorted(set(map(str, qry_groups)) - set(map(str, ref_groups)))
    if missing:
        raise ValueError(
            f"Query groups {preview(missing)} of `{by}` have no reference samples, so there is nothing to "
            "harmonise them to. Map them to reference groups, drop them, or pass `by=None`."
        )
    return ref_groups.astype(str), qry_groups.astype(str)


def _combat_group(
    ref: np.ndarray,
    qry: np.ndarray,
    qry_batches: np.ndarray,
    *,
    correct_reference: bool,
    where: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ComBat on one group; returns the corrected reference, query and the genes only shifted."""
    batches = np.concatenate([np.full(len(ref), _REFERENCE_BATCH, dtype=object), qry_batches])
    _check_batch_sizes(batches, where)
    values = np.vstack([ref, qry])
    varies = np.ones(values.shape[1], dtype=bool)
    for batch in pd.unique(batches):
        varies &= np.ptp(values[batches == batch], axis=0) > 0
    corrected = values.copy()
    if varies.any():
        obs = pd.DataFrame({_BATCH: pd.Categorical(batches)}, index=[str(i) for i in range(len(batches))])
        combined = ad.AnnData(values[:, varies], obs=obs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            corrected[:, varies] = np.asarray(sc.pp.combat(combined, key=_BATCH, inplace=False), dtype=np.float64)
    # genes that are constant within a batch: shift every query batch to the reference's mean
    is_ref = batches == _REFERENCE_BATCH
    for batch in pd.unique(batches[~is_ref]):
        rows = batches == batch
        corrected[np.ix_(rows, ~varies)] += ref[:, ~varies].mean(axis=0) - values[np.ix_(rows, ~varies)].mean(axis=0)
    if not correct_reference:
        slope, intercept = _affine_fit(corrected[is_ref][:, varies], ref[:, varies])
        corrected[:, varies] = corrected[:, varies] * slope + intercept
        corrected[is_ref] = ref
    return corrected[is_ref], corrected[~is_ref], ~varies


def _check_batch_sizes(batches: np.ndarray, where: str) -> None:
    sizes = pd.Series(batches).value_counts()
    small = sizes[sizes < 2]
    if len(small):
        raise ValueError(
            f"Batch {preview(small.index)}{where} has a single sample; ComBat needs at least two per batch to "
            "estimate a batch's variance. Merge it into another batch (`batch_key=`), use coarser groups "
            "(`by=`), or drop it."
        )


def _affine_fit(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column least squares ``y ≈ slope * x + intercept`` (exact here: ComBat is affine per batch)."""
    x_mean, y_mean = x.mean(axis=0), y.mean(axis=0)
    dx = x - x_mean
    slope = (dx * (y - y_mean)).sum(axis=0) / (dx**2).sum(axis=0)
    return slope, y_mean - slope * x_mean
