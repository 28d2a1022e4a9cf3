"""Per-gene standardisation whose fitted parameters are stored and can be re-applied to new data."""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
from anndata import AnnData

from sctl._constants import STANDARDIZE_KEY
from sctl._docs import doc_params
from sctl._validate import (
    check_anndata,
    check_finite,
    check_unique_var_names,
    float_dtype,
    get_matrix,
    preview,
    to_dense,
)
from sctl.pp._align import ALIGN_KEY

METHODS = ("zscore", "robust")
CENTER_KEY = "sctl_center"
SCALE_KEY = "sctl_scale"
# 1.4826 * MAD estimates the standard deviation of normal data; 1.2533 * mean absolute deviation does too
MAD_TO_SD = 1.4826
MEAN_AD_TO_SD = 1.2533


@doc_params()
def standardize(
    adata: AnnData,
    *,
    method: str = "zscore",
    layer: str | None = None,
    reference: AnnData | None = None,
    clip: float | None = None,
    copy: bool = False,
) -> AnnData | None:
    """Standardise every gene, storing the centre and scale so they can be re-applied to new data.

    ``"zscore"`` subtracts each gene's mean and divides by its standard deviation (``ddof=0``), so every gene
    gets mean 0 and standard deviation 1. ``"robust"`` subtracts the median and divides by ``1.4826 * MAD``
    (median absolute deviation), which equals the standard deviation for normal data and resists outliers;
    where the MAD is 0 although the gene varies (more than half its values are equal, common for sparse genes)
    ``1.2533 *`` the mean absolute deviation from the median is used instead. Genes that do not vary at all
    get scale 1, so they become 0 and never NaN or infinite. Integer and float64 input (e.g. counts near the int32
    limit) is standardised in float64, so nearby values do not collapse, and only the result is stored as float32.

    With ``reference=``, the centre and scale stored on ``reference`` by an earlier call are applied instead
    of being fitted: fit on the training data, re-apply to validation, test or new data, and nothing leaks.

    Parameters
    ----------
    adata
        Observations x genes. The values are read from ``layer``.
    method
        ``"zscore"`` (mean / standard deviation) or ``"robust"`` (median / MAD). Ignored with ``reference=``,
        whose method is used.
    layer
        Layer to standardise (``None``: ``adata.X``). The result always goes to ``adata.X``, like
        :func:`scanpy.pp.scale`; the layer itself is left as it is.
    reference
        An AnnData standardised before by this function. Its ``.var["sctl_center"]`` and
        ``.var["sctl_scale"]``
        are re-applied, matched by gene name; every gene of ``adata`` must have them.
    clip
        Clip the result to ``[-clip, clip]`` (``None``: no clipping). With ``reference=`` and ``clip=None``,
        the reference's ``clip`` is used.
    {copy}

    {returns_copy}
    Sets

    ``adata.X``
        the standardised values, a dense ``float32`` array;
    ``adata.var["sctl_center"]``, ``adata.var["sctl_scale"]``
        the centre and scale of each gene (``X = (values - center) / scale``);
    ``adata.uns["sctl_standardize"]["params"]``
        ``method``, ``layer``, ``clip``, whether the parameters came from a ``reference``, and the number of
        genes that did not vary (``n_constant``) or used the mean-absolute-deviation fallback
        (``n_mad_fallback``).

    Examples
    --------
    >>> import numpy as np
    >>> import anndata as ad
    >>> import sctl
    >>> rng = np.random.default_rng(0)
    >>> train, test = ad.AnnData(rng.normal(5, 2, (50, 3))), ad.AnnData(rng.normal(5, 2, (20, 3)))
    >>> sctl.pp.standardize(train)
    >>> sctl.pp.standardize(test, reference=train)  # the training mean and sd, no leakage
    >>> bool(np.allclose(train.X.mean(axis=0), 0, atol=1e-6))
    True
    """
    check_anndata(adata)
    check_unique_var_names(adata)
    values = get_matrix(adata, layer)
    what = _describe(adata, layer)
    check_finite(values, what, obs_names=adata.obs_names, var_names=adata.var_names)
    values = to_dense(values, float_dtype(values))  # integers / float64 in float64: no precision loss, no overflow

    if reference is None:
        method = _check_method(method)
        center, scale, counts = _fit(values, method)
    else:
        center, scale, method, reference_clip = _from_reference(reference, adata.var_names)
        clip = reference_clip if clip is None else clip
        counts = {"n_constant": None, "n_mad_fallback": None}
    _check_clip(clip)

    result = (values - center.astype(values.dtype)) / scale.astype(values.dtype)
    if not np.isfinite(center).all() or not np.isfinite(scale).all() or not np.isfinite(result).all():
        raise ValueError(
            f"{what} holds values too large to standardise (largest magnitude {np.abs(values).max():.3g}): their "
            "squares overflow. Bring them to a sensible scale first, e.g. `sc.pp.normalize_total` and `sc.pp.log1p`."
        )
    if clip is not None:
        np.clip(result, -clip, clip, out=result)

    adata = adata.copy() if copy else adata
    if adata.is_view:
        adata._init_as_actual(adata.copy())
    adata.X = result.astype(np.float32, copy=False)
    adata.var[CENTER_KEY] = center
    adata.var[SCALE_KEY] = scale
    adata.uns[STANDARDIZE_KEY] = {
        "params": {
            "method": method,
            "layer": layer,
            "clip": clip,
            "reference": reference is not None,
            **counts,
        }
    }
    return adata if copy else None


