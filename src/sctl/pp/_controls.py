"""Pair every treated profile with its matched controls and store the basal (mean control) profile."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from anndata import AnnData

from sctl._docs import doc_params
from sctl._validate import check_anndata, check_finite, check_obs_key, float_dtype, get_matrix, preview, to_dense

BASAL_KEY = "sctl_basal"
DELTA_KEY = "sctl_delta"


@doc_params()
def match_controls(
    adata: AnnData,
    *,
    drug_key: str = "drug",
    control: str | Sequence[str] | None = None,
    control_key: str = "is_control",
    group_keys: Sequence[str] = ("cell_line",),
    batch_key: str | None = None,
    layer: str | None = None,
    key_added: str = BASAL_KEY,
    copy: bool = False,
) -> AnnData | None:
    """Find the matched controls of every profile and store their mean, the basal profile.

    A profile's controls are the control profiles (vehicle such as DMSO) of the same cell line or cell type
    (``group_keys``) and, when ``batch_key`` is given, of the same plate or batch. Their mean is the basal
    state from which the drug moved the cell: the input of conditional generators such as GRIP-Lung
    :cite:p:`xie2026griplung`, where "baseline gene expression profiles correspond to
    pre-treatment expression measurements ... under untreated control conditions", and the reference of
    fold changes (:func:`sctl.pp.log_fold_change`). Control profiles get the mean of their own group's
    controls (themselves included).

    Parameters
    ----------
    adata
        Profiles (bulk samples, pseudobulks or cells) x genes, treated and control.
    drug_key
        Column of ``adata.obs`` with the perturbation name; used with ``control``.
    control
        Name(s) of the control perturbation in ``adata.obs[drug_key]`` (e.g. ``"DMSO"``). ``None`` reads the
        boolean column ``adata.obs[control_key]`` instead.
    control_key
        Boolean column of ``adata.obs`` marking control profiles, used when ``control`` is ``None``.
    group_keys
        Columns of ``adata.obs`` that a profile and its controls must share (cell line / cell type). An empty
        tuple pools all controls.
    batch_key
        Optional column (plate, batch, donor) that a profile and its controls must also share.
    layer
        Layer with the expression values; ``None`` uses ``adata.X``.
    key_added
        The basal profiles go to ``adata.layers[key_added]``, the number of matched controls to
        ``adata.obs[key_added + "_n_controls"]`` and the parameters to ``adata.uns[key_added]["params"]``.
    {copy}

    {returns_copy}

    Raises
    ------
    ValueError
        When some treated profiles have no control in their group, naming them and their group.

    Examples
    --------
    >>> import sctl
    >>> plate = sctl.datasets.lincs()
    >>> sctl.pp.match_controls(plate, control="DMSO", batch_key="plate")
    >>> plate.layers["sctl_basal"].shape, int(plate.obs["sctl_basal_n_controls"].max())  # 26 DMSO wells
    ((377, 978), 26)
    """
    check_anndata(adata)
    matrix = get_matrix(adata, layer)
    X = to_dense(matrix, float_dtype(matrix))  # counts near the int32 limit keep their precision
    check_finite(X, "`adata.X`" if layer is None else f"`adata.layers[{layer!r}]`")
    is_control = _control_mask(adata, drug_key, control, control_key)
    keys = [*group_keys, *([batch_key] if batch_key is not None else [])]
    groups = _group_labels(adata, keys)
    basal, n_controls = _group_means(X, groups, is_control)
    _check_all_matched(adata, groups, n_controls, keys)
    adata = adata.copy() if copy else adata
    adata.layers[key_added] = basal
    adata.obs[f"{key_added}_n_controls"] = n_controls
    params: dict[str, Any] = {
        "drug_key": drug_key,
        "control": control if control is None or isinstance(control, str) else list(control),
        "control_key": control_key,
        "group_keys": list(group_keys),
        "batch_key": batch_key,
        "layer": layer,
    }
    adata.uns[key_added] = {"params": params, "n_controls": int(is_control.sum())}
    return adata if copy else None


def control_mask(
    adata: AnnData, drug_key: str = "drug", control: str | Sequence[str] | None = None, control_key: str = "is_control"
) -> np.ndarray:
    """Boolean mask of the control profiles of ``adata``, as :func:`match_controls` finds them."""
    return _control_mask(adata, drug_key, control, control_key)


def _control_mask(adata: AnnData, drug_key: str, control: str | Sequence[str] | None, control_key: str) -> np.ndarray:
    if control is None:
        flag = check_obs_key(adata, control_key, hint="Name the control perturbation instead, e.g. `control='DMSO'`.")
        if not pd.api.types.is_bool_dtype(flag):
            raise TypeError(f"`adata.obs[{control_key!r}]` must be boolean (True for control profiles).")
        mask = flag.to_numpy(dtype=bool)
    else:
        names = [control] if isinstance(control, str) else list(control)
        drugs = check_obs_key(adata, drug_key, hint="Pass `drug_key=` naming the column with the perturbation.")
        mask = drugs.astype(str).isin(names).to_numpy()
        if not mask.any():
            raise ValueError(
                f"No control profile: none of {preview(names)} occurs in `adata.obs[{drug_key!r}]` (values: "
                f"{preview(drugs.astype(str).unique())})."
            )
    if not mask.any():
        raise ValueError(f"No control profile: `adata.obs[{control_key!r}]` is False everywhere.")
    if mask.all():
        raise ValueError("Every profile is a control; there is nothing treated to match.")
    return mask


def _group_labels(adata: AnnData, keys: Sequence[str]) -> np.ndarray:
    if not keys:
        return np.zeros(adata.n_obs, dtype=np.int64)
    for key in keys:
        missing = check_obs_key(adata, key).isna().to_numpy()
        if missing.any():
            raise ValueError(
                f"{int(missing.sum())} profiles have no value in `adata.obs[{key!r}]` (e.g. "
                f"{preview(adata.obs_names[missing], 5)}), so their controls cannot be matched. Fill them (e.g. with "
                f"the known {key}) or drop these profiles."
            )
    columns = [check_obs_key(adata, key).astype(str).to_numpy() for key in keys]
    frame = pd.DataFrame(dict(zip(keys, columns, strict=True)))
    return frame.groupby(list(keys), sort=True).ngroup().to_numpy()


def _group_means(X: np.ndarray, groups: np.ndarray, is_control: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean control profile of each group, copied to every member; and the number of controls per profile."""
    n_groups = int(groups.max()) + 1
    sums = np.zeros((n_groups, X.shape[1]), dtype=np.float64)
    np.add.at(sums, groups[is_control], X[is_control])
    counts = np.bincount(groups[is_control], minlength=n_groups)
    means = np.divide(sums, counts[:, None], out=np.full_like(sums, np.nan), where=counts[:, None] > 0)
    return means[groups].astype(np.float32), counts[groups]


def _check_all_matched(adata: AnnData, groups: np.ndarray, n_controls: np.ndarray, keys: Sequence[str]) -> None:
    unmatched = np.flatnonzero(n_controls == 0)
    if not len(unmatched):
        return
    described = [
        f"{adata.obs_names[i]} ({', '.join(f'{k}={adata.obs[k].iloc[i]}' for k in keys)})" for i in unmatched[:5]
    ]
    raise ValueError(
        f"{len(unmatched)} treated profiles have no control of the same {' / '.join(keys)}: "
        f"{'; '.join(described)}{' ...' if len(unmatched) > 5 else ''}. Add controls for them, drop them "
        "(e.g. `adata = adata[adata.obs_names != name].copy()`) or match on fewer keys (`group_keys=`, "
        "`batch_key=None`)."
    )