def _describe(adata: AnnData, layer: str | None) -> str:
    """Name the values in errors; an output of :func:`sctl.pp.align_genes` by the argument it came from."""
    aligned = adata.uns.get(ALIGN_KEY)
    name = aligned.get("input", "adata") if isinstance(aligned, dict) else "adata"
    matrix = "X" if layer is None else f"layers[{layer!r}]"
    shared = " (its genes shared with the other input of `sctl.pp.align_genes`)" if name != "adata" else ""
    return f"`{name}.{matrix}`{shared}"


def _check_method(method: str) -> str:
    if method not in METHODS:
        raise ValueError(f"Unknown standardisation method {method!r}; choose one of {', '.join(map(repr, METHODS))}.")
    return method


def _check_clip(clip: float | None) -> None:
    if clip is not None and (isinstance(clip, bool) or not isinstance(clip, numbers.Real) or not clip > 0):
        raise ValueError(f"`clip` must be a positive number (e.g. 10) or None, got {clip!r}.")


def _fit(values: np.ndarray, method: str) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    if values.shape[0] == 0:
        raise ValueError("`adata` has no observations to fit the standardisation on.")
    constant = np.ptp(values, axis=0) == 0
    n_fallback = 0
    if method == "zscore":
        center = values.mean(axis=0, dtype=np.float64)
        scale = values.std(axis=0, dtype=np.float64)
    else:
        center = np.median(values, axis=0).astype(np.float64)
        deviation = np.abs(values.astype(np.float64) - center)
        scale = MAD_TO_SD * np.median(deviation, axis=0)
        fallback = (scale == 0) & ~constant
        n_fallback = int(fallback.sum())
        scale[fallback] = MEAN_AD_TO_SD * deviation[:, fallback].mean(axis=0)
    center[constant] = values[0, constant]
    scale[constant] = 1.0
    return center, scale, {"n_constant": int(constant.sum()), "n_mad_fallback": n_fallback}


def _from_reference(reference: AnnData, var_names: pd.Index) -> tuple[np.ndarray, np.ndarray, str, float | None]:
    check_anndata(reference, "reference")
    if CENTER_KEY not in reference.var or SCALE_KEY not in reference.var:
        raise ValueError(
            f"`reference` carries no fitted parameters (`reference.var[{CENTER_KEY!r}]` and "
            f"`[{SCALE_KEY!r}]`). Standardise it first with `sctl.pp.standardize(reference)`."
        )
    if not reference.var_names.is_unique or not var_names.is_unique:
        raise ValueError(
            "Gene names must be unique in both `adata` and `reference` to match parameters by name. Make "
            "them unique with `.var_names_make_unique()`."
        )
    missing = var_names.difference(reference.var_names, sort=False)
    if len(missing):
        raise ValueError(
            f"{len(missing)} of the {len(var_names)} genes of `adata` have no fitted parameters in "
            f"`reference` (e.g. {preview(missing, 5)}). Restrict both to the shared genes first with "
            "`reference, adata = sctl.pp.align_genes(reference, adata)` before standardising the reference."
        )
    params = reference.var.loc[var_names, [CENTER_KEY, SCALE_KEY]].to_numpy(dtype=np.float64)
    center, scale = params[:, 0].copy(), params[:, 1].copy()
    if not np.isfinite(params).all() or (scale <= 0).any():
        raise ValueError(
            f"`reference.var[{CENTER_KEY!r}]` / `[{SCALE_KEY!r}]` hold non-finite or non-positive values. "
            "Re-run `sctl.pp.standardize(reference)`."
        )
    fitted = reference.uns.get(STANDARDIZE_KEY, {}).get("params", {})
    return center, scale, fitted.get("method", "unknown"), fitted.get("clip")
